"""Apply a source's field mapping to a webhook payload: JSON records in, validated FeedbackIn out.

Every problem is collected (record index, mapping path, reason) so one 422 lists them all; nothing is
stored unless every record maps cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from cem.errors import InvalidInput, PayloadTooLarge
from cem.feedback.row_keys import CONTENT, row_key_id
from cem.feedback.schemas import FeedbackIn, typed_value
from cem.sources.paths import Missing, parse_path, resolve
from cem.sources.schemas import FieldMap, SourceMapping

MAX_LISTED_PROBLEMS = 100


@dataclass
class Problem:
    record: int
    target: str  # which mapping entry: submission_id, customer.email, fields.score ...
    path: str
    msg: str

    def as_error(self) -> dict[str, Any]:
        """The entry for the error shape's `errors` list."""
        return {"loc": [self.record, self.target], "record": self.record, "path": self.path, "msg": self.msg}


@dataclass
class Mapped:
    """The feedback records of a payload, with the payload record each one came from."""

    records: int
    items: list[FeedbackIn] = field(default_factory=list)
    origins: list[int] = field(default_factory=list)


def extract_records(payload: Any, mapping: SourceMapping, problems: list[Problem]) -> list[Any]:
    """The JSON records of a payload: the object or array itself, or the list found at `items_path`."""
    envelopes = payload if isinstance(payload, list) else [payload]
    if mapping.items_path is None:
        return envelopes
    records: list[Any] = []
    for index, envelope in enumerate(envelopes):
        found = resolve(envelope, parse_path(mapping.items_path))
        if isinstance(found, Missing):
            problems.append(Problem(index, "items_path", mapping.items_path, found.reason))
        elif isinstance(found, list):
            records.extend(found)
        elif isinstance(found, dict):
            records.append(found)
        else:
            problems.append(Problem(index, "items_path", mapping.items_path, "this is not a list of records"))
    return records


