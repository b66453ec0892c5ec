"""Case pages: the inbox (mine, my team's queue, all; most urgent first; filters; bulk assign) and the case page
(header, triggering feedback, timeline, every action as a plain form, the customer 360 beside it).

Each action is a form POST followed by a redirect; a refused one shows the page again with the reason next to
the field it concerns and the error's status, and its unit of work is rolled back (nothing half-changed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from cem.api.deps import get_db
from cem.auth.principal import Principal
from cem.cases import case_view, inbox, service
from cem.cases.models import OPEN_STATUSES, PRIORITIES
from cem.cases.schemas import AssignIn, CaseUpdate, CloseIn, NoteIn, ReplyIn
from cem.errors import CEMError
from cem.schemas import Id
from cem.web.deps import PageCases, render
from cem.web.forms import see_other
from cem.web.refusals import FormError, field_errors, refusal_status

router = APIRouter()

STATUSES = ("new", "open", "waiting_on_customer", "resolved", "closed")
# The status filter: "active" (the default) is every open status; "any" is no filter.
STATUS_CHOICES = {"active": OPEN_STATUSES, "any": (), **{s: (s,) for s in STATUSES}}
Choice = Annotated[str, Query(max_length=30)]
RefParam = Annotated[str, Query(max_length=20, pattern=r"^\d*$")]
FormRef = Annotated[str, Form(max_length=20)]  # "" keep as is, "none" clear, or an id
LongText = Annotated[str, Form(max_length=20_000)]
ShortText = Annotated[str, Form(max_length=300)]
DONE = {
    "assigned": "Assignment saved.",
    "updated": "Case updated.",
    "note": "Note added.",
    "reply": "Reply queued to be emailed to the customer.",
    "closed": "Case closed.",
}


def _ref(value: str) -> int | None:
    return int(value) if value.isdigit() and int(value) > 0 else None


def _assignment(owner: str, team: str) -> AssignIn:
    """Only the fields the form changes: "" keeps the current value, "none" clears it, digits name a user/team."""
    given: dict[str, Any] = {}
    for name, value in (("owner_id", owner), ("team_id", team)):
        if value == "none":
            given[name] = None
        elif value:
            given[name] = int(value) if value.isdigit() else value  # a non-number fails validation, located
    return AssignIn.model_validate(given)


# -- the inbox ------------------------------------------------------------------------------------------------


def _filter_from(principal: Principal, params: dict[str, str]) -> tuple[inbox.InboxFilter, list[str]]:
    """The filter the query asks for, and a sentence for each value it does not know (ignored, not guessed)."""
    unknown = []
    choices = {"tab": tuple(inbox.TABS), "status": tuple(STATUS_CHOICES), "priority": PRIORITIES}
    for name, known in choices.items():
        value = params.get(name)
        if value and value not in known:
            unknown.append(f"Unknown {name} {value!r} (use one of: {', '.join(known)}); showing every {name}.")
    tab = params.get("tab") or ""
    return inbox.InboxFilter(
        tab=tab if tab in inbox.TABS else inbox.default_tab(principal),
        status=STATUS_CHOICES.get(params.get("status") or "active", OPEN_STATUSES),
        priority=params.get("priority") if params.get("priority") in PRIORITIES else None,
        team_id=_ref(params.get("team_id", "")),
        owner_id=_ref(params.get("owner_id", "")),
        overdue=params.get("overdue") == "1",
    ), unknown


def _inbox_page(
    request: Request, principal: Principal, params: dict[str, str], *, status: int = 200, **context: Any
) -> Response:
    flt, unknown = _filter_from(principal, params)
    page = max(1, min(_ref(params.get("page", "")) or 1, 10_000))
    with get_db(request).unit_of_work(readonly=True) as session:
        known = inbox.people(session, principal.workspace_id)
        rows, more = inbox.list_inbox(session, actor=principal, flt=flt, page=page, known=known)
    kept = {k: v for k, v in params.items() if k in ("tab", "status", "priority", "team_id", "owner_id", "overdue")}
    response = render(
        request,
        "cases/inbox.html",
        principal,
        rows=rows,
        flt=flt,
        params=params,
        tabs=[(key, label) for key, label in inbox.TABS.items() if key != "all" or principal.role != "agent"],
        statuses=STATUSES,
        priorities=PRIORITIES,
        people=known,
        page=page,
        prev_url=f"/cases?{urlencode({**kept, 'page': page - 1})}" if page > 1 else None,
        next_url=f"/cases?{urlencode({**kept, 'page': page + 1})}" if more else None,
        errors=context.pop("errors", {}),
        unknown=unknown,
        **context,
    )
    response.status_code = status
    return response


@router.get("/cases")
def inbox_page(
    request: Request,
    principal: PageCases,
    tab: Choice = "",
    status: Choice = "",
    priority: Choice = "",
    team_id: RefParam = "",
    owner_id: RefParam = "",
    overdue: Choice = "",
    page: RefParam = "",
    assigned: RefParam = "",
) -> Response:
    """The person's cases, their teams' queue or all, open ones first with the soonest unmet due time on top."""
    params = {"tab": tab, "status": status, "priority": priority, "team_id": team_id, "owner_id": owner_id}
    params |= {"overdue": overdue, "page": page}
    notice = f"{assigned} case(s) assigned." if assigned else ""
    return _inbox_page(request, principal, {k: v for k, v in params.items() if v}, notice=notice)


@router.post("/cases/bulk-assign")
def bulk_assign(
    request: Request,
    principal: PageCases,
    case_ids: Annotated[list[str], Form(max_length=500)] = [],  # noqa: B006  (FastAPI copies form defaults)
    owner: FormRef = "",
    team: FormRef = "",
    tab: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    """Assign the ticked cases (all or none); an owner outside the workspace or team is refused, nothing changes."""
    params = {"tab": tab} if tab else {}
    try:
        ids = [int(v) for v in case_ids if v.isdigit()]
        if not ids:
            raise ValueError("Tick at least one case to assign.")
        if not owner and not team:
            raise ValueError("Choose an owner or a team to assign the ticked cases to.")
        assignment = _assignment(owner, team)
        with get_db(request).unit_of_work() as session:
            done = service.bulk_assign(session, actor=principal, case_ids=ids, assignment=assignment)
    except (CEMError, ValidationError, ValueError) as exc:
        return _inbox_page(request, principal, params, status=refusal_status(exc), errors=_bulk_errors(exc))
    return see_other(f"/cases?{urlencode({**params, 'assigned': len(done)})}")


def _bulk_errors(exc: FormError) -> dict[str, str]:
    found = field_errors(exc)
    # The form's fields are named owner/team (a choice, not a raw id); case_ids errors concern the ticks.
    return {{"owner_id": "owner", "team_id": "team"}.get(k, k): v for k, v in found.items()}


# -- one case -------------------------------------------------------------------------------------------------


def _case_page(request: Request, principal: Principal, case_id: int, *, status: int = 200, **context: Any) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        case = service.detail(session, service.get_case(session, actor=principal, case_id=case_id))
        known = inbox.people(session, principal.workspace_id)
        answers = case_view.trigger_answers(session, principal, case)
        customer = case_view.customer_summary(session, principal, case.customer_id)
    response = render(
        request,
        "cases/case.html",
        principal,
        case=case,
        people=known,
        answers=answers,
        customer=customer,
        next_statuses=sorted(service.TRANSITIONS[case.status]),
        priorities=PRIORITIES,
        errors=context.pop("errors", {}),
        form=context.pop("form", {}),
        notice=DONE.get(request.query_params.get("done", ""), ""),
        **context,
    )
    response.status_code = status
    return response


@router.get("/cases/{case_id}")
def case_page(request: Request, principal: PageCases, case_id: Id) -> Response:
    """One case (an agent's own or its team's; any other is "not found")."""
    return _case_page(request, principal, case_id)


def _act(
    request: Request,
    principal: Principal,
    case_id: int,
    done: str,
    build: Callable[[], BaseModel],
    apply: Callable[[Session, Any], object],
    form: dict[str, str],
) -> Response:
    """Validate the form into its schema, apply it in one unit of work, then back to the case (or the refusal)."""
    try:
        body = build()
        with get_db(request).unit_of_work() as session:
            apply(session, body)
    except (CEMError, ValidationError, ValueError) as exc:
        if isinstance(exc, CEMError) and exc.status_code == 404:
            raise
        errors = {f"{done}.{k}": v for k, v in field_errors(exc).items()}
        return _case_page(request, principal, case_id, status=refusal_status(exc), errors=errors, form=form)
    return see_other(f"/cases/{case_id}?done={done}")


@router.post("/cases/{case_id}/update")
def update_case(
    request: Request,
    principal: PageCases,
    case_id: Id,
    status: Annotated[str, Form(max_length=30)] = "",
    priority: Annotated[str, Form(max_length=30)] = "",
    tags: ShortText = "",
) -> Response:
    """Status, priority and tags (comma separated) in one form; closing has its own form (it asks the outcome)."""
    form = {"status": status, "priority": priority, "tags": tags}

    def build() -> CaseUpdate:
        given: dict[str, Any] = {"tags": [t.strip() for t in tags.split(",") if t.strip()]}
        if status:
            given["status"] = status
        if priority:
            given["priority"] = priority
        return CaseUpdate.model_validate(given)

    def apply(session: Session, body: Any) -> object:
        return service.update_case(session, actor=principal, case_id=case_id, update=body)

    return _act(request, principal, case_id, "updated", build, apply, form)


@router.post("/cases/{case_id}/assign")
def assign_case(
    request: Request, principal: PageCases, case_id: Id, owner: FormRef = "", team: FormRef = ""
) -> Response:
    def apply(session: Session, body: Any) -> object:
        return service.assign(session, actor=principal, case_id=case_id, assignment=body)

    form = {"owner": owner, "team": team}
    return _act(request, principal, case_id, "assigned", lambda: _assignment(owner, team), apply, form)


@router.post("/cases/{case_id}/notes")
def add_note(request: Request, principal: PageCases, case_id: Id, body: LongText = "") -> Response:
    """An internal note: on the timeline only, never sent to the customer."""

    def apply(session: Session, note: Any) -> object:
        return service.add_note(session, actor=principal, case_id=case_id, note=note)

    return _act(request, principal, case_id, "note", lambda: NoteIn(body=body.strip()), apply, {"note": body})


@router.post("/cases/{case_id}/replies")
def add_reply(
    request: Request, principal: PageCases, case_id: Id, subject: ShortText = "", body: LongText = ""
) -> Response:
    """A reply emailed to the customer by a job; it is the case's response for the SLA."""

    def build() -> ReplyIn:
        return ReplyIn(subject=subject.strip() or None, body=body.strip())

    def apply(session: Session, reply: Any) -> object:
        return service.add_reply(session, actor=principal, case_id=case_id, reply=reply)

    return _act(request, principal, case_id, "reply", build, apply, {"subject": subject, "reply": body})


@router.post("/cases/{case_id}/close")
def close_case(
    request: Request,
    principal: PageCases,
    case_id: Id,
    contacted: Annotated[str, Form(max_length=5)] = "",
    root_cause: Annotated[str, Form(max_length=200)] = "",
    recovered: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Close with the outcome: was the customer contacted, the root cause, and were they recovered."""
    answers = {"yes": True, "no": False}

    def build() -> CloseIn:
        return CloseIn.model_validate(
            {"contacted": answers.get(contacted), "root_cause": root_cause.strip(), "recovered": answers.get(recovered)}
        )

    def apply(session: Session, outcome: Any) -> object:
        return service.close(session, actor=principal, case_id=case_id, outcome=outcome)

    form = {"contacted": contacted, "root_cause": root_cause, "recovered": recovered}
    return _act(request, principal, case_id, "closed", build, apply, form)
