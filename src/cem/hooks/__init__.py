"""One hook registry (pluggy, the contract pytest and Datasette use): domains react to each other through it.

Callers use the typed functions below inside their unit of work; implementations are marked `@hookimpl` in a
domain's plugin module (the specifications, with what each hook gets, are in cem.hooks.specs). A composition root
(cem.app.create_app, the CLI, a test fixture) builds the manager with cem.plugins and installs it for the process;
nothing here imports a domain, so any domain may call or implement a hook without an import cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from cem.hooks import specs

if TYPE_CHECKING:
    import numpy.typing as npt
    from sqlalchemy.orm import Session

    from cem.hooks.rows import CustomerInsight, FeedbackRow
    from cem.jobs.registry import Task

hookimpl = pluggy.HookimplMarker(specs.PROJECT)

_installed: pluggy.PluginManager | None = None


class NoPluginManager(RuntimeError):
    """A hook was called before a composition root installed the plugin manager (a programming error)."""


def new_manager(plugins: Sequence[object] = ()) -> pluggy.PluginManager:
    """A manager knowing the cem hook specifications, with `plugins` (modules or objects) registered."""
    pm = pluggy.PluginManager(specs.PROJECT)
    pm.add_hookspecs(specs)
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()  # an implementation of a hook that does not exist is a typo, not an extension point
    return pm


def install(pm: pluggy.PluginManager) -> None:
    """Make `pm` the process's plugin manager (the one the functions below call)."""
    global _installed
    _installed = pm


def installed() -> pluggy.PluginManager:
    """The process's plugin manager; NoPluginManager when no composition root installed one."""
    if _installed is None:
        raise NoPluginManager(
            "No cem plugin manager is installed: build the app with cem.app.create_app, run the CLI, or call "
            "cem.plugins.install() first."
        )
    return _installed


def events_ingested(session: Session, *, workspace_id: int, rows: Sequence[dict[str, Any]]) -> None:
    installed().hook.events_ingested(session=session, workspace_id=workspace_id, rows=rows)


def domain_event(session: Session, *, workspace_id: int, event_type: str, data: dict[str, Any]) -> None:
    installed().hook.domain_event(session=session, workspace_id=workspace_id, event_type=event_type, data=data)


def feedback_stored(session: Session, *, workspace_id: int, rows: Sequence[FeedbackRow]) -> None:
    installed().hook.feedback_stored(session=session, workspace_id=workspace_id, rows=rows)


def records_enriched(
    session: Session, *, workspace_id: int, record_ids: Sequence[int], vectors: npt.NDArray[Any]
) -> None:
    installed().hook.records_enriched(
        session=session, workspace_id=workspace_id, record_ids=record_ids, vectors=vectors
    )


def customer_insights(session: Session, *, workspace_id: int, customer_id: int) -> list[CustomerInsight]:
    """Every plugin's panels for one customer, in their `order`."""
    panels = installed().hook.customer_insights(session=session, workspace_id=workspace_id, customer_id=customer_id)
    return sorted((panel for contributed in panels for panel in contributed), key=lambda p: p.order)


def has_implementations(hook_name: str) -> bool:
    """Whether any registered plugin implements the hook (benchmarks report what ran)."""
    return bool(getattr(installed().hook, hook_name).get_hookimpls())


def job_tasks(pm: pluggy.PluginManager) -> list[Task]:
    """Every task the plugins of `pm` contribute."""
    return [task for contributed in pm.hook.job_tasks() for task in contributed]
