"""Engine-level tests: file checks, row errors, idempotency, targets, NDJSON and a real shared file."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cem.customers.models import Customer, Event
from cem.db.session import Database
from cem.imports.models import ImportRun
from cem.imports.reader import ImportFileError
from cem.imports.runner import Outcome
from cem.journeys import service as journey_service
from cem.journeys.schemas import JourneyIn, StageIn, TouchpointIn
from tests.conftest import Workspace
from tests.imports.conftest import feedback_count, records

Write = Callable[..., Path]
Run = Callable[..., Outcome]

SIMPLE = "submission_id,email,nps,comment\ns1,a@example.com,9,Great\ns2,b@example.com,eleven,Bad\ns3,,3,\n"
INJECTION = "Robert'); DROP TABLE feedback_record;-- <script>alert(1)</script> \" & <b>x</b>"


def run_count(db: Database) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(ImportRun)) or 0)


def test_default_mapping_stores_good_rows_and_reports_bad(write: Write, run_import: Run, db: Database) -> None:
    out = run_import(write(SIMPLE))
    assert "submission_id <- 'submission_id'" in out.note and "field nps (nps) <- 'nps'" in out.note
    assert (out.counts.processed, out.counts.ok, out.counts.errors) == (3, 2, 1)
    assert out.counts.first_errors == [
        {"line": 3, "column": "nps", "reason": "'eleven' is not a number", "value": "eleven"}
    ]
    stored = {(r.submission_id, r.field_id): r for r in records(db)}
    assert set(stored) == {("s1", "comment"), ("s1", "nps"), ("s3", "nps")}  # empty comment: no record
    assert stored[("s1", "nps")].value_number == 9
    assert stored[("s1", "comment")].value_text == "Great"
    assert stored[("s1", "nps")].customer_id is not None and stored[("s3", "nps")].customer_id is None
    with db.unit_of_work(readonly=True) as session:
        run = session.get(ImportRun, out.run_id)
        assert run is not None
        assert (run.status, run.processed_rows, run.ok_rows, run.error_rows) == ("done", 3, 2, 1)
        assert run.errors[0]["line"] == 3


def test_reimport_is_idempotent(write: Write, run_import: Run, db: Database) -> None:
    path = write(SIMPLE)
    run_import(path)
    first = [(r.id, r.value_number, r.value_text) for r in records(db)]
    again = run_import(path)
    assert again.counts.ok == 2
    assert [(r.id, r.value_number, r.value_text) for r in records(db)] == first
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 1  # only s1 names a stored customer


def test_multi_field_rows_with_mapping(write: Write, run_import: Run, db: Database) -> None:
    path = write(
        "id;cust;when;score;stars;why;plan\n"
        "r1;c1;01/02/2024 10:30;10;4;Fast;gold\n"
        "r2;c2;31/13/2024 10:30;7;5;Slow;silver\n"
    )
    mapping = {
        "source_type": "survey",
        "source_name": "relationship",
        "submission_id": "id",
        "customer": {"external_id": "cust", "attributes": {"plan": "plan"}},
        "collected_at": "when",
        "collected_at_format": "%d/%m/%Y %H:%M",
        "language_value": "en",
        "fields": [
            {"column": "score", "field_id": "nps", "field_type": "nps", "label": "Recommend?"},
            {"column": "stars", "field_type": "csat"},
            {"column": "why", "field_type": "text"},
        ],
    }
    out = run_import(path, mapping=mapping)
    assert (out.counts.ok, out.counts.errors) == (1, 1)
    assert out.counts.first_errors[0]["line"] == 3 and out.counts.first_errors[0]["column"] == "when"
    assert "%d/%m/%Y %H:%M" in out.counts.first_errors[0]["reason"]
    got = records(db)
    assert [(r.field_id, r.field_type, r.field_label) for r in got] == [
        ("nps", "nps", "Recommend?"),
        ("stars", "csat", ""),
        ("why", "text", ""),
    ]
    assert {r.collected_at.isoformat() for r in got} == {"2024-02-01T10:30:00+00:00"}
    assert {r.language for r in got} == {"en"}
    with db.unit_of_work(readonly=True) as session:
        customer = session.scalars(select(Customer)).one()
        assert (customer.external_id, customer.attributes) == ("c1", {"plan": "gold"})


def test_not_utf8_is_a_file_error_and_encoding_option_reads_it(write: Write, run_import: Run, db: Database) -> None:
    path = write("submission_id,comment\ns1,café crème\n", encoding="latin-1")
    with pytest.raises(ImportFileError, match=r"not valid UTF-8 at byte 28 \(line 2\).*--encoding latin-1"):
        run_import(path)
    assert feedback_count(db) == 0 and run_count(db) == 0
    run_import(path, encoding="latin-1")
    assert records(db)[0].value_text == "café crème"


def test_utf8_bom_is_accepted(write: Write, run_import: Run, db: Database) -> None:
    out = run_import(write("\ufeffsubmission_id,nps\ns1,5\n"))
    assert out.counts.ok == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "The file is empty."),
        ("submission_id,nps\n", "header but no data rows"),
        ("\n\n", "header"),
        ("submission_id,nps,nps\ns1,1,2\n", "repeats column names: nps"),
        (b"\xff\xfes\x00", "UTF-16"),
        (b"submission_id,nps\ns1,\x005\n", "NUL bytes"),
    ],
)
def test_file_level_errors(write: Write, run_import: Run, db: Database, content: str | bytes, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        run_import(write(content))
    assert feedback_count(db) == 0 and run_count(db) == 0


def test_semicolon_is_sniffed_and_wrong_delimiter_hints(write: Write, run_import: Run, db: Database) -> None:
    path = write("submission_id;nps\ns1;7\n")
    assert run_import(path).counts.ok == 1
    with pytest.raises(ImportFileError, match=r"no submission id column.*semicolon-separated"):
        run_import(path, delimiter=",")
    mapping = {"submission_id": "submission_id", "fields": [{"column": "nps", "field_type": "nps"}]}
    with pytest.raises(ImportFileError, match=r"missing columns: submission_id, nps.*semicolon-separated"):
        run_import(path, delimiter=",", mapping=mapping)


def test_missing_columns_name_every_one(write: Write, run_import: Run, db: Database) -> None:
    mapping = {"submission_id": "rid", "fields": [{"column": "score", "field_type": "nps"}]}
    with pytest.raises(ImportFileError, match="missing columns: rid, score") as caught:
        run_import(write("id,nps\n1,2\n"), mapping=mapping)
    assert caught.value.errors[0]["loc"] == ["file", "header"]
    assert feedback_count(db) == 0 and run_count(db) == 0


def test_invalid_mapping_is_reported_with_its_path(write: Write, run_import: Run) -> None:
    from cem.errors import InvalidInput

    with pytest.raises(InvalidInput, match=r"fields\.0\.field_type"):
        run_import(
            write("id,x\n1,2\n"), mapping={"submission_id": "id", "fields": [{"column": "x", "field_type": "stars"}]}
        )


def test_duplicates_unknown_references_and_ragged_rows(
    write: Write, run_import: Run, db: Database, workspace: Workspace
) -> None:
    with db.unit_of_work() as session:
        journey_service.create_journey(
            session,
            actor=workspace.principal(),
            journey_in=JourneyIn(
                key="buy",
                name="Buy",
                stages=[
                    StageIn(
                        key="pay",
                        name="Pay",
                        touchpoints=[TouchpointIn(key="checkout", name="Checkout", channel="web")],
                    )
                ],
            ),
        )
        session.add(Customer(workspace_id=workspace.id, external_id="known", attributes={}))
    path = write(
        "sid,cust,tp,nps\n"
        "a,known,checkout,1\n"
        "b,stranger,checkout,2\n"
        "a,known,checkout,3\n"
        "c,known,nowhere,4\n"
        "d,known\n"
        "e,known,,11\n"
    )
    mapping = {
        "submission_id": "sid",
        "customer": {"external_id": "cust", "create": False},
        "touchpoint": "tp",
        "fields": [{"column": "nps", "field_type": "nps"}],
    }
    out = run_import(path, mapping=mapping, batch_rows=2)  # duplicates are found across batches too
    errors = {e["line"]: (e["column"], e["reason"]) for e in out.counts.first_errors}
    assert errors == {
        3: ("cust", "unknown customer"),
        4: ("", "duplicate submission 'a': already seen at line 2"),
        5: ("tp", "unknown touchpoint key"),
        6: ("", "expected 4 cells, found 2"),
        7: ("nps", "a nps value must be between 0 and 10"),
    }
    assert [(r.submission_id, r.value_number) for r in records(db)] == [("a", 1.0)]
    assert records(db)[0].touchpoint_id is not None
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 1  # "stranger" was not created


def test_unknown_customer_id_column(write: Write, run_import: Run, db: Database) -> None:
    mapping = {"submission_id": "sid", "customer": {"id": "cid"}, "fields": [{"column": "nps", "field_type": "nps"}]}
    out = run_import(write("sid,cid,nps\na,999999,1\nb,x1,2\n"), mapping=mapping)
    assert [(e["column"], e["reason"]) for e in out.counts.first_errors] == [
        ("cid", "unknown customer id"),
        ("cid", "'x1' is not a customer id (a whole number)"),
    ]
    assert feedback_count(db) == 0


def test_injection_strings_are_stored_verbatim(write: Write, run_import: Run, db: Database) -> None:
    rows = [
        ["submission_id", "email", "name", "comment", "tag"],
        [INJECTION, "x@example.com", INJECTION, INJECTION, INJECTION],
    ]
    path = write("")
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    mapping = {
        "source_name": INJECTION[:50],
        "submission_id": "submission_id",
        "customer": {"email": "email", "name": "name", "attributes": {"tag": "tag"}},
        "metadata": ["tag"],
        "fields": [{"column": "comment", "field_type": "text", "label": INJECTION}],
    }
    assert run_import(path, mapping=mapping).counts.ok == 1
    (rec,) = records(db)
    assert rec.submission_id == INJECTION and rec.value_text == INJECTION and rec.field_label == INJECTION
    assert rec.meta == {"tag": INJECTION} and rec.source_name == INJECTION[:50]
    with db.unit_of_work(readonly=True) as session:
        customer = session.scalars(select(Customer)).one()
        assert customer.name == INJECTION and customer.attributes == {"tag": INJECTION}


def test_batches_commit_progress(write: Write, db: Database, workspace: Workspace) -> None:
    from cem.imports import engine
    from cem.imports.runner import LocalImport, run_local

    seen: list[tuple[int, int]] = []

    def progress(counts: engine.Counts) -> None:
        with db.unit_of_work(readonly=True) as session:
            run = session.scalars(select(ImportRun)).one()
            seen.append((run.processed_rows, counts.processed))

    body = "submission_id,nps\n" + "".join(f"s{i},{i}\n" for i in range(12))
    out = run_local(db, workspace.principal(), LocalImport(path=write(body), batch_rows=5), on_progress=progress)
    assert seen == [(5, 5), (10, 10), (12, 12)]  # each batch's progress committed with its rows
    assert (out.counts.ok, out.counts.errors) == (11, 1)  # s11 -> nps 11


def test_resume_skips_committed_rows(write: Write, db: Database, workspace: Workspace) -> None:
    from cem.imports import engine
    from cem.imports.reader import inspect_file
    from cem.imports.schemas import parse_mapping

    path = write("submission_id,nps\n" + "".join(f"s{i},{i % 10}\n" for i in range(10)))
    info = inspect_file(path)
    mapping = parse_mapping(
        "feedback", {"submission_id": "submission_id", "fields": [{"column": "nps", "field_type": "nps"}]}
    )
    plan = engine.Plan(info=info, target="feedback", mapping=mapping, actor=workspace.principal())
    start = engine.Counts(processed=4, ok=4)  # as if an earlier attempt committed the first 4 rows
    counts = engine.execute(db, plan, start=start, batch_rows=2)
    assert (counts.processed, counts.ok, counts.errors) == (10, 10, 0)
    assert sorted(r.submission_id for r in records(db)) == [f"s{i}" for i in range(4, 10)]


def test_ndjson_records(write: Write, run_import: Run, db: Database) -> None:
    good = {
        "source_type": "api",
        "source_name": "app",
        "submission_id": "n1",
        "field_id": "nps",
        "field_type": "nps",
        "value": 8,
        "customer": {"email": "N@Example.com"},
    }
    lines = [
        json.dumps(good),
        "",
        json.dumps({**good, "value": 12}),
        "{not json",
        json.dumps(good),
        json.dumps({**good, "bogus": 1, "submission_id": "n2"}),
    ]
    out = run_import(write("\n".join(lines) + "\n", name="data.ndjson"))
    assert out.counts.ok == 1
    assert [(e["line"], e["column"]) for e in out.counts.first_errors] == [(3, "value"), (4, ""), (5, ""), (6, "bogus")]
    assert "between 0 and 10" in out.counts.first_errors[0]["reason"]
    assert "malformed JSON" in out.counts.first_errors[1]["reason"]
    assert "already seen at line 1" in out.counts.first_errors[2]["reason"]
    with db.unit_of_work(readonly=True) as session:
        assert session.scalars(select(Customer.email)).one() == "n@example.com"


def test_customers_target_upserts_and_merges(write: Write, run_import: Run, db: Database) -> None:
    mapping = {"external_id": "id", "email": "mail", "name": "name", "attributes": {"plan": "plan"}}
    out = run_import(
        write("id,mail,name,plan\nc1,A@x.com,Ann,gold\nc2,bad-email,Bo,\n,,Nobody,\nc1,a@x.com,Ann,dup\n"),
        target="customers",
        mapping=mapping,
    )
    assert [(e["line"], e["column"]) for e in out.counts.first_errors] == [(3, "mail"), (4, "id"), (5, "")]
    run_import(
        write("id,mail,name,plan\nc1,a@x.com,Ann B,platinum\n", name="b.csv"), target="customers", mapping=mapping
    )
    with db.unit_of_work(readonly=True) as session:
        (c,) = session.scalars(select(Customer)).all()
        assert (c.external_id, c.email, c.name, c.attributes) == ("c1", "a@x.com", "Ann B", {"plan": "platinum"})


def test_events_target(write: Write, run_import: Run, db: Database) -> None:
    mapping = {
        "customer": {"external_id": "cust"},
        "type": "kind",
        "occurred_at": "at",
        "external_id": "eid",
        "value": "amount",
        "properties": ["sku"],
    }
    body = "eid,cust,kind,at,amount,sku\ne1,c1,purchase,2024-01-01T10:00:00Z,9.5,A\ne2,c1,purchase,yesterday,1,B\ne3,,purchase,2024-01-01,1,C\ne1,c1,purchase,2024-01-01,1,A\n"
    out = run_import(write(body), target="events", mapping=mapping)
    assert out.counts.ok == 1
    assert [(e["line"], e["column"]) for e in out.counts.first_errors] == [(3, "at"), (4, "customer"), (5, "")]
    with db.unit_of_work(readonly=True) as session:
        event = session.scalars(select(Event)).one()
        assert (event.external_id, event.type, event.value, event.properties) == ("e1", "purchase", 9.5, {"sku": "A"})


def test_other_targets_need_a_mapping(write: Write, run_import: Run) -> None:
    from cem.errors import InvalidInput

    with pytest.raises(InvalidInput, match="needs a mapping"):
        run_import(write("id\n1\n"), target="customers")
    with pytest.raises(InvalidInput, match="Unknown import target"):
        run_import(write("id\n1\n"), target="orders")


def test_olist_reviews(shared_data: Path, run_import: Run, db: Database) -> None:
    path = shared_data / "olist-ecommerce-subset" / "olist_order_reviews_dataset.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ids = [r["review_id"] for r in rows]
    unique_ok = len(set(ids))
    comments = sum(1 for r in rows if r["review_comment_message"].strip())
    mapping = {
        "source_type": "review",
        "source_name": "olist",
        "submission_id": "review_id",
        "collected_at": "review_creation_date",
        "language_value": "pt",
        "metadata": ["order_id"],
        "fields": [
            {"column": "review_score", "field_id": "score", "field_type": "rating"},
            {"column": "review_comment_message", "field_id": "comment", "field_type": "text"},
        ],
    }
    out = run_import(path, mapping=mapping)
    assert out.counts.processed == len(rows)
    assert out.counts.ok == unique_ok
    assert out.counts.errors == len(rows) - unique_ok
    assert all("already seen" in e["reason"] for e in out.counts.first_errors)
    first_line = {}
    for r in rows:
        first_line.setdefault(r["review_id"], r)
    with db.unit_of_work(readonly=True) as session:
        from cem.feedback.models import FeedbackRecord

        n_scores = session.scalar(select(func.count()).where(FeedbackRecord.field_id == "score"))
        n_text = session.scalar(select(func.count()).where(FeedbackRecord.field_id == "comment"))
    assert n_scores == unique_ok
    assert n_text == sum(1 for r in first_line.values() if r["review_comment_message"].strip())
    assert n_text <= comments


def test_dates_in_another_layout_name_the_column_the_value_and_the_format_to_set(
    write: Write, run_import: Run, db: Database
) -> None:
    # The layout of a city's 311 export (month first, 12-hour clock), and of a European spreadsheet (day first).
    path = write("id,when,nps\nr1,03/27/2024 11:05:00 PM,9\nr2,27.03.2024,7\n")
    out = run_import(
        path,
        mapping={"submission_id": "id", "collected_at": "when", "fields": [{"column": "nps", "field_type": "nps"}]},
    )
    assert (out.counts.ok, out.counts.errors) == (0, 2)
    us, eu = out.counts.first_errors
    assert (us["column"], us["value"]) == ("when", "03/27/2024 11:05:00 PM")
    assert 'it reads with "collected_at_format": "%m/%d/%Y %I:%M:%S %p"' in us["reason"]
    assert eu["value"] == "27.03.2024" and '"collected_at_format": "%d.%m.%Y"' in eu["reason"]
    fixed = {"submission_id": "id", "collected_at": "when", "collected_at_format": "%m/%d/%Y %I:%M:%S %p"}
    again = run_import(
        write("id,when,nps\nr1,03/27/2024 11:05:00 PM,9\n"),
        mapping={**fixed, "fields": [{"column": "nps", "field_type": "nps"}]},
    )
    assert again.counts.ok == 1
    assert [r.collected_at.isoformat() for r in records(db)] == ["2024-03-27T23:05:00+00:00"]
