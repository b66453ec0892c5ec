"""Setting up the closed loop in the browser: the alert rule editor (condition rows, no JSON) with its "test on the
last 30 days" preview, teams, and SLA policies with their business-hours calendars.

Every form works without JavaScript: the editor's "add condition", "add group" and "remove" buttons post the form and
get it back changed; "Test on the last 30 days" posts it and gets the same page with the preview below. The pages
call the services the JSON API calls (cem.cases.rules, teams, policies), so both refuse the same things.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from cem.admin import service as admin_service
from cem.api.deps import get_db
from cem.auth.principal import Principal
from cem.cases import facts, rule_form, rules, teams
from cem.cases.conditions import Group
from cem.cases.models import AlertRule
from cem.cases.schemas import AlertRuleIn, OpenCaseAction, PreviewIn, RuleActions, TeamIn, TeamUpdate
from cem.cases.web_setup_slas import PageLoop
from cem.cases.web_setup_slas import router as slas_router
from cem.errors import CEMError
from cem.schemas import Id
from cem.text.redaction import masker_for
from cem.web.deps import render
from cem.web.forms import see_other

PRIORITIES = ("low", "normal", "high", "urgent")
PREVIEW_ROWS = 20

router = APIRouter()
router.include_router(slas_router)


@dataclass
class RuleEditor:
    """The editor's whole form as typed, so a refused save shows it again unchanged."""

    name: str = ""
    description: str = ""
    active: bool = True
    conditions: rule_form.ConditionForm = field(default_factory=rule_form.ConditionForm)
    open_case: bool = True
    priority: str = "normal"
    team_id: str = ""
    owner_id: str = ""
    emails: str = ""
    dedupe_hours: str = "168"


@dataclass
class EditorErrors:
    fields: dict[str, str] = field(default_factory=dict)  # name | actions | emails | dedupe -> message
    conditions: rule_form.Problems = field(default_factory=rule_form.Problems)

    def __bool__(self) -> bool:
        return bool(self.fields or self.conditions)

    def all(self) -> list[str]:
        return [*self.conditions.all(), *self.fields.values()]


def _editor_from_rule(rule: AlertRule) -> tuple[RuleEditor, bool]:
    """The editor filled from a stored rule; False when its condition is too deep for the rows (read-only)."""
    conditions = rule_form.from_condition(rule.condition)
    open_case = rule.actions.get("open_case")
    editor = RuleEditor(
        name=rule.name,
        description=rule.description,
        active=rule.active,
        conditions=conditions or rule_form.ConditionForm(),
        open_case=open_case is not None,
        priority=(open_case or {}).get("priority", "normal"),
        team_id=str((open_case or {}).get("team_id") or ""),
        owner_id=str((open_case or {}).get("owner_id") or ""),
        emails=", ".join(rule.actions.get("email", [])),
        dedupe_hours=str(rule.dedupe_window_hours),
    )
    return editor, conditions is not None


def _editor_from_form(data: dict[str, Any]) -> RuleEditor:
    return RuleEditor(
        name=str(data.get("name", "")).strip(),
        description=str(data.get("description", "")).strip(),
        active=data.get("active") == "on",
        conditions=rule_form.parse(data),
        open_case=data.get("open_case") == "on",
        priority=str(data.get("priority", "normal")),
        team_id=str(data.get("team_id", "")),
        owner_id=str(data.get("owner_id", "")),
        emails=str(data.get("emails", "")).strip(),
        dedupe_hours=str(data.get("dedupe_hours", "")).strip(),
    )


