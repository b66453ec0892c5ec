"""Who a privacy request is about: the customers and the user account behind one email address."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, func, select, true
from sqlalchemy.orm import Session

from cem.admin.models import Membership, User
from cem.customers.models import Customer


@dataclass(frozen=True)
class Subject:
    """A resolved data subject; `workspace_id=None` means every workspace."""

    email: str
    workspace_id: int | None
    customer_ids: tuple[int, ...]
    user_id: int | None
    # Random per request: scrubbed mentions become this text, so nothing derived from the email remains.
    placeholder: str

    def scope(self, table: Table) -> ColumnElement[bool]:
        """Rows of `table` within the request's workspace (all rows if unscoped or workspace-free)."""
        if self.workspace_id is None or "workspace_id" not in table.c:
            return true()
        return table.c.workspace_id == self.workspace_id


def normalise_email(email: str) -> str:
    """Emails are stored lowercased by every writer; compare the same way."""
    return email.strip().lower()


def resolve_subject(session: Session, *, email: str, workspace_id: int | None) -> Subject:
    """Find the customers with this email and the user account (if a member of the scope)."""
    email = normalise_email(email)
    customers = select(Customer.id).where(func.lower(Customer.email) == email)
    if workspace_id is not None:
        customers = customers.where(Customer.workspace_id == workspace_id)
    user_id = session.scalar(select(User.id).where(func.lower(User.email) == email))
    if user_id is not None and workspace_id is not None:
        # A workspace-scoped request only reaches a user account that belongs to that workspace.
        member = session.scalar(
            select(Membership.id).where(Membership.user_id == user_id, Membership.workspace_id == workspace_id)
        )
        user_id = user_id if member is not None else None
    return Subject(
        email=email,
        workspace_id=workspace_id,
        customer_ids=tuple(session.scalars(customers.order_by(Customer.id))),
        user_id=user_id,
        placeholder=f"[erased-{secrets.token_hex(4)}]",
    )
