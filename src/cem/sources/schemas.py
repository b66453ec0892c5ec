from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from cem import scores
from cem.feedback.row_keys import RowKeySpec, exclusive, one_of
from cem.feedback.schemas import Channel, FieldType, Handler, ScaleMax, ScaleMin, ScaleName, declared
from cem.schemas import ExternalId, InputModel, Key, Name, ReadModel
from cem.sources.paths import parse_path

# CSV files come through `cem import`; every other kind of feedback can be pushed to a webhook.
InboundType = Literal["review", "ticket", "chat", "social", "survey", "api"]
SourceKey = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$"),
]


def _valid_path(value: str) -> str:
    parse_path(value)  # PathSyntaxError is a ValueError: pydantic reports it with the field's location
    return value


JsonPath = Annotated[str, AfterValidator(_valid_path)]
MAX_FIELDS = 200


class FieldMap(InputModel):
    """One feedback field: where its value is, and what it becomes."""

    path: JsonPath
    field_id: ExternalId
    field_type: FieldType
    label: str = Field(default="", max_length=1000)
    # The field's declared scale (cem.scores): numbers or a name; none: the type's default.
    scale_min: ScaleMin = None
    scale_max: ScaleMax = None
    scale: ScaleName = None

    def declared_scale(self) -> scores.Scale | None:
        """The field's declared scale; None: none declared (its type's default applies)."""
        return declared(self.field_type, scale=self.scale, scale_min=self.scale_min, scale_max=self.scale_max)


class CustomerMap(InputModel):
    """Where the customer's identity is; a record without external id and email has no customer."""

    external_id: JsonPath | None = None
    email: JsonPath | None = None
    name: JsonPath | None = None
    attributes: dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], JsonPath] = Field(
        default_factory=dict, max_length=100
    )


# A mapping key given together with one of these (declared before it) is refused: one way to say one thing.
EXCLUSIVE: dict[str, tuple[str, ...]] = {
    "row_key": ("submission_id",),
    "touchpoint": ("touchpoint_path",),
    "touchpoint_value": ("touchpoint_path", "touchpoint"),
    **{f"{name}_value": (name,) for name in ("collected_at", "channel", "agent", "team", "language")},
}


class SourceMapping(InputModel):
    """How one JSON record becomes feedback records; every path is relative to the record.

    Exactly one of `submission_id` (a path) or `row_key` (paths, or "content": the whole record as canonical
    JSON) names a record's feedback; with a row key, a re-sent record updates its feedback and an edited keyed
    value makes a new one. Each context value is a path (`channel`) or a constant (`channel_value`), not both;
    the touchpoint's path is `touchpoint_path` and its constant `touchpoint` (or `touchpoint_value`).
    """

    items_path: JsonPath | None = Field(default=None, description="where the list of records is, for batch payloads")
    submission_id: JsonPath | None = None
    row_key: RowKeySpec[JsonPath] | None = Field(
        default=None, description='paths whose values make the submission id, or "content" (the whole record)'
    )
    collected_at: JsonPath | None = None
    collected_at_value: datetime | None = Field(default=None, description="one ISO date/time for every record")
    customer: CustomerMap | None = None
    touchpoint_path: JsonPath | None = None
    touchpoint: Key | None = Field(default=None, description="a constant touchpoint key for every record")
    touchpoint_value: Key | None = Field(default=None, description="the same as touchpoint (a constant key)")
    channel: JsonPath | None = Field(default=None, description="where the interaction channel is")
    channel_value: Channel | None = Field(default=None, description="one channel for every record, e.g. chat")
    agent: JsonPath | None = Field(default=None, description="where the handling agent is (e.g. assignee)")
    agent_value: Handler | None = None
    team: JsonPath | None = Field(default=None, description="where the handling team is")
    team_value: Handler | None = None
    language: JsonPath | None = None
    language_value: str | None = Field(default=None, max_length=16, description="one language for every record")
    metadata: dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], JsonPath] = Field(
        default_factory=dict, max_length=100
    )
    fields: list[FieldMap] = Field(min_length=1, max_length=MAX_FIELDS)

    @field_validator(*EXCLUSIVE)
    @classmethod
    def _path_or_constant(cls, value: Any, info: ValidationInfo) -> Any:
        return exclusive(value, info.data, str(info.field_name), *EXCLUSIVE[str(info.field_name)])

    @model_validator(mode="after")
    def _consistent(self) -> SourceMapping:
        one_of(self.submission_id, self.row_key, "submission_id (a path)", 'row_key (paths or "content")')
        ids = [f.field_id for f in self.fields]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"field_id must be unique; repeated: {', '.join(duplicates)}")
        return self


class SourceCreate(InputModel):
    key: SourceKey = Field(description="lowercase letters, digits, '-' and '_'; part of the inbound URL")
    name: Name
    source_type: InboundType
    is_active: bool = True
    mapping: SourceMapping


class SourceUpdate(InputModel):
    """Every field optional. `key` and `source_type` are accepted only to explain that they cannot change."""

    name: Name | None = None
    is_active: bool | None = None
    mapping: SourceMapping | None = None
    key: str | None = None
    source_type: str | None = None


class SourceRead(ReadModel):
    id: int
    key: str
    name: str
    source_type: str
    is_active: bool
    mapping: dict[str, Any]
    inbound_url: str = ""
    created_at: datetime
    updated_at: datetime


class SourceWithSecret(SourceRead):
    """Returned on create and rotate: the only time the secret is shown."""

    secret: str = Field(description="shown once; send it as X-CEM-Secret or sign bodies with it")


class HookResult(ReadModel):
    """What one webhook delivery stored."""

    records: int = Field(description="JSON records found in the payload")
    accepted: int = Field(description="feedback values (one per mapped field present)")
    created: int
    updated: int
