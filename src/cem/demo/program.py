"""The demo's retail journey and the shape every dataset is turned into before it is stored."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from cem.auth.principal import Principal
from cem.customers.schemas import CustomerRef, EventIn
from cem.feedback.schemas import FeedbackIn
from cem.journeys import service as journey_service
from cem.journeys.schemas import JourneyIn, StageIn, TouchpointIn

JOURNEY_KEY = "online-purchase"

# Olist's order life cycle, one stage per step the customer lives through.
JOURNEY = JourneyIn(
    key=JOURNEY_KEY,
    name="Online purchase",
    description="Marketplace orders from checkout to the customer's review (Olist, Brazil).",
    stages=[
        StageIn(
            key="purchase",
            name="Purchase",
            touchpoints=[TouchpointIn(key="web-checkout", name="Web checkout", channel="web")],
        ),
        StageIn(
            key="payment-approval",
            name="Payment approval",
            touchpoints=[TouchpointIn(key="payment-gateway", name="Payment gateway", channel="other")],
        ),
        StageIn(
            key="shipping",
            name="Shipping",
            touchpoints=[
                TouchpointIn(key="seller-fulfilment", name="Seller fulfilment", channel="other"),
                TouchpointIn(key="carrier-handover", name="Carrier hand-over", channel="other"),
            ],
        ),
        StageIn(
            key="delivery",
            name="Delivery",
            touchpoints=[TouchpointIn(key="home-delivery", name="Home delivery", channel="other")],
        ),
        StageIn(
            key="review",
            name="Review",
            touchpoints=[
                TouchpointIn(key="review-request", name="Review request email", channel="email"),
                TouchpointIn(key="review-site", name="Review site", channel="web"),
            ],
        ),
    ],
)


@dataclass
class DemoBatch:
    """One dataset, validated and ready to store: customers first, then their events and feedback."""

    name: str
    customers: list[CustomerRef] = field(default_factory=list)
    events: list[EventIn] = field(default_factory=list)
    feedback: list[FeedbackIn] = field(default_factory=list)
    synthetic: bool = False


def ensure_journey(session: Session, *, actor: Principal) -> int:
    """Create the retail journey, or add whatever stages/touchpoints of it are missing; returns its id."""
    existing = {
        j.key: j.id
        for j in journey_service.list_journeys(session, workspace_id=actor.workspace_id, include_archived=True)
    }
    if JOURNEY_KEY not in existing:
        return journey_service.create_journey(session, actor=actor, journey_in=JOURNEY).id
    journey_id = existing[JOURNEY_KEY]
    current = journey_service.read_journey(session, workspace_id=actor.workspace_id, journey_id=journey_id)
    stages = {s.key: s.id for s in current.stages}
    known = journey_service.touchpoint_ids_by_key(
        session, workspace_id=actor.workspace_id, keys={t.key for s in JOURNEY.stages for t in s.touchpoints}
    )
    for stage_in in JOURNEY.stages:
        if stage_in.key not in stages:
            missing = [t for t in stage_in.touchpoints if t.key not in known]
            stage_in = stage_in.model_copy(update={"touchpoints": missing})
            journey_service.add_stage(session, actor=actor, journey_id=journey_id, stage_in=stage_in)
            continue
        for tp_in in stage_in.touchpoints:
            if tp_in.key not in known:
                journey_service.add_touchpoint(session, actor=actor, stage_id=stages[stage_in.key], tp_in=tp_in)
    return journey_id
