"""Home page latency on a store of N feedback records (default 50,000; target < 500 ms warm).

A real SQLite store: N generated NPS/CSAT/CES answers over two years (benchmarks/metrics.py's generator), plus
texts with a sentiment and ten topics assigned to them, so every part of the page has work to do. Times, through the
app in-process (TestClient, logged in through the form): the first call, the warm call (median of 5; the program
state is cached per store version on large stores), and the uncached computation (median of 3, caches cleared).

Usage: .venv/bin/python benchmarks/home.py [--n 50000] [--texts 5000]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # runnable as a plain script from a checkout
    sys.path.insert(0, str(REPO))

from benchmarks.metrics import _fill_store, bench_store, timed  # noqa: E402

TOPICS = 10


def _add_texts(path: Path, workspace_id: int, texts: int) -> None:
    """Texts with a sentiment spread over the same two years, each in one of TOPICS topics."""
    con = sqlite3.connect(path)
    stamp = "2026-01-01 00:00:00.000000"
    rows = [
        (
            workspace_id,
            f"t{i}",
            f"Comment {i}: delivery was {'late' if i % 3 else 'fine'}",
            (i % 21 - 10) / 10,
            "negative" if i % 21 < 10 else "positive",
            f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} 10:00:00.000000",
        )
        for i in range(texts)
    ]
    con.executemany(
        "INSERT INTO feedback_record (workspace_id, source_type, source_name, submission_id, field_id, field_label,"
        " field_type, value_text, sentiment_score, sentiment_label, collected_at, metadata, created_at, updated_at)"
        f" VALUES (?, 'review', 'app', ?, 'comment', '', 'text', ?, ?, ?, ?, '{{}}', '{stamp}', '{stamp}')",
        rows,
    )
    for k in range(TOPICS):
        con.execute(
            "INSERT INTO topic (workspace_id, key, label, kind, terms, status, label_edited, user_edited, created_at,"
            f" updated_at) VALUES (?, ?, ?, 'rule', '', 'active', 0, 0, '{stamp}', '{stamp}')",
            (workspace_id, f"topic-{k}", f"Topic {k}"),
        )
    con.execute(
        "INSERT INTO record_topic (record_id, topic_id, score) SELECT r.id, t.id, 1.0 FROM feedback_record r"
        f" JOIN topic t ON t.key = 'topic-' || (r.id % {TOPICS}) WHERE r.field_type = 'text'"
    )
    con.commit()
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000, help="generated NPS/CSAT/CES answers")
    parser.add_argument("--texts", type=int, default=5_000, help="texts with sentiment and a topic")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cem-bench-home-") as tmp:
        from fastapi.testclient import TestClient

        from cem.analytics import home_view
        from cem.analytics.dashboards import service as dashboards
        from cem.app import create_app

        settings, db, ws_id = bench_store(tmp)
        _fill_store(Path(tmp) / "cem.db", args.n, ws_id)
        _add_texts(Path(tmp) / "cem.db", ws_id, args.texts)
        app = create_app(settings, db=db)
        with TestClient(app) as client:
            r = client.post("/login", data={"email": "a@bench.example", "password": "bench-password-1"})
            assert r.status_code in (200, 303), r.text

            def home() -> object:
                page = client.get("/", headers={"accept": "text/html"})
                assert page.status_code == 200 and 'data-testid="home-tile-nps"' in page.text, page.text[:500]
                return page

            start = time.perf_counter()
            home()
            first = time.perf_counter() - start
            warm, _ = timed(home, 5)
            uncached = []
            for _ in range(3):
                home_view._STATES.clear()
                dashboards._OVERVIEWS.clear()
                start = time.perf_counter()
                home()
                uncached.append(time.perf_counter() - start)
        print(
            f"home page on {args.n:,} answers + {args.texts:,} texts: first {first * 1000:.0f} ms, "
            f"warm {warm * 1000:.0f} ms (median of 5; target < 500 ms), "
            f"uncached {statistics.median(uncached) * 1000:.0f} ms (median of 3)"
        )
        db.dispose()


if __name__ == "__main__":
    main()
