"""Olist marketplace orders as the retail journey: customers, one event per order step, reviews as feedback."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cem.customers.schemas import CustomerRef, EventIn
from cem.demo.program import DemoBatch
from cem.demo.sources import CsvTable, at_row, optional_timestamp, parse_timestamp, read_csv
from cem.feedback.schemas import FeedbackIn

FOLDER = "olist-ecommerce-subset"
FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "orders": (
        "olist_orders_dataset.csv",
        (
            "order_id",
            "customer_id",
            "order_status",
            "order_purchase_timestamp",
            "order_approved_at",
            "order_delivered_carrier_date",
            "order_delivered_customer_date",
            "order_estimated_delivery_date",
        ),
    ),
    "customers": (
        "olist_customers_dataset.csv",
        ("customer_id", "customer_unique_id", "customer_zip_code_prefix", "customer_city", "customer_state"),
    ),
    "items": ("olist_order_items_dataset.csv", ("order_id", "price", "freight_value")),
    "payments": ("olist_order_payments_dataset.csv", ("order_id", "payment_type", "payment_value")),
    "reviews": (
        "olist_order_reviews_dataset.csv",
        (
            "review_id",
            "order_id",
            "review_score",
            "review_comment_title",
            "review_comment_message",
            "review_creation_date",
            "review_answer_timestamp",
        ),
    ),
}

# Where an order that stopped short of delivery is shown in the journey (its last status).
STATUS_TOUCHPOINT = {
    "created": "web-checkout",
    "approved": "payment-gateway",
    "invoiced": "seller-fulfilment",
    "processing": "seller-fulfilment",
    "unavailable": "seller-fulfilment",
    "canceled": "seller-fulfilment",
    "shipped": "carrier-handover",
    "delivered": "home-delivery",
}
SECONDS_PER_DAY = 86_400


@dataclass
class OlistTables:
    orders: CsvTable
    customers: CsvTable
    items: CsvTable
    payments: CsvTable
    reviews: CsvTable


@dataclass
class Order:
    order_id: str
    customer_id: str  # one per order in Olist
    customer: str  # customer_unique_id: the person, stable across their orders
    status: str
    purchased: datetime
    approved: datetime | None
    shipped: datetime | None
    delivered: datetime | None
    estimated: datetime | None

    @property
    def late(self) -> bool | None:
        """True/False for a delivered order against its estimate; None when it was not (or not known) delivered."""
        if self.status != "delivered" or self.delivered is None or self.estimated is None:
            return None
        return self.delivered > self.estimated


def missing_files(folder: Path) -> list[str]:
    """Names of the Olist files the demo needs that are not in `folder`."""
    return [name for name, _ in FILES.values() if not (folder / name).is_file()]


def read_tables(folder: Path) -> OlistTables:
    """Read the five Olist files the demo uses."""
    tables = {key: read_csv(folder / name, columns) for key, (name, columns) in FILES.items()}
    return OlistTables(**tables)


def retail_batch(tables: OlistTables, *, source_name: str, synthetic: bool = False) -> DemoBatch:
    """Turn Olist-shaped tables into customers, journey events and review feedback."""
    people = _people(tables.customers)
    orders = _orders(tables.orders, people)
    by_id = {o.order_id: o for o in orders}
    totals = _sums(tables.items, ("price", "freight_value"))
    paid = _sums(tables.payments, ("payment_value",))
    pay_types = _payment_types(tables.payments)
    refs = {o.customer: CustomerRef(external_id=o.customer) for o in orders}
    events = [
        e
        for o in orders
        for e in order_events(o, refs[o.customer], source_name, totals, paid, pay_types.get(o.order_id))
    ]
    review_events, feedback = _reviews(tables.reviews, by_id, refs, source_name)
    return DemoBatch(
        name="olist" if not synthetic else "synthetic retail",
        customers=_customer_refs(orders, people),
        events=events + review_events,
        feedback=feedback,
        synthetic=synthetic,
    )


def _people(table: CsvTable) -> dict[str, tuple[str, dict[str, Any]]]:
    """customer_id (one per order) -> (customer_unique_id, location attributes)."""
    people: dict[str, tuple[str, dict[str, Any]]] = {}
    for line, row in table:
        with at_row(table.name, line):
            if not row["customer_unique_id"].strip():
                raise ValueError("customer_unique_id is empty")
            people[row["customer_id"]] = (
                row["customer_unique_id"].strip(),
                {
                    "city": row["customer_city"],
                    "state": row["customer_state"],
                    # Kept as text: Brazilian CEP prefixes have leading zeros.
                    "zip_prefix": row["customer_zip_code_prefix"],
                },
            )
    return people


def _orders(table: CsvTable, people: dict[str, tuple[str, dict[str, Any]]]) -> list[Order]:
    orders = []
    for line, row in table:
        with at_row(table.name, line):
            if row["customer_id"] not in people:
                raise ValueError(f"customer_id {row['customer_id']!r} is not in the customers file")
            if row["order_status"] not in STATUS_TOUCHPOINT:
                raise ValueError(f"unknown order_status {row['order_status']!r}")
            orders.append(
                Order(
                    order_id=row["order_id"],
                    customer_id=row["customer_id"],
                    customer=people[row["customer_id"]][0],
                    status=row["order_status"],
                    purchased=parse_timestamp(row["order_purchase_timestamp"]),
                    approved=optional_timestamp(row["order_approved_at"]),
                    shipped=optional_timestamp(row["order_delivered_carrier_date"]),
                    delivered=optional_timestamp(row["order_delivered_customer_date"]),
                    estimated=optional_timestamp(row["order_estimated_delivery_date"]),
                )
            )
    return orders


def _customer_refs(orders: list[Order], people: dict[str, tuple[str, dict[str, Any]]]) -> list[CustomerRef]:
    """One customer per person; a person who moved keeps the location of their latest order."""
    location: dict[str, dict[str, Any]] = {}
    for order in sorted(orders, key=lambda o: o.purchased):
        location[order.customer] = people[order.customer_id][1]
    return [CustomerRef(external_id=uid, attributes=attrs) for uid, attrs in location.items()]


def _sums(table: CsvTable, columns: tuple[str, ...]) -> dict[str, float]:
    sums: dict[str, float] = defaultdict(float)
    for line, row in table:
        with at_row(table.name, line):
            sums[row["order_id"]] += sum(float(row[c] or 0) for c in columns)
    return {k: round(v, 2) for k, v in sums.items()}


def _payment_types(table: CsvTable) -> dict[str, list[str]]:
    types: dict[str, list[str]] = defaultdict(list)
    for _, row in table:
        if row["payment_type"] not in types[row["order_id"]]:
            types[row["order_id"]].append(row["payment_type"])
    return types


# (step, event type, when, touchpoint, properties, value): one step of an order's life.
Step = tuple[str, str, datetime, str, dict[str, Any], float | None]


def order_events(
    order: Order,
    who: CustomerRef,
    source: str,
    totals: dict[str, float],
    paid: dict[str, float],
    pay_types: list[str] | None,
) -> list[EventIn]:
    """The order's steps as events, each on its touchpoint, keyed `<source>:<order>:<step>` for idempotency."""
    props: dict[str, Any] = {"order_id": order.order_id}
    value = totals.get(order.order_id, paid.get(order.order_id))
    steps: list[Step] = [("purchased", "order.purchased", order.purchased, "web-checkout", props, value)]
    if order.approved:
        payment = {**props, "payment_types": pay_types or []}
        steps.append(
            ("approved", "payment.approved", order.approved, "payment-gateway", payment, paid.get(order.order_id))
        )
    if order.shipped:
        steps.append(("shipped", "order.shipped", order.shipped, "carrier-handover", props, None))
    steps += _outcome(order, props)
    return [
        EventIn(
            customer=who,
            touchpoint=touchpoint,
            type=kind,
            occurred_at=at,
            external_id=f"{source}:{order.order_id}:{step}",
            properties=properties,
            value=amount,
        )
        for step, kind, at, touchpoint, properties, amount in steps
    ]


