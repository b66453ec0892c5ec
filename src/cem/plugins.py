"""The built-in plugins and the plugin manager the composition roots install (cem.app.create_app, the CLI).

Each built-in domain that reacts to another or runs background jobs has a plugin module implementing hooks of
cem.hooks.specs; this list is the one place that names them all. Installing also registers the tasks the plugins
contribute (`job_tasks`, asked on first need: cem.jobs.registry.register_later), so every process that runs or
enqueues jobs knows the same tasks.
"""

from __future__ import annotations

import pluggy

from cem import hooks
from cem.analytics import plugin as analytics_plugin
from cem.cases import plugin as cases_plugin
from cem.churn import plugin as churn_plugin
from cem.clv import plugin as clv_plugin
from cem.distribution import plugin as distribution_plugin
from cem.imports import plugin as imports_plugin
from cem.jobs import plugin as jobs_plugin
from cem.jobs import registry
from cem.text import plugin as text_plugin
from cem.text.topics import plugin as topics_plugin
from cem.webhooks import plugin as webhooks_plugin

BUILTIN_PLUGINS: tuple[object, ...] = (
    jobs_plugin,
    analytics_plugin,
    churn_plugin,
    clv_plugin,
    distribution_plugin,
    imports_plugin,
    text_plugin,
    topics_plugin,
    webhooks_plugin,
    cases_plugin,
)


def plugin_manager(*extra: object) -> pluggy.PluginManager:
    """A manager with the built-in plugins and `extra` ones registered."""
    return hooks.new_manager([*BUILTIN_PLUGINS, *extra])


def install(*extra: object) -> pluggy.PluginManager:
    """Build the manager, make it the process's (cem.hooks.install) and register its tasks; returns it."""
    pm = plugin_manager(*extra)
    hooks.install(pm)
    registry.register_later(lambda: hooks.job_tasks(pm))
    return pm
