from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from cem.imports.runner import LocalImport, Outcome, run_local
from tests.conftest import Workspace


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """write("a,b\\n1,2\\n", name="x.csv", encoding="utf-8") -> path"""

    def make(text: str | bytes, name: str = "data.csv", encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
        return path

    return make


@pytest.fixture
def run_import(db: Database, workspace: Workspace) -> Callable[..., Outcome]:
    def run(path: Path, **kwargs: object) -> Outcome:
        return run_local(db, workspace.principal(), LocalImport(path=path, **kwargs))  # type: ignore[arg-type]

    return run


def feedback_count(db: Database) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(FeedbackRecord)) or 0)


def records(db: Database) -> list[FeedbackRecord]:
    with db.unit_of_work(readonly=True) as session:
        return list(
            session.scalars(select(FeedbackRecord).order_by(FeedbackRecord.submission_id, FeedbackRecord.field_id))
        )
