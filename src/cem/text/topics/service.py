"""What the rest of cem calls of the topics package: the assignment of new feedback (text enrichment, by this
module's `assign_topics`) and a user's topic correction (`apply_topic_correction`, from the text service).

The package in its dependency order, each module importing only those before it:
vectors (texts and their stored or fresh embeddings) < catalogue (topic rows: lookup, members, new rows) <
assignment (nearest centroid, rules, corrections; feedback_record.topics) < runs (discovery runs that keep edits),
editing (rename, merge, split, delete, rule topics) and statistics (volume, sentiment, trend, verbatims).
discovery (clustering and labels) and rules (keyword queries) need no database.
"""

from __future__ import annotations

from cem.text.topics.assignment import apply_topic_correction, assign_topics

__all__ = ["apply_topic_correction", "assign_topics"]
