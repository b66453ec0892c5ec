"""Who answers: the respondent's language, their customer attributes, and the logic context of their response."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cem.customers.models import Customer
from cem.surveys import logic
from cem.surveys.definition import SurveyDefinition
from cem.surveys.models import SurveyResponse


def pick_language(
    defn: SurveyDefinition, requested: str | None, customer_language: str | None, accept_language: str | None
) -> str:
    """First supported of: ?lang=, the customer's language, the browser's Accept-Language; else the default."""
    supported = defn.all_languages()
    candidates = [requested, customer_language, *_accept_language(accept_language)]
    for candidate in candidates:
        if not candidate:
            continue
        code = candidate.strip().lower().replace("_", "-")
        for lang in supported:
            if code == lang.lower():
                return lang
        base = code.split("-")[0]
        for lang in supported:
            if lang.lower().split("-")[0] == base:
                return lang
    return defn.default_language


def _accept_language(header: str | None) -> list[str]:
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        code, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if code and code != "*" and quality > 0:
            weighted.append((-quality, index, code))
    return [code for _, _, code in sorted(weighted)]


def customer_attributes(customer: Customer | None) -> dict[str, Any]:
    if customer is None:
        return {}
    return {
        **(customer.attributes or {}),
        "email": customer.email,
        "name": customer.name,
        "external_id": customer.external_id,
    }


def context_for(session: Session, response: SurveyResponse) -> logic.Context:
    customer = session.get(Customer, response.customer_id) if response.customer_id else None
    return logic.Context(
        answers=dict(response.answers or {}),
        hidden=dict(response.hidden or {}),
        attributes=customer_attributes(customer),
        variables=dict(response.variables or {}),
    )
