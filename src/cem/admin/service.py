"""Workspaces, users, memberships and API tokens (logging in with them is cem.auth.credentials)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cem.auth import audit, token_cache
from cem.auth.models import ApiToken, AuditLog, Membership, User, WebSession, Workspace
from cem.auth.permissions import ROLE_RANK, Role, parse_role, parse_scopes, permissions_for
from cem.auth.principal import Principal
from cem.auth.security import (
    check_password_strength,
    digest,
    hash_password,
    new_secret,
)
from cem.db.base import utcnow
from cem.errors import Conflict, Forbidden, InvalidInput, NotFound

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def get_workspace_by_slug(session: Session, slug: str) -> Workspace:
    ws = session.scalars(select(Workspace).where(Workspace.slug == slug)).first()
    if ws is None:
        raise NotFound(f"Workspace {slug!r} does not exist.")
    return ws


def workspace_slugs(session: Session) -> list[str]:
    return list(session.scalars(select(Workspace.slug).order_by(Workspace.slug)))


def get_workspace(session: Session, workspace_id: int) -> Workspace | None:
    return session.get(Workspace, workspace_id)


def ensure_workspace(session: Session, *, slug: str, name: str) -> Workspace:
    """Return the workspace with `slug`, creating it if needed."""
    if not SLUG_RE.match(slug):
        raise InvalidInput("A workspace slug is 1-63 lowercase letters, digits or dashes.")
    ws = session.scalars(select(Workspace).where(Workspace.slug == slug)).first()
    if ws is None:
        ws = Workspace(slug=slug, name=name, settings={})
        session.add(ws)
        session.flush()
    return ws


def create_user(
    session: Session, *, email: str, password: str, name: str = "", workspace: Workspace, role: str
) -> User:
    """Create a user (or add an existing one to the workspace) with a role."""
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise InvalidInput(f"{email!r} is not an email address.")
    parse_role(role)
    user = session.scalars(select(User).where(User.email == email)).first()
    if user is None:
        user = User(email=email, name=name, password_hash="")
        set_password(user, password)
        session.add(user)
        session.flush()
    membership = session.scalars(
        select(Membership).where(Membership.user_id == user.id, Membership.workspace_id == workspace.id)
    ).first()
    if membership is None:
        session.add(Membership(user_id=user.id, workspace_id=workspace.id, role=role))
    elif membership.role != role:
        membership.role = role
        token_cache.invalidate_after_commit(session)  # the user's cached tokens must not keep the old role
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Give `user` a new password, refusing weak ones (the one place a password is set)."""
    check_password_strength(password, user_inputs=[user.email, user.name, *user.email.split("@")])
    user.password_hash = hash_password(password)


def list_members(session: Session, *, workspace_id: int) -> list[tuple[User, str]]:
    rows = session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == workspace_id)
        .order_by(User.email)
    ).all()
    return [(u, r) for u, r in rows]


def add_member(session: Session, *, actor: Principal, email: str, password: str, name: str, role: str) -> User:
    ws = session.get(Workspace, actor.workspace_id)
    assert ws is not None
    user = create_user(session, email=email, password=password, name=name, workspace=ws, role=role)
    audit.record(session, actor, "user.add", entity_type="user", entity_id=user.id, details={"role": role})
    return user


def change_role(session: Session, *, actor: Principal, user_id: int, role: str) -> Membership:
    """Give a member another role; the workspace always keeps at least one admin."""
    parsed = parse_role(role)
    membership = session.scalars(
        select(Membership).where(Membership.user_id == user_id, Membership.workspace_id == actor.workspace_id)
    ).first()
    if membership is None:
        raise NotFound(f"User {user_id} is not a member of this workspace.")
    if membership.role == Role.admin and parsed != Role.admin and _admin_count(session, actor.workspace_id) <= 1:
        raise Conflict("This is the last admin of the workspace; make someone else admin first.")
    membership.role = parsed.value
    token_cache.invalidate_after_commit(session)  # the user's tokens lose (or gain back) rights at once
    audit.record(session, actor, "user.role", entity_type="user", entity_id=user_id, details={"role": parsed.value})
    return membership