def _outcome(order: Order, props: dict[str, Any]) -> list[Step]:
    """Delivery against the estimate, or the status the order ended in when it never arrived."""
    if order.late is not None and order.delivered and order.estimated:
        # Whole days, rounded up, so any late delivery has days_late >= 1 and an early one <= 0.
        days = math.ceil((order.delivered - order.estimated).total_seconds() / SECONDS_PER_DAY)
        timing = {"on_time": not order.late, "days_late": days, "estimated_at": order.estimated.isoformat()}
        return [("delivered", "order.delivered", order.delivered, "home-delivery", {**props, **timing}, None)]
    if not _needs_status_event(order):
        return []
    last = max(t for t in (order.purchased, order.approved, order.shipped, order.delivered) if t is not None)
    return [(order.status, f"order.{order.status}", last, STATUS_TOUCHPOINT[order.status], props, None)]


def _needs_status_event(order: Order) -> bool:
    """A final status not already told by a step event (shipped and approved orders have one)."""
    if order.status == "delivered":
        return False
    if order.status == "shipped":
        return order.shipped is None
    if order.status == "approved":
        return order.approved is None
    return True


def _reviews(
    table: CsvTable, orders: dict[str, Order], refs: dict[str, CustomerRef], source: str
) -> tuple[list[EventIn], list[FeedbackIn]]:
    """Reviews as feedback (one submission per review_id) and a `review.submitted` event per reviewed order.

    The data repeats some review_ids across orders of the same purchase with identical content: they are one
    submission whose metadata lists every order, so nothing is counted twice.
    """
    grouped: dict[str, list[tuple[int, dict[str, str]]]] = defaultdict(list)
    for line, row in table:
        with at_row(table.name, line):
            if row["order_id"] not in orders:
                raise ValueError(f"order_id {row['order_id']!r} is not in the orders file")
            grouped[row["review_id"]].append((line, row))
    events: list[EventIn] = []
    feedback: list[FeedbackIn] = []
    for review_id, rows in grouped.items():
        line, first = rows[0]
        with at_row(table.name, line):
            order_ids = list(dict.fromkeys(r["order_id"] for _, r in rows))
            score = _score(first["review_score"])
            feedback += _review_records(review_id, first, [orders[o] for o in order_ids], refs, source, score)
            answered = optional_timestamp(first["review_answer_timestamp"])
            for oid in order_ids:
                order = orders[oid]
                events.append(
                    EventIn(
                        customer=refs[order.customer],
                        touchpoint="review-site",
                        type="review.submitted",
                        occurred_at=answered or parse_timestamp(first["review_creation_date"]),
                        external_id=f"{source}:{oid}:review:{review_id}",
                        value=score,
                        properties={"order_id": oid, "review_id": review_id},
                    )
                )
    return events, feedback


