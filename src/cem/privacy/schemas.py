from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints, field_validator

from cem.schemas import InputModel, ReadModel

# Looser than EmailStr on purpose: an erasure must reach addresses an import stored even if odd.
PersonEmail = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
]


class ExportIn(InputModel):
    email: PersonEmail


class EraseIn(InputModel):
    email: PersonEmail
    confirm: bool = Field(default=False, validate_default=True, description="must be true: erasure is permanent")

    @field_validator("confirm")
    @classmethod
    def _confirmed(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError('erasure cannot be undone; send "confirm": true to proceed')
        return value


class ErasureRead(ReadModel):
    deleted: dict[str, int]
    anonymised: dict[str, int]
    total: int


class ExportRead(ReadModel):
    email: str
    workspace_id: int | None
    generated_at: str
    found: bool
    tables: dict[str, list[dict[str, Any]]]
