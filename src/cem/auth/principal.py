"""Who is calling: a user through a web session, an API token, or the CLI/system."""

from __future__ import annotations

from dataclasses import dataclass, field

from cem.auth.permissions import Permission, permissions_for


@dataclass(frozen=True)
class Principal:
    workspace_id: int
    role: str
    actor_type: str  # user | token | cli | system | webhook
    actor_id: int | None
    label: str
    permissions: frozenset[Permission] = field(default_factory=frozenset)
    csrf_token: str | None = None  # set for cookie sessions: unsafe requests must echo it

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


def system_principal(workspace_id: int, label: str = "cli", actor_type: str = "cli") -> Principal:
    """The principal for CLI commands and background jobs: full rights in one workspace."""
    return Principal(
        workspace_id=workspace_id,
        role="admin",
        actor_type=actor_type,
        actor_id=None,
        label=label,
        permissions=permissions_for("admin"),
    )
