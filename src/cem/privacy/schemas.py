from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator, model_validator

from cem.schemas import ExternalId, Id, InputModel, ReadModel

# Looser than EmailStr on purpose: an erasure must reach addresses an import stored even if odd.
PersonEmail = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
]
# Ids are 64-bit: a larger number names no customer and is refused, never passed to the database.


class PersonIn(InputModel):
    """A person, named by exactly one of: email, customer external id, customer id."""

    email: PersonEmail | None = None
    external_id: ExternalId | None = None
    customer_id: Id | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PersonIn:
        given = [v for v in (self.email, self.external_id, self.customer_id) if v is not None]
        if len(given) != 1:
            raise ValueError("name the person by exactly one of email, external_id or customer_id")
        return self

    def identifier(self) -> dict[str, Any]:
        """The keyword arguments naming the person for the privacy service."""
        return {"email": self.email, "external_id": self.external_id, "customer_id": self.customer_id}


class ExportIn(PersonIn):
    pass


class EraseIn(PersonIn):
    confirm: bool = Field(default=False, validate_default=True, description="must be true: erasure is permanent")
    redact_mentions: bool = Field(
        default=False, description="also replace mentions of the person in other customers' texts with [redacted]"
    )

    @field_validator("confirm")
    @classmethod
    def _confirmed(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError('erasure cannot be undone; send "confirm": true to proceed')
        return value


class MentionRead(ReadModel):
    """Another customer's record whose text names the person (the excerpt shows the mention as [redacted])."""

    record_id: int
    customer_id: int | None
    field_id: str
    kinds: list[str]
    excerpt: str


class ErasureRead(ReadModel):
    deleted: dict[str, int]
    anonymised: dict[str, int]
    total: int
    mentions: list[MentionRead] = Field(description="other customers' records whose text names the person")
    redacted: int = Field(description="how many of those records had their mentions replaced")


class IdentifierRead(ReadModel):
    kind: str
    value: str


class ExportRead(ReadModel):
    email: str | None
    identifier: IdentifierRead
    workspace_id: int | None
    generated_at: str
    found: bool
    tables: dict[str, list[dict[str, Any]]]
