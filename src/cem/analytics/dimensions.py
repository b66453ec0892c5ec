"""The dimensions a metric can be grouped and filtered by: each one small declaration.

A dimension names where its value comes from in the operational store (`sql`, a SQLAlchemy expression over
the feedback record and its joined touchpoint/stage/journey/customer) and in the columnar snapshot (`flat`, a
SQL expression over the snapshot tables `f` feedback, `t` touchpoints and `c` customers, identical in DuckDB
and Spark SQL). Adding a dimension is one `register(Dimension(...))` call.

Customer attributes are open-ended: `customer.<attribute>` groups by any attribute, and `segment` is the
customer attribute named `segment` (cem has no segment table; a segment is whatever the import put there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, String, case, cast, func

from cem.customers.models import Customer
from cem.feedback.models import FeedbackRecord as FR
from cem.journeys.models import Journey, JourneyStage, Touchpoint

Join = Literal["touchpoint", "customer"]
CUSTOMER_PREFIX = "customer."


@dataclass(frozen=True)
class Dimension:
    """One groupable field: its store expression, its snapshot expression, and the joins both need."""

    name: str
    label: str
    sql: Callable[[str], Any]  # a column expression, given the dialect name (sqlite, postgresql)
    flat: str
    join: Join | None = None
    customer_attribute: str | None = None  # set for customer attributes: the attribute's name


DIMENSIONS: dict[str, Dimension] = {}


def register(dimension: Dimension) -> Dimension:
    """Add a dimension (names are unique)."""
    if dimension.name in DIMENSIONS:
        raise ValueError(f"dimension {dimension.name!r} is already registered")
    DIMENSIONS[dimension.name] = dimension
    return dimension


def _survey(_dialect: str) -> ColumnElement[Any]:
    # A survey's answers arrive with source_type "survey" and the survey as their source name.
    return case((FR.source_type == "survey", FR.source_name), else_=None)


for _names, _label, _sql, _flat in (
    (("channel", "source_type"), "Channel (source type)", lambda _d: FR.source_type, "f.source_type"),
    (("source", "source_name"), "Source", lambda _d: FR.source_name, "f.source_name"),
    (("question", "field_id"), "Question (field)", lambda _d: FR.field_id, "f.field_id"),
    (("language",), "Language", lambda _d: FR.language, "f.language"),
    (("survey",), "Survey", _survey, "CASE WHEN f.source_type = 'survey' THEN f.source_name END"),
):
    for _name in _names:
        register(Dimension(_name, _label, _sql, _flat))

register(Dimension("touchpoint", "Touchpoint", lambda _d: Touchpoint.key, "t.touchpoint", join="touchpoint"))
register(Dimension("stage", "Journey stage", lambda _d: JourneyStage.key, "t.stage", join="touchpoint"))
register(Dimension("journey", "Journey", lambda _d: Journey.key, "t.journey", join="touchpoint"))


def valid_attribute(name: str) -> bool:
    """Attribute names that may become a dimension: letters, digits, _ and - (they end up in a JSON path)."""
    return bool(name) and len(name) <= 100 and all(c.isalnum() or c in "_-" for c in name)


def customer_attribute(attribute: str, name: str | None = None) -> Dimension:
    """The dimension reading one customer attribute (as text, whatever its JSON type)."""
    if not valid_attribute(attribute):
        raise ValueError(f"bad customer attribute name {attribute!r}")
    return Dimension(
        name=name or CUSTOMER_PREFIX + attribute,
        label=f"Customer {attribute}",
        sql=lambda dialect: attribute_text(attribute, dialect),
        flat="",  # engines render the JSON path in their own dialect
        join="customer",
        customer_attribute=attribute,
    )


def attribute_text(attribute: str, dialect: str) -> ColumnElement[Any]:
    """A customer attribute as text, as PostgreSQL's ->> and the snapshot give it (booleans `true`/`false`)."""
    text = Customer.attributes[attribute].as_string()
    if dialect != "sqlite":
        return text
    # SQLite's json_extract turns JSON true/false into 1/0; its json_type still tells them apart.
    kind = func.json_type(Customer.attributes, f'$."{attribute}"')
    return case((kind == "true", "true"), (kind == "false", "false"), else_=cast(text, String))


register(customer_attribute("segment", name="segment"))


def get(name: str) -> Dimension | None:
    """The dimension for a name (`customer.<attribute>` included), or None."""
    if name in DIMENSIONS:
        return DIMENSIONS[name]
    if name.startswith(CUSTOMER_PREFIX) and valid_attribute(name[len(CUSTOMER_PREFIX) :]):
        return customer_attribute(name[len(CUSTOMER_PREFIX) :])
    return None


def names_help() -> str:
    """The dimension names for error messages."""
    return ", ".join(DIMENSIONS) + " or customer.<attribute>"
