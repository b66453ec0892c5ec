"""A ready-made mapping for the create form, and a sample payload built from any mapping for the curl example."""

from __future__ import annotations

import json
from typing import Any

from cem.sources.paths import PathSyntaxError, parse_path

# A review platform's "review created" webhook (Trustpilot-like): the form starts from this.
EXAMPLE_MAPPING = json.dumps(
    {
        "submission_id": "review.id",
        "collected_at": "review.createdAt",
        "customer": {"external_id": "consumer.id", "email": "consumer.email", "name": "consumer.displayName"},
        "language": "review.language",
        "metadata": {"title": "review.title"},
        "fields": [
            {"path": "review.stars", "field_id": "stars", "field_type": "rating", "label": "Stars"},
            {"path": "review.text", "field_id": "text", "field_type": "text", "label": "Review"},
        ],
    },
    indent=2,
)

SAMPLE_VALUES: dict[str, Any] = {
    "nps": 9,
    "csat": 4,
    "ces": 2,
    "rating": 4,
    "number": 12.5,
    "choice": "Delivery",
    "text": "Quick delivery, friendly support.",
    "boolean": True,
    "date": "2024-05-01",
}


def _samples(mapping: dict[str, Any]) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = [(mapping.get("submission_id", ""), "1001")]
    pairs.append((mapping.get("collected_at") or "", "2024-05-01T12:00:00Z"))
    customer = mapping.get("customer") or {}
    pairs += [(customer.get("external_id") or "", "C-42"), (customer.get("email") or "", "jane@example.com")]
    pairs.append((customer.get("name") or "", "Jane Doe"))
    pairs += [(path, "plan-gold") for path in (customer.get("attributes") or {}).values()]
    pairs += [(mapping.get("language") or "", "en"), (mapping.get("touchpoint_path") or "", "checkout")]
    pairs += [
        (mapping.get(name) or "", value) for name, value in (("channel", "chat"), ("agent", "A-7"), ("team", "T-1"))
    ]
    row_key = mapping.get("row_key")
    pairs += [(path, "example") for path in row_key] if isinstance(row_key, list) else []
    pairs += [(path, "example") for path in (mapping.get("metadata") or {}).values()]
    pairs += [(f["path"], SAMPLE_VALUES.get(f["field_type"], "example")) for f in mapping.get("fields", [])]
    return [(path, value) for path, value in pairs if path]


def _place(root: dict[str, Any], segments: tuple[str, ...], value: Any) -> None:
    node: Any = root
    for depth, segment in enumerate(segments):
        last = depth == len(segments) - 1
        if isinstance(node, list):
            index = int(segment) if segment.lstrip("-").isdigit() and int(segment) >= 0 else 0
            while len(node) <= index:
                node.append({})
            if last:
                node[index] = value
            elif not isinstance(node[index], dict | list):
                return  # two paths disagree about this spot; the sample keeps the first
            node = node[index]
            continue
        if not isinstance(node, dict):
            return
        if last:
            node.setdefault(segment, value)
        else:
            following = segments[depth + 1]
            node = node.setdefault(segment, [] if following.isdigit() else {})


def example_payload(mapping: dict[str, Any]) -> Any:
    """A JSON body the mapping accepts, with plausible values (wrapped in a list at items_path if set)."""
    record: dict[str, Any] = {}
    for path, value in _samples(mapping):
        try:
            _place(record, parse_path(path), value)
        except PathSyntaxError:
            continue
    items_path = mapping.get("items_path")
    if not items_path:
        return record
    envelope: dict[str, Any] = {}
    try:
        _place(envelope, parse_path(items_path), [record])
    except PathSyntaxError:
        return record
    return envelope
