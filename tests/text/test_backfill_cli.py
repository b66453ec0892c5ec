"""`cem text backfill` enriches stored records that lack it and resumes; `cem text train` reports its CV figures."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from cem.cli import app
from cem.config import Settings, get_settings
from cem.feedback.models import FeedbackRecord
from cem.text.models import FeedbackEmbedding
from tests.conftest import Workspace
from tests.text.helpers import ingest, records_by_submission, store_vectors, text_record


@pytest.fixture(autouse=True)
def _env(settings: Settings, monkeypatch: pytest.MonkeyPatch, fresh_settings: None) -> None:
    monkeypatch.setenv("CEM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CEM_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("CEM_ENV", "test")
    get_settings.cache_clear()


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["text", *args])
    return result.exit_code, result.output


def test_backfill_enriches_missing_and_stale_then_nothing(
    workspace: Workspace, api: Callable[[str], TestClient]
) -> None:
    ingest(api("agent"), [text_record(f"s{i}", t) for i, t in enumerate(["Great service!", "Horrível.", "Ok", "Late"])])
    code, out = _run("backfill", "--workspace", "acme", "--batch", "2")
    assert code == 0, out
    assert "Enriched 4 of 4" in out
    records = records_by_submission(workspace.db)
    assert all(r.enriched_at is not None and r.sentiment_label for r in records.values())
    # Resume: only a record whose text changed (or was never enriched) is done again.
    with workspace.db.unit_of_work() as session:
        session.execute(update(FeedbackRecord).where(FeedbackRecord.submission_id == "s1").values(value_text="Adorei!"))
    code, out = _run("backfill", "--workspace", "acme")
    assert code == 0 and "Enriched 1 of 1" in out, out
    assert records_by_submission(workspace.db)["s1"].sentiment_label == "positive"
    code, out = _run("backfill", "--workspace", "acme")
    assert code == 0 and "Nothing to do" in out
    with workspace.db.unit_of_work(readonly=True) as session:
        assert len(session.scalars(select(FeedbackEmbedding)).all()) == 4


def test_backfill_and_train_errors(workspace: Workspace) -> None:
    code, out = _run("backfill", "--workspace", "nope")
    assert code == 2 and "nope" in out
    code, out = _run("backfill", "--workspace", "acme", "--batch", "0")
    assert code == 2
    code, out = _run("train", "--workspace", "acme")
    assert code == 2 and "at least 10" in out


def test_train_prints_cross_validated_figures(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    ingest(api("agent"), [text_record(f"s{i}", f"text {i}") for i in range(12)])
    records = records_by_submission(workspace.db)
    vectors = {}
    for i in range(12):
        v = np.zeros(384)
        v[i % 2] = 1
        vectors[records[f"s{i}"].id] = v + np.random.default_rng(i).normal(0, 0.05, 384)
        api("agent").put(
            f"/api/v1/feedback/{records[f's{i}'].id}/label",
            json={"sentiment_label": "negative" if i % 2 else "positive"},
        )
    store_vectors(workspace.db, workspace.id, vectors)
    code, out = _run("train", "--workspace", "acme")
    assert code == 0, out
    assert "12 corrected labels, 5-fold CV" in out and "macro-F1" in out
