"""Shared pydantic pieces: strict input base, read base, constrained strings, pages."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")

# Every integer a request carries is bounded at the edge, so 2**63 is a 404/422, never an OverflowError from the
# database driver. Both stores keep up to 2**63 - 1 (SQLite INTEGER, PostgreSQL BIGINT), but the OpenAPI document
# holds bounds as doubles, which round that up to 2**63; 2**63 - 1024 is the largest double below it, so the
# documented bound is exactly the enforced one. No row id comes near either.
MAX_INT = 2**63 - 1024
MIN_INT = -(2**63)
Id = Annotated[int, Field(ge=1, le=MAX_INT)]  # a row id (path, query or body)
Int64 = Annotated[int, Field(ge=MIN_INT, le=MAX_INT)]  # any other stored or compared integer
Seed = Annotated[int, Field(ge=0, le=2**31 - 1)]  # a random seed (numpy refuses negative ones)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Key = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=100_000)]


class InputModel(BaseModel):
    """Inputs reject unknown fields so a typo never silently drops data."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    """A keyset page: pass `next_cursor` back as `cursor` for the following page."""

    items: list[T]
    next_cursor: str | None = None
