"""Credentials to principals: API tokens and web sessions (login, the session cookie's principal, logout).

Every authenticated request resolves its caller here (see cem.auth.caller); managing members and tokens is
the admin domain's (cem.admin.service).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cem.auth.models import ApiToken, Membership, User, WebSession, Workspace
from cem.auth.permissions import ROLE_RANK, Role, permissions_for
from cem.auth.principal import Principal
from cem.auth.security import digest, verify_password_or_dummy
from cem.db.base import utcnow
from cem.errors import Forbidden, Unauthorized


def token_principal(session: Session, secret: str) -> tuple[Principal, datetime | None]:
    """The principal an API token acts as, and when the token expires.

    A token owned by a user acts with its scopes intersected with the owner's current role in the token's
    workspace, read here at every (uncached) use: demoting the owner narrows the token, removing the owner
    from the workspace (or deactivating the account) stops it. Tokens without an owner (created by the CLI)
    keep their declared role.
    """
    row = session.execute(
        select(ApiToken, Membership.role, User.is_active)
        .outerjoin(User, User.id == ApiToken.user_id)
        .outerjoin(
            Membership,
            (Membership.user_id == ApiToken.user_id) & (Membership.workspace_id == ApiToken.workspace_id),
        )
        .where(ApiToken.token_hash == digest(secret))
    ).first()
    now = utcnow()
    if row is None:
        raise Unauthorized("The API token is unknown, revoked or expired.")
    token, owner_role, owner_active = row
    if token.revoked_at is not None or (token.expires_at and token.expires_at < now):
        raise Unauthorized("The API token is unknown, revoked or expired.")
    role, permissions = token.role, permissions_for(token.role, token.scopes)
    if token.user_id is not None:
        if owner_role is None or not owner_active:
            raise Unauthorized("The API token's owner is no longer a member of this workspace.")
        permissions &= permissions_for(owner_role)
        role = min(token.role, owner_role, key=lambda r: ROLE_RANK[Role(r)])
    principal = Principal(
        workspace_id=token.workspace_id,
        role=role,
        actor_type="token",
        actor_id=token.id,
        label=f"token:{token.name}",
        permissions=permissions,
    )
    return principal, token.expires_at


# -- web sessions -------------------------------------------------------------------------------


@dataclass
class LoginResult:
    session_secret: str
    csrf_token: str
    expires_at: datetime


def login(session: Session, *, email: str, password: str, workspace_slug: str | None, hours: int) -> LoginResult:
    """Check credentials and open a server-side session in the user's (first or chosen) workspace."""
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    # The password is checked (against a dummy hash for an unknown email) before anything else is looked at, so
    # a wrong email takes as long to refuse as a wrong password.
    matches = verify_password_or_dummy(user.password_hash if user else None, password)
    if user is None or not matches or not user.is_active:
        raise Unauthorized("Wrong email or password.")
    query = select(Membership).where(Membership.user_id == user.id).order_by(Membership.id)
    if workspace_slug:
        query = query.join(Workspace, Workspace.id == Membership.workspace_id).where(Workspace.slug == workspace_slug)
    membership = session.scalars(query).first()
    if membership is None:
        raise Forbidden("This user has no access to that workspace.")
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(hours=hours)
    session.add(
        WebSession(
            session_hash=digest(secret),
            user_id=user.id,
            workspace_id=membership.workspace_id,
            csrf_token=csrf,
            expires_at=expires,
        )
    )
    user.last_login_at = utcnow()
    return LoginResult(session_secret=secret, csrf_token=csrf, expires_at=expires)


def principal_from_session(session: Session, secret: str) -> Principal:
    row = session.execute(
        select(WebSession, User, Membership.role)
        .join(User, User.id == WebSession.user_id)
        .join(
            Membership,
            (Membership.user_id == WebSession.user_id) & (Membership.workspace_id == WebSession.workspace_id),
        )
        .where(WebSession.session_hash == digest(secret))
    ).first()
    if row is None:
        raise Unauthorized("Please log in.")
    web_session, user, role = row
    if web_session.expires_at < utcnow() or not user.is_active:
        raise Unauthorized("Your session has expired; please log in again.")
    return Principal(
        workspace_id=web_session.workspace_id,
        role=role,
        actor_type="user",
        actor_id=user.id,
        label=user.email,
        permissions=permissions_for(role),
        csrf_token=web_session.csrf_token,
    )


def logout(session: Session, secret: str) -> None:
    session.execute(delete(WebSession).where(WebSession.session_hash == digest(secret)))
