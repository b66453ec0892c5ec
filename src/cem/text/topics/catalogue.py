"""A workspace's topic rows: finding them (by id, key or label; parent and subtopics), their members, and new rows
made from discovered clusters. Shared by assignment, discovery runs, editing and statistics."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cem.errors import NotFound
from cem.text.topics.discovery import Cluster, unique_key
from cem.text.topics.models import RecordTopic, Topic
from cem.text.topics.vectors import encode

MAX_LABEL = 200
MAX_TERMS = 1000  # characters of the comma-separated label terms kept on a topic
MAX_KEY_BASE = 190  # leaves room for the "-N" that makes a key unique within the 200-character column
# Similarity a text needs to join a topic that has no measured threshold (e.g. one made by a merge).
DEFAULT_THRESHOLD = 0.80


def get_topic(session: Session, workspace_id: int, topic_id: int, *, active: bool = True) -> Topic:
    topic = session.get(Topic, topic_id)
    if topic is None or topic.workspace_id != workspace_id or (active and topic.status != "active"):
        raise NotFound(f"Topic {topic_id} not found.")
    return topic


def list_topics(session: Session, workspace_id: int) -> list[Topic]:
    stmt = (
        select(Topic)
        .where(Topic.workspace_id == workspace_id, Topic.status == "active")
        .order_by(Topic.parent_id.is_not(None), Topic.id)
    )
    return list(session.scalars(stmt))


def resolve_topic(session: Session, workspace_id: int, name: str) -> Topic | None:
    """The active topic a user means by a key or a label (case-insensitive), or None."""
    name = name.strip()
    if not name:
        return None
    active = select(Topic).where(Topic.workspace_id == workspace_id, Topic.status == "active")
    found = session.scalars(active.where(Topic.key == name)).first()
    return found or session.scalars(active.where(func.lower(Topic.label) == name.lower()).order_by(Topic.id)).first()


def parent_of(session: Session, topic: Topic) -> Topic | None:
    return session.get(Topic, topic.parent_id) if topic.parent_id else None


def with_parent(session: Session, topic: Topic) -> list[Topic]:
    """[parent, topic] for a subtopic, [topic] for a level-1 topic: the keys a record in it carries."""
    parent = parent_of(session, topic)
    return [parent, topic] if parent is not None else [topic]


def children(session: Session, topic_id: int) -> list[Topic]:
    """Every subtopic row of a topic, whatever its status."""
    return list(session.scalars(select(Topic).where(Topic.parent_id == topic_id)))


def child_ids(session: Session, topic_id: int) -> list[int]:
    """Ids of a topic's active subtopics."""
    stmt = select(Topic.id).where(Topic.parent_id == topic_id, Topic.status == "active").order_by(Topic.id)
    return [int(i) for i in session.scalars(stmt)]


def is_active(session: Session, workspace_id: int, topic_id: int) -> bool:
    topic = session.get(Topic, topic_id)
    return topic is not None and topic.workspace_id == workspace_id and topic.status == "active"


def members(session: Session, topic_ids: Sequence[int]) -> list[int]:
    """Ids of the records carrying any of these topics."""
    return [int(r) for r in session.scalars(select(RecordTopic.record_id).where(RecordTopic.topic_id.in_(topic_ids)))]


def taken_keys(session: Session, workspace_id: int) -> set[str]:
    """Every key in use in the workspace, tombstones included (a key is never reused)."""
    return set(session.scalars(select(Topic.key).where(Topic.workspace_id == workspace_id)))


def free_key(key: str, taken: set[str]) -> str:
    """key, or key-2, key-3... when taken; the result is added to taken."""
    return unique_key(key[:MAX_KEY_BASE], taken)


def terms_text(cluster: Cluster) -> str:
    return ", ".join(cluster.terms)[:MAX_TERMS]


def topic_from_cluster(
    workspace_id: int,
    cluster: Cluster,
    key: str,
    *,
    parent_id: int | None = None,
    threshold: float | None = None,
    user_edited: bool = False,
) -> Topic:
    """A new discovered topic row for a cluster (its threshold unless one is given); the caller adds it."""
    return Topic(
        workspace_id=workspace_id,
        key=key,
        label=cluster.label[:MAX_LABEL],
        parent_id=parent_id,
        kind="discovered",
        centroid=encode(cluster.centroid),
        threshold=cluster.threshold if threshold is None else threshold,
        terms=terms_text(cluster),
        user_edited=user_edited,
    )
