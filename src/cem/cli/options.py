"""Command-line options that many commands share, declared once: the type, the flag and the help."""

from __future__ import annotations

from typing import Annotated

import typer

# `workspace: Workspace = "default"`: the workspace a command reads or writes.
Workspace = Annotated[str, typer.Option(help="Workspace slug.")]