class _RecordMapper:
    """Maps one JSON record; `problems` collects what went wrong instead of stopping at the first issue."""

    def __init__(
        self, mapping: SourceMapping, index: int, record: dict[str, Any], problems: list[Problem], base: dict[str, str]
    ) -> None:
        self.mapping = mapping
        self.base = base  # source_type and source_name, the same for every record
        self.index = index
        self.record = record
        self.problems = problems
        self.paths: dict[str, str] = {}  # mapping target -> path, to explain validation errors

    def lookup(self, target: str, path: str) -> Any:
        """The raw value at `path`, or Missing; remembers the path to explain later validation errors."""
        self.paths[target] = path
        return resolve(self.record, parse_path(path))

    def value(self, target: str, path: str | None) -> Any:
        """The value at `path`; an absent optional value is None."""
        if path is None:
            return None
        found = self.lookup(target, path)
        return None if isinstance(found, Missing) else found

    def identifier(self, target: str, path: str | None, *, required: bool = False) -> str | None:
        """Ids may arrive as numbers (Zendesk ticket ids); they are stored as text."""
        if path is None:
            return None
        found = self.lookup(target, path)
        if isinstance(found, Missing) or found is None:
            if required:
                self.problem(target, found.reason if isinstance(found, Missing) else "the value is null")
            return None
        if isinstance(found, bool) or not isinstance(found, str | int):
            self.problem(target, f"expected text or a whole number, got {type(found).__name__}")
            return None
        return str(found)

    def problem(self, target: str, msg: str) -> None:
        """Note a problem once (the same one may come up for several fields of a record)."""
        problem = Problem(self.index, target, self.paths.get(target, ""), msg)
        if problem not in self.problems:
            self.problems.append(problem)

    def common(self) -> dict[str, Any]:
        """What every field of this record shares: identity, time, customer, context, metadata."""
        m = self.mapping
        values: dict[str, Any] = {
            **self.base,
            "submission_id": self.submission_id(),
            "collected_at": self.value("collected_at", m.collected_at) or m.collected_at_value,
            "customer": self.customer(),
            "language": self.value("language", m.language) if m.language else m.language_value,
            "channel": self.value("channel", m.channel) if m.channel else m.channel_value,
            # Handlers may be numeric ids (a helpdesk's assignee_id): stored as text, like submission ids.
            "agent": self.identifier("agent", m.agent) if m.agent else m.agent_value,
            "team": self.identifier("team", m.team) if m.team else m.team_value,
            "metadata": self.metadata(),
        }
        values["touchpoint"] = m.touchpoint or m.touchpoint_value or self.value("touchpoint", m.touchpoint_path)
        return values

    def submission_id(self) -> str | None:
        """The record's `submission_id`, or the hash of its `row_key` values (cem.feedback.row_keys)."""
        m = self.mapping
        if m.submission_id is not None:
            return self.identifier("submission_id", m.submission_id, required=True)
        if m.row_key == CONTENT:
            return row_key_id([self.record])
        paths = list(m.row_key or ())
        found = [self.value(f"row_key.{i}", path) for i, path in enumerate(paths)]
        if all(value is None for value in found):
            self.paths["row_key"] = ", ".join(paths)
            self.problem("row_key", "none of the row key paths holds a value: nothing identifies the record")
            return None
        return row_key_id(found)

    def customer(self) -> dict[str, Any] | None:
        """The customer reference, or None for an anonymous record."""
        cmap = self.mapping.customer
        if cmap is None:
            return None
        external_id = self.identifier("customer.external_id", cmap.external_id)
        email = self.value("customer.email", cmap.email)
        if external_id is None and email is None:
            return None  # an anonymous record: stored without a customer
        attributes = {}
        for name, path in cmap.attributes.items():
            found = self.value(f"customer.attributes.{name}", path)
            if found is not None:
                attributes[name] = found
        name_value = self.value("customer.name", cmap.name)
        return {"external_id": external_id, "email": email, "name": name_value, "attributes": attributes}

    def metadata(self) -> dict[str, Any]:
        """The mapped metadata values that are present."""
        out = {}
        for name, path in self.mapping.metadata.items():
            found = self.value(f"metadata.{name}", path)
            if found is not None:
                out[name] = found
        return out

    def feedback(self, common: dict[str, Any], fmap: FieldMap, template: FeedbackIn | None) -> FeedbackIn | None:
        """One field's record; after the first, only the value is checked (customer e-mail checks are slow)."""
        target = f"fields.{fmap.field_id}"
        raw = self.value(target, fmap.path)
        if raw is None:
            return None  # an absent or null field is simply not reported (e.g. a review without text)
        if isinstance(raw, dict) or (isinstance(raw, list) and not all(isinstance(v, str) for v in raw)):
            self.problem(target, "expected a single value (or a list of texts for a choice), got an object or list")
            return None
        data = {"field_id": fmap.field_id, "field_label": fmap.label, "field_type": fmap.field_type, "value": raw}
        # The record carries its field's declared scale (or the type's default); always set, as the copy of a
        # template (the record's first field) must not keep that field's scale.
        scale = fmap.declared_scale()
        data |= {"scale_min": scale.low if scale else None, "scale_max": scale.high if scale else None, "scale": None}
        if template is not None:
            try:
                typed_value(fmap.field_type, raw, scale)
            except ValueError as exc:
                self.problem(target, str(exc))
                return None
            return template.model_copy(update=data)
        try:
            return FeedbackIn.model_validate({**common, **data})
        except ValidationError as exc:
            for err in exc.errors():
                self.problem(self._target_of(err["loc"], target), _message(err))
            return None

    def _target_of(self, loc: tuple[int | str, ...], field_target: str) -> str:
        if not loc or loc[0] == "value":
            return field_target
        if loc[0] == "customer" and len(loc) > 1:
            name = ".".join(str(p) for p in loc[:3]) if loc[1] == "attributes" else ".".join(str(p) for p in loc[:2])
            return name if name in self.paths else "customer"
        return str(loc[0])

    def run(self) -> list[FeedbackIn]:
        """The record's feedback items; problems go to `self.problems` instead."""
        common = self.common()
        if any(p.record == self.index for p in self.problems):
            return []
        items: list[FeedbackIn] = []
        for fmap in self.mapping.fields:
            item = self.feedback(common, fmap, items[0] if items else None)
            if item is not None:
                items.append(item)
        if not items and not any(p.record == self.index for p in self.problems):
            paths = ", ".join(f.path for f in self.mapping.fields)
            self.problem("fields", f"none of the mapped fields is present (looked for: {paths})")
        return items


def _message(err: Any) -> str:
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def map_payload(
    payload: Any, mapping: SourceMapping, *, source_type: str, source_name: str, max_records: int
) -> Mapped:
    """Every feedback record in the payload, or InvalidInput listing each problem (and nothing mapped)."""
    problems: list[Problem] = []
    records = extract_records(payload, mapping, problems)
    if len(records) > max_records:
        raise PayloadTooLarge(f"{len(records)} records in one delivery; the limit is {max_records}. Split the batch.")
    mapped = Mapped(records=len(records))
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            problems.append(Problem(index, "record", mapping.items_path or "", "a record must be a JSON object"))
            continue
        base = {"source_type": source_type, "source_name": source_name}
        for item in _RecordMapper(mapping, index, record, problems, base).run():
            mapped.items.append(item)
            mapped.origins.append(index)
    raise_problems(problems, total=len(records))
    if not records:
        raise InvalidInput("The payload holds no records; nothing was stored.")
    return mapped


def raise_problems(problems: list[Problem], *, total: int) -> None:
    """Raise one InvalidInput naming the first problem and listing up to MAX_LISTED_PROBLEMS of them."""
    if not problems:
        return
    first = problems[0]
    bad = len({p.record for p in problems})
    where = f"path {first.path!r}" if first.path else first.target
    raise InvalidInput(
        f"{bad} of {total} records could not be mapped; nothing was stored. "
        f"First: record {first.record}, {where}: {first.msg}",
        errors=[p.as_error() for p in problems[:MAX_LISTED_PROBLEMS]],
    )
