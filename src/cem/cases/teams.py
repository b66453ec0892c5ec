"""Teams: a name, a lead and members, all users of the workspace; and who may see which cases."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, false, or_, select
from sqlalchemy.orm import Session

from cem.auth import audit
from cem.auth.models import ApiToken, Membership, User
from cem.auth.permissions import Role
from cem.auth.principal import Principal
from cem.cases.models import Case, Team, TeamMember
from cem.cases.schemas import TeamIn, TeamRead, TeamUpdate
from cem.db.unique import flush_unique
from cem.errors import InvalidInput, NotFound


def get_team(session: Session, *, workspace_id: int, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None or team.workspace_id != workspace_id:
        raise NotFound(f"Team {team_id} does not exist.")
    return team


def find_team(session: Session, *, workspace_id: int, ref: str) -> Team:
    """A team by id or by name (the CLI's --team)."""
    if ref.isdigit():
        return get_team(session, workspace_id=workspace_id, team_id=int(ref))
    team = session.scalar(select(Team).where(Team.workspace_id == workspace_id, Team.name == ref))
    if team is None:
        raise NotFound(f"No team is named {ref!r}.")
    return team


def check_members(session: Session, *, workspace_id: int, user_ids: Sequence[int], loc: tuple[str, ...]) -> None:
    """InvalidInput located at `loc` for any user who is not a member of the workspace."""
    found = set(
        session.scalars(
            select(Membership.user_id).where(Membership.workspace_id == workspace_id, Membership.user_id.in_(user_ids))
        )
    )
    missing = [u for u in user_ids if u not in found]
    if missing:
        raise InvalidInput(
            f"User(s) {', '.join(map(str, missing))} are not members of this workspace.",
            errors=[{"loc": [*loc], "msg": f"user {u} is not a member of this workspace"} for u in missing],
        )


def member_ids(session: Session, team_id: int) -> list[int]:
    return list(
        session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team_id).order_by(TeamMember.user_id))
    )


def read_team(session: Session, team: Team) -> TeamRead:
    return TeamRead(id=team.id, name=team.name, lead_user_id=team.lead_user_id, member_ids=member_ids(session, team.id))


def list_teams(session: Session, *, workspace_id: int) -> list[TeamRead]:
    teams = session.scalars(select(Team).where(Team.workspace_id == workspace_id).order_by(Team.name))
    return [read_team(session, t) for t in teams]


def create_team(session: Session, *, actor: Principal, team_in: TeamIn) -> Team:
    _check_people(session, actor.workspace_id, team_in.lead_user_id, team_in.member_ids)
    team = Team(workspace_id=actor.workspace_id, name=team_in.name, lead_user_id=team_in.lead_user_id)
    session.add(team)
    flush_unique(session, f"A team named {team_in.name!r}")
    _set_members(session, team, team_in.member_ids, team_in.lead_user_id)
    audit.record(session, actor, "team.create", entity_type="team", entity_id=team.id)
    return team


def update_team(session: Session, *, actor: Principal, team_id: int, update: TeamUpdate) -> Team:
    team = get_team(session, workspace_id=actor.workspace_id, team_id=team_id)
    given = update.model_fields_set
    lead = update.lead_user_id if "lead_user_id" in given else team.lead_user_id
    members = update.member_ids if update.member_ids is not None else member_ids(session, team.id)
    _check_people(session, actor.workspace_id, lead, members)
    if update.name is not None:
        team.name = update.name
    team.lead_user_id = lead
    flush_unique(session, f"A team named {team.name!r}")
    _set_members(session, team, members, lead)
    audit.record(session, actor, "team.update", entity_type="team", entity_id=team.id)
    return team


def delete_team(session: Session, *, actor: Principal, team_id: int) -> None:
    team = get_team(session, workspace_id=actor.workspace_id, team_id=team_id)
    session.delete(team)
    audit.record(session, actor, "team.delete", entity_type="team", entity_id=team_id)


def _check_people(session: Session, workspace_id: int, lead: int | None, members: Sequence[int]) -> None:
    if lead is not None:
        check_members(session, workspace_id=workspace_id, user_ids=[lead], loc=("lead_user_id",))
    check_members(session, workspace_id=workspace_id, user_ids=list(members), loc=("member_ids",))


def _set_members(session: Session, team: Team, members: Sequence[int], lead: int | None) -> None:
    """The lead always belongs to the team."""
    wanted = set(members) | ({lead} if lead is not None else set())
    session.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
    session.add_all(TeamMember(team_id=team.id, user_id=u) for u in sorted(wanted))
    session.flush()


def user_email(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return session.scalar(select(User.email).where(User.id == user_id, User.is_active.is_(True)))


# -- who sees which cases -------------------------------------------------------------------------------------


def acting_user_id(session: Session, actor: Principal) -> int | None:
    """The person behind the caller: the logged-in user, or the user who owns the API token."""
    if actor.actor_type == "user":
        return actor.actor_id
    if actor.actor_type == "token" and actor.actor_id is not None:
        return session.scalar(select(ApiToken.user_id).where(ApiToken.id == actor.actor_id))
    return None


def team_ids_of(session: Session, *, workspace_id: int, user_id: int) -> list[int]:
    return list(
        session.scalars(
            select(TeamMember.team_id)
            .join(Team, Team.id == TeamMember.team_id)
            .where(TeamMember.user_id == user_id, Team.workspace_id == workspace_id)
        )
    )


def visible_cases(session: Session, actor: Principal) -> ColumnElement[bool]:
    """Which cases of the workspace the caller sees: agents their own and their teams', others all."""
    in_workspace = Case.workspace_id == actor.workspace_id
    if actor.role != Role.agent:
        return in_workspace
    user_id = acting_user_id(session, actor)
    if user_id is None:
        return false()
    teams = team_ids_of(session, workspace_id=actor.workspace_id, user_id=user_id)
    return in_workspace & or_(Case.owner_id == user_id, Case.team_id.in_(teams) if teams else false())


def check_assignment(
    session: Session, *, workspace_id: int, owner_id: int | None, team_id: int | None, loc: tuple[str, ...] = ()
) -> None:
    """The owner must be a member of the workspace and, when a team is named, of that team."""
    if team_id is not None:
        try:
            get_team(session, workspace_id=workspace_id, team_id=team_id)
        except NotFound as exc:
            raise InvalidInput(exc.detail, errors=[{"loc": [*loc, "team_id"], "msg": exc.detail}]) from None
    if owner_id is None:
        return
    check_members(session, workspace_id=workspace_id, user_ids=[owner_id], loc=(*loc, "owner_id"))
    if team_id is not None and owner_id not in member_ids(session, team_id):
        msg = f"User {owner_id} is not a member of team {team_id}."
        raise InvalidInput(msg, errors=[{"loc": [*loc, "owner_id"], "msg": msg}])
