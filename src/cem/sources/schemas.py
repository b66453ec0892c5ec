from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from cem import scores
from cem.feedback.schemas import FieldType, ScaleMax, ScaleMin, ScaleName, declared
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


class SourceMapping(InputModel):
    """How one JSON record becomes feedback records; every path is relative to the record."""

    items_path: JsonPath | None = Field(default=None, description="where the list of records is, for batch payloads")
    submission_id: JsonPath
    collected_at: JsonPath | None = None
    customer: CustomerMap | None = None
    touchpoint_path: JsonPath | None = None
    touchpoint: Key | None = Field(default=None, description="a constant touchpoint key for every record")
    language: JsonPath | None = None
    metadata: dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], JsonPath] = Field(
        default_factory=dict, max_length=100
    )
    fields: list[FieldMap] = Field(min_length=1, max_length=MAX_FIELDS)

    @model_validator(mode="after")
    def _consistent(self) -> SourceMapping:
        if self.touchpoint and self.touchpoint_path:
            raise ValueError("give either touchpoint (a constant key) or touchpoint_path, not both")
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
