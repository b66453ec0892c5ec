"""Roles and what each may do. Every API route and page names one permission it requires."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    analyst = "analyst"
    agent = "agent"
    viewer = "viewer"


class Permission(StrEnum):
    read = "data:read"  # customers, events, feedback, journeys, import status
    write = "data:write"  # ingest and edit customers, events, feedback
    journeys = "journeys:manage"  # journeys, stages, touchpoints
    imports = "imports:run"  # CSV imports and saved mappings
    sources = "sources:manage"  # inbound webhook sources and their secrets
    export = "data:export"  # CSV export of feedback
    admin = "admin"  # users, tokens, jobs, audit log
    privacy = "privacy"  # GDPR export and erasure
    surveys = "surveys:manage"  # build, publish, pause and close surveys; send them
    # Personal data inside free text (emails, phones, cards...): without it, feedback text is shown and exported
    # masked. Admin only: analysts study themes and metrics, which masked text serves as well.
    pii = "pii:read"
    dashboards = "dashboards:manage"  # create, edit, share and delete custom dashboards
    # Outbound webhook subscriptions and their delivery log. Admin only: a subscription sends feedback (personal data
    # included) to any URL, so it is a way out of the workspace.
    webhooks = "webhooks:manage"
    # The closed loop: work cases (an agent sees only its own and its team's; analysts and admins see all) ...
    cases = "cases:work"
    # ... and set it up: alert rules, teams, SLA policies and business-hours calendars.
    loop = "loop:manage"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.viewer: frozenset({Permission.read}),
    Role.agent: frozenset({Permission.read, Permission.write, Permission.cases}),
    Role.analyst: frozenset(
        {
            Permission.read,
            Permission.write,
            Permission.journeys,
            Permission.imports,
            Permission.sources,
            Permission.export,
            Permission.surveys,
            Permission.dashboards,
            Permission.cases,
            Permission.loop,
        }
    ),
    Role.admin: frozenset(Permission),
}

ROLE_RANK = {Role.viewer: 0, Role.agent: 1, Role.analyst: 2, Role.admin: 3}


def permissions_for(role: str, scopes: list[str] | None = None) -> frozenset[Permission]:
    """A role's permissions, narrowed to `scopes` when a token lists some."""
    granted = ROLE_PERMISSIONS[Role(role)]
    if scopes:
        granted = granted & frozenset(Permission(s) for s in scopes)
    return granted


def parse_role(value: str) -> Role:
    from cem.errors import InvalidInput

    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(f"Unknown role {value!r}; use one of: {', '.join(r.value for r in Role)}.") from None


def parse_scopes(values: list[str]) -> list[str]:
    from cem.errors import InvalidInput

    known = {p.value for p in Permission}
    unknown = [v for v in values if v not in known]
    if unknown:
        raise InvalidInput(f"Unknown scope(s) {', '.join(unknown)}; use: {', '.join(sorted(known))}.")
    return values
