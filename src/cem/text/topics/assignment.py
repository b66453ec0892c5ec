"""Assignment of feedback to a workspace's existing topics, without clustering: nearest centroid, keyword rules and
users' corrections; and feedback_record.topics, the list of topic keys metrics group by, kept in step with record_topic.

A text joins the nearest level-1 centroid when its cosine similarity reaches that topic's threshold, then the nearest
of that topic's subtopics. Deleted topics stay as tombstones whose centroid still attracts their theme, so it is not
handed to another topic. Rule topics match by keyword query, alongside.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from cem.errors import InvalidInput
from cem.feedback import enrichment as feedback_enrichment
from cem.text.models import LabelCorrection
from cem.text.topics.catalogue import DEFAULT_THRESHOLD, list_topics, resolve_topic, with_parent
from cem.text.topics.discovery import normalise
from cem.text.topics.models import RecordTopic, Topic
from cem.text.topics.rules import parse_rule
from cem.text.topics.vectors import DIM, Vectors, chunks, decode, text_records

Scored = list[tuple[Topic, float]]


@dataclass
class Model:
    """What assignment needs of a workspace's topics, loaded once per batch."""

    parents: list[Topic]  # level-1 discovered topics with a centroid: active ones and deleted tombstones
    parent_matrix: Vectors
    children: dict[int, tuple[list[Topic], Vectors]]
    rules: list[Topic]

    @property
    def empty(self) -> bool:
        return not self.parents and not self.rules


def load_model(session: Session, workspace_id: int) -> Model:
    topics = list(
        session.scalars(
            select(Topic)
            .where(Topic.workspace_id == workspace_id, Topic.status.in_(("active", "deleted")))
            .order_by(Topic.id)
        )
    )
    parents = [t for t in topics if t.parent_id is None and t.kind == "discovered" and t.centroid]
    kids: dict[int, list[Topic]] = defaultdict(list)
    for t in topics:
        if t.parent_id is not None and t.status == "active" and t.kind == "discovered" and t.centroid:
            kids[t.parent_id].append(t)
    return Model(
        parents=parents,
        parent_matrix=_stack(parents),
        children={pid: (ts, _stack(ts)) for pid, ts in kids.items()},
        rules=[t for t in topics if t.kind == "rule" and t.status == "active" and t.rule_query],
    )


def _stack(topics: Sequence[Topic]) -> Vectors:
    if not topics:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.stack([decode(t.centroid) for t in topics]).astype(np.float32)


def _nearest_topics(model: Model, vectors: Vectors) -> list[Scored]:
    """Per vector: [(topic, score), (subtopic, score)] or [] (below threshold or nearest is a deleted tombstone)."""
    out: list[Scored] = [[] for _ in range(len(vectors))]
    if not model.parents or len(vectors) == 0:
        return out
    sims = vectors @ model.parent_matrix.T
    best = np.argmax(sims, axis=1)
    for n, index in enumerate(best):
        parent, score = model.parents[int(index)], float(sims[n, index])
        threshold = parent.threshold if parent.threshold is not None else DEFAULT_THRESHOLD
        if parent.status != "active" or score < threshold:
            continue
        out[n].append((parent, score))
        if parent.id in model.children:
            kids, matrix = model.children[parent.id]
            child_sims = matrix @ vectors[n]
            k = int(np.argmax(child_sims))
            out[n].append((kids[k], float(child_sims[k])))
    return out


def assign_topics(
    session: Session, workspace_id: int, record_ids: Sequence[int], vectors: npt.NDArray[Any] | None
) -> dict[int, list[str]]:
    """Give records their topics from the existing ones, without clustering: nearest centroid + keyword rules.

    vectors[i] is the embedding of record_ids[i] (None: rule topics only). Writes record_topic and
    feedback_record.topics in the caller's session and returns {record id: topic keys}.
    """
    model = load_model(session, workspace_id)
    ids = [int(i) for i in record_ids]
    if not ids:
        return {}
    texts = dict(text_records(session, workspace_id, ids))
    if vectors is not None and len(vectors) != len(ids):
        raise InvalidInput(f"{len(ids)} records but {len(vectors)} vectors.")
    nearest: list[Scored] = [[] for _ in ids]
    if vectors is not None:
        nearest = _nearest_topics(model, normalise(np.asarray(vectors)))
    rules = [(t, parse_rule(t.rule_query or "")) for t in model.rules]
    corrected = corrected_topics(session, workspace_id, ids)
    result: dict[int, Scored] = {}
    for rid, found in zip(ids, nearest, strict=True):
        if rid not in texts:
            continue  # not a text record of this workspace
        found = list(found) if vectors is not None else _kept_discovered(session, rid)
        if rid in corrected:  # a user's correction beats the nearest centroid, now and after re-discovery
            found = [(t, 1.0) for t in corrected[rid]]
        found += [(t, 1.0) for t, rule in rules if rule.matches(texts[rid])]
        result[rid] = found
    _write(session, result)
    return {rid: [t.key for t, _ in found] for rid, found in result.items()}


