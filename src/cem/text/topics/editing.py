"""Users' edits of a workspace's topics: rename, merge, split, delete, and rule topics (keyword queries).

Every edit marks the topic as the user's (user_edited or label_edited), so re-discovery keeps it, writes an audit
entry, and refreshes feedback_record.topics of the records it moved.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import delete, insert, update
from sqlalchemy.orm import Session

from cem.auth import audit
from cem.auth.principal import Principal
from cem.errors import InvalidInput
from cem.text.topics import discovery as disc
from cem.text.topics.assignment import refresh_topic_column
from cem.text.topics.catalogue import (
    DEFAULT_THRESHOLD,
    MAX_LABEL,
    children,
    free_key,
    get_topic,
    members,
    taken_keys,
    topic_from_cluster,
)
from cem.text.topics.models import RecordTopic, Topic
from cem.text.topics.rules import parse_rule
from cem.text.topics.vectors import Embed, decode, encode, text_records, vectors_for

MAX_SPLIT = 10


def _clean_label(label: str) -> str:
    label = " ".join((label or "").split())
    if not label:
        raise InvalidInput("A topic label cannot be empty.")
    if len(label) > MAX_LABEL:
        raise InvalidInput(f"A topic label is at most {MAX_LABEL} characters.")
    return label


def rename(session: Session, actor: Principal, topic_id: int, label: str) -> Topic:
    topic = get_topic(session, actor.workspace_id, topic_id)
    old, topic.label, topic.label_edited = topic.label, _clean_label(label), True
    audit.record(
        session,
        actor,
        "topic.rename",
        entity_type="topic",
        entity_id=topic.id,
        details={"from": old, "to": topic.label},
    )
    return topic


def merge(session: Session, actor: Principal, target_id: int, source_ids: Sequence[int]) -> Topic:
    """Fold the source topics into the target (same level, discovered): members, subtopics, centroid."""
    ws = actor.workspace_id
    target = get_topic(session, ws, target_id)
    sources = [get_topic(session, ws, sid) for sid in dict.fromkeys(source_ids) if sid != target_id]
    if not sources:
        raise InvalidInput("Name at least one other topic to merge into this one.")
    for s in [target, *sources]:
        if s.kind != "discovered":
            raise InvalidInput(f"Topic {s.label!r} is a rule topic: edit its keyword query instead of merging.")
    if any(s.parent_id != target.parent_id for s in sources):
        raise InvalidInput("Only topics at the same level (and, for subtopics, under the same topic) can be merged.")
    touched = set(members(session, [s.id for s in sources]))
    weights = [len(members(session, [t.id])) for t in [target, *sources]]
    vectors = np.stack([decode(t.centroid) for t in [target, *sources]])
    mean = (vectors * np.maximum(np.array(weights, dtype=np.float32), 1.0)[:, None]).sum(axis=0, keepdims=True)
    target.centroid = encode(disc.normalise(mean)[0])
    target.threshold = min(t.threshold if t.threshold is not None else DEFAULT_THRESHOLD for t in [target, *sources])
    target.user_edited = True
    already = set(members(session, [target.id]))
    for source in sources:
        moved = [r for r in members(session, [source.id]) if r not in already]
        score = [{"record_id": r, "topic_id": target.id, "score": 1.0} for r in moved]
        session.execute(delete(RecordTopic).where(RecordTopic.topic_id == source.id))
        if score:
            session.execute(insert(RecordTopic), score)
        already.update(moved)
        session.execute(update(Topic).where(Topic.parent_id == source.id).values(parent_id=target.id))
        source.status, source.merged_into_id = "merged", target.id
    _refresh(session, touched)
    audit.record(
        session,
        actor,
        "topic.merge",
        entity_type="topic",
        entity_id=target.id,
        details={"merged": [s.id for s in sources]},
    )
    return target


def _refresh(session: Session, touched: set[int]) -> None:
    """After an edit moved record_topic rows: flush them, then recompute the touched records' topics field."""
    session.flush()
    refresh_topic_column(session, touched)


def _unassign(session: Session, topic_ids: list[int]) -> set[int]:
    """Remove these topics from every record; returns the records that carried them."""
    touched = set(members(session, topic_ids))
    session.execute(delete(RecordTopic).where(RecordTopic.topic_id.in_(topic_ids)))
    return touched


