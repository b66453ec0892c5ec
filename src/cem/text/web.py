"""The text explorer: topics with volume, sentiment and trend, drill-down to verbatims, search, the topic editor.

Every edit is a plain form POST followed by a redirect (works without JavaScript); an error re-renders the page
with a readable message and the error's status code, and the failed unit of work is rolled back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from cem.api.deps import get_db
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.errors import CEMError, InvalidInput
from cem.jobs.models import Job
from cem.jobs.queue import enqueue
from cem.text.redaction import masked_text
from cem.text.sentiment import LABELS
from cem.text.topics import catalogue, editing, runs, statistics
from cem.text.topics.discovery import DEFAULT_MIN_TOPIC_SIZE
from cem.web.deps import PageReader, PageWriter, render
from cem.web.forms import see_other

router = APIRouter()

Text = Annotated[str, Form(max_length=500)]
Number = Annotated[str, Form(max_length=12)]
PAGE_SIZE = 20
TEMPLATES = Path(__file__).resolve().parents[1] / "web" / "templates"


def highlight(text: str, terms: list[str]) -> Markup:
    """The text, HTML-escaped, with the topic's distinctive terms wrapped in <mark> (case-insensitive, whole words)."""
    words = sorted({t.strip() for t in terms if t.strip()}, key=len, reverse=True)
    safe = str(escape(text))
    if not words:
        return Markup(safe)
    pattern = re.compile(r"\b(" + "|".join(re.escape(str(escape(w))) for w in words) + r")\b", re.IGNORECASE)
    return Markup(pattern.sub(r"<mark>\1</mark>", safe))


def _sparkline(trend: list[tuple[str, int]]) -> str:
    return json.dumps({"x": [m for m, _ in trend], "y": [n for _, n in trend]})


def _tree(stats: list[statistics.TopicStats]) -> list[tuple[statistics.TopicStats, list[statistics.TopicStats]]]:
    """Level-1 topics, biggest first, each with its subtopics."""
    kids: dict[int, list[statistics.TopicStats]] = {}
    for s in stats:
        if s.topic.parent_id is not None:
            kids.setdefault(s.topic.parent_id, []).append(s)
    return [(s, kids.get(s.topic.id, [])) for s in stats if s.topic.parent_id is None]


def _job(session: Session, principal: Principal, raw: str | None) -> Job | None:
    if not raw or not raw.isdigit():
        return None
    return runs.workspace_job(session, principal.workspace_id, int(raw))


def _explorer(request: Request, principal: Principal, **extra: Any) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        stats = statistics.topic_stats(session, principal.workspace_id)
        context = {
            "tree": _tree(stats),
            "sparkline": _sparkline,
            "job": _job(session, principal, request.query_params.get("job")),
            "q": (request.query_params.get("q") or "")[:500],
            "has_search": (TEMPLATES / "text" / "_search_results.html").is_file(),
            "can_edit": principal.can(Permission.write),
            "default_min_size": DEFAULT_MIN_TOPIC_SIZE,
            "error": None,
            "form": {},
            **extra,
        }
    return render(request, "text/explorer.html", principal, **context)


@router.get("/text")
def explorer(request: Request, principal: PageReader) -> Response:
    """Topics with volume, sentiment and trend; the search box; rule topics and re-discovery."""
    return _explorer(request, principal)


def _topic_page(request: Request, principal: Principal, topic_id: int, **extra: Any) -> Response:
    params = request.query_params
    offset = int(params["offset"]) if (params.get("offset") or "").isdigit() else 0
    sentiment = params.get("sentiment") or None
    if sentiment not in (None, *LABELS):
        sentiment = None
    with get_db(request).unit_of_work(readonly=True) as session:
        topic = catalogue.get_topic(session, principal.workspace_id, topic_id)
        stats = statistics.topic_stats(session, principal.workspace_id, [topic_id])[0]
        kids = statistics.topic_stats(session, principal.workspace_id, catalogue.child_ids(session, topic_id))
        rows, total = statistics.verbatims(
            session, principal.workspace_id, topic_id, limit=PAGE_SIZE, offset=offset, sentiment=sentiment
        )
        terms = [t.strip() for t in topic.terms.split(",")] if topic.terms else []
        siblings = [
            t
            for t in catalogue.list_topics(session, principal.workspace_id)
            if t.parent_id == topic.parent_id and t.id != topic.id and t.kind == topic.kind == "discovered"
        ]
        parent = catalogue.parent_of(session, topic)
        verbatims = [(r, score, highlight(masked_text(session, principal, r.value_text), terms)) for r, score in rows]
        context = {
            "topic": topic,
            "parent": parent,
            "stats": stats,
            "kids": kids,
            "siblings": siblings,
            "verbatims": verbatims,
            "total": total,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "sentiment": sentiment or "",
            "sparkline": _sparkline,
            "has_label_form": (TEMPLATES / "text" / "_label_form.html").is_file(),
            "can_edit": principal.can(Permission.write),
            "error": None,
            **extra,
        }
    return render(request, "text/topic.html", principal, **context)


