"""Ingest benchmark: starts cem on loopback with the embedded SQLite default and reports

1. single-record ingest over HTTP from concurrent clients: records/s and p50/p95/p99 latency
   (target >= 500 records/s with p95 < 100 ms on 2 cores, the load generator sharing them);
2. durability: the server is SIGKILLed during a run; every record whose request got a 2xx must be in the store;
3. bulk import of N feedback rows (default 1,000,000) from CSV and from NDJSON through `cem import`: rows/s
   (target >= 50,000 rows/s);
4. job queue throughput (benchmarks/jobs.py), when run with --jobs.

Usage: .venv/bin/python benchmarks/ingest.py [--records 5000] [--concurrency 16] [--bulk-rows 1000000] [--jobs]
Generated data lives in a temporary directory and is deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from benchmarks._server import Instance, percentile


def record(i: int, run: str) -> dict[str, object]:
    return {
        "source_type": "api",
        "source_name": f"bench-{run}",
        "submission_id": f"{run}-{i}",
        "customer": {"external_id": f"cust-{i % 5000}"},
        "field_id": "nps",
        "field_type": "nps",
        "value": i % 11,
    }


class RawClient:
    """A minimal keep-alive HTTP/1.1 client. httpx costs about a millisecond of CPU per request, which on
    2 shared cores would measure the load generator rather than the server."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, payload: dict[str, object]) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        body = json.dumps(payload).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed")
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def fire(
    base_url: str, token: str, run: str, count: int, concurrency: int, acked: list[str] | None = None
) -> tuple[list[float], int]:
    """Send `count` single-record POSTs with `concurrency` clients; returns latencies (s) and failures."""
    latencies: list[float] = []
    failures = 0
    counter = iter(range(count))
    host, port = base_url.removeprefix("http://").split(":")

    async def worker() -> None:
        nonlocal failures
        client = RawClient(host, int(port), token)
        for i in counter:
            body = record(i, run)
            started = time.perf_counter()
            try:
                status = await client.post_json("/api/v1/feedback", body)
            except (OSError, ConnectionError, asyncio.IncompleteReadError):
                failures += 1
                client.close()
                if acked is not None:
                    break  # the durability run killed the server: this client is done
                continue
            latencies.append(time.perf_counter() - started)
            if 200 <= status < 300:
                if acked is not None:
                    acked.append(str(body["submission_id"]))
            else:
                failures += 1
        client.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, failures


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the server process and its children: a cost per request that, unlike
    records/s, does not depend on what else the shared machine is doing."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # fields[1]: the parent pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def bench_single(inst: Instance, records: int, concurrency: int) -> None:
    asyncio.run(fire(inst.base_url, inst.token, "warmup", 300, concurrency))
    assert inst.server is not None
    cpu_before = server_cpu_seconds(inst.server.pid)
    started = time.perf_counter()
    latencies, failures = asyncio.run(fire(inst.base_url, inst.token, "single", records, concurrency))
    elapsed = time.perf_counter() - started
    cpu_ms = (server_cpu_seconds(inst.server.pid) - cpu_before) * 1000 / max(len(latencies), 1)
    rate = len(latencies) / elapsed
    p50, p95, p99 = (percentile(latencies, p) * 1000 for p in (50, 95, 99))
    print(f"single-record ingest  {records} records, {concurrency} clients: {rate:,.0f} records/s")
    print(f"  latency p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms  failures {failures}")
    print(f"  server CPU {cpu_ms:.2f} ms per record (user + system, all server processes)")
    verdict_rate = "OK" if rate >= 500 else "MISSED"
    verdict_p95 = "OK" if p95 < 100 else "MISSED"
    print(f"  targets: >= 500 records/s {verdict_rate}; p95 < 100 ms {verdict_p95}")


