"""Who a privacy request is about: the customers and the user account behind one identifier.

A person is named by an email address, a customer external id or a customer id. Customers found by an
external id or id bring their email address along: every customer record with that address (in the
request's scope) and the user account with it belong to the same person.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, Table, func, or_, select, true
from sqlalchemy.orm import Session

from cem.auth.models import Membership, User
from cem.customers.models import Customer
from cem.errors import InvalidInput


@dataclass(frozen=True)
class Identifier:
    """Exactly one of the three ways to name a person."""

    email: str | None = None
    external_id: str | None = None
    customer_id: int | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.email, self.external_id, self.customer_id) if v is not None]
        if len(given) != 1:
            raise InvalidInput("Name the person by exactly one of email, external_id or customer_id.")

    @property
    def kind(self) -> str:
        if self.email is not None:
            return "email"
        return "external_id" if self.external_id is not None else "customer_id"

    def describe(self) -> str:
        value = self.email if self.email is not None else self.external_id
        return f"{self.kind} {value if value is not None else self.customer_id}"


@dataclass(frozen=True)
class Subject:
    """A resolved data subject; `workspace_id=None` means every workspace."""

    identifier: Identifier
    emails: tuple[str, ...]  # lowercased; empty for customers known only by an external id
    workspace_id: int | None
    customer_ids: tuple[int, ...]
    user_id: int | None
    # Random per request: scrubbed mentions become this text, so nothing derived from the email remains.
    placeholder: str

    @property
    def email(self) -> str | None:
        """The person's (first) email address, for reports."""
        return self.emails[0] if self.emails else None

    def scope(self, table: Table) -> ColumnElement[bool]:
        """Rows of `table` within the request's workspace (all rows if unscoped or workspace-free)."""
        if self.workspace_id is None or "workspace_id" not in table.c:
            return true()
        return table.c.workspace_id == self.workspace_id


def normalise_email(email: str) -> str:
    """Emails are stored lowercased by every writer; compare the same way."""
    return email.strip().lower()


def _in_scope(stmt: Select[int], workspace_id: int | None) -> Select[int]:
    return stmt if workspace_id is None else stmt.where(Customer.workspace_id == workspace_id)


def _emails(session: Session, ident: Identifier, workspace_id: int | None) -> tuple[str, ...]:
    """The email addresses the identifier stands for (its own, or those of the customers it names)."""
    if ident.email is not None:
        return (normalise_email(ident.email),)
    seed = select(Customer.email).where(Customer.email.is_not(None))
    if ident.external_id is not None:
        seed = seed.where(Customer.external_id == ident.external_id.strip())
    else:
        seed = seed.where(Customer.id == ident.customer_id)
    seed = seed if workspace_id is None else seed.where(Customer.workspace_id == workspace_id)
    return tuple(sorted({normalise_email(e) for e in session.scalars(seed) if e and e.strip()}))


def _customer_ids(session: Session, ident: Identifier, emails: tuple[str, ...], workspace_id: int | None) -> set[int]:
    named: list[ColumnElement[bool]] = []
    if emails:
        named.append(func.lower(Customer.email).in_(emails))
    if ident.external_id is not None:
        named.append(Customer.external_id == ident.external_id.strip())
    if ident.customer_id is not None:
        named.append(Customer.id == ident.customer_id)
    if not named:
        return set()
    return set(session.scalars(_in_scope(select(Customer.id).where(or_(*named)), workspace_id)))


def _user_id(session: Session, emails: tuple[str, ...], workspace_id: int | None) -> int | None:
    if not emails:
        return None
    user_id = session.scalar(select(User.id).where(func.lower(User.email).in_(emails)).order_by(User.id).limit(1))
    if user_id is not None and workspace_id is not None:
        # A workspace-scoped request only reaches a user account that belongs to that workspace.
        member = session.scalar(
            select(Membership.id).where(Membership.user_id == user_id, Membership.workspace_id == workspace_id)
        )
        user_id = user_id if member is not None else None
    return user_id


def resolve_subject(session: Session, ident: Identifier, *, workspace_id: int | None) -> Subject:
    """Find the customers and the user account (if a member of the scope) the identifier names."""
    emails = _emails(session, ident, workspace_id)
    return Subject(
        identifier=ident,
        emails=emails,
        workspace_id=workspace_id,
        customer_ids=tuple(sorted(_customer_ids(session, ident, emails, workspace_id))),
        user_id=_user_id(session, emails, workspace_id),
        placeholder=f"[erased-{secrets.token_hex(4)}]",
    )