@router.get("/text/topics/{topic_id}")
def topic_page(request: Request, principal: PageReader, topic_id: int) -> Response:
    """One topic: statistics, trend, subtopics, verbatims (most typical first) and the editor."""
    return _topic_page(request, principal, topic_id)


def _edit(request: Request, principal: Principal, topic_id: int, action: Callable[[Session], str | None]) -> Response:
    """Run one edit in its own unit of work; redirect where it says, or re-render the topic with the error."""
    try:
        with get_db(request).unit_of_work() as session:
            catalogue.get_topic(session, principal.workspace_id, topic_id)
            target = action(session)
    except CEMError as exc:
        with get_db(request).unit_of_work(readonly=True) as session:
            alive = catalogue.is_active(session, principal.workspace_id, topic_id)
        if not alive:
            raise
        response = _topic_page(request, principal, topic_id, error=exc.detail)
        response.status_code = exc.status_code
        return response
    return see_other(target or f"/text/topics/{topic_id}")


def _int(raw: str, name: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, not {raw!r}.") from None


@router.post("/text/topics/{topic_id}/rename")
def rename(request: Request, principal: PageWriter, topic_id: int, label: Text) -> Response:
    def act(s: Session) -> None:
        editing.rename(s, principal, topic_id, label)

    return _edit(request, principal, topic_id, act)


@router.post("/text/topics/{topic_id}/merge")
def merge(request: Request, principal: PageWriter, topic_id: int, source_id: Number) -> Response:
    def act(s: Session) -> None:
        editing.merge(s, principal, topic_id, [_int(source_id, "The topic to merge")])

    return _edit(request, principal, topic_id, act)


@router.post("/text/topics/{topic_id}/split")
def split(request: Request, principal: PageWriter, topic_id: int, k: Number) -> Response:
    def act(s: Session) -> str:
        made = editing.split(s, principal, topic_id, _int(k, "The number of topics"))
        return f"/text/topics/{made[0].id}"

    return _edit(request, principal, topic_id, act)


@router.post("/text/topics/{topic_id}/delete")
def delete(request: Request, principal: PageWriter, topic_id: int) -> Response:
    def act(s: Session) -> str:
        editing.delete_topic(s, principal, topic_id)
        return "/text"

    return _edit(request, principal, topic_id, act)


@router.post("/text/topics/{topic_id}/rule")
def update_rule(request: Request, principal: PageWriter, topic_id: int, query: Text) -> Response:
    def act(s: Session) -> None:
        editing.update_rule(s, principal, topic_id, query)

    return _edit(request, principal, topic_id, act)


@router.post("/text/topics/rules")
def create_rule(request: Request, principal: PageWriter, label: Text = "", query: Text = "") -> Response:
    """A rule topic: every text matching the keyword query carries it."""
    try:
        with get_db(request).unit_of_work() as session:
            topic = editing.create_rule(session, principal, label, query)
            topic_id = topic.id
    except CEMError as exc:
        response = _explorer(request, principal, error=exc.detail, form={"label": label, "query": query})
        response.status_code = exc.status_code
        return response
    return see_other(f"/text/topics/{topic_id}")


@router.post("/text/topics/discover")
def discover(request: Request, principal: PageWriter, seed: Number = "0", min_topic_size: Number = "") -> Response:
    """Start re-discovery as a background job; the explorer shows its progress."""
    try:
        seed_value = _int(seed or "0", "The seed")
        size = _int(min_topic_size, "The minimum topic size") if min_topic_size.strip() else DEFAULT_MIN_TOPIC_SIZE
        if not 2 <= size <= 10_000 or seed_value < 0:
            raise InvalidInput("The minimum topic size is 2 to 10,000 and the seed a number from 0.")
        with get_db(request).unit_of_work() as session:
            job = enqueue(
                session,
                "text.topics.discover",
                workspace_id=principal.workspace_id,
                max_attempts=1,
                seed=seed_value,
                min_topic_size=size,
                actor_label=principal.label,
            )
            job_id = job.id
    except CEMError as exc:
        response = _explorer(request, principal, error=exc.detail)
        response.status_code = exc.status_code
        return response
    return see_other(f"/text?job={job_id}")
