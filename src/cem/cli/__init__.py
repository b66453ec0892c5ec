"""The `cem` command line. Each area's commands live in their own module and are added here."""

from __future__ import annotations

from cem import plugins
from cem.cli import (  # noqa: F401  (each registers commands on `app`)
    analyses,
    cases,
    churn,
    clv,
    core,
    demo,
    export,
    imports,
    jobs,
    metrics,
    privacy,
    surveys,
    text,
    text_topics,
    webhooks,
)
from cem.cli.app import app


def main() -> None:
    plugins.install()  # the composition root of every command, and so of the worker processes `cem worker` runs
    app()


__all__ = ["app", "main"]
