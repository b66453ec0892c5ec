"""The dimensions a metric can be grouped and filtered by: each one small declaration.

A dimension names where its value comes from in the operational store (`sql`, a SQLAlchemy expression over
the feedback record and its joined touchpoint/stage/journey/customer) and in the columnar snapshot (`flat`, a
SQL expression over the snapshot tables `f` feedback, `t` touchpoints and `c` customers, identical in DuckDB
and Spark SQL). Adding a dimension is one `register(Dimension(...))` call.

Customer attributes are open-ended: `customer.<attribute>` groups by any attribute, and `segment` is the
customer attribute named `segment` (whatever the import put there). `rfm_segment` is the customer's stored RFM
segment (cem.clv.rfm, in customer_value), which joins with the customer like an attribute does.

Topics (from text analytics) are the two multi-valued dimensions: `topic` (level-1 topic key) and `subtopic`
(a subtopic's key, `<topic key>/<slug>`). They come from one relation, `record_topics()` (record id, topic,
subtopic: record_topic joined to its active topics, tombstones excluded), which the snapshot exports as a file
and DuckDB reads as a view of the same name over the live store. Engines join it only when a query groups or
filters by a topic dimension, so other queries never see more rows. A record with several topics counts once
in each of them (grouped), a record without one is grouped under null, and a filter keeps the records having
that topic (with `topic=K` and group by subtopic: K's subtopics).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, String, Subquery, and_, case, cast, func, select

from cem.analytics.registry import add_unique
from cem.clv.models import CustomerValue
from cem.customers.models import Customer
from cem.feedback.models import FeedbackRecord as FR
from cem.journeys.models import Journey, JourneyStage, Touchpoint
from cem.text.topics.models import RecordTopic, Topic

Join = Literal["touchpoint", "customer", "topic"]
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
    # A record may have several values (topics): it counts once in each, so cells must never be summed over it.
    multi_valued: bool = False


DIMENSIONS: dict[str, Dimension] = {}


def register(dimension: Dimension) -> Dimension:
    """Add a dimension (names are unique)."""
    return add_unique(DIMENSIONS, dimension.name, dimension, kind="dimension")


def _survey(_dialect: str) -> ColumnElement[Any]:
    # A survey's answers arrive with source_type "survey" and the survey as their source name.
    return case((FR.source_type == "survey", FR.source_name), else_=None)


def _channel(_dialect: str) -> ColumnElement[Any]:
    # The channel the source named for the record (phone, online, ...), else its source type (review, ticket, ...).
    return func.coalesce(FR.channel, FR.source_type)


for _names, _label, _sql, _flat in (
    (("channel",), "Channel (the record's, else its source type)", _channel, "COALESCE(f.channel, f.source_type)"),
    (("source_type",), "Source type", lambda _d: FR.source_type, "f.source_type"),
    (("agent",), "Agent (who handled it)", lambda _d: FR.agent, "f.agent"),
    (("team",), "Team (who handled it)", lambda _d: FR.team, "f.team"),
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


# -- topics: a join on record_topics, never a scan of the JSON feedback_record.topics --------------------------

TOPIC_DIMENSIONS = ("topic", "subtopic")
RECORD_TOPIC_COLUMNS = {"record_id": "BIGINT", "topic": "VARCHAR", "subtopic": "VARCHAR"}
TOPIC_ALIAS = "rt"


def record_topics() -> Select[Any]:
    """(record_id, topic, subtopic): one row per active level-1 topic of a record, with the record's active
    subtopic under it (NULL when it has none there). Assignment writes a subtopic's parent along with it
    (cem.text.topics), so every subtopic row has its topic row; deleted, merged and split topics are left out."""
    subtopics = (
        select(RecordTopic.record_id, Topic.key.label("subtopic"), Topic.parent_id)
        .join(Topic, Topic.id == RecordTopic.topic_id)
        .where(Topic.parent_id.is_not(None), Topic.status == "active")
        .subquery("subtopics")
    )
    on = and_(subtopics.c.record_id == RecordTopic.record_id, subtopics.c.parent_id == Topic.id)
    return (
        select(RecordTopic.record_id, Topic.key.label("topic"), subtopics.c.subtopic)
        .join(Topic, Topic.id == RecordTopic.topic_id)
        .outerjoin(subtopics, on)
        .where(Topic.parent_id.is_(None), Topic.status == "active")
    )


def topic_rows(names: Collection[str]) -> Subquery:
    """What a query grouping/filtering by these dimensions joins on record_id (aliased `rt`): distinct
    (record, topic) pairs for `topic` alone, (record, subtopic) pairs for `subtopic` alone, both for both."""
    used = set(names) & set(TOPIC_DIMENSIONS)
    if used == set(TOPIC_DIMENSIONS):
        return record_topics().subquery(TOPIC_ALIAS)
    rows = record_topics().subquery("record_topics")
    if used == {"topic"}:
        return select(rows.c.record_id, rows.c.topic).distinct().subquery(TOPIC_ALIAS)
    return select(rows.c.record_id, rows.c.subtopic).where(rows.c.subtopic.is_not(None)).subquery(TOPIC_ALIAS)


def topic_rows_flat(names: Collection[str]) -> str:
    """The same relation over the snapshot's `record_topics` table (DuckDB and Spark SQL)."""
    used = set(names) & set(TOPIC_DIMENSIONS)
    if used == set(TOPIC_DIMENSIONS):
        return "record_topics"
    if used == {"topic"}:
        return "(SELECT DISTINCT record_id, topic FROM record_topics)"
    return "(SELECT record_id, subtopic FROM record_topics WHERE subtopic IS NOT NULL)"


def _topic_column(name: str) -> Callable[[str], Any]:
    # The column of the relation alone; engines address the relation they joined (topic_rows) instead.
    return lambda _dialect: topic_rows({name}).c[name]


TOPIC_HELP = (
    "topic (a level-1 topic key) and subtopic (a subtopic key, <topic>/<slug>) come from text analytics: a record "
    "with several topics counts once in each, so topic rows can add up to more than the total; records without "
    "one are grouped under null."
)
for _name, _label in (
    ("topic", "Topic (level 1; a record with several topics counts once in each)"),
    ("subtopic", "Subtopic (a record with several subtopics counts once in each)"),
):
    register(Dimension(_name, _label, _topic_column(_name), f"{TOPIC_ALIAS}.{_name}", join="topic", multi_valued=True))


def record_condition(dimension: Dimension, value: str, dialect: str) -> ColumnElement[bool]:
    """`dimension = value` for one feedback record, as a condition on FR (joined to touchpoint/customer as the
    dimension says); for a topic dimension: the record has that topic (a semi-join, never more rows)."""
    if dimension.join == "topic":
        rows = topic_rows({dimension.name})
        return FR.id.in_(select(rows.c.record_id).where(rows.c[dimension.name] == value))
    return dimension.sql(dialect) == value


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


def _rfm_segment(_dialect: str) -> ColumnElement[Any]:
    # The customer's stored RFM segment, looked up by primary key next to the customer join (null: no purchases,
    # or not scored yet). The snapshot exports it on each customer row (customers.rfm_segment).
    stored = select(CustomerValue.rfm_segment).where(CustomerValue.customer_id == Customer.id)
    return stored.scalar_subquery()


register(
    Dimension(
        "rfm_segment",
        "RFM segment (champions, loyal, ... lost; cem.clv.rfm)",
        _rfm_segment,
        "c.rfm_segment",
        join="customer",
    )
)


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