def _rule_in(editor: RuleEditor, fixed: Group | None = None) -> tuple[AlertRuleIn | None, EditorErrors]:
    """The API's body built from the form (with `fixed` as the condition when the rows cannot show it), or every
    problem located at its row or field."""
    errors = EditorErrors()
    condition, errors.conditions = (fixed, rule_form.Problems()) if fixed else rule_form.to_condition(editor.conditions)
    if not editor.name:
        errors.fields["name"] = "Name: give the rule a name."
    elif len(editor.name) > 200:
        errors.fields["name"] = "Name: at most 200 characters."
    hours = int(editor.dedupe_hours) if editor.dedupe_hours.isdigit() else 0
    if not 1 <= hours <= 24 * 365:
        errors.fields["dedupe"] = "De-duplication window: enter whole hours between 1 and 8760."
    emails = [e for e in re.split(r"[\s,;]+", editor.emails) if e]
    actions = None
    try:
        open_case = None
        if editor.open_case:
            open_case = OpenCaseAction(
                priority=editor.priority if editor.priority in PRIORITIES else "normal",
                team_id=int(editor.team_id) if editor.team_id.isdigit() else None,
                owner_id=int(editor.owner_id) if editor.owner_id.isdigit() else None,
            )
        actions = RuleActions(open_case=open_case, email=emails)
    except ValidationError as exc:
        bad = [emails[e["loc"][1]] for e in exc.errors() if len(e["loc"]) > 1 and isinstance(e["loc"][1], int)]
        listed = ", ".join(f"“{b}”" for b in bad) or "the list"
        errors.fields["emails"] = f"Email addresses: {listed} is not a valid email address (at most 20 addresses)."
    if errors or condition is None or actions is None:
        return None, errors
    rule_in = AlertRuleIn(
        name=editor.name,
        description=editor.description[:2000],
        active=editor.active,
        condition=condition,
        actions=actions,
        dedupe_window_hours=hours,
    )
    return rule_in, errors


def _people(session: Session, workspace_id: int) -> dict[str, Any]:
    """The choices of the case action: the workspace's teams and users."""
    return {
        "teams": teams.list_teams(session, workspace_id=workspace_id),
        "users": [u for u, _ in admin_service.list_members(session, workspace_id=workspace_id)],
    }


def _preview(session: Session, principal: Principal, condition: Any) -> dict[str, Any]:
    """The preview with each hit's answers (score and text, personal data masked for roles without pii:read)."""
    result = rules.preview(
        session, workspace_id=principal.workspace_id, query=PreviewIn(condition=condition, limit=PREVIEW_ROWS)
    )
    keys = [(h.source_type, h.source_name, h.submission_id) for h in result.first]
    found = {
        (s.source_type, s.source_name, s.submission_id): s
        for s in facts.submissions(session, workspace_id=principal.workspace_id, keys=keys)
    }
    masker = masker_for(session, principal)

    def shown(value: Any) -> str:
        text = "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
        return (masker.text(text) if masker else text) or ""

    hits = []
    for hit in result.first:
        submission = found.get((hit.source_type, hit.source_name, hit.submission_id))
        records = submission.records if submission else []
        hits.append(
            {
                "hit": hit,
                "scores": [f"{r.field_type} {r.value_number:g}" for r in records if r.value_number is not None],
                "texts": [shown(r.value_text) for r in records if r.value_text],
                "reasons": [
                    m["condition"] if m["value"] is None else f"{m['condition']} (found {shown(m['value'])})"
                    for m in hit.reason
                ],
            }
        )
    return {"result": result, "hits": hits}


def _editor_page(
    request: Request,
    principal: Principal,
    editor: RuleEditor,
    *,
    rule: AlertRule | None = None,
    editable: bool = True,
    errors: EditorErrors | None = None,
    status: int = 200,
    **context: Any,
) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        people = _people(session, principal.workspace_id)
        firings = rules.firing_stats(session, principal.workspace_id).get(rule.id, (0, None)) if rule else (0, None)
    advanced = orjson.dumps(
        {"condition": rule.condition, "actions": rule.actions} if rule else {}, option=orjson.OPT_INDENT_2
    ).decode()
    response = render(
        request,
        "loop/rule_editor.html",
        principal,
        editor=editor,
        rule=rule,
        editable=editable,
        errors=errors or EditorErrors(),
        fields=rule_form.FIELDS,
        ops=rule_form.OPS,
        field_ops=rule_form.FIELD_OPS,
        priorities=PRIORITIES,
        firings=firings,
        summary=rule_form.summary(rule.condition) if rule else "",
        advanced=advanced,
        **people,
        **context,
    )
    response.status_code = status
    return response


