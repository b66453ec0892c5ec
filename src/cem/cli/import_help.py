"""The mapping format as `cem import --help` shows it: one complete example per target and every key in a line.

Kept apart from the command so the help reads as a page; the README's "Import mappings" section says the same.
"""

from __future__ import annotations

# "\b" keeps click from re-flowing the block that follows; lines stay under 80 columns for a terminal.
MAPPING_EPILOG = """\
\b
Start with a guessed mapping (add --target customers or --target events):
  cem import FILE --suggest-mapping > mapping.json
edit it, then import with it:
  cem import FILE --mapping-file mapping.json
A mapping names columns by their header text; only what a target cannot do
without is required.

\b
feedback (one record per field per row):
  {"source_type": "review", "source_name": "shop-reviews",
   "submission_id": "review_id",
   "customer": {"external_id": "customer_id", "email": "email"},
   "collected_at": "created", "collected_at_format": "%m/%d/%Y %H:%M",
   "channel": "channel", "agent": "assignee", "team": "queue",
   "touchpoint_key": "checkout", "language_value": "en",
   "fields": [
     {"column": "stars", "field_id": "stars", "field_type": "rating",
      "label": "Stars", "scale_min": 1, "scale_max": 5},
     {"column": "comment", "field_id": "comment", "field_type": "text"}],
   "metadata": ["order_id"]}

\b
  submission_id        column with the row's id (re-imports skip it), or
  row_key              ["col", ...] or "content" when the file has no id
  customer             {"external_id"|"email"|"id": column, "name": column,
                        "attributes": {name: column}, "create": true}
  collected_at         date column (ISO 8601 unless collected_at_format,
                        a strftime format such as "%d/%m/%Y")
  channel, agent, team, language, touchpoint: a column per row;
  channel_value, agent_value, team_value, language_value, touchpoint_key:
                       one value for every row
  fields               column, field_type (nps csat ces rating number
                       choice text boolean date), field_id, label,
                       scale_min / scale_max for nps csat ces rating
  metadata             columns copied as they are
  source_type, source_name: where the feedback came from

\b
customers (one customer per row, matched by external_id or email):
  {"external_id": "customerID", "email": "email", "name": "name",
   "attributes": {"plan": "Contract", "tenure": "tenure"}}

\b
events (one interaction per row):
  {"customer": {"external_id": "customer_id"},
   "type": "event_type",
   "occurred_at": "order_purchase_timestamp",
   "external_id": "order_id", "touchpoint": "touchpoint",
   "value": "amount", "properties": ["order_status"]}
  type_value instead of type gives every row one type, touchpoint_key one
  touchpoint; occurred_at_format reads dates that are not ISO 8601.
"""