def remove_member(session: Session, *, actor: Principal, user_id: int) -> None:
    """Take a user out of the workspace: their sessions there end and their tokens there stop working."""
    membership = session.scalars(
        select(Membership).where(Membership.user_id == user_id, Membership.workspace_id == actor.workspace_id)
    ).first()
    if membership is None:
        raise NotFound(f"User {user_id} is not a member of this workspace.")
    if membership.role == Role.admin and _admin_count(session, actor.workspace_id) <= 1:
        raise Conflict("This is the last admin of the workspace; make someone else admin first.")
    session.delete(membership)
    session.execute(
        delete(WebSession).where(WebSession.user_id == user_id, WebSession.workspace_id == actor.workspace_id)
    )
    # Tokens stop by themselves (a token acts only while its owner is a member); revoking them too keeps them
    # from coming back if the user is ever added again.
    for token in session.scalars(
        select(ApiToken).where(
            ApiToken.user_id == user_id, ApiToken.workspace_id == actor.workspace_id, ApiToken.revoked_at.is_(None)
        )
    ):
        token.revoked_at = utcnow()
    token_cache.invalidate_after_commit(session)
    audit.record(session, actor, "user.remove", entity_type="user", entity_id=user_id)


def _admin_count(session: Session, workspace_id: int) -> int:
    return len(
        session.scalars(
            select(Membership.id).where(Membership.workspace_id == workspace_id, Membership.role == Role.admin)
        ).all()
    )


def list_audit(session: Session, *, workspace_id: int, limit: int = 200, action: str | None = None) -> list[AuditLog]:
    """The workspace's audit log, newest first."""
    stmt = select(AuditLog).where(AuditLog.workspace_id == workspace_id)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    return list(session.scalars(stmt.order_by(AuditLog.id.desc()).limit(limit)))


# -- API tokens ---------------------------------------------------------------------------------


@dataclass
class IssuedToken:
    token: ApiToken
    secret: str  # shown once; only its digest is stored


def create_token(
    session: Session,
    *,
    actor: Principal,
    name: str,
    role: str,
    scopes: list[str] | None = None,
    expires_in_days: int | None = None,
) -> IssuedToken:
    """Issue a token that can do nothing its creator cannot: neither a stronger role nor a wider permission.

    Comparing permissions (not only roles) matters for scoped tokens: an `admin`-scoped admin token may manage
    tokens but must not mint an unscoped admin token holding every permission.
    """
    parsed = parse_role(role)
    parsed_scopes = parse_scopes(scopes or [])
    beyond = permissions_for(parsed, parsed_scopes) - actor.permissions
    if ROLE_RANK[parsed] > ROLE_RANK[Role(actor.role)] or beyond:
        lacking = f" (it would add {', '.join(sorted(p.value for p in beyond))})" if beyond else ""
        raise Forbidden(f"A token cannot have more rights than whoever creates it{lacking}.")
    secret = new_secret("cem")
    token = ApiToken(
        workspace_id=actor.workspace_id,
        user_id=_owner_of(session, actor),
        name=name,
        prefix=secret[:10],
        token_hash=digest(secret),
        role=parsed.value,
        scopes=parsed_scopes,
        expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    session.flush()
    audit.record(session, actor, "token.create", entity_type="api_token", entity_id=token.id)
    return IssuedToken(token=token, secret=secret)


def _owner_of(session: Session, actor: Principal) -> int | None:
    """The user a new token answers to: the acting user, or the owner of the token that creates it.

    Without inheriting the owner, a token minted by a token would belong to nobody and keep its role after
    the person behind it is demoted or removed. None (CLI, system) means the token keeps its declared role.
    """
    if actor.actor_type == "user":
        return actor.actor_id
    if actor.actor_type == "token" and actor.actor_id is not None:
        parent = session.get(ApiToken, actor.actor_id)
        return parent.user_id if parent is not None else None
    return None


def list_tokens(session: Session, *, workspace_id: int) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.workspace_id == workspace_id).order_by(ApiToken.id)))


def revoke_token(session: Session, *, actor: Principal, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.workspace_id != actor.workspace_id:
        raise NotFound(f"Token {token_id} does not exist.")
    token.revoked_at = utcnow()
    token_cache.invalidate_after_commit(session)
    audit.record(session, actor, "token.revoke", entity_type="api_token", entity_id=token.id)
    return token
