"""Topic discovery time at 10,000 and 100,000 texts, EXCLUDING embedding time (embeddings already stored).

The texts and vectors are synthetic: `themes` latent themes, each a random unit direction in the 384-d e5 space and
its own small vocabulary; every text mixes words of its theme with words common to all, and its vector is the theme
direction plus Gaussian noise (perturbed, so themes overlap as real ones do). Two figures per size:

- discovery: clustering (two levels) and c-TF-IDF labels, in memory (cem.text.topics.discovery.discover);
- stored (with --db): the whole `cem text discover` path on a fresh SQLite database holding n text records:
  reading texts, clustering, mapping onto old topics, and writing record_topic + feedback_record.topics.
  The vectors come from memory (as if read from feedback_embedding), so no model runs.

Also reports how well the topics recover the planted themes (adjusted Rand index on level 1).

Usage: .venv/bin/python benchmarks/text_topics.py [--n 10000 100000] [--db] [--themes 60] [--seed 0]
Quick check: --n 10000 --db.   TXT-A's benchmarks/text_eval.py calls discovery_seconds(n).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # runnable as a plain script from a checkout
    sys.path.insert(0, str(REPO / "src"))

from cem.text.topics.discovery import discover  # noqa: E402

DIM = 384
NOISE = 0.9  # norm of the noise relative to the theme direction: clusters overlap but stay recoverable
COMMON = [f"common{n}" for n in range(200)]


def synthetic(n: int, themes: int = 60, seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(texts, unit float32 vectors, planted theme of each text)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(themes, DIM))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    sizes = rng.permutation(1.0 / np.arange(1, themes + 1) ** 0.8)  # a few big themes and a long tail
    theme = rng.choice(themes, size=n, p=sizes / sizes.sum())
    noise = rng.normal(size=(n, DIM)) * (NOISE / np.sqrt(DIM))
    vectors = centers[theme] + noise
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    vocab = [[f"theme{t}word{w}" for w in range(25)] for t in range(themes)]
    texts = []
    for t in theme:
        own = rng.choice(vocab[t], size=rng.integers(3, 8))
        shared = rng.choice(COMMON, size=rng.integers(4, 12))
        texts.append(" ".join(rng.permutation(np.concatenate([own, shared]))))
    return texts, vectors, theme


def discovery_seconds(n: int, *, themes: int = 60, seed: int = 0) -> dict[str, Any]:
    """Seconds to discover topics in n synthetic texts (in memory, embeddings given), and the recovery score."""
    from sklearn.metrics import adjusted_rand_score

    texts, vectors, planted = synthetic(n, themes, seed)
    started = time.perf_counter()
    found = discover(texts, vectors, seed=seed)
    seconds = time.perf_counter() - started
    return {
        "n": n,
        "seconds": round(seconds, 2),
        "topics": len(found.topics),
        "subtopics": sum(len(t.children) for t in found.topics),
        "adjusted_rand": round(float(adjusted_rand_score(planted, found.row_topic)), 3),
    }


def stored_seconds(n: int, *, themes: int = 60, seed: int = 0) -> dict[str, Any]:
    """Seconds for the stored-texts path (`cem text discover`) on a fresh SQLite database of n text records."""
    from cem.admin import service as admin_service
    from cem.config import Settings
    from cem.db import migrate
    from cem.db.base import utcnow
    from cem.db.session import Database
    from cem.feedback.models import FeedbackRecord
    from cem.text.topics import runs

    texts, vectors, _ = synthetic(n, themes, seed)
    lookup = dict(zip(texts, vectors, strict=False))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        db = Database(Settings(database_url=url, data_dir=Path(tmp)))
        migrate.upgrade(db.engine)
        with db.unit_of_work() as session:
            ws = admin_service.ensure_workspace(session, slug="bench", name="Bench").id
            now = utcnow()
            session.execute(
                FeedbackRecord.__table__.insert(),
                [
                    {
                        "workspace_id": ws,
                        "source_type": "api",
                        "source_name": "bench",
                        "submission_id": str(i),
                        "field_id": "text",
                        "field_label": "",
                        "field_type": "text",
                        "value_text": t,
                        "metadata": {},
                        "collected_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i, t in enumerate(texts)
                ],
            )
        started = time.perf_counter()
        with db.unit_of_work() as session:
            report = runs.discover_workspace(session, ws, seed=seed, embed=lambda ts: np.stack([lookup[t] for t in ts]))
        seconds = time.perf_counter() - started
        db.dispose()
    return {"n": n, "seconds": round(seconds, 2), "parts": report.seconds, "assigned": report.assigned}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000], help="corpus sizes")
    parser.add_argument("--themes", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--db", action="store_true", help="also time the stored-texts path on SQLite")
    args = parser.parse_args()
    print("Topic discovery, excluding embedding time (synthetic perturbed embeddings, 384-d)")
    for n in args.n:
        result = discovery_seconds(n, themes=args.themes, seed=args.seed)
        print(
            f"  in memory  n={n:>7,}: {result['seconds']:>7.1f} s  {result['topics']} topics, "
            f"{result['subtopics']} subtopics, adjusted Rand vs planted themes {result['adjusted_rand']}"
        )
        if args.db:
            stored = stored_seconds(n, themes=args.themes, seed=args.seed)
            parts, assigned = stored["parts"], stored["assigned"]
            print(f"  stored     n={n:>7,}: {stored['seconds']:>7.1f} s  {parts} ({assigned} assigned)")


if __name__ == "__main__":
    main()
