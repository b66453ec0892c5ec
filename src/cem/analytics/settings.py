"""Analytics knobs (CEM_ANALYTICS_* environment variables), kept beside the engines they steer."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from cem.config import Settings


class AnalyticsSettings(BaseSettings):
    """Which engine answers metric queries, and where and how fresh the Parquet snapshot is."""

    model_config = SettingsConfigDict(env_prefix="CEM_ANALYTICS_", env_file=".env", extra="ignore")

    # auto: SQL in the operational store until it holds `auto_min_rows` feedback records, then DuckDB attached
    # to the store (both always current; a SQLite store is attached in a reader process of its own). Measured:
    # NPS by channel x month takes ~230 ms through SQL on 50,000 SQLite records; DuckDB reading the same
    # SQLite file answers it in a fraction of that.
    engine: Literal["auto", "sql", "duckdb"] = "auto"
    auto_min_rows: int = 20_000
    # Where `cem export parquet` and the Spark engine keep the snapshot; default <data_dir>/analytics.
    snapshot_dir: Path | None = None
    # A Spark query on a snapshot older than this refreshes it (incrementally) first.
    max_staleness_seconds: float = 60.0
    spark_master: str = "local[2]"

    def resolved_snapshot_dir(self, settings: Settings) -> Path:
        return self.snapshot_dir or settings.data_dir / "analytics"
