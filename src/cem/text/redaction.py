"""Masking personal data in text shown to roles without PII access (the stored original never changes).

Roles holding `pii:read` (admin) see text as stored; everyone else sees "[EMAIL]", "[PHONE]", ... wherever the
workspace's redaction is on (the default) for the kinds it selects. Used by the feedback API and explorer, the customer
360, the CSV export and semantic search; hidden_spans() also restricts what their full-text filter `q` may match.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.text import settings as text_settings
from cem.text.pii import find_pii, redact

M = TypeVar("M", bound=BaseModel)


class Masker:
    """Replaces the configured kinds of personal data in a text."""

    def __init__(self, kinds: Collection[str]) -> None:
        self.kinds = tuple(kinds)

    def text(self, value: str | None) -> str | None:
        if not value:
            return value
        return redact(value, self.kinds)

    def spans(self, value: str) -> list[tuple[int, int]]:
        """Where the masked personal data lies in a text: (start, end) offsets, end exclusive."""
        return [(m.start, m.end) for m in find_pii(value, self.kinds)] if value else []

    def model(self, item: M, field: str = "value_text") -> M:
        """A copy of a pydantic read model with its text field masked."""
        return item.model_copy(update={field: self.text(getattr(item, field))})


def masker_for(session: Session, principal: Principal) -> Masker | None:
    """The masker for this caller, or None when it may read personal data or the workspace turned redaction off."""
    if principal.can(Permission.pii):
        return None
    config = text_settings.pii_config(session, principal.workspace_id)
    if not config.enabled or not config.kinds:
        return None
    return Masker(config.kinds)


def masked_text(session: Session, principal: Principal, text: str | None) -> str:
    """The text as this caller may see it (personal data masked for roles without PII access); "" for none."""
    masker = masker_for(session, principal)
    return (masker.text(text) if masker else text) or ""


def hidden_spans(session: Session, principal: Principal) -> Callable[[str], list[tuple[int, int]]] | None:
    """What this caller may not see in a text, for full-text search (None when it sees every text whole).

    The feedback search drops records whose words match only inside these spans, so searching for an email, a phone
    number or a piece of one ("jane", "0958") never tells a role without pii:read that a record contains it.
    """
    masker = masker_for(session, principal)
    return masker.spans if masker is not None else None


def mask_reads(session: Session, principal: Principal, items: list[M], field: str = "value_text") -> list[M]:
    """Read models as this caller may see them (unchanged for pii:read or when redaction is off)."""
    masker = masker_for(session, principal)
    return items if masker is None else [masker.model(item, field) for item in items]


def text_view(session: Session, principal: Principal) -> Callable[[str | None], str | None]:
    """A function templates apply to every verbatim they show (identity when nothing is masked)."""
    masker = masker_for(session, principal)
    return masker.text if masker is not None else _same


def _same(value: str | None) -> str | None:
    return value


def export_masker(session: Session, principal: Principal, columns: Sequence[str]) -> Callable[[list[Any]], list[Any]]:
    """Masks the free text ("value" cell) of CSV export rows for callers without pii:read.

    Structured customer columns (customer_email) are identity fields every reader already sees in the customer
    list; redaction is about personal data hidden inside free text.
    """
    masker = masker_for(session, principal)
    if masker is None:
        return _same_row
    value_at = columns.index("value")

    def mask(row: list[Any]) -> list[Any]:
        if isinstance(row[value_at], str):  # numbers (scores) hold no personal data
            row[value_at] = masker.text(row[value_at])
        return row

    return mask


def _same_row(row: list[Any]) -> list[Any]:
    return row


def mask_timeline(session: Session, principal: Principal, timeline: Sequence[Any]) -> None:
    """Mask the texts of customer 360 timeline entries in place (they are built per request, never stored)."""
    masker = masker_for(session, principal)
    if masker is None:
        return
    for item in timeline:
        for entry in item.entries:
            entry.text = masker.text(entry.text) or ""
