"""Every table must be classified for privacy requests, so a new table cannot silently escape erasure."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect

from cem.db import (
    migrate,
    models,  # noqa: F401  (imports every domain's models into the metadata)
)
from cem.db.base import Base
from cem.privacy import registry


def test_every_table_is_classified() -> None:
    tables = set(Base.metadata.tables)
    unclassified = sorted(t for t in tables if registry.classification(t) is None)
    assert not unclassified, (
        f"Tables without privacy handling: {unclassified}. Add each to cem/privacy/registry.py: "
        "PERSONAL (with how its rows are linked to a person) or NO_PERSONAL_DATA (with a reason)."
    )
    assert not set(registry.PERSONAL) & set(registry.NO_PERSONAL_DATA)
    stale = sorted((set(registry.PERSONAL) | set(registry.NO_PERSONAL_DATA)) - tables)
    assert not stale, f"The registry names tables that no longer exist: {stale}"


def test_every_reason_and_description_is_written() -> None:
    assert all(e.reason.strip() for e in registry.NO_PERSONAL_DATA.values())
    assert all(e.holds.strip() for e in registry.PERSONAL.values())
    for name, entry in registry.PERSONAL.items():
        assert entry.on_erase == "delete" or entry.anonymise, f"{name} anonymises nothing"


def test_tables_outside_the_metadata_are_declared(tmp_path: Path) -> None:
    """Tables made by migrations only (full-text index) must be declared too, with how erasure reaches them."""
    # A fresh database built by the migrations alone: the shared test database may hold tables other
    # tests create for themselves.
    engine = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    migrate.upgrade(engine)
    live = set(inspect(engine).get_table_names())
    engine.dispose()
    known = set(Base.metadata.tables) | set(registry.DERIVED)
    # FTS5 keeps its index in shadow tables named after the virtual table.
    extra = sorted(t for t in live - known if not any(t.startswith(f"{d}_") for d in registry.DERIVED))
    assert not extra, f"Tables in the database but not in the privacy registry: {extra}"
