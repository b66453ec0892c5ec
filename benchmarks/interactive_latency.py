"""Interactive latency benchmark: a person's import and the first semantic search while enrichment runs.

A real `cem serve` (in-process worker, loopback, own data dir) on SQLite:

1. Import latency: a 5-row CSV import through the API, from enqueue (the job's created_at) to its start and to its
   finish (the job's started_at / finished_at), first on an idle queue (the baseline), then while a backlog of
   `--texts` feedback texts (airline tweets and Olist reviews, ingested in batches of 2,000 as `cem demo` does) is
   being enriched: with the default worker (one general slot + one slot reserved for interactive jobs) and with a
   single slot (CEM_WORKER_INTERACTIVE_SLOTS=0: only priorities and yielding enrichment jobs help). Target < 5 s.
2. First semantic search after a server start, while that enrichment resumes: the server is restarted and the
   first `GET /api/v1/text/search` is timed, then a second one (the warm baseline). With `--demo`, the same on the
   demo workspace built by `cem demo` (the issue's setting). Target < 2 s.

Usage: .venv/bin/python benchmarks/interactive_latency.py [--texts 10000] [--imports 3] [--demo]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # runnable as a plain script from a checkout
    sys.path.insert(0, str(REPO))

from benchmarks._server import Instance  # noqa: E402

DATA = REPO.parent / "shared" / "data"
IMPORT_CSV = "submission_id,email,nps,comment\n" + "".join(
    f"imp-{{run}}-{i},p{i}@example.com,{i + 4},Row {i}: the courier was friendly but late\n" for i in range(5)
)
SEARCH = "refund for a cancelled flight"


@dataclass
class ServerInstance(Instance):
    """An Instance whose server runs the in-process worker (the embedded default), with extra settings."""

    extra: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "CEM_IN_PROCESS_WORKER": "true", **self.extra}


def shared_texts(limit: int) -> list[str]:
    """Real customer texts, cycled (and numbered, so no two are identical) up to `limit`."""
    found: list[str] = []
    with (DATA / "airline-tweets-sample" / "Tweets_sample_every7th_2000.csv").open(encoding="utf-8") as fh:
        found += [row["text"] for row in csv.DictReader(fh) if row["text"].strip()]
    with (DATA / "olist-ecommerce-subset" / "olist_order_reviews_dataset.csv").open(encoding="utf-8") as fh:
        found += [row["review_comment_message"] for row in csv.DictReader(fh) if row["review_comment_message"].strip()]
    return [f"{found[i % len(found)]} ({i})" for i in range(limit)]


def client(inst: Instance) -> httpx.Client:
    return httpx.Client(base_url=inst.base_url, headers={"Authorization": f"Bearer {inst.token}"}, timeout=300)


def ingest_backlog(inst: Instance, texts: list[str]) -> None:
    with client(inst) as http:
        for start in range(0, len(texts), 2000):
            records = [
                {
                    "source_type": "review",
                    "source_name": "bench",
                    "submission_id": f"t{start + i}",
                    "field_id": "comment",
                    "field_type": "text",
                    "value": text,
                }
                for i, text in enumerate(texts[start : start + 2000])
            ]
            r = http.post("/api/v1/feedback/bulk", json=records)
            r.raise_for_status()


def jobs(inst: Instance, **params: Any) -> list[dict[str, Any]]:
    with client(inst) as http:
        r = http.get("/api/v1/jobs", params={"limit": 1000, **params})
        r.raise_for_status()
        return list(r.json())


def wait_for_running_enrichment(inst: Instance, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(j["name"].startswith("text.enrich") for j in jobs(inst, status="running")):
            return
        time.sleep(0.2)
    raise RuntimeError("no enrichment job started")


def enriched_count(inst: Instance) -> int:
    """Texts embedded by finished enrichment jobs (each job's final progress)."""
    return sum(j["progress_current"] for j in jobs(inst, status="done") if j["name"].startswith("text.enrich"))


def timed_import(inst: Instance, run: int, timeout: float = 900) -> tuple[float, float]:
    """(seconds from enqueue to start, seconds from enqueue to finish) of a 5-row import, by the job's own times."""
    with client(inst) as http:
        upload = {"file": (f"five-{run}.csv", IMPORT_CSV.replace("{run}", str(run)), "text/csv")}
        r = http.post("/api/v1/imports", files=upload)
        r.raise_for_status()
        run_id = r.json()["id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if http.get(f"/api/v1/imports/{run_id}").json()["status"] not in ("queued", "running"):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"import {run_id} did not finish within {timeout:.0f} s")
    job = next(j for j in jobs(inst) if j["name"] == "imports.run")  # newest first: this run's job
    created, started, finished = (datetime.fromisoformat(job[k]) for k in ("created_at", "started_at", "finished_at"))
    return (started - created).total_seconds(), (finished - created).total_seconds()


def import_latencies(inst: Instance, label: str, count: int, first_run: int) -> None:
    starts, finishes = [], []
    for n in range(count):
        start, finish = timed_import(inst, first_run + n)
        starts.append(start)
        finishes.append(finish)
    print(
        f"  {label:48s} to start: median {statistics.median(starts):5.2f} s  max {max(starts):5.2f} s   "
        f"to finish: median {statistics.median(finishes):5.2f} s  max {max(finishes):5.2f} s"
    )


def timed_search(inst: Instance) -> tuple[float, int]:
    with client(inst) as http:
        began = time.perf_counter()
        r = http.get("/api/v1/text/search", params={"q": SEARCH, "limit": 10})
        took = time.perf_counter() - began
        r.raise_for_status()
        return took, len(r.json()["items"])


def first_search_after_start(inst: Instance, label: str) -> None:
    inst.stop()
    inst.start()
    first, hits = timed_search(inst)
    second, _ = timed_search(inst)
    print(f"  {label:48s} first search {first:6.2f} s ({hits} hits)   second (warm) {second:5.2f} s")


def run(texts: int, imports: int, demo: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="cem-latency-") as tmp:
        inst = ServerInstance(Path(tmp) / "bench")
        inst.prepare()
        inst.start()
        try:
            print(f"Import latency (5-row CSV), SQLite, {os.cpu_count()} cores:")
            import_latencies(inst, "idle queue (baseline)", imports, 0)
            began = time.monotonic()
            ingest_backlog(inst, shared_texts(texts))
            wait_for_running_enrichment(inst)
            import_latencies(inst, f"{texts:,} texts enriching, 1 + 1 reserved slot", imports, 100)
            inst.stop()
            inst.extra = {"CEM_WORKER_INTERACTIVE_SLOTS": "0"}
            inst.start()
            wait_for_running_enrichment(inst)
            import_latencies(inst, f"{texts:,} texts enriching, single slot", imports, 200)
            inst.extra = {}
            done = enriched_count(inst)
            print(f"  (meanwhile {done:,} texts enriched in {time.monotonic() - began:.0f} s)")
            print("Semantic search after a server start, enrichment resuming:")
            first_search_after_start(inst, f"{texts:,} texts")
        finally:
            inst.stop()
        if demo:
            demo_inst = ServerInstance(Path(tmp) / "demo", workspace="demo")
            demo_inst.prepare()
            began = time.monotonic()
            demo_inst.cem("demo", "--workspace", "demo")
            print(f"  (demo built in {time.monotonic() - began:.0f} s)")
            demo_inst.start()
            try:
                wait_for_running_enrichment(demo_inst)
                time.sleep(20)  # some enrichment stored, so the index has something to load at the next start
                first_search_after_start(demo_inst, "demo workspace")
            finally:
                demo_inst.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=10_000, help="texts in the enrichment backlog")
    parser.add_argument("--imports", type=int, default=3, help="imports timed per setting")
    parser.add_argument("--demo", action="store_true", help="also time the first search on the demo workspace")
    args = parser.parse_args()
    run(args.texts, args.imports, args.demo)


if __name__ == "__main__":
    main()
