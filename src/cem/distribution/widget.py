"""The website widget's server side: per-survey targeting config, origin checks, and display decisions.

A site embeds `<script src=".../static/js/widget.js" data-survey="<slug>">`. The script reads the
config (URL pattern, delay, page event, display percentage) and, when its targeting matches, asks for a
display. The server applies the contact-frequency rules to the identified customer (if any), records the
contact, and answers with a personal link (an invitation of channel "widget") that the popover opens.
Anonymous visitors are not subject to per-person rules (nobody to count against); the script keeps them
from seeing the same survey twice in one browser.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.customers.models import Customer
from cem.distribution import clock
from cem.distribution import service as dist_service
from cem.distribution.models import Contact, ContactSkip, Invitation, SurveyChannelSettings
from cem.errors import Forbidden, InvalidInput, NotFound
from cem.surveys import service as survey_service
from cem.surveys.models import Survey

MAX_URL = 2000
MAX_EXTERNAL_ID = 200


@dataclass(frozen=True)
class WidgetSurvey:
    survey: Survey
    settings: SurveyChannelSettings
    origins: list[str]


def load(session: Session, slug: str) -> WidgetSurvey:
    """The survey behind a widget; NotFound unless it exists and has its widget switched on."""
    survey = survey_service.get_survey_by_slug(session, slug) if len(slug) <= 80 else None
    if survey is None:
        raise NotFound(f"No survey has the slug {slug!r}.")
    chs = dist_service.channel_settings(session, survey=survey)
    if not chs.widget_enabled:
        raise NotFound(f"Survey {slug!r} has no website widget.")
    workspace_origins = dist_service.contact_settings(session, workspace_id=survey.workspace_id).allowed_origins
    return WidgetSurvey(survey, chs, [*(chs.allowed_origins or []), *(workspace_origins or [])])


def origin_allowed(widget: WidgetSurvey, origin: str | None) -> bool:
    """Requests from a browser carry Origin; only configured sites may use the widget."""
    if origin is None:
        return True
    return "*" in widget.origins or origin.rstrip("/") in {o.rstrip("/") for o in widget.origins}


def check_origin(widget: WidgetSurvey, origin: str | None) -> None:
    if not origin_allowed(widget, origin):
        raise Forbidden(
            f"The site {origin} may not show this survey: add it to the survey's (or workspace's) allowed origins."
        )


def config(widget: WidgetSurvey) -> dict[str, Any]:
    s = widget.settings
    return {
        "survey": widget.survey.slug,
        "url_pattern": s.widget_url_pattern,
        "delay_seconds": s.widget_delay_seconds,
        "event": s.widget_event,
        "display_percent": s.widget_display_percent,
        "open": survey_service.availability(widget.survey, clock.now()) is None,
    }


def url_matches(pattern: str, url: str) -> bool:
    """Shell-style pattern over the page URL ('*' any text), e.g. '*/checkout/*' or 'https://shop.example/*'."""
    return fnmatch.fnmatchcase(url, pattern)


@dataclass(frozen=True)
class DisplayRequest:
    url: str
    customer: str | None  # the site's id of the visitor (customer.external_id), from cem("identify", ...)

    @classmethod
    def parse(cls, body: Any) -> DisplayRequest:
        if not isinstance(body, dict):
            raise InvalidInput("The body must be a JSON object with 'url' and optionally 'customer'.")
        url, customer = body.get("url"), body.get("customer")
        errors = []
        if not isinstance(url, str) or not url or len(url) > MAX_URL:
            errors.append({"loc": ["url"], "msg": f"the page URL is required (at most {MAX_URL} characters)"})
        if customer is not None and (not isinstance(customer, str | int) or not str(customer).strip()):
            errors.append({"loc": ["customer"], "msg": "the customer id must be a non-empty string"})
        elif customer is not None and len(str(customer)) > MAX_EXTERNAL_ID:
            errors.append({"loc": ["customer"], "msg": f"at most {MAX_EXTERNAL_ID} characters"})
        unknown = sorted(set(body) - {"url", "customer"})
        errors.extend({"loc": [k], "msg": "unknown field"} for k in unknown)
        if errors:
            raise InvalidInput("The display request is not valid.", errors=errors)
        return cls(url=str(url), customer=str(customer).strip() if customer is not None else None)


def display(
    session: Session, widget: WidgetSurvey, request: DisplayRequest, *, base_url: str, now: datetime | None = None
) -> dict[str, Any]:
    """Decide whether to show the survey now; when yes, record the contact and return the personal link."""
    now = now or clock.now()
    survey = widget.survey
    if (reason := survey_service.availability(survey, now)) is not None:
        return {"show": False, "reason": "survey_unavailable", "detail": reason}
    if not url_matches(widget.settings.widget_url_pattern, request.url):
        return {"show": False, "reason": "url_not_targeted", "detail": ""}
    customer = _known_customer(session, survey.workspace_id, request.customer)
    if customer is not None:
        decision, rules = dist_service.decide_for_customer(
            session, survey=survey, customer=customer, channel="widget", now=now
        )
        if not decision.allowed:
            session.add(
                ContactSkip(
                    workspace_id=survey.workspace_id,
                    survey_id=survey.id,
                    customer_id=customer.id,
                    channel="widget",
                    reason=decision.reason or "unknown",
                    detail=decision.detail[:300],
                    at=now,
                )
            )
            return {"show": False, "reason": decision.reason, "detail": decision.detail}
        session.add(
            Contact(
                workspace_id=survey.workspace_id,
                customer_id=customer.id,
                survey_id=survey.id,
                channel="widget",
                counts=rules.survey.respects_cooldown,
                at=now,
            )
        )
    token = dist_service.new_token()
    session.add(
        Invitation(
            workspace_id=survey.workspace_id,
            survey_id=survey.id,
            customer_id=customer.id if customer else None,
            channel="widget",
            token=token,
            status="sent",
            due_at=now,
            sent_at=now,
            created_at=now,
        )
    )
    session.flush()
    return {
        "show": True,
        "url": f"{base_url}/i/{token}?embed=1",
        "identified": customer is not None,
    }


def _known_customer(session: Session, workspace_id: int, external_id: str | None) -> Customer | None:
    if not external_id:
        return None
    return session.scalars(
        select(Customer).where(Customer.workspace_id == workspace_id, Customer.external_id == external_id)
    ).first()
