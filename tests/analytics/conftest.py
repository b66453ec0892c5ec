"""Analytics tests share one data directory per worker: no test may see another's Parquet snapshot."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from cem.analytics.settings import AnalyticsSettings
from cem.config import Settings


@pytest.fixture(autouse=True)
def _no_leftover_snapshot(settings: Settings) -> Iterator[None]:
    # The snapshot of an earlier test's (since emptied) database would look fresh for a minute.
    directory = AnalyticsSettings().resolved_snapshot_dir(settings)
    shutil.rmtree(directory, ignore_errors=True)
    yield
    shutil.rmtree(directory, ignore_errors=True)