def bench_durability(inst: Instance, concurrency: int) -> None:
    """Kill -9 the server mid-load; every acknowledged submission must be stored."""
    acked: list[str] = []

    async def load_then_kill() -> None:
        load = asyncio.create_task(fire(inst.base_url, inst.token, "durable", 1_000_000, concurrency, acked))
        await asyncio.sleep(3)
        inst.kill()
        await asyncio.wait_for(load, timeout=60)

    asyncio.run(load_then_kill())
    db = sqlite3.connect(inst.data_dir / "cem.db")
    stored = {
        row[0] for row in db.execute("SELECT submission_id FROM feedback_record WHERE source_name='bench-durable'")
    }
    db.close()
    missing = [s for s in acked if s not in stored]
    print(
        f"durability  SIGKILL after {len(acked)} acknowledged records: {len(missing)} missing "
        f"({'OK' if not missing else 'LOST DATA'})"
    )
    inst.start()


def write_bulk_files(folder: Path, rows: int) -> tuple[Path, Path]:
    csv_path, ndjson_path = folder / "bulk.csv", folder / "bulk.ndjson"
    with csv_path.open("w") as out:
        out.write("submission_id,customer_id,nps,collected_at\n")
        for i in range(rows):
            out.write(f"csv-{i},c{i % 50000},{i % 11},2026-0{1 + i % 9}-1{i % 10}T10:00:00Z\n")
    with ndjson_path.open("w") as out:
        for i in range(rows):
            item = record(i, "nd")
            item["collected_at"] = f"2026-0{1 + i % 9}-1{i % 10}T10:00:00Z"
            item["customer"] = {"external_id": f"c{i % 50000}"}
            out.write(json.dumps(item) + "\n")
    return csv_path, ndjson_path


def bench_bulk(folder: Path, rows: int) -> None:
    """Each format into a fresh store (the figure against the target), then NDJSON again into the store that
    already holds the CSV's rows (bigger indexes: the slower, steady-state case)."""
    csv_path, ndjson_path = write_bulk_files(folder, rows)
    mapping = folder / "mapping.json"
    mapping.write_text(json.dumps(BULK_MAPPING))
    csv_store, ndjson_store = Instance(data_dir=folder / "bulk-csv"), Instance(data_dir=folder / "bulk-ndjson")
    for store in (csv_store, ndjson_store):
        store.prepare()
    for label, store, path, extra in (
        ("CSV, fresh store", csv_store, csv_path, ["--mapping-file", str(mapping)]),
        ("NDJSON, fresh store", ndjson_store, ndjson_path, []),
        (f"NDJSON, store already holding {rows:,} rows", csv_store, ndjson_path, []),
    ):
        started = time.perf_counter()
        store.cem("import", str(path), "--workspace", store.workspace, *extra)
        elapsed = time.perf_counter() - started
        rate = rows / elapsed
        print(
            f"bulk import {label}  {rows:,} rows in {elapsed:.1f} s (CLI start included): {rate:,.0f} rows/s "
            f"({'OK' if rate >= 50_000 else 'MISSED'} vs 50,000)"
        )


BULK_MAPPING: dict[str, object] = {
    "source_type": "csv",
    "source_name": "bulk",
    "submission_id": "submission_id",
    "customer": {"external_id": "customer_id"},
    "collected_at": "collected_at",
    "fields": [{"column": "nps", "field_id": "nps", "field_type": "nps", "label": "Likelihood to recommend"}],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--bulk-rows", type=int, default=1_000_000)
    parser.add_argument("--jobs", action="store_true", help="also run benchmarks/jobs.py")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inst = Instance(data_dir=Path(tmp) / "data")
        inst.prepare()
        inst.start()
        try:
            bench_single(inst, args.records, args.concurrency)
            bench_durability(inst, args.concurrency)
        finally:
            inst.stop()
        if args.bulk_rows:
            bench_bulk(Path(tmp), args.bulk_rows)
    if args.jobs:
        from benchmarks import jobs

        jobs.main()


if __name__ == "__main__":
    main()
