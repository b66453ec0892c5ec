"""Text analytics evaluation: sentiment accuracy / macro-F1 on real labelled data, and enrichment throughput.

- Airline tweets (shared/data/airline-tweets-sample, 2,000 human-labelled English tweets).
- Olist reviews (shared/data/olist-ecommerce-subset, Portuguese; stars 1-2 negative, 3 neutral, 4-5 positive; only
  reviews with a comment). The default model's anchor sentences were reviewed once against errors on the first 2,000
  of these reviews, so the rows after them are also reported apart as an untouched hold-out.

For each: the default model (no training on these labels), VADER (the floor; on Portuguese it shows what reading
Portuguese as English would give), a logistic regression trained on the same embeddings (5-fold cross-validation,
its C chosen by an inner cross-validation), and the workspace trainer `cem text train` uses (cem.text.training: fixed C,
balanced classes, 5 folds, compared with the default on the same folds). Then enrichment throughput, on short texts
(tweets and reviews as written) and on a length mix like real reviews and tickets (median ~200 characters, p90 ~800;
length_mix), each two ways in the same run: (a) in memory, the computing steps of the enrichment job (language,
embedding with the contrasting clauses, sentiment, emotions), and (b) end to end through the store: the texts stored
by the normal writer on a fresh SQLite database, then a worker draining the enrichment jobs that ingest queued (read
the records, mask personal data, embed, classify, write feedback_record + feedback_embedding, assign topics through
the hook). Each in texts/s and characters/s (wall) and CPU ms per 1,000 characters, with the ratio (b)/(a) per
character: CPU is the figure to compare, the machine is often shared and wall time then says little. Finally topic
discovery time (TXT-B's benchmarks/text_topics.py, embeddings given: excludes embedding time).

Usage: .venv/bin/python benchmarks/text_eval.py [--data ../shared/data] [--limit N] [--short-texts 500]
       [--mix-texts 1000] [--only-mix] [--topics-n 10000 100000] [--repeat N] [--skip-accuracy]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # runnable as a plain script from a checkout
    sys.path.insert(0, str(REPO / "src"))

from cem.text.embeddings import shared_embedder  # noqa: E402
from cem.text.language import detect_languages  # noqa: E402
from cem.text.sentiment import CLASSES, EmbeddingSentiment, VaderSentiment  # noqa: E402

STARS = {1: "negative", 2: "negative", 3: "neutral", 4: "positive", 5: "positive"}
TUNING_ROWS = 2000  # Olist rows looked at while writing the anchor sentences


def load_airline(data: Path) -> tuple[list[str], list[str]]:
    """Tweet texts and their human sentiment labels."""
    with (data / "airline-tweets-sample" / "Tweets_sample_every7th_2000.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["airline_sentiment"] for r in rows]


def load_olist(data: Path) -> tuple[list[str], list[str]]:
    """Portuguese review comments and the sentiment their star rating implies."""
    with (data / "olist-ecommerce-subset" / "olist_order_reviews_dataset.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if (r["review_comment_message"] or "").strip()]
    return [r["review_comment_message"] for r in rows], [STARS[int(r["review_score"])] for r in rows]


def scores(truth: Sequence[str], predicted: Sequence[str]) -> tuple[float, float]:
    """Accuracy and macro-F1 over the three classes."""
    from sklearn.metrics import accuracy_score, f1_score

    return float(accuracy_score(truth, predicted)), float(f1_score(truth, predicted, average="macro", labels=CLASSES))


def trained_cv(vectors: np.ndarray, truth: Sequence[str]) -> list[str]:
    """Out-of-fold predictions of a logistic regression on the embeddings (5 folds; C picked by inner CV)."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    # scoring and attributes spelled out: sklearn 1.9 warns that both defaults will change.
    model = LogisticRegressionCV(
        Cs=[0.3, 1, 3, 10, 30],
        l1_ratios=(0.0,),
        class_weight="balanced",
        max_iter=3000,
        scoring="accuracy",
        use_legacy_attributes=False,
    )
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    return [str(p) for p in cross_val_predict(model, vectors, np.asarray(truth), cv=folds)]


