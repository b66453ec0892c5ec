"""A suggested mapping, passed back unedited, imports the file: every row stored (rows repeated within the file are
reported as duplicates, never stored twice), and a re-import adds nothing."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from cem.customers.models import Customer, Event
from cem.db.session import Database
from cem.imports.runner import Outcome
from cem.imports.suggest import suggest_for_file
from tests.imports.conftest import feedback_count
from tests.imports.test_suggest import TICKETS, ticket


def import_twice(run_import: Callable[..., Outcome], path: Path, target: str, db: Database) -> tuple[Outcome, int]:
    """Import with the suggested mapping; a second run must store nothing new and report only what the first did
    (a row repeated within the file is a duplicate every time). Returns the first run and the number of feedback
    records after both."""
    mapping = suggest_for_file(path, target=target).mapping
    first = run_import(path, target=target, mapping=mapping)
    stored = feedback_count(db)
    again = run_import(path, target=target, mapping=mapping)
    assert again.counts.errors == first.counts.errors and feedback_count(db) == stored
    assert all("duplicate" in e["reason"] for e in again.counts.first_errors)
    return first, stored


def test_olist_reviews_import_with_the_suggested_mapping(
    run_import: Callable[..., Outcome], shared_data: Path, db: Database
) -> None:
    path = shared_data / "olist-ecommerce-subset" / "olist_order_reviews_dataset.csv"
    first, stored = import_twice(run_import, path, "feedback", db)
    assert (first.counts.processed, first.counts.ok, first.counts.errors) == (8225, 8225, 0)
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    texts = sum(bool(r[c].strip()) for r in rows for c in ("review_comment_title", "review_comment_message"))
    assert stored == len(rows) + texts  # a score on every row, and every title and message with words


def test_airline_tweets_import_with_the_suggested_mapping(
    run_import: Callable[..., Outcome], shared_data: Path, db: Database
) -> None:
    path = shared_data / "airline-tweets-sample" / "Tweets_sample_every7th_2000.csv"
    first, _stored = import_twice(run_import, path, "feedback", db)
    # 21 tweet ids repeat: 14 with other annotations (stored: their content differs), 7 as exact copies of a row
    # (the same content: at most reported as duplicates, never stored twice).
    assert first.counts.processed == 2000 and first.counts.ok >= 1993
    assert all("duplicate" in e["reason"] for e in first.counts.first_errors)


def test_ticket_layout_imports_with_the_suggested_mapping(
    run_import: Callable[..., Outcome], tmp_path: Path, db: Database
) -> None:
    rows = [ticket(n, f"c{n}@example.com", str(n % 5 + 1), f"0{n % 9 + 1}/1{n % 3}/2023") for n in range(40)]
    path = tmp_path / "tickets.csv"
    path.write_text("\n".join(",".join(r) for r in [TICKETS, *rows]) + "\n", encoding="utf-8")
    first, stored = import_twice(run_import, path, "feedback", db)
    assert (first.counts.ok, first.counts.errors) == (40, 0)
    assert stored == 40 * 2  # the CSAT and the description of each ticket


def test_telco_customers_import_with_the_suggested_mapping(
    run_import: Callable[..., Outcome], shared_data: Path, db: Database
) -> None:
    path = shared_data / "telco-churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
    first, _stored = import_twice(run_import, path, "customers", db)
    assert (first.counts.ok, first.counts.errors) == (7043, 0)
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 7043


def test_olist_orders_import_as_events_with_the_suggested_mapping(
    run_import: Callable[..., Outcome], shared_data: Path, db: Database
) -> None:
    path = shared_data / "olist-ecommerce-subset" / "olist_orders_dataset.csv"
    first, _stored = import_twice(run_import, path, "events", db)
    assert (first.counts.ok, first.counts.errors) == (8135, 0)
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 8135
