"""Text pages of TXT-A: semantic search (full page and htmx partial), similar feedback, label correction in place,
and the workspace's sentiment model (corrections, training button, PII redaction and emotion example forms).

Partials (_search_results.html, _label_form.html) are also included by the text explorer and topic pages.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from cem.api.deps import get_db
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.errors import CEMError, InvalidInput
from cem.feedback.schemas import FeedbackFilter
from cem.feedback.web import parse_filters
from cem.text import service
from cem.text import settings as text_settings
from cem.text.emotions import EMOTIONS, MAX_EXAMPLE_CHARS, MAX_EXAMPLES
from cem.text.pii import KINDS
from cem.text.redaction import hidden_spans, text_view
from cem.text.sentiment import LABELS
from cem.web.deps import PageAdmin, PageReader, PageWriter, render
from cem.web.forms import see_other

router = APIRouter()

SEARCH_LIMIT = 20
# One emotion's textarea: MAX_EXAMPLES sentences of MAX_EXAMPLE_CHARS, with line breaks and some slack for blank lines.
MAX_EXAMPLES_FIELD = 2 * MAX_EXAMPLES * (MAX_EXAMPLE_CHARS + 2)
Short = Annotated[str, Form(max_length=200)]


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _search(request: Request, principal: Principal) -> dict[str, Any]:
    """Results for ?q= (or ?similar_to=<record id>) within the explorer's filters, or a readable error."""
    params = request.query_params
    q = (params.get("q") or "").strip()
    similar_to = params.get("similar_to") or ""
    parsed = parse_filters({k: v for k, v in params.items() if k not in ("q", "similar_to")})
    out: dict[str, Any] = {"q": q, "similar_to": similar_to, "hits": [], "error": None, "searched": False}
    if parsed.errors or parsed.flt is None:
        out["error"] = "; ".join(parsed.errors) or "Invalid filters."
        return out
    flt: FeedbackFilter = parsed.flt
    if not q and not similar_to:
        return out
    with get_db(request).unit_of_work(readonly=True) as session:
        hidden = hidden_spans(session, principal)
        try:
            if similar_to:
                if not similar_to.isdigit():
                    raise InvalidInput("similar_to must be a record id.")
                found = service.similar(
                    session,
                    workspace_id=principal.workspace_id,
                    record_id=int(similar_to),
                    flt=flt,
                    limit=SEARCH_LIMIT,
                    hidden=hidden,
                )
            else:
                found = service.semantic_search(
                    session, workspace_id=principal.workspace_id, query=q, flt=flt, limit=SEARCH_LIMIT, hidden=hidden
                )
        except CEMError as exc:
            out["error"] = exc.detail
            return out
        shown = text_view(session, principal)
        out["hits"] = [(f.record, f.score, shown(f.record.value_text) or "") for f in found]
    out["searched"] = True
    return out


@router.get("/text/search")
def search_page(request: Request, principal: PageReader) -> Response:
    """Semantic search; an htmx request gets only the results list (the explorer's search box swaps it in)."""
    context = _search(request, principal)
    template = "text/_search_results.html" if _is_htmx(request) else "text/search.html"
    response = render(request, template, principal, labels=LABELS, **context)
    # htmx swaps only 2xx responses: the message is part of the fragment, the full page says 400.
    response.status_code = 400 if context["error"] and not _is_htmx(request) else 200
    return response


@router.post("/text/label/{record_id}")
def correct_label(
    request: Request,
    principal: PageWriter,
    record_id: int,
    sentiment_label: Annotated[str, Form(max_length=16)] = "",
    topic: Short = "",
) -> Response:
    """Correct a record's sentiment (and/or topic) in place; htmx gets the updated form, others a redirect back."""
    error = None
    try:
        with get_db(request).unit_of_work() as session:
            service.correct_label(
                session,
                actor=principal,
                record_id=record_id,
                sentiment_label=sentiment_label or None,
                topic=topic if topic.strip() else None,
            )
            record = service.get_text_record(session, workspace_id=principal.workspace_id, record_id=record_id)
    except CEMError as exc:  # nothing was stored: show the record as it is, with the reason
        error = exc.detail
        with get_db(request).unit_of_work(readonly=True) as session:
            found = service.find_text_record(session, workspace_id=principal.workspace_id, record_id=record_id)
        if found is None:
            raise
        record = found
    if not _is_htmx(request) and error is None:
        return see_other(_same_site_path(request))
    response = render(
        request,
        "text/_label_form.html",
        principal,
        record=record,
        labels=LABELS,
        saved=error is None,
        label_error=error,
    )
    response.status_code = 200 if error is None else 400
    return response


