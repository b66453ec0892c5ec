"""Key drivers through the API: pivot of feedback records per submission, weights, intervals, bad inputs."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from cem.feedback import service as feedback_service
from cem.feedback.models import FeedbackRecord
from cem.feedback.schemas import FeedbackIn
from tests.conftest import Workspace

DRIVERS = ("price", "support", "quality")
WHEN = datetime(2025, 3, 1, tzinfo=UTC)


def _record(source: str, sub: str, field: str, value: float, field_type: str = "rating") -> FeedbackIn:
    return FeedbackIn(
        source_type="survey",
        source_name=source,
        submission_id=sub,
        collected_at=WHEN,
        field_id=field,
        field_label=field.title(),
        field_type=field_type,
        value=value,
    )


def _survey(n: int, seed: int) -> np.ndarray:
    """n x (3 drivers on 1-5, likelihood 0-10): support matters most, price least."""
    rng = np.random.default_rng(seed)
    halo = rng.standard_normal((n, 1))
    latent = rng.standard_normal((n, 3)) + 0.6 * halo
    ratings = np.clip(np.round(3 + latent), 1, 5)
    outcome = np.clip(np.round(5 + ratings @ np.array([0.2, 1.2, 0.7]) - 8 + rng.standard_normal(n)), 0, 10)
    return np.column_stack([ratings, outcome])


def _store(workspace: Workspace, source: str, data: np.ndarray, *, skip_price: int = 0) -> None:
    records = []
    for i, row in enumerate(data):
        sub = f"{source}-{i}"
        for j, field in enumerate(DRIVERS):
            if field == "price" and i < skip_price:
                continue  # some respondents skipped the price question
            records.append(_record(source, sub, field, float(row[j])))
        records.append(_record(source, sub, "likelihood", float(row[3]), "nps"))
    with workspace.db.unit_of_work() as session:
        feedback_service.ingest_feedback(session, actor=workspace.principal(), records=records)


def _ols_r2(x: np.ndarray, y: np.ndarray) -> float:
    design = np.column_stack([np.ones(len(y)), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    return 1.0 - float(residual @ residual) / float(((y - y.mean()) ** 2).sum())


def test_drivers_on_survey_answers(workspace: Workspace, admin_api: TestClient) -> None:
    data = _survey(240, seed=1)
    _store(workspace, "relationship", data, skip_price=15)
    complete = data[15:]
    params = {"outcome": "likelihood", "driver": list(DRIVERS), "bootstrap": 40, "seed": 3}
    r = admin_api.get("/api/v1/analyses/drivers", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["n"], body["dropped"]) == (225, 15)
    assert body["r2"] == pytest.approx(_ols_r2(complete[:, :3], complete[:, 3]), abs=1e-9)
    rows = {d["field_id"]: d for d in body["drivers"]}
    assert body["drivers"][0]["field_id"] == "support"  # sorted by weight, strongest first
    assert sum(d["johnson"] for d in rows.values()) == pytest.approx(body["r2"], abs=1e-9)
    assert sum(d["shapley"] for d in rows.values()) == pytest.approx(body["r2"], abs=1e-9)
    assert sum(d["johnson_share"] for d in rows.values()) == pytest.approx(100.0)
    for j, field in enumerate(DRIVERS):
        d = rows[field]
        assert d["label"] == field.title()
        assert d["performance"] == pytest.approx(complete[:, j].mean())
        assert d["johnson_lower"] <= d["johnson"] <= d["johnson_upper"]
        assert d["shapley_lower"] <= d["shapley"] <= d["shapley_upper"]
        high_imp = d["johnson"] >= body["importance_median"]
        high_perf = d["performance"] >= body["performance_median"]
        expected = {(True, True): "key_strength", (True, False): "priority"}.get(
            (high_imp, high_perf), "secondary_strength" if high_perf else "low_priority"
        )
        assert d["quadrant"] == expected
    assert rows["support"]["significant"] is True
    # Same seed, same intervals; the dashboards can cache on the parameters.
    assert admin_api.get("/api/v1/analyses/drivers", params=params).json() == body

    # Without naming drivers: every numeric field answered alongside the outcome.
    found = admin_api.get("/api/v1/analyses/drivers", params={"outcome": "likelihood", "bootstrap": 0}).json()
    assert sorted(d["field_id"] for d in found["drivers"]) == sorted(DRIVERS)
    assert found["drivers"][0]["johnson_lower"] is None and found["drivers"][0]["significant"] is None
    top_box = admin_api.get(
        "/api/v1/analyses/drivers", params={**params, "bootstrap": 0, "performance": "top_box"}
    ).json()
    quality = next(d for d in top_box["drivers"] if d["field_id"] == "quality")
    assert quality["performance"] == pytest.approx(100 * (complete[:, 2] >= 4).mean())


def test_bad_driver_requests_are_refused_clearly(workspace: Workspace, admin_api: TestClient) -> None:
    _store(workspace, "big", _survey(60, seed=2))
    _store(workspace, "tiny", _survey(12, seed=3))
    flat = _survey(50, seed=4)
    flat[:, 0] = 3  # everyone rated price 3
    _store(workspace, "flat", flat)

    def get(**params: object) -> tuple[int, str]:
        r = admin_api.get("/api/v1/analyses/drivers", params=params)
        body = r.json()
        assert set(body) == {"error", "detail", "status", "errors"}, body
        return r.status_code, body["detail"]

    status, detail = get(outcome="likelihood", source_name="tiny", driver=list(DRIVERS))
    assert status == 422 and "Too few complete submissions: 12" in detail
    status, detail = get(outcome="likelihood", source_name="flat", driver=list(DRIVERS))
    assert status == 422 and "same answer for price" in detail
    status, detail = get(outcome="likelihood", driver=[f"q{i}" for i in range(16)])
    assert status == 422 and "at most 15" in detail
    status, detail = get(outcome="nope")
    assert status == 404 and "'nope'" in detail
    status, detail = get(outcome="likelihood", driver=["likelihood", "price"])
    assert status == 422 and "cannot also be a driver" in detail
    status, detail = get(outcome="likelihood", driver=["price", "unknown_q"])
    assert status == 422 and "unknown_q" in detail
    status, _ = get(outcome="likelihood", bootstrap=-1)
    assert status == 422
    status, detail = get(outcome="likelihood", performance="median")
    assert status == 422


def test_topics_from_text_analytics_as_drivers(workspace: Workspace, admin_api: TestClient) -> None:
    """A comment mentioning "delivery" pulls the outcome down; submissions without a comment mention nothing,
    and those whose comment is not analysed yet are left out."""
    data = _survey(150, seed=6)
    rng = np.random.default_rng(8)
    mentions = rng.random(150) < 0.3
    data[:, 3] = np.clip(data[:, 3] - 3 * mentions, 0, 10)
    _store(workspace, "relationship", data)
    texts = [
        _text("relationship", f"relationship-{i}", "late parcel" if mentioned else "fine")
        for i, mentioned in enumerate(mentions)
        if i >= 20  # the first 20 wrote no comment
    ]
    with workspace.db.unit_of_work() as session:
        feedback_service.ingest_feedback(session, actor=workspace.principal(), records=texts)
        # What text analytics stores; the last 10 are not analysed yet (topics stay NULL).
        for i in range(20, 140):
            topics = ["delivery"] if mentions[i] else ["praise"]
            session.execute(
                update(FeedbackRecord)
                .where(FeedbackRecord.submission_id == f"relationship-{i}", FeedbackRecord.field_type == "text")
                .values(topics=topics)
            )
    params = {"outcome": "likelihood", "driver": ["support", "quality"], "topic": ["delivery"], "bootstrap": 0}
    body = admin_api.get("/api/v1/analyses/drivers", params=params).json()
    assert (body["n"], body["dropped"]) == (140, 10)
    flags = np.where(np.arange(140) < 20, 0.0, mentions[:140].astype(float))
    x = np.column_stack([data[:140, 1:3], flags])
    assert body["r2"] == pytest.approx(_ols_r2(x, data[:140, 3]), abs=1e-9)
    topic = next(d for d in body["drivers"] if d["field_id"] == "topic:delivery")
    assert topic["label"] == "Topic: delivery" and topic["performance"] == pytest.approx(100 * flags.mean())
    r = admin_api.get("/api/v1/analyses/drivers", params={**params, "topic": ["weather"]})
    assert r.status_code == 422 and "weather" in r.json()["detail"]


def _text(source: str, sub: str, text: str) -> FeedbackIn:
    return FeedbackIn(
        source_type="survey",
        source_name=source,
        submission_id=sub,
        collected_at=WHEN,
        field_id="comment",
        field_type="text",
        value=text,
    )
