"""Topics: discovery (two levels, c-TF-IDF labels), assignment of new feedback, edits that survive re-discovery."""

from cem.text.topics.service import assign_topics

__all__ = ["assign_topics"]
