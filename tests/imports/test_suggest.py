"""Mapping suggestions: real public files (shared data), header layouts of exports the suite has no file of (a city's
311 requests, a helpdesk ticket export), scales, dates and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cem.errors import InvalidInput
from cem.imports import suggest
from cem.imports.profile import scale_hint
from cem.imports.reader import ImportFileError
from cem.imports.suggest import Suggestion, suggest_for_file, suggest_mapping


def field(suggestion: Suggestion, column: str) -> dict[str, Any]:
    return next(f for f in suggestion.mapping["fields"] if f["column"] == column)


def types(suggestion: Suggestion) -> dict[str, str]:
    return {c.name: c.guessed_type for c in suggestion.columns}


def notes_about(suggestion: Suggestion, prefix: str) -> list[str]:
    return [n for n in suggestion.notes if n.startswith(prefix)]


# -- real files ----------------------------------------------------------------------------------

# Olist's 1-5 review score: the rating default scale, declared in the mapping.
REVIEW_SCORE = {
    "column": "review_score",
    "field_id": "review_score",
    "field_type": "rating",
    "scale_min": 1,
    "scale_max": 5,
    "label": "review_score",
}


def test_olist_reviews(shared_data: Path) -> None:
    s = suggest_for_file(shared_data / "olist-ecommerce-subset" / "olist_order_reviews_dataset.csv")
    m = s.mapping
    # review_id is unique in the first 1,000 rows but repeats later on a different order (34 times in the file):
    # the pair is what identifies a review row.
    assert "submission_id" not in m and m["row_key"] == ["review_id", "order_id"]
    assert notes_about(s, "row_key: review_id is empty or repeats on a different row at line 1262")
    assert (m["source_type"], m["source_name"]) == ("review", "olist_order_reviews_dataset")
    assert m["collected_at"] == "review_answer_timestamp" and "collected_at_format" not in m  # ISO 8601
    assert field(s, "review_score") == REVIEW_SCORE
    [scale_note] = notes_about(s, "review_score:")
    assert "rating scale 1-5 assumed" in scale_note and "the header names no scale" in scale_note
    assert field(s, "review_comment_message")["field_type"] == "text"
    assert field(s, "review_comment_title")["field_type"] == "text"  # short, but named as a comment
    assert m["metadata"] == ["review_creation_date"]
    assert types(s) == {
        "review_id": "string",
        "order_id": "string",
        "review_score": "integer",
        "review_comment_title": "string",
        "review_comment_message": "text",
        "review_creation_date": "date",
        "review_answer_timestamp": "date",
    }
    message = next(c for c in s.columns if c.name == "review_comment_message")
    assert s.sample_rows == 1000 and message.empty == 534 and message.distinct == 462
    assert len(message.examples) == 3 and all(len(e) <= 80 for e in message.examples)


def test_airline_tweets(shared_data: Path) -> None:
    s = suggest_for_file(shared_data / "airline-tweets-sample" / "Tweets_sample_every7th_2000.csv")
    m = s.mapping
    # 14 tweet ids appear twice with different annotations: not an id of the rows, so the content keys them.
    assert m["row_key"] == "content" and "submission_id" not in m
    [key_note] = notes_about(s, "row_key:")
    assert "tweet_id is empty or repeats on a different row at line 1751" in key_note
    assert m["source_type"] == "social"
    assert m["collected_at"] == "tweet_created" and "collected_at_format" not in m  # "2015-02-24 11:35:52 -0800"
    assert {f["column"]: f["field_type"] for f in m["fields"]} == {
        "airline_sentiment": "choice",
        "negativereason": "choice",
        "airline": "choice",
        "text": "text",
    }
    assert "tweet_id" in m["metadata"] and "retweet_count" in m["metadata"] and "customer" not in m
    assert types(s)["airline_sentiment_confidence"] == "number" and types(s)["tweet_id"] == "integer"


def test_telco_customers_and_as_feedback(shared_data: Path) -> None:
    path = shared_data / "telco-churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
    s = suggest_for_file(path, target="customers")
    assert s.mapping["external_id"] == "customerID" and "email" not in s.mapping
    attrs = s.mapping["attributes"]
    assert attrs["senior_citizen"] == "SeniorCitizen" and attrs["monthly_charges"] == "MonthlyCharges"
    assert len(attrs) == 20
    t = types(s)
    assert (t["SeniorCitizen"], t["Churn"], t["Contract"], t["tenure"], t["MonthlyCharges"]) == (
        "boolean",
        "boolean",
        "choice",
        "integer",
        "number",
    )
    # As feedback, one row per customer: the customer id is both the submission and the customer.
    f = suggest_for_file(path, target="feedback")
    assert f.mapping["submission_id"] == "customerID"
    assert f.mapping["customer"] == {"external_id": "customerID"}
    assert field(f, "Churn")["field_type"] == "boolean" and field(f, "Contract")["field_type"] == "choice"
    assert "MonthlyCharges" in f.mapping["metadata"]  # a number, but no rating


def test_olist_orders_as_events(shared_data: Path) -> None:
    s = suggest_for_file(shared_data / "olist-ecommerce-subset" / "olist_orders_dataset.csv", target="events")
    m = s.mapping
    assert m["customer"] == {"external_id": "customer_id"}
    assert m["occurred_at"] == "order_purchase_timestamp" and "occurred_at_format" not in m
    assert m["external_id"] == "order_id"
    assert m["type_value"] == "event" and "type" not in m and notes_about(s, "type_value:")
    assert m["properties"][0] == "order_status" and len(m["properties"]) == 5
    [other_dates] = notes_about(s, "occurred_at:")
    assert "order_approved_at" in other_dates


def test_cdnow_customer_summary(shared_data: Path) -> None:
    s = suggest_for_file(shared_data / "cdnow" / "cdnow_customers_summary.csv", target="customers")
    assert s.mapping == {"external_id": "ID", "attributes": {"frequency": "frequency", "recency": "recency", "t": "T"}}


# -- export layouts ------------------------------------------------------------------------------

# The header of NYC's 311 export (data.cityofnewyork.us, erm2-nwe9), a few of its columns, with its date layout.
NYC_311 = ["Unique Key", "Created Date", "Closed Date", "Agency", "Complaint Type", "Status", "Open Data Channel Type"]
NYC_ROWS = [
    ["59893651", "12/31/2023 11:59:38 PM", "01/01/2024 01:02:05 AM", "NYPD", "Noise - Residential", "Closed", "ONLINE"],
    ["59891212", "12/31/2023 11:58:21 PM", "", "DOT", "Street Condition", "Open", "PHONE"],
    ["59887523", "12/31/2023 11:57:00 PM", "01/02/2024 09:30:00 AM", "NYPD", "Illegal Parking", "Closed", "MOBILE"],
    ["59890004", "12/31/2023 11:50:13 PM", "01/01/2024 02:10:44 AM", "NYPD", "Noise - Street", "Closed", "PHONE"],
]


def test_311_export_dates_channel_and_key() -> None:
    s = suggest_mapping(NYC_311, NYC_ROWS)
    m = s.mapping
    assert m["submission_id"] == "Unique Key"
    assert (m["collected_at"], m["collected_at_format"]) == ("Created Date", "%m/%d/%Y %I:%M:%S %p")
    assert not notes_about(s, "collected_at_format:")  # 12/31: the day cannot come first
    assert m["channel"] == "Open Data Channel Type"
    assert "Closed Date" in m["metadata"]
    assert {f["column"]: f["field_type"] for f in m["fields"]} == {"Agency": "choice", "Status": "choice"}


TICKETS = [
    "Ticket ID",
    "Customer Email",
    "Customer Name",
    "Ticket Channel",
    "Assigned Agent",
    "Support Team",
    "Language",
    "Ticket Description",
    "Customer Satisfaction Rating",
    "Date of Purchase",
]


def ticket(n: int, email: str, csat: str, date: str) -> list[str]:
    words = "My order arrived broken and the replacement never shipped although support promised it twice"
    return [f"T-{n}", email, f"Name {n}", "Email", f"agent{n % 2}", "Billing", "en", f"{words} ({n})", csat, date]


def test_ticket_export_context_customer_and_csat() -> None:
    rows = [ticket(n, f"c{n}@example.com", str(n % 5 + 1), f"0{n % 9 + 1}/0{n % 3 + 1}/2023") for n in range(30)]
    s = suggest_mapping(TICKETS, rows)
    m = s.mapping
    assert m["submission_id"] == "Ticket ID" and m["source_type"] == "ticket"
    assert m["customer"] == {"email": "Customer Email", "name": "Customer Name"}
    assert (m["channel"], m["agent"], m["team"], m["language"]) == (
        "Ticket Channel",
        "Assigned Agent",
        "Support Team",
        "Language",
    )
    assert field(s, "Customer Satisfaction Rating") | {"label": ""} == {
        "column": "Customer Satisfaction Rating",
        "field_id": "customer_satisfaction_rating",
        "field_type": "csat",
        "scale_min": 1,
        "scale_max": 5,
        "label": "",
    }
    assert notes_about(s, "Customer Satisfaction Rating: csat scale 1-5 assumed")
    assert field(s, "Ticket Description")["field_type"] == "text"
    # Every date reads month-first and day-first: the guess says which it took.
    assert (m["collected_at"], m["collected_at_format"]) == ("Date of Purchase", "%m/%d/%Y")
    [order] = notes_about(s, "collected_at_format:")
    assert "%d/%m/%Y" in order and "change it if the day comes first" in order


def test_day_first_dates_and_a_file_without_ids() -> None:
    s = suggest_mapping(["when", "comment"], [["25/12/2023", "fine"], ["03/01/2024", "late"], ["25/12/2023", "fine"]])
    assert (s.mapping["collected_at"], s.mapping["collected_at_format"]) == ("when", "%d/%m/%Y")
    assert s.mapping["row_key"] == "content"
    assert notes_about(s, "row_key: no column holds a unique id")


@pytest.mark.parametrize(
    ("header", "values", "expected", "note"),
    [
        ("NPS", ["0", "7", "10"], ("nps", 0, 10), ""),
        ("How likely to recommend us", ["3", "9"], ("nps", 0, 10), ""),
        ("Rating (1-10)", ["2", "3"], ("rating", 1, 10), ""),  # never narrowed to the answers seen
        ("score out of 7", ["1", "2"], ("rating", 1, 7), ""),
        ("customer effort", ["1", "6"], ("ces", 1, 7), "ces scale 1-7 assumed"),
        ("stars", ["1", "2", "3"], ("rating", 1, 5), "rating scale 1-5 assumed"),
        ("stars", ["0", "8", "9"], ("rating", 0, 10), "do not fit the rating default 1-5; 0-10 assumed"),
        ("CSAT (1-5)", ["1", "6"], ("csat", 1, 5), "the header states 1-5 but 1 answers lie outside"),
    ],
)
def test_scales_come_from_the_header_or_the_type_default(
    header: str, values: list[str], expected: tuple[str, int, int], note: str
) -> None:
    s = suggest_mapping(["id", header], [[str(i), v] for i, v in enumerate(values)])
    f = field(s, header)
    assert (f["field_type"], f["scale_min"], f["scale_max"]) == expected
    found = notes_about(s, f"{header}:")
    assert (note in found[0]) if note else not found


def test_a_column_named_nps_that_holds_no_nps_is_a_number() -> None:
    s = suggest_mapping(["id", "nps"], [["a", "-40"], ["b", "35.5"]])
    assert field(s, "nps") == {"column": "nps", "field_id": "nps", "field_type": "number", "label": "nps"}
    assert notes_about(s, "nps: named like NPS but its values are not whole numbers 0-10")


def test_true_false_and_zero_one_columns_are_booleans() -> None:
    s = suggest_mapping(["id", "resolved", "would_recommend"], [["1", "true", "1"], ["2", "False", "0"]])
    assert field(s, "resolved")["field_type"] == "boolean"
    assert field(s, "would_recommend")["field_type"] == "boolean"


@pytest.mark.parametrize(
    ("header", "scale"),
    [
        ("Rating (1-5)", (1, 5)),
        ("nps_0_10", (0, 10)),
        ("score out of 10", (1, 10)),
        ("5-star rating", (1, 5)),
        ("satisfaction /7", (1, 7)),
        ("rating", None),
        ("q1_2024", None),
    ],
)
def test_scale_hints(header: str, scale: tuple[int, int] | None) -> None:
    assert scale_hint(header) == scale


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "f.csv", "The file is empty."),
        (b"id,score\n", "f.csv", "The file has a header but no data rows."),
        (b"id,comment\n1,caf\xe9\n", "f.csv", "not valid UTF-8 at byte 16 (line 2)"),
        (b"\x00\x01PK\x03\x04", "f.csv", "NUL bytes"),
        (b'{"submission_id": "1"}\n', "f.ndjson", "NDJSON files hold one feedback record per line"),
        (b"id;score\n1;5;x\n2\n", "f.csv", "None of the first 2 rows has as many cells as the header (2)"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path: Path, content: bytes, name: str, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFileError) as err:
        suggest_for_file(path)
    assert message in err.value.detail


def test_unknown_target_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("id,score\n1,5\n")
    with pytest.raises(InvalidInput, match="Unknown import target 'orders'; use one of: feedback, customers, events"):
        suggest_for_file(path, target="orders")
    with pytest.raises(ImportFileError, match="File not found"):
        suggest_for_file(tmp_path / "nope.csv")
    with pytest.raises(ImportFileError, match="no data rows"):
        suggest_mapping(["id"], [])


def test_ids_are_checked_in_the_first_rows_of_a_long_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "long.csv"
    path.write_text("id,score\n" + "".join(f"r{n % 4},{n % 5 + 1}\n" for n in range(6)), encoding="utf-8")
    assert suggest_for_file(path).mapping["row_key"] == "content"  # r0 and r1 come back with other scores
    monkeypatch.setattr(suggest, "UNIQUE_CHECK_ROWS", 4)
    s = suggest_for_file(path, sample_rows=3)
    assert s.mapping["submission_id"] == "id" and s.sample_rows == 3
    assert notes_about(s, "submission_id: unique in the first 4 rows of about 6;")


def test_context_columns_only_by_a_telling_header() -> None:
    header = ["id", "age group", "Language", "user_agent", "Owner"]
    rows = [["1", "18-24", "English (United States)", "Mozilla/5.0", "ana"], ["2", "25-34", "fr", "curl/8", "bo"]]
    m = suggest_mapping(header, rows).mapping
    # "age group" is no team, a language of more than 16 characters no language code, a user agent no agent
    assert (m["agent"], "team" in m, "language" in m) == ("Owner", False, False)
    assert {"age group", "Language", "user_agent"} <= set(m["metadata"])


def test_event_types_that_are_no_keys_get_a_note() -> None:
    rows = [["c1", "Page View", "2024-05-01"], ["c2", "purchase", "2024-05-02"], ["c3", "Page View", "2024-05-03"]]
    s = suggest_mapping(["customer_id", "event_type", "ts"], rows, target="events")
    assert s.mapping["type"] == "event_type"
    assert notes_about(s, "type: event_type holds values such as 'Page View' that are no event type key")


def test_the_source_name_comes_from_the_file_name_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "Shop reviews (May 2024).csv"
    path.write_text("review_id,stars\nr1,4\nr2,5\n", encoding="utf-8")
    s = suggest_for_file(path)
    assert s.mapping["source_name"] == "Shop-reviews-May-2024"
    assert notes_about(s, "source_name: 'Shop-reviews-May-2024' (from the file name); keep one name")