def _same_site_path(request: Request) -> str:
    """Where the form was posted from, as a local path (never another site: "//evil.example" is not a path)."""
    back = request.headers.get("referer") or ""
    base = str(request.base_url)
    if back.startswith(base):
        back = "/" + back[len(base) :]
    return back if back.startswith("/") and not back.startswith("//") else "/text"


def _model_page(
    request: Request,
    principal: Principal,
    *,
    message: str | None = None,
    error: str | None = None,
    status: int = 200,
    draft: dict[str, str] | None = None,
) -> Response:
    """The model page; `draft` refills the emotion form with what was typed when saving it failed."""
    with get_db(request).unit_of_work(readonly=True) as session:
        context = {
            "corrections": service.corrections(session, workspace_id=principal.workspace_id, limit=50),
            "correction_count": service.correction_count(session, workspace_id=principal.workspace_id),
            "models": service.models(session, workspace_id=principal.workspace_id),
            "pii": text_settings.pii_config(session, principal.workspace_id),
            "examples": text_settings.emotion_examples(session, principal.workspace_id),
        }
    response = render(
        request,
        "text/model.html",
        principal,
        **context,
        kinds=KINDS,
        emotions=EMOTIONS,
        draft=draft,
        max_examples=MAX_EXAMPLES,
        max_example_chars=MAX_EXAMPLE_CHARS,
        can_train=principal.can(Permission.write),
        can_admin=principal.can(Permission.admin),
        message=message,
        error=error,
    )
    response.status_code = status
    return response


@router.get("/text/model")
def model_page(request: Request, principal: PageReader) -> Response:
    """Corrections, the train button with cross-validated figures, PII redaction and emotion examples."""
    return _model_page(request, principal)


@router.post("/text/model/train")
def train(request: Request, principal: PageWriter) -> Response:
    try:
        with get_db(request).unit_of_work() as session:
            report, _ = service.train_workspace_model(session, actor=principal)
    except CEMError as exc:
        return _model_page(request, principal, error=exc.detail, status=exc.status_code)
    return _model_page(request, principal, message=service.training_message(report))


@router.post("/text/model/pii")
async def pii_settings(request: Request, principal: PageAdmin) -> Response:
    form = await request.form()
    kinds = [str(k) for k in form.getlist("kinds")]
    enabled = form.get("enabled") == "on"
    try:
        with get_db(request).unit_of_work() as session:
            text_settings.set_pii_config(session, principal, enabled=enabled, kinds=kinds)
    except (CEMError, ValidationError) as exc:
        detail = exc.detail if isinstance(exc, CEMError) else str(exc)
        return _model_page(request, principal, error=detail, status=400)
    return _model_page(request, principal, message="PII redaction settings saved.")


@router.post("/text/model/emotions")
async def emotion_examples(request: Request, principal: PageAdmin) -> Response:
    """Replace the example sentences of the emotions (one per line in each emotion's box); admins only, as the API.

    An emotion missing from the post keeps its sentences, and so does the "none" class (not on the form); any mistake
    saves nothing and shows the page again with the message and what was typed.
    """
    form = await request.form()
    draft: dict[str, str] = {}
    for name in EMOTIONS:
        value = form.get(name)
        if isinstance(value, str):
            draft[name] = value
    too_long = [name for name, value in draft.items() if len(value) > MAX_EXAMPLES_FIELD]
    if too_long:
        error = f"Examples for {', '.join(repr(n) for n in too_long)} are longer than {MAX_EXAMPLES_FIELD} characters."
        return _model_page(request, principal, error=error, status=400, draft=draft)
    try:
        with get_db(request).unit_of_work() as session:
            examples = text_settings.emotion_examples(session, principal.workspace_id)
            changed = {name: value.splitlines() for name, value in draft.items()}
            text_settings.set_emotion_examples(session, principal, {**examples, **changed})
    except CEMError as exc:  # validate_examples: nothing was stored
        return _model_page(request, principal, error=exc.detail, status=400, draft=draft)
    message = "Emotion examples saved; feedback enriched from now on is read with them."
    return _model_page(request, principal, message=message)