def workspace_trainer_cv(vectors: np.ndarray, truth: Sequence[str]) -> list[str]:
    """Out-of-fold predictions of the trainer `cem text train` uses, on the same 5 stratified folds."""
    from sklearn.model_selection import StratifiedKFold

    from cem.text.training import _fit

    y = np.asarray(truth)
    predicted = np.empty(len(y), dtype=object)
    for train_rows, test_rows in StratifiedKFold(5, shuffle=True, random_state=0).split(vectors, y):
        head = _fit(vectors[train_rows], y[train_rows].tolist())
        predicted[test_rows] = [s.polarity for s in head.sentiments(vectors[test_rows])]
    return [str(p) for p in predicted]


def evaluate(name: str, texts: list[str], truth: list[str], holdout_from: int | None = None) -> None:
    """Print accuracy / macro-F1 of the default model, VADER and the CV-trained model on one data set."""
    started, cpu = time.perf_counter(), time.process_time()
    vectors = shared_embedder().embed(texts)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    default = EmbeddingSentiment()
    p = default.probabilities(vectors)
    predictions = {
        "default (e5 + head + anchors, untrained)": [CLASSES[int(i)] for i in p.argmax(axis=1)],
        "shipped head alone (logistic 2.0)": [
            CLASSES[int(i)] for i in EmbeddingSentiment(anchors=None).probabilities(vectors).argmax(axis=1)
        ],
        "VADER (floor)": [s.polarity for s in VaderSentiment().analyze(texts)],
        "trained on labels, 5-fold CV": trained_cv(vectors, truth),
        "workspace trainer (cem text train), 5-fold": workspace_trainer_cv(vectors, truth),
    }
    counts = {c: truth.count(c) for c in CLASSES}
    print(
        f"\n{name}: n={len(texts)} {counts}; embedding {len(texts) / seconds:.1f} texts/s, "
        f"{1000 * cpu / len(texts):.1f} CPU ms per text"
    )
    for label, predicted in predictions.items():
        accuracy, f1 = scores(truth, predicted)
        line = f"  {label:42s} accuracy {accuracy:.3f}  macro-F1 {f1:.3f}"
        if holdout_from is not None and len(texts) > holdout_from:
            h_acc, h_f1 = scores(truth[holdout_from:], predicted[holdout_from:])
            line += f"   | hold-out rows {holdout_from + 1}+ (n={len(texts) - holdout_from}): {h_acc:.3f} / {h_f1:.3f}"
        print(line)


# The length mix of real review and ticket exports: median ~200 characters, p90 ~800 (log-normal, as text lengths are).
MIX_MEDIAN = 200
MIX_P90 = 800
MIX_MAX = 4000  # longer ticket threads exist, but the embedder reads at most embeddings.MAX_CHARS of them


def length_mix(air: list[str], olist: list[str], n: int, seed: int = 0) -> list[str]:
    """n real texts whose lengths follow the mix: half English (airline tweets), half Portuguese (Olist reviews).

    A target up to the longest real text takes the unused real text closest to it in length; a longer target is
    reached by joining consecutive real texts of the same language (a long review or a ticket thread), never by
    repeating or inventing words. Deterministic for a seed.
    """
    rng = np.random.default_rng(seed)
    sigma = float(np.log(MIX_P90 / MIX_MEDIAN) / 1.2815515655446004)  # z of the 90th percentile
    targets = np.minimum(MIX_MAX, np.maximum(2, rng.lognormal(np.log(MIX_MEDIAN), sigma, n))).astype(int)
    pools = [[t.strip() for t in air if t.strip()], [t.strip() for t in olist if t.strip()]]
    unused = [sorted(range(len(pool)), key=lambda i, pool=pool: len(pool[i])) for pool in pools]
    cursor = [0, 0]
    out = []
    for k, target in enumerate(targets.tolist()):
        side = k % 2
        pool, free = pools[side], unused[side]
        if free and target <= len(pool[free[-1]]):
            lengths = [len(pool[i]) for i in free]
            at = min(int(np.searchsorted(lengths, target)), len(free) - 1)
            out.append(pool[free.pop(at)])
            continue
        parts: list[str] = []
        while sum(map(len, parts)) + len(parts) < target:
            parts.append(pool[cursor[side] % len(pool)])
            cursor[side] += 1
        out.append(" ".join(parts))
    return out


