"""Imports declare each rating-like field's scale in the mapping (issue 14): only low scores are 0 % satisfied."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cem.db.session import Database
from cem.errors import InvalidInput
from cem.imports.runner import Outcome
from cem.imports.schemas import mapped_columns, parse_mapping
from tests.imports.conftest import feedback_count, records

Write = Callable[..., Path]
Run = Callable[..., Outcome]


def _csat(api: TestClient) -> dict[str, Any]:
    r = api.get("/api/v1/metrics", params={"metric": "csat", "min_n": 1})
    assert r.status_code == 200, r.text
    (row,) = r.json()["rows"]
    return dict(row)


def _mapping(**declared: Any) -> dict[str, Any]:
    return {
        "source_type": "review",
        "source_name": "olist",
        "submission_id": "review_id",
        "collected_at": "review_creation_date",
        "fields": [{"column": "review_score", "field_id": "score", "field_type": "csat", **declared}],
    }


@pytest.mark.parametrize("declared", [{"scale_min": 1, "scale_max": 5}, {"scale": "stars-5"}])
def test_real_reviews_rated_one_to_three_on_one_to_five_are_zero_percent_satisfied(
    shared_data: Path, write: Write, run_import: Run, admin_api: TestClient, db: Database, declared: dict[str, Any]
) -> None:
    source = shared_data / "olist-ecommerce-subset" / "olist_order_reviews_dataset.csv"
    with source.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        low = [r for r in reader if r["review_score"] in ("1", "2", "3")][:409]
    assert {r["review_score"] for r in low} == {"1", "2", "3"}
    path = write("")
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.DictWriter(fh, header)
        out.writeheader()
        out.writerows(low)
    result = run_import(path, mapping=_mapping(**declared))
    unique = len({r["review_id"] for r in low})
    assert result.counts.ok == unique
    row = _csat(admin_api)
    # The inferred scale put these on 1-3 and called every 3 satisfied; declared 1-5, none is.
    assert (row["value"], row["n"]) == (0.0, unique)
    assert {(r.scale_min, r.scale_max) for r in records(db)} == {(1.0, 5.0)}


def test_a_value_outside_the_declared_scale_is_a_located_row_error(write: Write, run_import: Run, db: Database) -> None:
    path = write("review_id,review_creation_date,review_score\nr1,2024-01-01,4\nr2,2024-01-02,6\nr3,2024-01-03,7\n")
    result = run_import(path, mapping=_mapping(scale="csat-5"))
    assert (result.counts.ok, result.counts.errors) == (1, 2)
    assert result.counts.first_errors[0] == {
        "line": 3,
        "column": "review_score",
        "reason": "a csat value must be between 1 and 5",
        "value": "6",
    }
    assert [(r.submission_id, r.value_number) for r in records(db)] == [("r1", 4.0)]


def test_an_undeclared_scale_is_the_default_and_a_wider_one_must_be_declared(
    write: Write, run_import: Run, db: Database
) -> None:
    path = write("review_id,review_creation_date,review_score\nr1,2024-01-01,4\nr2,2024-01-02,9\n")
    result = run_import(path, mapping=_mapping())
    assert result.counts.ok == 1
    assert "default csat scale" in result.counts.first_errors[0]["reason"]
    again = run_import(path, mapping=_mapping(scale="csat-10"))
    assert again.counts.ok == 2
    assert {(r.scale_min, r.scale_max) for r in records(db)} == {(1.0, 10.0)}  # a re-import re-declares


@pytest.mark.parametrize(
    ("declared", "where", "message"),
    [
        ({"scale": "csat-5", "scale_min": 1}, "mapping.fields.0.scale", "not both"),
        ({"scale_min": 5, "scale_max": 5}, "mapping.fields.0.scale_max", "must be below"),
        ({"scale": "likert-9"}, "mapping.fields.0.scale", "unknown scale"),
    ],
)
def test_bad_declarations_are_located_in_the_mapping(
    write: Write, run_import: Run, db: Database, declared: dict[str, Any], where: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_mapping("feedback", _mapping(**declared))
    errors = caught.value.errors or []
    assert any(".".join(map(str, e["loc"])) == where and message in e["msg"] for e in errors), errors
    path = write("review_id,review_creation_date,review_score\nr1,2024-01-01,4\n")
    with pytest.raises(InvalidInput):
        run_import(path, mapping=_mapping(**declared))
    assert feedback_count(db) == 0


def test_a_named_scale_is_no_column() -> None:
    mapping = parse_mapping("feedback", _mapping(scale="stars-5"))
    assert mapped_columns(mapping) == ["review_id", "review_creation_date", "review_score"]
