"""Background upkeep of the Parquet snapshot: after a privacy erasure the snapshot is rebuilt at once.

(Queries refresh a stale snapshot themselves; this job covers the case where nobody queries for a while,
so erased data never waits in the Parquet files for the next dashboard visit.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cem.analytics.settings import AnalyticsSettings
from cem.analytics.snapshot import Snapshot
from cem.jobs.queue import enqueue
from cem.jobs.registry import TaskContext, task


@task("analytics.refresh_snapshot", lease_seconds=1800)
def refresh_snapshot(ctx: TaskContext) -> dict[str, Any]:
    """Refresh an existing snapshot (incrementally; a rebuild after deletions such as privacy erasures).

    A store without a snapshot is left alone: small installs answer from SQL and need none.
    """
    snapshot = Snapshot(AnalyticsSettings().resolved_snapshot_dir(ctx.db.settings))
    if not snapshot.is_of(ctx.session):
        return {"refreshed": False}
    report = snapshot.refresh(ctx.session)
    return {"refreshed": True, "mode": report.mode, "rows": report.rows, "notes": report.notes}


def refresh_after_erasure(session: Session) -> None:
    """Queue a snapshot refresh in the erasing transaction (cheap when there is no snapshot)."""
    enqueue(session, "analytics.refresh_snapshot")