MIX_TITLE = "Length mix of reviews and tickets (real texts; longer ones join consecutive same-language texts)"


def describe_mix(texts: Sequence[str]) -> str:
    lengths = np.array([len(t) for t in texts])
    return (
        f"{len(texts)} texts, {int(lengths.sum())} characters: median {np.median(lengths):.0f}, "
        f"p90 {np.percentile(lengths, 90):.0f}, max {int(lengths.max())} characters"
    )


@dataclass
class Rate:
    """One throughput measurement."""

    texts: int
    chars: int
    wall: float
    cpu: float

    def line(self) -> str:
        return (
            f"{self.texts / self.wall:.1f} texts/s, {self.chars / self.wall:,.0f} characters/s wall; "
            f"{1000 * self.cpu / self.chars * 1000:.1f} CPU ms per 1,000 characters "
            f"({1000 * self.cpu / self.texts:.1f} per text)"
        )


def in_memory(texts: list[str]) -> Rate:
    """The enrichment job's computing steps without the store: language, embedding (texts and contrasting clauses
    in one pass), sentiment, emotions."""
    from cem.text.emotions import DEFAULT_EXAMPLES, shared_emotion_model
    from cem.text.sentiment import shared_default_analyzer

    analyzer, emotion_model = shared_default_analyzer(), shared_emotion_model()
    analyzer.centroids()  # model load, anchors and the language models are one-offs per process, not per text
    emotion_model.centroids(DEFAULT_EXAMPLES)
    detect_languages(["warm up"])
    started, cpu = time.perf_counter(), time.process_time()
    detect_languages(texts)
    vectors, part_vectors = analyzer.embed(texts)
    analyzer.from_vectors(texts, vectors, part_vectors)
    emotion_model.detect(vectors, DEFAULT_EXAMPLES)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Rate(len(texts), sum(map(len, texts)), seconds, cpu)


