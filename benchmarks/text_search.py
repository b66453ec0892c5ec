"""Semantic search benchmark: recall@10 and latency of cem's vector index at up to 1,000,000 records.

Vectors are generated in memory (no model): `clusters` random unit directions in the 384-d e5 space, each record a
direction plus Gaussian noise (perturbed, so neighbours are close but not identical, as real embeddings are), then
L2-normalised. Queries are perturbed copies of random records. The index is the one the API uses
(cem.text.vector_index.search_matrix: exact dot product + argpartition), timed per single query, and with an
explorer filter that keeps ~10% of the records. Recall@10 is measured against a full sort of all scores (the
reference): the index is exact, so anything below 1.0 would be a bug.

Usage: .venv/bin/python benchmarks/text_search.py [--n 1000000] [--queries 50] [--seed 0]
Quick check: --n 100000.   Memory: n x 384 x 4 bytes (1.5 GB at a million).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from cem.text.embeddings import DIM  # noqa: E402
from cem.text.vector_index import search_matrix  # noqa: E402

K = 10


def make_vectors(n: int, clusters: int, seed: int) -> np.ndarray:
    """(n, 384) float32 unit vectors around `clusters` random directions, built in chunks to bound memory."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, DIM)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        chunk = centers[rng.integers(0, clusters, m)] + rng.normal(0, 0.08, (m, DIM)).astype(np.float32)
        out[start : start + m] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def reference(vectors: np.ndarray, query: np.ndarray, rows: np.ndarray | None) -> set[int]:
    scores = vectors @ query if rows is None else vectors[rows] @ query
    best = np.argsort(-scores, kind="stable")[:K]
    return {int(i) for i in (best if rows is None else rows[best])}


def run(n: int, queries: int, seed: int) -> None:
    started = time.perf_counter()
    vectors = make_vectors(n, clusters=max(10, n // 1000), seed=seed)
    ids = np.arange(n, dtype=np.int64)
    print(f"n={n:,} dim={DIM}: vectors built in {time.perf_counter() - started:.1f} s ({vectors.nbytes / 1e9:.2f} GB)")
    rng = np.random.default_rng(seed + 1)
    picks = rng.integers(0, n, queries)
    qs = vectors[picks] + rng.normal(0, 0.05, (queries, DIM)).astype(np.float32)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    subset = np.flatnonzero(rng.random(n) < 0.10)  # an explorer filter keeping ~10% of the records
    subset_ids = set(subset.tolist())
    for label, among in (("no filter", None), ("filter keeps ~10%", subset_ids)):
        latencies, recalls = [], []
        rows = None if among is None else subset
        for q in qs:
            t = time.perf_counter()
            hits = search_matrix(ids, vectors, q, K, among=among)
            latencies.append(time.perf_counter() - t)
            recalls.append(len({h.record_id for h in hits} & reference(vectors, q, rows)) / K)
        ms = np.asarray(latencies) * 1000
        print(
            f"  exact numpy, {label:18s} recall@{K} {np.mean(recalls):.3f}   latency ms: "
            f"median {np.median(ms):.1f}  p95 {np.percentile(ms, 95):.1f}  max {ms.max():.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run(args.n, args.queries, args.seed)


if __name__ == "__main__":
    main()
