"""Imports the modules whose import registers tasks; add a domain's tasks module here."""

from cem.analytics import tasks as analytics_tasks  # noqa: F401
from cem.distribution import tasks as distribution_tasks  # noqa: F401
from cem.imports import tasks as import_tasks  # noqa: F401
from cem.jobs import system_tasks  # noqa: F401
from cem.text import tasks as text_tasks  # noqa: F401
from cem.text.topics import tasks as topic_tasks  # noqa: F401