def through_the_store(texts: list[str]) -> Rate:
    """Store the texts with the normal writer (ingest queues the enrichment job through the feedback_stored hook),
    then time a worker draining the queue: the job's own chunking, reads, model calls, writes and topic hook."""
    import tempfile

    from sqlalchemy import func, select

    from cem import hooks, plugins
    from cem.admin import service as admin_service
    from cem.auth.principal import system_principal
    from cem.config import Settings
    from cem.db import migrate
    from cem.db.session import Database
    from cem.feedback import service as feedback_service
    from cem.feedback.models import FeedbackRecord
    from cem.feedback.schemas import FeedbackIn
    from cem.jobs.models import Job
    from cem.jobs.worker import Worker
    from cem.text.emotions import DEFAULT_EXAMPLES, shared_emotion_model
    from cem.text.sentiment import shared_default_analyzer

    plugins.install()  # as the app does: ingest queues enrichment, enrichment assigns topics, through the hooks
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Settings(env="test", data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/bench.db"))
        migrate.upgrade(db.engine)
        with db.unit_of_work() as session:
            ws = admin_service.ensure_workspace(session, slug="bench", name="Bench").id
            records = [
                FeedbackIn(
                    source_type="review",
                    source_name="bench",
                    submission_id=str(i),
                    field_id="comment",
                    field_type="text",
                    value=t,
                )
                for i, t in enumerate(texts)
            ]
            feedback_service.ingest_feedback(session, actor=system_principal(ws), records=records)
        shared_default_analyzer().centroids()  # once per worker process, as in in_memory()
        shared_emotion_model().centroids(DEFAULT_EXAMPLES)
        detect_languages(["warm up"])
        started, cpu = time.perf_counter(), time.process_time()
        jobs = Worker(db, poll_seconds=0.01).run_until_idle()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        with db.unit_of_work(readonly=True) as session:
            enriched = session.scalar(select(func.count()).where(FeedbackRecord.enriched_at.is_not(None)))
            failed = session.scalar(select(func.count()).where(Job.status != "done"))
        db.dispose()
    if enriched != len(texts) or failed:
        raise SystemExit(f"end to end: {enriched} of {len(texts)} texts enriched, {failed} jobs not done")
    topics = "topic assignment hook on" if hooks.has_implementations("records_enriched") else "no topic module"
    print(f"  ({jobs} enrichment jobs ran: the job hands on to a new one every few seconds; {topics})")
    return Rate(len(texts), sum(map(len, texts)), seconds, cpu)


def compare(title: str, texts: list[str]) -> None:
    """Texts/s, characters/s and CPU per character in memory and through the store, in one process (same machine,
    same minutes). CPU per character is the figure to compare: on a shared machine wall time says little."""
    print(f"\n{title}: {describe_mix(texts)}")
    memory = in_memory(texts)
    print(f"  (a) in memory (language, embedding, sentiment, emotions): {memory.line()}")
    store = through_the_store(texts)
    print(f"  (b) end to end through SQLite (writer, then the enrichment job): {store.line()}")
    print(
        f"  (b)/(a) per character: {store.cpu / memory.cpu:.2f}x the CPU, {store.wall / memory.wall:.2f}x the wall "
        "time (<= 1: the store costs nothing extra)"
    )


def topic_discovery(sizes: list[int]) -> None:
    """TXT-B's discovery time (embeddings given, so embedding time is excluded)."""
    try:
        sys.path.insert(0, str(REPO / "benchmarks"))
        from text_topics import discovery_seconds
    except ImportError:
        print("\nTopic discovery: benchmarks/text_topics.py not available")
        return
    for n in sizes:
        print(f"\nTopic discovery, {n} texts (embeddings given, excludes embedding time): {discovery_seconds(n)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--limit", type=int, default=0, help="Use only the first N texts of each set (0: all).")
    parser.add_argument("--short-texts", type=int, default=500, help="Short texts for throughput (0: skip).")
    parser.add_argument("--topics-n", type=int, nargs="*", default=[10_000, 100_000], help="Topic discovery sizes.")
    parser.add_argument("--repeat", type=int, default=1, help="Run the throughput measurements N times (busy machine).")
    parser.add_argument("--skip-accuracy", action="store_true", help="Only the throughput and topic measurements.")
    parser.add_argument(
        "--mix-texts", type=int, default=1000, help="Texts of the review/ticket length mix for throughput (0: skip)."
    )
    parser.add_argument("--only-mix", action="store_true", help="Only the length-mix throughput (skips all else).")
    args = parser.parse_args()
    air, olist = load_airline(args.data), load_olist(args.data)
    if args.limit:
        air, olist = (air[0][: args.limit], air[1][: args.limit]), (olist[0][: args.limit], olist[1][: args.limit])
    if args.only_mix:
        for _ in range(args.repeat):
            compare(MIX_TITLE, length_mix(air[0], olist[0], args.mix_texts))
        return
    if not args.skip_accuracy:
        evaluate("Airline tweets (English)", *air)
        evaluate("Olist reviews (Portuguese)", *olist, holdout_from=TUNING_ROWS)
    half = args.short_texts // 2
    for _ in range(args.repeat):
        if half:
            compare("Short texts (tweets and Olist reviews as written)", air[0][-half:] + olist[0][-half:])
        if args.mix_texts:
            compare(MIX_TITLE, length_mix(air[0], olist[0], args.mix_texts))
    print("\nEmotions: EXPERIMENTAL (example sentences on the same embeddings); no labelled emotion data to measure.")
    topic_discovery(args.topics_n)


if __name__ == "__main__":
    main()