def _actions_words(actions: dict[str, Any], people: dict[str, Any]) -> list[str]:
    names = {t.id: t.name for t in people["teams"]}
    emails = {u.id: u.email for u in people["users"]}
    words = []
    open_case = actions.get("open_case")
    if open_case:
        text = f"open a {open_case.get('priority', 'normal')} case"
        if open_case.get("team_id"):
            text += f" for {names.get(open_case['team_id'], 'a deleted team')}"
        if open_case.get("owner_id"):
            text += f", owner {emails.get(open_case['owner_id'], 'a former member')}"
        words.append(text)
    if actions.get("email"):
        words.append("email " + ", ".join(actions["email"]))
    return words or ["log the firing only"]


@router.get("/alert-rules")
def rules_page(request: Request, principal: PageLoop) -> Response:
    """Every rule: name, active, its condition and actions in words, last fired and how often."""
    with get_db(request).unit_of_work(readonly=True) as session:
        found = rules.list_rules(session, workspace_id=principal.workspace_id)
        stats = rules.firing_stats(session, principal.workspace_id)
        people = _people(session, principal.workspace_id)
    listed = [
        {
            "rule": r,
            "summary": rule_form.summary(r.condition),
            "actions": _actions_words(r.actions, people),
            "fired": stats.get(r.id, (0, None)),
        }
        for r in found
    ]
    return render(request, "loop/rules.html", principal, rules=listed, deleted=request.query_params.get("deleted"))


@router.get("/alert-rules/new")
def new_rule_page(request: Request, principal: PageLoop) -> Response:
    return _editor_page(request, principal, RuleEditor())


@router.post("/alert-rules/new")
async def new_rule_post(request: Request, principal: PageLoop) -> Response:
    """The editor's buttons on a rule not saved yet: add/remove rows and groups, test, save."""
    return _handle_editor(request, principal, dict(await request.form()), None)


@router.get("/alert-rules/{rule_id}")
def rule_page(request: Request, principal: PageLoop, rule_id: Id) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        rule = rules.get_rule(session, workspace_id=principal.workspace_id, rule_id=rule_id)
        session.expunge(rule)
    editor, editable = _editor_from_rule(rule)
    return _editor_page(request, principal, editor, rule=rule, editable=editable)


@router.post("/alert-rules/{rule_id}")
async def rule_post(request: Request, principal: PageLoop, rule_id: Id) -> Response:
    return _handle_editor(request, principal, dict(await request.form()), rule_id)


@router.post("/alert-rules/{rule_id}/delete")
def delete_rule(request: Request, principal: PageLoop, rule_id: Id) -> Response:
    with get_db(request).unit_of_work() as session:
        rules.delete_rule(session, actor=principal, rule_id=rule_id)
    return see_other("/alert-rules?deleted=1")


