"""Survey benchmarks (issue 4). Sections:

1. audience: audience evaluation with the contact-frequency rules over N customers (default 1,000,000)
   in a temporary embedded SQLite database: filters (email set AND plan = pro OR seats >= 20) compiled to
   one SQL pass, contact history (20% of customers contacted in the last 60 days) aggregated by one
   GROUP BY, 1% unsubscribed, rules: 14-day global cooldown, at most 3 surveys in 30 days, recontact 90
   days. Target < 10 s.
2. email: a real email distribution of M invitations (default 100,000) through the same code the job runs:
   plan (audience x rules -> invitations), render (HTML + text, NPS scale embedded) and hand to SMTP
   (a local aiosmtpd sink in two processes sharing the port), claim/mark in batches. Target >= 1,000/s.
3. hosted: page render and submit throughput of /s/<slug> (benchmarks/surveys_hosted.py, when present).

Usage: .venv/bin/python -m benchmarks.surveys [--scale 1.0] [--sections audience,email,hosted]
`--scale 0.01` runs 10,000 customers and 1,000 emails (a quick check). Generated data lives in a
temporary directory and is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from cem import plugins
from cem.admin import service as admin_service
from cem.config import Settings
from cem.db.base import utcnow
from cem.db.migrate import upgrade
from cem.db.session import Database
from cem.distribution import audiences as audience_engine
from cem.distribution import sending
from cem.distribution import service as dist_service
from cem.distribution.schemas import AudienceFilter, AudienceIn, ContactSettingsIn, SurveyChannelSettingsIn
from cem.surveys import service as survey_service

SINK = r"""
import asyncio, sys
from aiosmtpd.smtp import SMTP
class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
server = loop.run_until_complete(
    loop.create_server(lambda: SMTP(Sink()), "127.0.0.1", int(sys.argv[1]), reuse_port=True)
)
print("ready", flush=True)
loop.run_forever()
"""

AUDIENCE = {
    "match": "all",
    "conditions": [
        {"kind": "field", "field": "email", "op": "is_set"},
        {"kind": "attribute", "key": "plan", "op": "in", "value": ["pro", "team"]},
    ],
}
DEFINITION = {
    "title": {"en": "How are we doing?"},
    "pages": [
        {
            "id": "p1",
            "questions": [{"id": "nps", "type": "nps", "required": True, "headline": {"en": "Recommend us?"}}],
        },
        {"id": "p2", "questions": [{"id": "why", "type": "text", "headline": {"en": "Why?"}}]},
    ],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_sink(processes: int = 2) -> Iterator[int]:
    port = free_port()
    procs = [
        subprocess.Popen([sys.executable, "-c", SINK, str(port)], stdout=subprocess.PIPE) for _ in range(processes)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            p.stdout.readline()
        yield port
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)


def make_db(tmp: Path, **settings: Any) -> tuple[Database, int]:
    s = Settings(env="test", data_dir=tmp, in_process_worker=False, public_url="https://cx.example", **settings)
    db = Database(s)
    upgrade(db.engine)
    with db.unit_of_work() as session:
        workspace_id = admin_service.ensure_workspace(session, slug="bench", name="Bench").id
    return db, workspace_id


def generate_customers(database: Path, workspace_id: int, n: int, *, email_share: float = 0.9) -> float:
    """Bulk-insert n customers (and their contact history) straight through sqlite3; returns seconds."""
    started = time.perf_counter()
    rnd = random.Random(7)
    now = utcnow().replace(tzinfo=None)
    stamp = now.isoformat(sep=" ")
    plans = ("free", "pro", "team", "free")
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA synchronous=OFF")
    conn.executemany(
        "INSERT INTO customer (workspace_id, external_id, email, name, attributes, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (
                workspace_id,
                f"c{i}",
                f"c{i}@example.com" if rnd.random() < email_share else None,
                None,
                json.dumps({"plan": plans[i % 4], "seats": i % 50}),
                stamp,
                stamp,
            )
            for i in range(n)
        ),
    )
    conn.commit()
    return time.perf_counter() - started


def add_history(database: Path, workspace_id: int, survey_ids: list[int], n: int) -> None:
    rnd = random.Random(11)
    now = utcnow().replace(tzinfo=None)
    first = conn_first_id(database)
    conn = sqlite3.connect(database)
    conn.executemany(
        "INSERT INTO survey_contact (workspace_id, customer_id, survey_id, channel, counts, at) VALUES (?,?,?,?,?,?)",
        (
            (
                workspace_id,
                first + i,
                rnd.choice(survey_ids),
                "email",
                1,
                (now - timedelta(days=rnd.uniform(0, 60))).isoformat(sep=" "),
            )
            for i in range(n)
            if rnd.random() < 0.2
        ),
    )
    conn.executemany(
        "INSERT INTO survey_unsubscribe (workspace_id, customer_id, via, at) VALUES (?,?,?,?)",
        ((workspace_id, first + i, "email_link", now.isoformat(sep=" ")) for i in range(1, n, 100)),
    )
    conn.commit()


def conn_first_id(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        return int(conn.execute("SELECT min(id) FROM customer").fetchone()[0])


def setup_survey(db: Database, workspace_id: int, slug: str) -> tuple[int, int]:
    """A live survey with a recontact rule, an older survey, and the workspace rules; returns both ids."""
    actor = admin_service_principal(workspace_id)
    with db.unit_of_work() as session:
        survey = survey_service.create_survey(session, actor, name="Quarterly NPS", definition=DEFINITION, slug=slug)
        survey_service.publish_survey(session, actor, survey)
        older = survey_service.create_survey(session, actor, name="Older", definition=DEFINITION, slug=slug + "-old")
        dist_service.update_channel_settings(
            session, actor=actor, survey_id=survey.id, data=SurveyChannelSettingsIn(recontact_days=90)
        )
        dist_service.update_contact_settings(
            session, actor=actor, data=ContactSettingsIn(global_cooldown_days=14, max_per_period=3, period_days=30)
        )
        return survey.id, older.id


def admin_service_principal(workspace_id: int) -> Any:
    from cem.auth.principal import system_principal

    return system_principal(workspace_id, label="benchmark")


def bench_audience(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db, ws = make_db(Path(tmp))
        gen = generate_customers(Path(tmp) / "cem.db", ws, n)
        survey_id, older_id = setup_survey(db, ws, "quarterly")
        add_history(Path(tmp) / "cem.db", ws, [survey_id, older_id], n)
        print(f"audience evaluation over {n:,} customers (generated in {gen:.1f} s)")
        flt = AudienceFilter.model_validate(AUDIENCE)
        with db.unit_of_work(readonly=True) as session:
            survey = survey_service.get_survey(session, workspace_id=ws, survey_id=survey_id)
            rules = dist_service.rules_context(session, survey=survey, channel="email")
            figures: dict[str, float] = {"audience_customers": n}
            for explain, label in ((False, "send"), (True, "preview")):
                started, cpu_before = time.perf_counter(), _cpu(resource.RUSAGE_SELF)
                verdicts = audience_engine.evaluate(
                    session, workspace_id=ws, flt=flt, now=utcnow(), rules=rules, explain=explain
                )
                summary, _, _ = audience_engine.summarise(verdicts, sample=20)
                seconds = time.perf_counter() - started
                cpu = _cpu(resource.RUSAGE_SELF) - cpu_before
                figures[f"audience_{label}_seconds"] = seconds
                figures[f"audience_{label}_cpu_seconds"] = cpu
                scope = "every customer, with the condition that excluded each" if explain else "members only"
                print(
                    f"  {label} ({scope}): {seconds:.2f} s ({cpu:.2f} s CPU);"
                    f" {summary.included:,} included, excluded {dict(summary.excluded_by_reason)}"
                )
        db.dispose()
    verdict = "OK" if figures["audience_send_seconds"] * 1_000_000 / n < 10 else "MISSED"
    cpu_verdict = "OK" if figures["audience_send_cpu_seconds"] * 1_000_000 / n < 10 else "MISSED"
    print(f"  by CPU time (what an idle machine would take): {cpu_verdict}")
    print(f"  target < 10 s for 1,000,000 customers: {verdict}" + ("" if n >= 1_000_000 else " (extrapolated)"))
    return figures


def bench_email(m: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, smtp_sink() as port:
        db, ws = make_db(Path(tmp), smtp_host="127.0.0.1", smtp_port=port, smtp_from="CX <cx@example.com>")
        generate_customers(Path(tmp) / "cem.db", ws, m, email_share=1.0)
        actor = admin_service_principal(ws)
        with db.unit_of_work() as session:
            survey = survey_service.create_survey(session, actor, name="Email bench", definition=DEFINITION)
            survey_service.publish_survey(session, actor, survey)
            audience = dist_service.create_audience(
                session, actor=actor, data=AudienceIn(name="All", filters=AudienceFilter())
            )
            from cem.distribution.schemas import DistributionIn

            dist = dist_service.create_distribution(
                session,
                actor=actor,
                survey_id=survey.id,
                data=DistributionIn(audience_id=audience.id),
                smtp_configured=True,
            )
            dist_id = dist.id
        print(f"email distribution of {m:,} invitations to a local aiosmtpd sink (2 processes)")
        started = time.perf_counter()
        planned = sending.plan(db, distribution_id=dist_id)
        plan_s = time.perf_counter() - started
        cpu_before = _cpu(resource.RUSAGE_SELF)
        result = sending.run_distribution(db, distribution_id=dist_id, mailer_factory=sending.smtp_factory(db))
        total = time.perf_counter() - started
        sender_cpu = _cpu(resource.RUSAGE_SELF) - cpu_before
        db.dispose()
        children_before = _cpu(resource.RUSAGE_CHILDREN)
    sink_cpu = _cpu(resource.RUSAGE_CHILDREN) - children_before  # the sink processes, reaped on exit
    assert planned is not None
    rate = result["sent"] / (total - plan_s)
    per_mail_ms = (sender_cpu + sink_cpu) * 1000 / max(result["sent"], 1)
    print(
        f"  CPU per email: sender {sender_cpu * 1000 / max(result['sent'], 1):.2f} ms + sink"
        f" {sink_cpu * 1000 / max(result['sent'], 1):.2f} ms (independent of other load;"
        f" 2 idle cores would allow ~{2000 / per_mail_ms:,.0f} emails/s)"
    )
    print(f"  planned {planned.invited:,} invitations in {plan_s:.1f} s")
    print(f"  sent {result['sent']:,} (failed {result['failed']}) in {total - plan_s:.1f} s: {rate:,.0f} emails/s")
    print(
        f"  end to end {m / total:,.0f} invitations/s; target >= 1,000 emails/s: {'OK' if rate >= 1000 else 'MISSED'}"
    )
    return {
        "emails": m,
        "email_plan_seconds": plan_s,
        "emails_per_s": rate,
        "email_end_to_end_per_s": m / total,
        "email_cpu_ms_per_email": per_mail_ms,
    }


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def bench_hosted_section(scale: float) -> dict[str, float]:
    try:
        from benchmarks import surveys_hosted
    except ImportError:
        print("hosted: benchmarks/surveys_hosted.py not present, skipped")
        return {}
    from benchmarks._server import Instance

    respondents = max(100, int(2000 * scale))
    with tempfile.TemporaryDirectory() as tmp:
        inst = Instance(data_dir=Path(tmp) / "data")
        inst.prepare()
        inst.start()
        try:
            return surveys_hosted.bench_hosted(inst, respondents, 16)
        finally:
            inst.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1,000,000 customers and 100,000 emails")
    parser.add_argument("--sections", default="audience,email,hosted")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    plugins.install()  # the composition root of this in-process benchmark (hooks and tasks, as the app has them)
    figures: dict[str, float] = {}
    os.environ.setdefault("CEM_ENV", "test")
    if "audience" in sections:
        figures.update(bench_audience(max(1000, int(1_000_000 * args.scale))))
    if "email" in sections:
        figures.update(bench_email(max(100, int(100_000 * args.scale))))
    if "hosted" in sections:
        figures.update(bench_hosted_section(args.scale))
    print(json.dumps({k: round(v, 2) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
