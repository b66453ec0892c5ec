"""After an erasure nothing of the person is left anywhere: not in any table's text, not in the full-text index's
segments, not in the SQLite file or its WAL, not in the Parquet analytics snapshot.

The person (Orla) has an email (except in the demo's shape: an external id only), a name, a phone and a handle in
her attributes, and wrote a tweet with a word nobody else uses. Another customer's ticket names her by name, handle,
phone and email. She is erased by each kind of identifier with --redact-mentions, then every table (all text and
binary columns, FTS5 shadow tables included), the database file, the WAL and every snapshot file are searched.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text
from typer.testing import CliRunner

from cem.analytics.settings import AnalyticsSettings
from cem.analytics.snapshot import Snapshot
from cem.cli import app
from cem.config import Settings
from cem.customers.models import Customer
from cem.db.session import Database
from tests.privacy.conftest import fts_hits


@dataclass(frozen=True)
class Person:
    email: str | None
    external_id: str
    name: str
    surname: str
    handle: str
    phone: str
    phone_in_text: str
    unique_word: str
    other_word: str  # the other customer's own word: must survive

    @property
    def needles(self) -> list[str]:
        """Everything that identifies the person (or only she wrote), as it may be stored."""
        found = [
            self.external_id,
            self.name,
            self.surname,
            self.handle,
            self.phone,
            self.phone_in_text,
            self.unique_word,
            # FTS5 stores a term after the prefix it shares with the previous term: look for its tail too.
            self.unique_word[-8:],
            self.surname[-8:],
        ]
        return found + ([self.email] if self.email else [])


def _person(with_email: bool) -> Person:
    tag = secrets.token_hex(3)
    digits = f"{secrets.randbelow(900) + 100}{secrets.randbelow(9000) + 1000}"
    return Person(
        email=f"orla.{tag}@example.org" if with_email else None,
        external_id=f"twitter:orlav{tag}",
        name=f"Orla Vexhollow{tag}",
        surname=f"vexhollow{tag}",
        handle=f"orlav{tag}",
        phone=f"+44 20 7{digits[:3]} {digits[3:]}",
        phone_in_text=f"020-7{digits[:3]}-{digits[3:]}",
        unique_word=f"zquokkabrindle{tag}",
        other_word=f"marmaladewing{tag}",
    )


def _ingest(api: TestClient, p: Person) -> None:
    customer = {
        "external_id": p.external_id,
        "name": p.name,
        "attributes": {"handle": p.handle, "phone": p.phone, "plan": "gold"},
        **({"email": p.email} if p.email else {}),
    }
    tweet = {
        "source_type": "social",
        "source_name": "twitter",
        "submission_id": f"tw-{secrets.token_hex(6)}",  # a tweet id; queued enrichment jobs quote it
        "customer": customer,
        "field_id": "text",
        "field_type": "text",
        "value": f"@airline my {p.unique_word} seat was broken, call me",
    }
    mention = f"Customer {p.name} (@{p.handle}, tel {p.phone_in_text}) complained too"
    ticket = {
        "source_type": "ticket",
        "source_name": "desk",
        "submission_id": f"tk-{p.other_word}",
        "customer": {"external_id": f"other-{p.other_word}", "name": "Bram Stoke", "attributes": {"plan": "free"}},
        "field_id": "body",
        "field_type": "text",
        "value": f"{mention}{f' - mail {p.email}' if p.email else ''}; my {p.other_word} order was lost",
    }
    r = api.post("/api/v1/feedback/bulk", json=[tweet, ticket])
    assert r.status_code == 200, r.text


def _stored_values(db: Database) -> list[str | bytes]:
    """Every text or binary value of every table in the store (SQLite: FTS5 shadow tables included)."""
    values: list[str | bytes] = []
    with db.engine.connect() as conn:
        inspector = inspect(conn)
        tables = inspector.get_table_names()
        if db.dialect == "sqlite":
            tables = list(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())
        assert "feedback_record" in tables and (db.dialect != "sqlite" or "feedback_fts_data" in tables)
        for table in tables:
            if db.dialect == "sqlite" and table == "feedback_fts":
                continue  # the external-content table reads feedback_record, scanned itself; its data is below
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                values += [v if isinstance(v, bytes | str) else json.dumps(v, default=str) for v in row]
    return values


def _parquet_values(directory: Path) -> tuple[list[bytes], list[str]]:
    """Raw bytes of every file in the snapshot directory, and every Parquet cell as text (DuckDB reads them)."""
    files = [p for p in directory.rglob("*") if p.is_file() and p.name != ".lock"]
    cells: list[str] = []
    con = duckdb.connect()
    for path in files:
        if path.suffix == ".parquet":
            for row in con.execute("SELECT * FROM read_parquet(?)", [str(path)]).fetchall():
                cells += [str(v) for v in row]
    con.close()
    return [p.read_bytes() for p in files], cells


def _leftovers(p: Person, values: list[str | bytes]) -> set[str]:
    """The needles found in any value (case-insensitively, text compared as UTF-8 bytes)."""
    haystacks = [(v if isinstance(v, bytes) else v.encode()).lower() for v in values]
    return {n for n in p.needles if any(n.lower().encode() in h for h in haystacks)}


def _erase_args(kind: str, p: Person, db: Database) -> list[str]:
    if kind == "email":
        assert p.email
        return ["--email", p.email.upper()]
    if kind == "external_id":
        return ["--external-id", p.external_id]
    with db.unit_of_work(readonly=True) as session:
        customer_id = session.scalars(select(Customer.id).where(Customer.external_id == p.external_id)).one()
    return ["--customer-id", str(customer_id)]


@pytest.mark.parametrize(
    ("kind", "with_email"),
    [("email", True), ("external_id", False), ("external_id", True), ("customer_id", True)],
    ids=["email", "external-id-only(demo shape)", "external-id", "customer-id"],
)
def test_nothing_of_the_person_is_left_anywhere(
    kind: str, with_email: bool, cli: CliRunner, admin_api: TestClient, db: Database, settings: Settings
) -> None:
    p = _person(with_email)
    _ingest(admin_api, p)
    snapshot_dir = AnalyticsSettings().resolved_snapshot_dir(settings)
    with db.unit_of_work(readonly=True) as session:
        Snapshot(snapshot_dir).refresh(session, full=True)
        assert fts_hits(session, p.unique_word) == 1
    # The scans see the person before the erasure (so an empty result after it means something).
    assert _leftovers(p, _stored_values(db)) == set(p.needles)
    assert p.handle in " ".join(_parquet_values(snapshot_dir)[1])

    r = cli.invoke(app, ["privacy", "erase", *_erase_args(kind, p, db), "--redact-mentions", "--yes"])
    assert r.exit_code == 0, r.output
    assert "Deleted: " in r.stdout and "1 customer" in r.stdout
    assert "Redacted the mentions in 1 other record(s)" in r.stdout

    assert _leftovers(p, _stored_values(db)) == set()
    raw, cells = _parquet_values(snapshot_dir)
    assert _leftovers(p, [*raw, *cells]) == set()
    with db.unit_of_work(readonly=True) as session:
        assert fts_hits(session, p.unique_word) == 0
        assert fts_hits(session, p.other_word) == 1  # the other customer's record stays, searchable
        body = session.execute(text("SELECT value_text FROM feedback_record")).scalar_one()
    assert body.startswith("Customer [redacted] ([redacted], tel [redacted]) complained too")
    if db.dialect == "sqlite":
        path = Path(db.engine.url.database or "")
        wal = path.with_name(path.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0, "the WAL still holds pre-erasure pages"
        assert _leftovers(p, [path.read_bytes()]) == set()