def _kept_discovered(session: Session, record_id: int) -> Scored:
    """Without a vector the record keeps its discovered topics; only its rule topics are recomputed."""
    rows = session.execute(
        select(Topic, RecordTopic.score)
        .join(RecordTopic, RecordTopic.topic_id == Topic.id)
        .where(RecordTopic.record_id == record_id, Topic.kind == "discovered")
    )
    return [(t, float(s)) for t, s in rows]


# -- users' corrections -------------------------------------------------------------------------------------


def corrected_topics(session: Session, workspace_id: int, record_ids: Sequence[int]) -> dict[int, list[Topic]]:
    """Records whose topic a user corrected (label_correction.topic): the topic (and its parent) they chose."""
    out: dict[int, list[Topic]] = {}
    for chunk in chunks(record_ids):
        rows = session.execute(
            select(LabelCorrection.record_id, LabelCorrection.topic).where(
                LabelCorrection.workspace_id == workspace_id,
                LabelCorrection.record_id.in_(chunk),
                LabelCorrection.topic.is_not(None),
            )
        )
        for rid, name in rows:
            topic = resolve_topic(session, workspace_id, str(name))
            if topic is not None:
                out[int(rid)] = with_parent(session, topic)
    return out


def correct_record_topic(session: Session, workspace_id: int, record_id: int, name: str | None) -> list[str]:
    """Put one record in the topic a user chose (by key or label): record_topic and the topics field.

    InvalidInput when no active topic has that key or label. Rule topics the text matches stay. Call it with the
    correction stored in label_correction, so re-assignment and re-discovery keep honouring it.
    """
    topic = resolve_topic(session, workspace_id, name or "")
    if topic is None:
        known = ", ".join(t.label for t in list_topics(session, workspace_id)[:10])
        raise InvalidInput(f"No topic is called {name!r}; use a topic's key or label (e.g. {known}).")
    rules = session.scalars(
        select(Topic)
        .join(RecordTopic, RecordTopic.topic_id == Topic.id)
        .where(RecordTopic.record_id == record_id, Topic.kind == "rule")
    ).all()
    topic.user_edited = True  # a topic users sort feedback into is theirs now: re-discovery keeps it
    chosen = [(t, 1.0) for t in with_parent(session, topic)] + [(t, 1.0) for t in rules]
    _write(session, {record_id: chosen})
    return [t.key for t, _ in chosen]


def apply_topic_correction(session: Session, workspace_id: int, record_id: int, name: str | None) -> list[str]:
    """The record's topics after a user's topic correction: the named topic when one exists (kept from then on),
    otherwise the name as typed (a free label until a topic with that key or label exists), [] for none."""
    if not name:
        return []
    if resolve_topic(session, workspace_id, name) is None:
        return [name]
    return correct_record_topic(session, workspace_id, record_id, name)


# -- record_topic and feedback_record.topics ----------------------------------------------------------------


def _write(session: Session, assigned: dict[int, Scored]) -> None:
    """Replace the records' record_topic rows (one per topic) and their topics field."""
    for chunk in chunks(list(assigned)):
        session.execute(delete(RecordTopic).where(RecordTopic.record_id.in_(chunk)))
    rows = [
        {"record_id": rid, "topic_id": t.id, "score": round(score, 4)}
        for rid, found in assigned.items()
        for t, score in {t.id: (t, s) for t, s in found}.values()
    ]
    if rows:
        session.execute(insert(RecordTopic), rows)
    feedback_enrichment.set_topics(session, {rid: [t.key for t, _ in found] for rid, found in assigned.items()})


def refresh_topic_column(session: Session, record_ids: Iterable[int]) -> None:
    """Recompute feedback_record.topics of these records from record_topic (after an edit moved rows)."""
    ids = list(set(record_ids))
    keys: dict[int, list[str]] = {rid: [] for rid in ids}
    for chunk in chunks(ids):
        stmt = (
            select(RecordTopic.record_id, Topic.key)
            .join(Topic, Topic.id == RecordTopic.topic_id)
            .where(RecordTopic.record_id.in_(chunk), Topic.status == "active")
            .order_by(RecordTopic.record_id, Topic.parent_id.is_not(None), Topic.key)
        )
        for rid, key in session.execute(stmt):
            keys[int(rid)].append(str(key))
    feedback_enrichment.set_topics(session, keys)