def _handle_editor(request: Request, principal: Principal, data: dict[str, Any], rule_id: int | None) -> Response:
    editor = _editor_from_form(data)
    command = str(data.get("do", "save"))
    rule, fixed = None, None
    if rule_id is not None:
        with get_db(request).unit_of_work(readonly=True) as session:
            rule = rules.get_rule(session, workspace_id=principal.workspace_id, rule_id=rule_id)
            session.expunge(rule)
        if rule_form.from_condition(rule.condition) is None:
            # A tree deeper than the rows: it stays as stored (changed through the API); the rest is editable.
            fixed = rules.condition_of(rule)
    editable = fixed is None
    if command not in ("save", "preview"):
        rule_form.edit(editor.conditions, command)
        return _editor_page(request, principal, editor, rule=rule, editable=editable)
    if command == "preview":
        condition, problems = (fixed, rule_form.Problems()) if fixed else rule_form.to_condition(editor.conditions)
        if condition is None:
            errors = EditorErrors(conditions=problems)
            return _editor_page(request, principal, editor, rule=rule, errors=errors, status=422)
        with get_db(request).unit_of_work(readonly=True) as session:
            preview = _preview(session, principal, condition)
        return _editor_page(request, principal, editor, rule=rule, editable=editable, preview=preview)
    rule_in, errors = _rule_in(editor, fixed)
    if rule_in is None:
        return _editor_page(request, principal, editor, rule=rule, editable=editable, errors=errors, status=422)
    try:
        with get_db(request).unit_of_work() as session:
            saved = rules.save_rule(session, actor=principal, rule_in=rule_in, rule_id=rule_id)
            stored = rules.get_rule(session, workspace_id=principal.workspace_id, rule_id=saved.id)
            session.expunge(stored)
    except CEMError as exc:
        where = "actions" if any("actions" in str(e.get("loc", "")) for e in exc.errors) else "name"
        errors.fields[where] = exc.detail
        return _editor_page(
            request, principal, editor, rule=rule, editable=editable, errors=errors, status=exc.status_code
        )
    editor, editable = _editor_from_rule(stored)
    notice = "Rule saved." if rule_id else "Rule created."
    status = 200 if rule_id else 201
    return _editor_page(
        request,
        principal,
        editor,
        rule=stored,
        editable=editable,
        notice=notice,
        warnings=saved.warnings,
        status=status,
    )


# -- teams ----------------------------------------------------------------------------------------------------


def _teams_page(request: Request, principal: Principal, *, status: int = 200, **context: Any) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        people = _people(session, principal.workspace_id)
    emails = {u.id: u.email for u in people["users"]}
    response = render(request, "loop/teams.html", principal, emails=emails, **people, **context)
    response.status_code = status
    return response


def _team_fields(data: Any) -> dict[str, Any]:
    lead = str(data.get("lead_user_id", ""))
    return {
        "name": str(data.get("name", "")).strip(),
        "lead_user_id": int(lead) if lead.isdigit() else None,
        "member_ids": [int(m) for m in data.getlist("member_ids") if str(m).isdigit()],
    }


@router.get("/teams")
def teams_page(request: Request, principal: PageLoop) -> Response:
    """Every team with its lead and members; forms to add one, rename, change lead and members."""
    return _teams_page(request, principal)


@router.post("/teams")
async def create_team(request: Request, principal: PageLoop) -> Response:
    return _save_team(request, principal, await request.form(), None)


@router.post("/teams/{team_id}")
async def update_team(request: Request, principal: PageLoop, team_id: Id) -> Response:
    return _save_team(request, principal, await request.form(), team_id)


def _save_team(request: Request, principal: Principal, data: Any, team_id: int | None) -> Response:
    """Create (team_id None) or change a team; a refusal shows the page again with the reason."""
    fields = _team_fields(data)
    try:
        with get_db(request).unit_of_work() as session:
            if team_id is None:
                teams.create_team(session, actor=principal, team_in=TeamIn.model_validate(fields))
            else:
                update = TeamUpdate.model_validate(fields)
                teams.update_team(session, actor=principal, team_id=team_id, update=update)
    except ValidationError:
        return _teams_page(request, principal, status=422, error="Name: give the team a name (at most 200 characters).")
    except CEMError as exc:
        if exc.status_code == 404:
            raise
        return _teams_page(request, principal, status=exc.status_code, error=exc.detail)
    return see_other("/teams")


@router.post("/teams/{team_id}/delete")
def delete_team(request: Request, principal: PageLoop, team_id: Id) -> Response:
    with get_db(request).unit_of_work() as session:
        teams.delete_team(session, actor=principal, team_id=team_id)
    return see_other("/teams")
