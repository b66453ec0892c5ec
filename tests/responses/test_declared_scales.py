"""Survey answers carry the scale their question declares (issue 14): 6 on a 7-point CSAT is satisfied."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from tests.conftest import Workspace
from tests.responses.hosted_helpers import post_page, publish


def _q(qid: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"id": qid, "type": kind, "headline": {"en": f"Question {qid}"}, **extra}


DEFINITION: dict[str, Any] = {
    "pages": [
        {
            "id": "p1",
            "questions": [
                _q("sat7", "csat", scale=7),
                _q("sat5", "csat"),
                _q("stars", "rating", scale=10),
                _q("nps", "nps"),
                _q("grid", "matrix", scale=4, rows=[{"id": "app", "label": {"en": "App"}}]),
            ],
        }
    ]
}


def test_answers_store_their_questions_scale_and_csat_reads_it(
    client: TestClient, admin_api: TestClient, db: Database, workspace: Workspace
) -> None:
    publish(db, workspace, DEFINITION)
    page = client.get("/s/cx")
    answers = {"q_sat7": "6", "q_sat5": "3", "q_stars": "8", "q_nps": "9", "q_grid__app": "4"}
    r = post_page(client, "/s/cx", page.text, answers)
    assert r.status_code == 303, r.text[:300]
    with db.unit_of_work(readonly=True) as session:
        scales = {r.field_id: (r.scale_min, r.scale_max) for r in session.scalars(select(FeedbackRecord))}
    assert scales == {
        "sat7": (1.0, 7.0),
        "sat5": (1.0, 5.0),
        "stars": (1.0, 10.0),
        "nps": (0.0, 10.0),
        "grid.app": (1.0, 4.0),
    }
    rows = admin_api.get("/api/v1/metrics", params={"metric": "csat", "group_by": "question", "min_n": 1}).json()
    by_question = {row["segment"]["question"]: row["value"] for row in rows["rows"]}
    assert by_question == {"sat7": 100.0, "sat5": 0.0}  # 6 of 7 is in the top box; 3 of 5 is not
