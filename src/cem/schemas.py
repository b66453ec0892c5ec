"""Shared pydantic pieces: strict input base, read base, constrained strings, pages."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")

# The widest integer both stores keep (SQLite INTEGER, PostgreSQL BIGINT). Every integer a request carries is
# bounded by it at the edge, so 2**63 is a 404/422, never an OverflowError from the database driver.
MAX_INT64 = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_INT64)]  # a row id (path, query or body)
Int64 = Annotated[int, Field(ge=-MAX_INT64 - 1, le=MAX_INT64)]  # any other stored or compared integer
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
