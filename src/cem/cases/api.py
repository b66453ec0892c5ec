"""Alert rules, teams and cases over JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from cem.api.body import StrictJsonRoute
from cem.api.deps import CaseWorker, DbSession, LoopManager, Reader
from cem.cases import policies, rules, schemas, service, teams
from cem.schemas import Id

router = APIRouter(route_class=StrictJsonRoute)

# -- alert rules ----------------------------------------------------------------------------------------------


@router.get(
    "/alert-rules", response_model=list[schemas.AlertRuleRead], tags=["alert rules"], summary="List alert rules"
)
def list_rules(session: DbSession, actor: Reader) -> list[schemas.AlertRuleRead]:
    return [schemas.AlertRuleRead.model_validate(r) for r in rules.list_rules(session, workspace_id=actor.workspace_id)]


@router.post(
    "/alert-rules",
    response_model=schemas.RuleSaved,
    status_code=201,
    tags=["alert rules"],
    summary="Create an alert rule (warns when it would fire on nearly every submission)",
)
def create_rule(session: DbSession, actor: LoopManager, rule_in: schemas.AlertRuleIn) -> schemas.RuleSaved:
    return rules.save_rule(session, actor=actor, rule_in=rule_in)


@router.post(
    "/alert-rules/preview",
    response_model=schemas.PreviewRead,
    tags=["alert rules"],
    summary="Test a condition on the last days' feedback: what it would have caught",
)
def preview_rule(session: DbSession, actor: LoopManager, query: schemas.PreviewIn) -> schemas.PreviewRead:
    return rules.preview(session, workspace_id=actor.workspace_id, query=query)


@router.get(
    "/alert-rules/{rule_id}", response_model=schemas.AlertRuleRead, tags=["alert rules"], summary="Get an alert rule"
)
def get_rule(session: DbSession, actor: Reader, rule_id: Id) -> schemas.AlertRuleRead:
    return schemas.AlertRuleRead.model_validate(
        rules.get_rule(session, workspace_id=actor.workspace_id, rule_id=rule_id)
    )


@router.put(
    "/alert-rules/{rule_id}", response_model=schemas.RuleSaved, tags=["alert rules"], summary="Replace an alert rule"
)
def replace_rule(
    session: DbSession, actor: LoopManager, rule_id: Id, rule_in: schemas.AlertRuleIn
) -> schemas.RuleSaved:
    return rules.save_rule(session, actor=actor, rule_in=rule_in, rule_id=rule_id)


@router.delete("/alert-rules/{rule_id}", status_code=204, tags=["alert rules"], summary="Delete an alert rule")
def delete_rule(session: DbSession, actor: LoopManager, rule_id: Id) -> Response:
    rules.delete_rule(session, actor=actor, rule_id=rule_id)
    return Response(status_code=204)


@router.get(
    "/alert-rules/{rule_id}/firings",
    response_model=list[schemas.FiringRead],
    tags=["alert rules"],
    summary="The rule's latest firings, each with the conditions that matched and their values",
)
def list_firings(
    session: DbSession, actor: Reader, rule_id: Id, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[schemas.FiringRead]:
    return rules.list_firings(session, workspace_id=actor.workspace_id, rule_id=rule_id, limit=limit)


# -- teams ----------------------------------------------------------------------------------------------------


@router.get("/teams", response_model=list[schemas.TeamRead], tags=["teams"], summary="List teams")
def list_teams(session: DbSession, actor: Reader) -> list[schemas.TeamRead]:
    return teams.list_teams(session, workspace_id=actor.workspace_id)


@router.post("/teams", response_model=schemas.TeamRead, status_code=201, tags=["teams"], summary="Create a team")
def create_team(session: DbSession, actor: LoopManager, team_in: schemas.TeamIn) -> schemas.TeamRead:
    return teams.read_team(session, teams.create_team(session, actor=actor, team_in=team_in))


@router.get("/teams/{team_id}", response_model=schemas.TeamRead, tags=["teams"], summary="Get a team")
def get_team(session: DbSession, actor: Reader, team_id: Id) -> schemas.TeamRead:
    return teams.read_team(session, teams.get_team(session, workspace_id=actor.workspace_id, team_id=team_id))


@router.patch(
    "/teams/{team_id}", response_model=schemas.TeamRead, tags=["teams"], summary="Rename a team, change lead or members"
)
def update_team(session: DbSession, actor: LoopManager, team_id: Id, update: schemas.TeamUpdate) -> schemas.TeamRead:
    return teams.read_team(session, teams.update_team(session, actor=actor, team_id=team_id, update=update))


@router.delete(
    "/teams/{team_id}", status_code=204, tags=["teams"], summary="Delete a team (its cases keep their owner)"
)
def delete_team(session: DbSession, actor: LoopManager, team_id: Id) -> Response:
    teams.delete_team(session, actor=actor, team_id=team_id)
    return Response(status_code=204)


# -- cases ----------------------------------------------------------------------------------------------------

StatusFilter = Annotated[list[schemas.Status] | None, Query()]


@router.get(
    "/cases",
    response_model=schemas.CasesPage,
    tags=["cases"],
    summary="List cases (agents: their own and their teams')",
)
def list_cases(
    session: DbSession,
    actor: CaseWorker,
    status: StatusFilter = None,
    team_id: Id | None = None,
    owner_id: Id | None = None,
    priority: schemas.Priority | None = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> schemas.CasesPage:
    page = service.list_cases(
        session,
        actor=actor,
        status=list(status) if status else None,
        team_id=team_id,
        owner_id=owner_id,
        priority=priority,
        overdue=overdue,
        limit=limit,
        cursor=cursor,
    )
    return schemas.CasesPage(items=page.items, next_cursor=page.next_cursor)


@router.post(
    "/cases", response_model=schemas.CaseDetail, status_code=201, tags=["cases"], summary="Open a case by hand"
)
def create_case(session: DbSession, actor: CaseWorker, case_in: schemas.CaseIn) -> schemas.CaseDetail:
    case = service.create_case(session, actor=actor, case_in=case_in)
    return service.detail(session, case)


@router.post(
    "/cases/bulk-assign", response_model=schemas.BulkAssignRead, tags=["cases"], summary="Assign many cases at once"
)
def bulk_assign(session: DbSession, actor: CaseWorker, body: schemas.BulkAssignIn) -> schemas.BulkAssignRead:
    assignment = schemas.AssignIn.model_validate(body.model_dump(include=body.model_fields_set - {"case_ids"}))
    return schemas.BulkAssignRead(
        updated=service.bulk_assign(session, actor=actor, case_ids=body.case_ids, assignment=assignment)
    )


@router.get("/cases/{case_id}", response_model=schemas.CaseDetail, tags=["cases"], summary="A case with its timeline")
def get_case(session: DbSession, actor: CaseWorker, case_id: Id) -> schemas.CaseDetail:
    return service.detail(session, service.get_case(session, actor=actor, case_id=case_id))


@router.patch(
    "/cases/{case_id}",
    response_model=schemas.CaseDetail,
    tags=["cases"],
    summary="Change status, priority, tags or title",
)
def update_case(session: DbSession, actor: CaseWorker, case_id: Id, update: schemas.CaseUpdate) -> schemas.CaseDetail:
    return service.detail(session, service.update_case(session, actor=actor, case_id=case_id, update=update))


@router.post(
    "/cases/{case_id}/assign", response_model=schemas.CaseDetail, tags=["cases"], summary="Assign an owner and/or team"
)
def assign_case(session: DbSession, actor: CaseWorker, case_id: Id, assignment: schemas.AssignIn) -> schemas.CaseDetail:
    return service.detail(session, service.assign(session, actor=actor, case_id=case_id, assignment=assignment))


@router.post(
    "/cases/{case_id}/notes",
    response_model=schemas.CaseDetail,
    status_code=201,
    tags=["cases"],
    summary="Add an internal note",
)
def add_note(session: DbSession, actor: CaseWorker, case_id: Id, note: schemas.NoteIn) -> schemas.CaseDetail:
    return service.detail(session, service.add_note(session, actor=actor, case_id=case_id, note=note))


@router.post(
    "/cases/{case_id}/replies",
    response_model=schemas.CaseDetail,
    status_code=201,
    tags=["cases"],
    summary="Reply to the customer by email (counts as the case's response)",
)
def add_reply(session: DbSession, actor: CaseWorker, case_id: Id, reply: schemas.ReplyIn) -> schemas.CaseDetail:
    return service.detail(session, service.add_reply(session, actor=actor, case_id=case_id, reply=reply))


@router.post(
    "/cases/{case_id}/close", response_model=schemas.CaseDetail, tags=["cases"], summary="Close a case with its outcome"
)
def close_case(session: DbSession, actor: CaseWorker, case_id: Id, outcome: schemas.CloseIn) -> schemas.CaseDetail:
    return service.detail(session, service.close(session, actor=actor, case_id=case_id, outcome=outcome))


# -- SLA policies and business-hours calendars ---------------------------------------------------------------


@router.get(
    "/business-calendars",
    response_model=list[schemas.CalendarRead],
    tags=["slas"],
    summary="List business-hours calendars",
)
def list_calendars(session: DbSession, actor: Reader) -> list[schemas.CalendarRead]:
    return [
        schemas.CalendarRead.model_validate(c)
        for c in policies.list_calendars(session, workspace_id=actor.workspace_id)
    ]


@router.post(
    "/business-calendars",
    response_model=schemas.CalendarRead,
    status_code=201,
    tags=["slas"],
    summary="Create a business-hours calendar",
)
def create_calendar(session: DbSession, actor: LoopManager, calendar_in: schemas.CalendarIn) -> schemas.CalendarRead:
    return schemas.CalendarRead.model_validate(policies.save_calendar(session, actor=actor, calendar_in=calendar_in))


@router.get(
    "/business-calendars/{calendar_id}", response_model=schemas.CalendarRead, tags=["slas"], summary="Get a calendar"
)
def get_calendar(session: DbSession, actor: Reader, calendar_id: Id) -> schemas.CalendarRead:
    found = policies.get_calendar(session, workspace_id=actor.workspace_id, calendar_id=calendar_id)
    return schemas.CalendarRead.model_validate(found)


@router.put(
    "/business-calendars/{calendar_id}",
    response_model=schemas.CalendarRead,
    tags=["slas"],
    summary="Replace a calendar",
)
def replace_calendar(
    session: DbSession, actor: LoopManager, calendar_id: Id, calendar_in: schemas.CalendarIn
) -> schemas.CalendarRead:
    saved = policies.save_calendar(session, actor=actor, calendar_in=calendar_in, calendar_id=calendar_id)
    return schemas.CalendarRead.model_validate(saved)


@router.delete("/business-calendars/{calendar_id}", status_code=204, tags=["slas"], summary="Delete an unused calendar")
def delete_calendar(session: DbSession, actor: LoopManager, calendar_id: Id) -> Response:
    policies.delete_calendar(session, actor=actor, calendar_id=calendar_id)
    return Response(status_code=204)


@router.get(
    "/slas",
    response_model=list[schemas.SlaPolicyRead],
    tags=["slas"],
    summary="List SLA policies in the order they are tried",
)
def list_policies(session: DbSession, actor: Reader) -> list[schemas.SlaPolicyRead]:
    return [
        schemas.SlaPolicyRead.model_validate(p)
        for p in policies.list_policies(session, workspace_id=actor.workspace_id)
    ]


@router.post(
    "/slas", response_model=schemas.SlaPolicyRead, status_code=201, tags=["slas"], summary="Create an SLA policy"
)
def create_policy(session: DbSession, actor: LoopManager, policy_in: schemas.SlaPolicyIn) -> schemas.SlaPolicyRead:
    return schemas.SlaPolicyRead.model_validate(policies.save_policy(session, actor=actor, policy_in=policy_in))


@router.get("/slas/{policy_id}", response_model=schemas.SlaPolicyRead, tags=["slas"], summary="Get an SLA policy")
def get_policy(session: DbSession, actor: Reader, policy_id: Id) -> schemas.SlaPolicyRead:
    return schemas.SlaPolicyRead.model_validate(
        policies.get_policy(session, workspace_id=actor.workspace_id, policy_id=policy_id)
    )


@router.put("/slas/{policy_id}", response_model=schemas.SlaPolicyRead, tags=["slas"], summary="Replace an SLA policy")
def replace_policy(
    session: DbSession, actor: LoopManager, policy_id: Id, policy_in: schemas.SlaPolicyIn
) -> schemas.SlaPolicyRead:
    saved = policies.save_policy(session, actor=actor, policy_in=policy_in, policy_id=policy_id)
    return schemas.SlaPolicyRead.model_validate(saved)


@router.delete(
    "/slas/{policy_id}", status_code=204, tags=["slas"], summary="Delete an SLA policy (its cases keep their due times)"
)
def delete_policy(session: DbSession, actor: LoopManager, policy_id: Id) -> Response:
    policies.delete_policy(session, actor=actor, policy_id=policy_id)
    return Response(status_code=204)