def _score(text: str) -> int:
    score = int(text.strip()) if text.strip().isdigit() else -1
    if not 1 <= score <= 5:
        raise ValueError(f"review_score must be a whole number from 1 to 5, not {text!r}")
    return score


def _review_records(
    review_id: str, row: dict[str, str], orders: list[Order], refs: dict[str, CustomerRef], source: str, score: int
) -> list[FeedbackIn]:
    lateness = [o.late for o in orders if o.late is not None]
    meta: dict[str, Any] = {
        "order_id": orders[0].order_id,
        "order_status": orders[0].status,
        # Late if any reviewed order arrived after its estimate; null when none was delivered.
        "delivered_late": any(lateness) if lateness else None,
    }
    if len(orders) > 1:
        meta["order_ids"] = [o.order_id for o in orders]
    common: dict[str, Any] = {
        "source_type": "review",
        "source_name": source,
        "submission_id": review_id,
        "customer": refs[orders[0].customer],
        "touchpoint": "review-site",
        "collected_at": parse_timestamp(row["review_creation_date"]),
        "metadata": meta,
    }
    records = [
        FeedbackIn(
            **common,
            field_id="review_score",
            field_label="Review score (1-5)",
            field_type="rating",
            scale="stars-5",
            value=score,
        )
    ]
    language = row.get("review_language") or "pt"
    for field_id, label in (("review_comment_title", "Comment title"), ("review_comment_message", "Comment")):
        text = row[field_id].strip()
        if text:
            records.append(
                FeedbackIn(
                    **common, field_id=field_id, field_label=label, field_type="text", value=text, language=language
                )
            )
    return records
