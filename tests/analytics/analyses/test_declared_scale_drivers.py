"""Key drivers' top-box performance reads each answer's declared scale, never the largest answer seen."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from cem.feedback import service as feedback_service
from cem.feedback.schemas import FeedbackIn
from tests.analytics.analyses.test_drivers_api import WHEN, _survey
from tests.conftest import Workspace

# price answered 1-5 but declared on 1-10 (nobody reaches its top box 9-10); support on the default 1-5;
# quality a plain number (no scale, so no top box).
DECLARED = {"price": ("rating", "1-10"), "support": ("rating", None), "quality": ("number", None)}


def _store(workspace: Workspace, data: np.ndarray) -> None:
    records = []
    for i, row in enumerate(data):
        for j, (field, (kind, scale)) in enumerate(DECLARED.items()):
            records.append(_answer(i, field, kind, float(row[j]), scale))
        records.append(_answer(i, "likelihood", "nps", float(row[3]), None))
    with workspace.db.unit_of_work() as session:
        feedback_service.ingest_feedback(session, actor=workspace.principal(), records=records)


def _answer(i: int, field: str, kind: str, value: float, scale: str | None) -> FeedbackIn:
    return FeedbackIn(
        source_type="survey",
        source_name="relationship",
        submission_id=f"s{i}",
        collected_at=WHEN,
        field_id=field,
        field_type=kind,
        scale=scale,
        value=value,
    )


def test_top_box_performance_uses_the_declared_scale(workspace: Workspace, admin_api: TestClient) -> None:
    data = _survey(200, seed=5)
    _store(workspace, data)
    params = {"outcome": "likelihood", "bootstrap": 0, "performance": "top_box"}
    scaled = admin_api.get("/api/v1/analyses/drivers", params={**params, "driver": ["price", "support"]})
    assert scaled.status_code == 200, scaled.text
    performance = {d["field_id"]: d["performance"] for d in scaled.json()["drivers"]}
    # The inference would have put price on 1-5 (its largest answer is 5) and counted every 4 and 5.
    assert performance["price"] == 0.0
    assert performance["support"] == pytest.approx(100 * (data[:, 1] >= 4).mean())
    unscaled = admin_api.get("/api/v1/analyses/drivers", params={**params, "driver": ["price", "quality"]})
    assert unscaled.status_code == 422
    assert "quality has answers without a declared scale" in unscaled.json()["detail"]
    mean = admin_api.get("/api/v1/analyses/drivers", params={**params, "driver": ["quality"], "performance": "mean"})
    assert mean.status_code == 200, mean.text
