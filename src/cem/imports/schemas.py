"""Import mappings (per target) and the read models of runs and saved mappings.

A mapping names CSV columns by their header text. Everything is optional except what a target cannot
do without, so a hand-written mapping stays short, e.g. for feedback:

    {"source_name": "shop", "submission_id": "review_id",
     "customer": {"external_id": "customer_id"},
     "fields": [{"column": "score", "field_type": "rating"}, {"column": "comment", "field_type": "text"}]}

A row's context (channel, touchpoint, agent, team, language, collected_at) comes from a column (`channel`) or one
constant for every row (`channel_value`), never both. A file without an id column names its records by a row key
instead of `submission_id`: `"row_key": ["order_id", "review_creation_date"]` hashes those cells, `"row_key":
"content"` every cell of the row (cem.feedback.row_keys). Re-importing the file then updates the same records;
a row whose keyed cells were edited becomes a new record (the old one stays).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from cem import scores
from cem.errors import InvalidInput
from cem.feedback.row_keys import CONTENT, RowKeySpec, exclusive, one_of
from cem.feedback.schemas import Channel, FieldType, Handler, ScaleMax, ScaleMin, ScaleName, SourceType, declared
from cem.schemas import ExternalId, InputModel, Key, Name, ReadModel

# Row context a mapping takes from a column (`channel`) or a constant (`channel_value`).
CONTEXT = ("channel", "touchpoint", "agent", "team", "collected_at", "language")
Target = Literal["feedback", "customers", "events"]
TARGETS: tuple[str, ...] = ("feedback", "customers", "events")
Column = Name  # a header name; stripped, 1-200 characters


class CustomerMap(InputModel):
    """Which columns identify (and describe) the customer of a row."""

    id: Column | None = Field(default=None, description="column holding cem's own customer id")
    external_id: Column | None = None
    email: Column | None = None
    name: Column | None = None
    attributes: dict[str, Column] = Field(default_factory=dict, description="attribute name -> column")
    create: bool = Field(default=True, description="create unknown customers; false reports them as row errors")

    @model_validator(mode="after")
    def _needs_identity(self) -> CustomerMap:
        if not (self.id or self.external_id or self.email):
            raise ValueError("a customer mapping needs an id, external_id or email column")
        return self


class FieldMap(InputModel):
    """One feedback record per row from one column."""

    column: Column
    field_id: ExternalId | None = Field(default=None, description="defaults to the column name")
    field_type: FieldType
    label: str = Field(default="", max_length=1000)
    # The field's declared scale (cem.scores): numbers or a name; none: the type's default.
    scale_min: ScaleMin = None
    scale_max: ScaleMax = None
    scale: ScaleName = None

    @property
    def record_field_id(self) -> str:
        return self.field_id or self.column

    def declared_scale(self) -> scores.Scale | None:
        """The field's declared scale; None: none declared (its type's default applies)."""
        return declared(self.field_type, scale=self.scale, scale_min=self.scale_min, scale_max=self.scale_max)


# A mapping key given together with one of these (declared before it) is refused: one way to say one thing.
EXCLUSIVE: dict[str, tuple[str, ...]] = {
    "row_key": ("submission_id",),
    "touchpoint_key": ("touchpoint", "touchpoint_value"),
    **{f"{name}_value": (name,) for name in CONTEXT},
}


class FeedbackMapping(InputModel):
    """CSV row -> one or more feedback records (one per entry of `fields`).

    Exactly one of `submission_id` (a column) or `row_key` (columns, or "content") names a row's records. Each
    context value is a column (`channel`) or a constant (`channel_value`), not both; `touchpoint_key` is the
    older spelling of `touchpoint_value`.
    """

    source_type: SourceType = "csv"
    source_name: Name = "import"
    submission_id: Column | None = None
    row_key: RowKeySpec[Column] | None = Field(
        default=None, description='columns whose values make the submission id, or "content" (every column)'
    )
    customer: CustomerMap | None = None
    channel: Column | None = Field(default=None, description="column holding the interaction channel")
    channel_value: Channel | None = Field(default=None, description="one channel for every row, e.g. phone")
    touchpoint: Column | None = Field(default=None, description="column holding a touchpoint key")
    touchpoint_value: Key | None = Field(default=None, description="one touchpoint key for every row")
    touchpoint_key: Key | None = Field(default=None, description="one touchpoint key for every row (older name)")
    agent: Column | None = Field(default=None, description="column naming who handled the interaction")
    agent_value: Handler | None = Field(default=None, description="one agent for every row")
    team: Column | None = Field(default=None, description="column naming the team that handled it")
    team_value: Handler | None = Field(default=None, description="one team for every row")
    collected_at: Column | None = None
    collected_at_value: datetime | None = Field(default=None, description="one ISO date/time for every row")
    collected_at_format: str | None = Field(default=None, max_length=100, description="strftime format; ISO if unset")
    language: Column | None = None
    language_value: str | None = Field(default=None, max_length=16, description="one language for every row")
    metadata: list[Column] = Field(default_factory=list, description="columns copied into metadata")
    fields: list[FieldMap] = Field(min_length=1)

    @field_validator(*EXCLUSIVE)
    @classmethod
    def _column_or_constant(cls, value: Any, info: ValidationInfo) -> Any:
        return exclusive(value, info.data, str(info.field_name), *EXCLUSIVE[str(info.field_name)])

    @model_validator(mode="after")
    def _unique_fields(self) -> FeedbackMapping:
        one_of(self.submission_id, self.row_key, "submission_id (a column)", 'row_key (columns or "content")')
        ids = [f.record_field_id for f in self.fields]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"field ids must be unique within a row: {', '.join(dupes)}")
        return self

    @property
    def touchpoint_constant(self) -> str | None:
        return self.touchpoint_value or self.touchpoint_key

    @property
    def content_key(self) -> bool:
        """Whether the submission id is the hash of the whole row."""
        return self.row_key == CONTENT


class CustomersMapping(InputModel):
    """CSV row -> one customer, upserted by external id (or email); attributes are merged."""

    external_id: Column | None = None
    email: Column | None = None
    name: Column | None = None
    attributes: dict[str, Column] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _needs_identity(self) -> CustomersMapping:
        if not (self.external_id or self.email):
            raise ValueError("a customers mapping needs an external_id or email column")
        return self


class EventsMapping(InputModel):
    """CSV row -> one interaction event of a customer."""

    customer: CustomerMap
    type: Column | None = Field(default=None, description="column holding the event type")
    type_value: Key | None = Field(default=None, description="one event type for every row")
    occurred_at: Column
    occurred_at_format: str | None = Field(default=None, max_length=100)
    external_id: Column | None = None
    touchpoint: Column | None = None
    touchpoint_key: Key | None = None
    value: Column | None = None
    properties: list[Column] = Field(default_factory=list)

    @model_validator(mode="after")
    def _needs_type(self) -> EventsMapping:
        if bool(self.type) == bool(self.type_value):
            raise ValueError("give exactly one of type (a column) or type_value (a constant)")
        return self


AnyMapping = FeedbackMapping | CustomersMapping | EventsMapping
MAPPING_MODELS: dict[str, type[AnyMapping]] = {
    "feedback": FeedbackMapping,
    "customers": CustomersMapping,
    "events": EventsMapping,
}


def parse_target(target: str) -> str:
    """The target name, or a clear error naming the allowed ones."""
    if target not in TARGETS:
        raise InvalidInput(f"Unknown import target {target!r}; use one of: {', '.join(TARGETS)}.")
    return target


def parse_mapping(target: str, raw: Any) -> AnyMapping:
    """Validate a mapping for a target; every problem is listed with its JSON path."""
    model = MAPPING_MODELS[parse_target(target)]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = [{"loc": ["mapping", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        first = errors[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"Invalid {target} mapping: {where}: {first['msg']}", errors=errors) from None


def mapped_columns(mapping: AnyMapping) -> list[str]:
    """Every column a mapping reads, in a stable order without repeats."""
    names: list[str] = []
    _collect(mapping.model_dump(), names)
    return list(dict.fromkeys(names))


# Keys whose string values are constants or formats, never column names.
_NOT_COLUMNS = frozenset(
    {
        "source_type",
        "source_name",
        "touchpoint_key",
        "collected_at_format",
        "type_value",
        *(f"{c}_value" for c in CONTEXT),
    }
    | {"occurred_at_format", "field_id", "field_type", "label", "create", "scale"}
)


def _collect(value: Any, out: list[str], key: str = "") -> None:
    if key in _NOT_COLUMNS or (key == "row_key" and value == CONTENT):
        return
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            # attributes map name -> column: the keys are names, the values columns
            _collect(v, out, "" if key == "attributes" else k)
    elif isinstance(value, list):
        for item in value:
            _collect(item, out, key)


class RowError(ReadModel):
    line: int
    column: str
    reason: str
    value: str = ""


class MappingIn(InputModel):
    name: Name
    target: Target = "feedback"
    mapping: dict[str, Any]


class MappingUpdate(InputModel):
    name: Name | None = None
    target: Target | None = None
    mapping: dict[str, Any] | None = None


class MappingRead(ReadModel):
    id: int
    name: str
    target: str
    mapping: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class RunRead(ReadModel):
    id: int
    target: str
    filename: str
    mapping_id: int | None
    mapping: dict[str, Any]
    status: str
    total_rows: int
    processed_rows: int
    ok_rows: int
    error_rows: int
    message: str
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    errors: list[RowError] = Field(default_factory=list, description="the first row errors (at most 100 here)")
    resumable: bool = Field(
        default=False,
        description="interrupted (its process died) and its upload is kept: POST /imports/{id}/resume continues it",
    )

    @field_validator("errors", mode="before")
    @classmethod
    def _first_errors(cls, value: Any) -> Any:
        return value[:100] if isinstance(value, list) else value
