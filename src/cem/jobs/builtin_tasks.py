"""Imports the modules whose import registers tasks; add a domain's tasks module here."""

from cem.jobs import system_tasks  # noqa: F401