def delete_topic(session: Session, actor: Principal, topic_id: int) -> None:
    """Remove a topic from every record; a discovered one stays as a tombstone so its theme is not rediscovered."""
    topic = get_topic(session, actor.workspace_id, topic_id)
    kids = children(session, topic.id)
    touched = _unassign(session, [topic.id, *(k.id for k in kids)])
    if topic.kind == "rule":
        session.delete(topic)
    else:
        topic.status, topic.user_edited = "deleted", True
        for kid in kids:
            kid.status = "deleted"
    _refresh(session, touched)
    audit.record(session, actor, "topic.delete", entity_type="topic", entity_id=topic_id)


def split(
    session: Session, actor: Principal, topic_id: int, k: int, *, seed: int = 0, embed: Embed | None = None
) -> list[Topic]:
    """Re-cluster one topic's texts into k topics at its level (they replace it; their labels come from c-TF-IDF)."""
    if not 2 <= k <= MAX_SPLIT:
        raise InvalidInput(f"Split into 2 to {MAX_SPLIT} topics, not {k}.")
    ws = actor.workspace_id
    topic = get_topic(session, ws, topic_id)
    if topic.kind != "discovered":
        raise InvalidInput("A rule topic cannot be split; define narrower rule topics instead.")
    records = text_records(session, ws, sorted(members(session, [topic.id])))
    if len(records) < 2 * k:
        raise InvalidInput(f"Topic {topic.label!r} has {len(records)} texts: too few to split into {k}.")
    vectors, _ = vectors_for(session, records, embed)
    taken = taken_keys(session, ws)
    clusters = disc.split_rows([t for _, t in records], vectors, k, seed=seed, taken=set())
    kids = children(session, topic.id)
    ids = [rid for rid, _ in records]
    touched = _unassign(session, [topic.id, *(c.id for c in kids)])
    topic.status, topic.user_edited = "split", True
    for kid in kids:
        kid.status = "split"
    prefix = topic.key.rsplit("/", 1)[0] + "/" if topic.parent_id else ""
    made = []
    for cluster in clusters:
        threshold = min(cluster.threshold, topic.threshold or DEFAULT_THRESHOLD)
        new = topic_from_cluster(
            ws,
            cluster,
            free_key(prefix + cluster.key, taken),
            parent_id=topic.parent_id,
            threshold=threshold,
            user_edited=True,
        )
        session.add(new)
        session.flush()
        sims = vectors[cluster.rows] @ cluster.centroid
        rows = [
            {"record_id": ids[int(r)], "topic_id": new.id, "score": round(float(s), 4)}
            for r, s in zip(cluster.rows, sims, strict=True)
        ]
        session.execute(insert(RecordTopic), rows)
        made.append(new)
    _refresh(session, touched)
    audit.record(
        session, actor, "topic.split", entity_type="topic", entity_id=topic.id, details={"into": [t.id for t in made]}
    )
    return made


# -- rule topics --------------------------------------------------------------------------------------------


def create_rule(session: Session, actor: Principal, label: str, query: str) -> Topic:
    """A topic for every text matching a keyword query (applied to the stored texts now, and to new ones)."""
    ws = actor.workspace_id
    label = _clean_label(label)
    parse_rule(query)
    topic = Topic(
        workspace_id=ws,
        key=free_key("rule-" + disc.slugify(label), taken_keys(session, ws)),
        label=label,
        kind="rule",
        rule_query=query.strip(),
        user_edited=True,
        label_edited=True,
    )
    session.add(topic)
    session.flush()
    apply_rule(session, topic)
    _audit_rule(session, actor, "topic.rule.create", topic)
    return topic


def update_rule(session: Session, actor: Principal, topic_id: int, query: str) -> Topic:
    topic = get_topic(session, actor.workspace_id, topic_id)
    if topic.kind != "rule":
        raise InvalidInput("Only rule topics have a keyword query.")
    parse_rule(query)
    topic.rule_query = query.strip()
    apply_rule(session, topic)
    _audit_rule(session, actor, "topic.rule.update", topic)
    return topic


def _audit_rule(session: Session, actor: Principal, action: str, topic: Topic) -> None:
    audit.record(session, actor, action, entity_type="topic", entity_id=topic.id, details={"query": topic.rule_query})


def apply_rule(session: Session, topic: Topic) -> int:
    """(Re)match a rule topic against every stored text of its workspace; returns how many match."""
    rule = parse_rule(topic.rule_query or "")
    matching = {rid for rid, text in text_records(session, topic.workspace_id) if rule.matches(text)}
    before = _unassign(session, [topic.id])
    if matching:
        session.execute(insert(RecordTopic), [{"record_id": r, "topic_id": topic.id, "score": 1.0} for r in matching])
    _refresh(session, before | matching)
    return len(matching)
