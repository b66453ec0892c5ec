"""Topics: discovery (two levels, c-TF-IDF labels), assignment of new feedback, edits that survive re-discovery."""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_MIN_TOPIC_SIZE", "assign_topics"]

DEFAULT_MIN_TOPIC_SIZE = 10


def __getattr__(name: str) -> Any:
    # Imported on first use: the service pulls in scikit-learn, which every `cem` command would otherwise load
    # at start-up just because the privacy registry imports this package's models.
    if name == "assign_topics":
        from cem.text.topics.service import assign_topics

        return assign_topics
    raise AttributeError(name)
