"""Topics of a workspace: assignment of new feedback, (re-)discovery that keeps user edits, edits, statistics.

Model: level-1 topics have a unit centroid and a threshold; a text joins the nearest level-1 centroid when its cosine
similarity reaches that topic's threshold, then the nearest of that topic's subtopics. Deleted topics stay as
tombstones whose centroid still attracts their theme, so it is not handed to another topic nor rediscovered. Rule
topics match by keyword query, alongside. feedback_record.topics mirrors record_topic as a list of topic keys (a
subtopic's key is "<topic key>/<slug>"), which is what metrics group by.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.orm import Session

from cem.analytics.buckets import bucket_range, bucket_start
from cem.auth import audit
from cem.auth.principal import Principal
from cem.db.session import Database
from cem.errors import InvalidInput, NotFound
from cem.feedback import enrichment as feedback_enrichment
from cem.feedback.models import FeedbackRecord
from cem.jobs.models import Job
from cem.text.topics import discovery as disc
from cem.text.topics.models import RecordTopic, Topic
from cem.text.topics.rules import parse_rule

Vectors = npt.NDArray[np.float32]
DIM = 384
CHUNK = 2000
# A new cluster continues an old topic when at least this share of its texts belonged to that topic before.
MAP_OVERLAP = 0.5
MAX_LABEL = 200
MAX_SPLIT = 10
# Similarity a text needs to join a topic that has no measured threshold (e.g. one made by a merge).
DEFAULT_THRESHOLD = 0.80


def encode(vector: npt.NDArray[Any]) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def decode(blob: bytes | None) -> Vectors:
    return np.frombuffer(blob or b"", dtype=np.float32)


# -- reading texts and vectors ------------------------------------------------------------------------------


def text_records(session: Session, workspace_id: int, record_ids: Sequence[int] | None = None) -> list[tuple[int, str]]:
    """(id, text) of the workspace's text feedback, by id (only the given ids when record_ids is set)."""
    stmt = select(FeedbackRecord.id, FeedbackRecord.value_text).where(
        FeedbackRecord.workspace_id == workspace_id,
        FeedbackRecord.value_text.is_not(None),
        FeedbackRecord.value_text != "",
    )
    if record_ids is None:
        return [(int(i), str(t)) for i, t in session.execute(stmt.order_by(FeedbackRecord.id))]
    out: list[tuple[int, str]] = []
    ids = list(dict.fromkeys(record_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        out.extend((int(i), str(t)) for i, t in session.execute(stmt.where(FeedbackRecord.id.in_(chunk))))
    order = {rid: n for n, rid in enumerate(ids)}
    return sorted(out, key=lambda pair: order[pair[0]])


def stored_vectors(session: Session, record_ids: Sequence[int]) -> dict[int, Vectors]:
    """Embeddings the enrichment pipeline stored (feedback_embedding), for the ids that have one."""
    try:
        from cem.text.models import FeedbackEmbedding
    except ImportError:  # the enrichment tables are not installed: callers embed the texts themselves
        return {}
    out: dict[int, Vectors] = {}
    for start in range(0, len(record_ids), CHUNK):
        chunk = list(record_ids[start : start + CHUNK])
        stmt = select(FeedbackEmbedding.record_id, FeedbackEmbedding.vector).where(
            FeedbackEmbedding.record_id.in_(chunk)
        )
        for rid, blob in session.execute(stmt):
            vector = decode(blob)
            if len(vector) == DIM:
                out[int(rid)] = vector
    return out


Embed = Callable[[Sequence[str]], Vectors]


def default_embed(texts: Sequence[str]) -> Vectors:
    from cem.text.embeddings import shared_embedder

    return shared_embedder().embed(list(texts))


def vectors_for(
    session: Session, records: Sequence[tuple[int, str]], embed: Embed | None = None
) -> tuple[Vectors, int]:
    """(n, 384) vectors of the records: stored ones where present, the rest embedded now; and how many were."""
    stored = stored_vectors(session, [rid for rid, _ in records])
    missing = [n for n, (rid, _) in enumerate(records) if rid not in stored]
    out = np.zeros((len(records), DIM), dtype=np.float32)
    for n, (rid, _) in enumerate(records):
        if rid in stored:
            out[n] = stored[rid]
    if missing:
        fresh = (embed or default_embed)([records[n][1] for n in missing])
        out[missing] = fresh
    return disc.normalise(out), len(missing)


# -- the assignment model -----------------------------------------------------------------------------------


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


def _nearest_topics(model: Model, vectors: Vectors) -> list[list[tuple[Topic, float]]]:
    """Per vector: [(topic, score), (subtopic, score)] or [] (below threshold or nearest is a deleted tombstone)."""
    out: list[list[tuple[Topic, float]]] = [[] for _ in range(len(vectors))]
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
    nearest: list[list[tuple[Topic, float]]] = [[] for _ in ids]
    if vectors is not None:
        nearest = _nearest_topics(model, disc.normalise(np.asarray(vectors)))
    rules = [(t, parse_rule(t.rule_query or "")) for t in model.rules]
    corrected = corrected_topics(session, workspace_id, ids)
    result: dict[int, list[tuple[Topic, float]]] = {}
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


def resolve_topic(session: Session, workspace_id: int, name: str) -> Topic | None:
    """The active topic a user means by a key or a label (case-insensitive), or None."""
    name = name.strip()
    if not name:
        return None
    active = select(Topic).where(Topic.workspace_id == workspace_id, Topic.status == "active")
    found = session.scalars(active.where(Topic.key == name)).first()
    return found or session.scalars(active.where(func.lower(Topic.label) == name.lower()).order_by(Topic.id)).first()


def _with_parent(session: Session, topic: Topic) -> list[Topic]:
    parent = session.get(Topic, topic.parent_id) if topic.parent_id else None
    return [parent, topic] if parent is not None else [topic]


def corrected_topics(session: Session, workspace_id: int, record_ids: Sequence[int]) -> dict[int, list[Topic]]:
    """Records whose topic a user corrected (label_correction.topic): the topic (and its parent) they chose."""
    from cem.text.models import LabelCorrection

    out: dict[int, list[Topic]] = {}
    for start in range(0, len(record_ids), CHUNK):
        rows = session.execute(
            select(LabelCorrection.record_id, LabelCorrection.topic).where(
                LabelCorrection.workspace_id == workspace_id,
                LabelCorrection.record_id.in_(list(record_ids[start : start + CHUNK])),
                LabelCorrection.topic.is_not(None),
            )
        )
        for rid, name in rows:
            topic = resolve_topic(session, workspace_id, str(name))
            if topic is not None:
                out[int(rid)] = _with_parent(session, topic)
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
    chosen = [(t, 1.0) for t in _with_parent(session, topic)] + [(t, 1.0) for t in rules]
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


def _kept_discovered(session: Session, record_id: int) -> list[tuple[Topic, float]]:
    """Without a vector the record keeps its discovered topics; only its rule topics are recomputed."""
    rows = session.execute(
        select(Topic, RecordTopic.score)
        .join(RecordTopic, RecordTopic.topic_id == Topic.id)
        .where(RecordTopic.record_id == record_id, Topic.kind == "discovered")
    )
    return [(t, float(s)) for t, s in rows]


def _write(session: Session, assigned: dict[int, list[tuple[Topic, float]]]) -> None:
    ids = list(assigned)
    for start in range(0, len(ids), CHUNK):
        session.execute(delete(RecordTopic).where(RecordTopic.record_id.in_(ids[start : start + CHUNK])))
    rows = [
        {"record_id": rid, "topic_id": t.id, "score": round(score, 4)}
        for rid, found in assigned.items()
        for t, score in {t.id: (t, s) for t, s in found}.values()
    ]
    if rows:
        session.execute(insert(RecordTopic), rows)
    _set_topic_column(session, {rid: [t.key for t, _ in found] for rid, found in assigned.items()})


def _set_topic_column(session: Session, keys: dict[int, list[str]]) -> None:
    """feedback_record.topics = the keys (deduplicated, in order); one executemany."""
    feedback_enrichment.set_topics(session, keys)


def refresh_topic_column(session: Session, record_ids: Iterable[int]) -> None:
    """Recompute feedback_record.topics of these records from record_topic (after an edit moved rows)."""
    ids = list(set(record_ids))
    keys: dict[int, list[str]] = {rid: [] for rid in ids}
    for start in range(0, len(ids), CHUNK):
        stmt = (
            select(RecordTopic.record_id, Topic.key)
            .join(Topic, Topic.id == RecordTopic.topic_id)
            .where(RecordTopic.record_id.in_(ids[start : start + CHUNK]), Topic.status == "active")
            .order_by(RecordTopic.record_id, Topic.parent_id.is_not(None), Topic.key)
        )
        for rid, key in session.execute(stmt):
            keys[int(rid)].append(str(key))
    _set_topic_column(session, keys)


# -- discovery and re-discovery -----------------------------------------------------------------------------

Progress = Callable[[str, float], None]


@dataclass
class DiscoveryReport:
    texts: int
    embedded: int
    topics: int
    subtopics: int
    kept_edited: int
    suppressed: int
    assigned: int
    seconds: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Computed:
    """A discovery computed outside any transaction, ready to be stored."""

    ids: npt.NDArray[np.int64]
    vectors: Vectors
    found: disc.Discovery
    embedded: int
    seconds: dict[str, float]


def read_texts(
    session: Session, workspace_id: int, min_topic_size: int
) -> tuple[list[tuple[int, str]], dict[int, Vectors]]:
    """The workspace's texts and their stored embeddings (a read-only step)."""
    records = text_records(session, workspace_id)
    if len(records) < min_topic_size:
        raise InvalidInput(
            f"Topic discovery needs at least {min_topic_size} text feedback records; this workspace has {len(records)}."
        )
    return records, stored_vectors(session, [rid for rid, _ in records])


def compute(
    records: Sequence[tuple[int, str]],
    stored: dict[int, Vectors],
    *,
    seed: int,
    min_topic_size: int,
    n_topics: int | None,
    embed: Embed | None,
    progress: Progress,
) -> Computed:
    """Embed texts that have no stored vector, then cluster and label (no database: may take minutes)."""
    clock = time.perf_counter()
    progress("embedding", 0.02)
    missing = [n for n, (rid, _) in enumerate(records) if rid not in stored]
    vectors = np.zeros((len(records), DIM), dtype=np.float32)
    for n, (rid, _) in enumerate(records):
        if rid in stored:
            vectors[n] = stored[rid]
    if missing:
        vectors[missing] = (embed or default_embed)([records[n][1] for n in missing])
    vectors = disc.normalise(vectors)
    seconds = {"embeddings": time.perf_counter() - clock}
    clock = time.perf_counter()
    found = disc.discover(
        [t for _, t in records],
        vectors,
        seed=seed,
        min_topic_size=min_topic_size,
        n_topics=n_topics,
        progress=lambda stage, done: progress(stage, 0.1 + 0.7 * done),
    )
    seconds["clustering"] = time.perf_counter() - clock
    ids = np.array([rid for rid, _ in records], dtype=np.int64)
    return Computed(ids, vectors, found, len(missing), seconds)


def store(
    session: Session,
    workspace_id: int,
    computed: Computed,
    *,
    progress: Progress,
    actor: Principal | None,
    seed: int,
) -> DiscoveryReport:
    """Map the new clusters onto the old topics (edits kept), then re-assign every text (one short write)."""
    clock = time.perf_counter()
    ids, vectors = computed.ids, computed.vectors
    kept, suppressed = _apply(session, workspace_id, computed.found, ids, vectors)
    progress("assigning", 0.85)
    assigned = 0
    for start in range(0, len(ids), CHUNK):
        out = assign_topics(session, workspace_id, ids[start : start + CHUNK].tolist(), vectors[start : start + CHUNK])
        assigned += sum(1 for keys in out.values() if keys)
    seconds = {**computed.seconds, "storing": time.perf_counter() - clock}
    active = session.scalars(select(Topic).where(Topic.workspace_id == workspace_id, Topic.status == "active")).all()
    result = DiscoveryReport(
        texts=len(ids),
        embedded=computed.embedded,
        topics=sum(1 for t in active if t.parent_id is None),
        subtopics=sum(1 for t in active if t.parent_id is not None),
        kept_edited=kept,
        suppressed=suppressed,
        assigned=assigned,
        seconds={k: round(v, 3) for k, v in seconds.items()},
    )
    if actor is not None:
        audit.record(
            session,
            actor,
            "topic.discover",
            entity_type="workspace",
            entity_id=workspace_id,
            details={"seed": seed, "topics": result.topics, "texts": result.texts},
        )
    progress("done", 1.0)
    return result


def discover_workspace(
    session: Session,
    workspace_id: int,
    *,
    seed: int = 0,
    min_topic_size: int = disc.DEFAULT_MIN_TOPIC_SIZE,
    n_topics: int | None = None,
    embed: Embed | None = None,
    progress: Progress | None = None,
    actor: Principal | None = None,
) -> DiscoveryReport:
    """(Re-)discover topics in one session (small workspaces, tests); see discover_in_db for long runs."""
    report = progress or (lambda _s, _d: None)
    records, stored = read_texts(session, workspace_id, min_topic_size)
    computed = compute(
        records, stored, seed=seed, min_topic_size=min_topic_size, n_topics=n_topics, embed=embed, progress=report
    )
    return store(session, workspace_id, computed, progress=report, actor=actor, seed=seed)


def discover_in_db(
    db: Database,
    workspace_id: int,
    *,
    seed: int = 0,
    min_topic_size: int = disc.DEFAULT_MIN_TOPIC_SIZE,
    n_topics: int | None = None,
    embed: Embed | None = None,
    progress: Progress | None = None,
    actor: Principal | None = None,
) -> DiscoveryReport:
    """(Re-)discover topics: read, then embed and cluster outside any transaction, then one write.

    On SQLite a write transaction holds the single write lock; embedding missing texts can take minutes, so only
    the final mapping and assignment run inside one (records added meanwhile get topics from the enrichment job,
    records deleted meanwhile are skipped).
    """
    report = progress or (lambda _s, _d: None)
    with db.unit_of_work(readonly=True) as session:
        records, stored = read_texts(session, workspace_id, min_topic_size)
    computed = compute(
        records, stored, seed=seed, min_topic_size=min_topic_size, n_topics=n_topics, embed=embed, progress=report
    )
    with db.unit_of_work() as session:
        return store(session, workspace_id, computed, progress=report, actor=actor, seed=seed)


def _old_owner(session: Session, model: Model, ids: npt.NDArray[np.int64], vectors: Vectors) -> dict[int, Topic]:
    """Which old level-1 topic (or tombstone) each record belonged to: its current one, else the nearest centroid."""
    owner: dict[int, Topic] = {}
    if not model.parents:
        return owner
    by_id = {t.id: t for t in model.parents}
    current: dict[int, int] = {}
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(RecordTopic.record_id, RecordTopic.topic_id).where(
                RecordTopic.record_id.in_(ids[start : start + CHUNK].tolist()),
                RecordTopic.topic_id.in_(list(by_id)),
            )
        )
        current.update((int(r), int(t)) for r, t in rows)
    nearest = np.argmax(vectors @ model.parent_matrix.T, axis=1)
    for n, rid in enumerate(ids.tolist()):
        owner[rid] = by_id[current[rid]] if rid in current else model.parents[int(nearest[n])]
    return owner


def _resolve(session: Session, topic: Topic) -> Topic:
    """Follow merges to the topic that absorbed this one."""
    seen = set()
    while topic.status == "merged" and topic.merged_into_id and topic.id not in seen:
        seen.add(topic.id)
        topic = session.get_one(Topic, topic.merged_into_id)
    return topic


def _apply(
    session: Session, ws: int, found: disc.Discovery, ids: npt.NDArray[np.int64], vectors: Vectors
) -> tuple[int, int]:
    """Store a discovery, mapping new clusters onto old topics; returns (edited topics kept, clusters suppressed)."""
    model = load_model(session, ws)
    owner = _old_owner(session, model, ids, vectors)
    old_active = list(
        session.scalars(
            select(Topic).where(
                Topic.workspace_id == ws,
                Topic.parent_id.is_(None),
                Topic.kind == "discovered",
                Topic.status == "active",
            )
        )
    )
    taken = set(session.scalars(select(Topic.key).where(Topic.workspace_id == ws)))
    targets: dict[int, list[disc.Cluster]] = defaultdict(list)  # old topic id -> new clusters continuing it
    fresh: list[disc.Cluster] = []
    suppressed = 0
    for cluster in found.topics:
        votes: dict[int, int] = defaultdict(int)
        for rid in ids[cluster.rows].tolist():
            if rid in owner:
                votes[_resolve(session, owner[rid]).id] += 1
        best = max(votes, key=lambda k: votes[k], default=None)
        if best is not None and votes[best] >= MAP_OVERLAP * cluster.size:
            topic = session.get_one(Topic, best)
            if topic.status == "deleted":
                suppressed += 1
                continue
            if topic.status == "active":
                targets[topic.id].append(cluster)
                continue
        fresh.append(cluster)
    kept = 0
    for topic in old_active:
        clusters = targets.get(topic.id, [])
        edited = topic.user_edited or topic.label_edited
        if not clusters and not edited:
            session.delete(topic)  # a theme that is gone; its record_topic rows and subtopics go with it
            continue
        kept += int(edited)
        if clusters:
            _continue_topic(session, topic, clusters, vectors, taken)
    session.flush()
    for cluster in fresh:
        parent = Topic(
            workspace_id=ws,
            key=_free_key(cluster.key, taken),
            label=cluster.label[:MAX_LABEL],
            kind="discovered",
            centroid=encode(cluster.centroid),
            threshold=cluster.threshold,
            terms=", ".join(cluster.terms)[:1000],
        )
        session.add(parent)
        session.flush()
        _replace_children(session, parent, cluster.children, taken)
    session.flush()
    return kept, suppressed


def _free_key(key: str, taken: set[str]) -> str:
    return disc._unique_key(key[:190], taken)


def _continue_topic(
    session: Session, topic: Topic, clusters: list[disc.Cluster], vectors: Vectors, taken: set[str]
) -> None:
    """An old topic continues with the new clusters' members; a renamed label and edited subtopics stay.

    A topic users sorted feedback into (user_edited) keeps its label too: people find it by that name, and their
    corrections name it by its label, so a new keyword triple would orphan them."""
    rows = np.concatenate([c.rows for c in clusters])
    centroid = disc.normalise(vectors[rows].mean(axis=0, keepdims=True))[0]
    topic.centroid = encode(centroid)
    topic.threshold = min(c.threshold for c in clusters)
    if len(clusters) == 1 and not (topic.label_edited or topic.user_edited):
        topic.label = clusters[0].label[:MAX_LABEL]
        topic.terms = ", ".join(clusters[0].terms)[:1000]
    kids = list(session.scalars(select(Topic).where(Topic.parent_id == topic.id)))
    if any(k.user_edited or k.label_edited for k in kids):
        return  # the user curated the subtopics: keep them as they are
    if len(clusters) == 1:
        _replace_children(session, topic, clusters[0].children, taken)


def _replace_children(session: Session, parent: Topic, children: list[disc.Cluster], taken: set[str]) -> None:
    old = list(session.scalars(select(Topic).where(Topic.parent_id == parent.id)))
    for gone in old:
        taken.discard(gone.key)
        session.delete(gone)
    session.flush()
    for child in children:
        slug = child.key.rsplit("/", 1)[-1]
        session.add(
            Topic(
                workspace_id=parent.workspace_id,
                key=_free_key(f"{parent.key}/{slug}", taken),
                label=child.label[:MAX_LABEL],
                parent_id=parent.id,
                kind="discovered",
                centroid=encode(child.centroid),
                threshold=child.threshold,
                terms=", ".join(child.terms)[:1000],
            )
        )


# -- editing ------------------------------------------------------------------------------------------------


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


def _members(session: Session, topic_ids: Sequence[int]) -> list[int]:
    return [int(r) for r in session.scalars(select(RecordTopic.record_id).where(RecordTopic.topic_id.in_(topic_ids)))]


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
    touched = set(_members(session, [s.id for s in sources]))
    weights = [len(_members(session, [t.id])) for t in [target, *sources]]
    vectors = np.stack([decode(t.centroid) for t in [target, *sources]])
    mean = (vectors * np.maximum(np.array(weights, dtype=np.float32), 1.0)[:, None]).sum(axis=0, keepdims=True)
    target.centroid = encode(disc.normalise(mean)[0])
    target.threshold = min(t.threshold if t.threshold is not None else DEFAULT_THRESHOLD for t in [target, *sources])
    target.user_edited = True
    already = set(_members(session, [target.id]))
    for source in sources:
        moved = [r for r in _members(session, [source.id]) if r not in already]
        score = [{"record_id": r, "topic_id": target.id, "score": 1.0} for r in moved]
        session.execute(delete(RecordTopic).where(RecordTopic.topic_id == source.id))
        if score:
            session.execute(insert(RecordTopic), score)
        already.update(moved)
        session.execute(update(Topic).where(Topic.parent_id == source.id).values(parent_id=target.id))
        source.status, source.merged_into_id = "merged", target.id
    session.flush()
    refresh_topic_column(session, touched)
    audit.record(
        session,
        actor,
        "topic.merge",
        entity_type="topic",
        entity_id=target.id,
        details={"merged": [s.id for s in sources]},
    )
    return target


def delete_topic(session: Session, actor: Principal, topic_id: int) -> None:
    """Remove a topic from every record; a discovered one stays as a tombstone so its theme is not rediscovered."""
    topic = get_topic(session, actor.workspace_id, topic_id)
    kids = list(session.scalars(select(Topic).where(Topic.parent_id == topic.id)))
    touched = set(_members(session, [topic.id, *(k.id for k in kids)]))
    session.execute(delete(RecordTopic).where(RecordTopic.topic_id.in_([topic.id, *(k.id for k in kids)])))
    if topic.kind == "rule":
        session.delete(topic)
    else:
        topic.status, topic.user_edited = "deleted", True
        for kid in kids:
            kid.status = "deleted"
    session.flush()
    refresh_topic_column(session, touched)
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
    records = text_records(session, ws, sorted(_members(session, [topic.id])))
    if len(records) < 2 * k:
        raise InvalidInput(f"Topic {topic.label!r} has {len(records)} texts: too few to split into {k}.")
    vectors, _ = vectors_for(session, records, embed)
    taken = set(session.scalars(select(Topic.key).where(Topic.workspace_id == ws)))
    clusters = disc.split_rows([t for _, t in records], vectors, k, seed=seed, taken=set())
    kids = list(session.scalars(select(Topic).where(Topic.parent_id == topic.id)))
    old_ids = [topic.id, *(c.id for c in kids)]
    ids = [rid for rid, _ in records]
    touched = set(_members(session, old_ids))
    session.execute(delete(RecordTopic).where(RecordTopic.topic_id.in_(old_ids)))
    topic.status, topic.user_edited = "split", True
    for kid in kids:
        kid.status = "split"
    prefix = topic.key.rsplit("/", 1)[0] + "/" if topic.parent_id else ""
    made = []
    for cluster in clusters:
        new = Topic(
            workspace_id=ws,
            key=_free_key(prefix + cluster.key, taken),
            label=cluster.label[:MAX_LABEL],
            parent_id=topic.parent_id,
            kind="discovered",
            centroid=encode(cluster.centroid),
            threshold=min(cluster.threshold, topic.threshold or DEFAULT_THRESHOLD),
            terms=", ".join(cluster.terms)[:1000],
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
    session.flush()
    refresh_topic_column(session, touched)
    audit.record(
        session, actor, "topic.split", entity_type="topic", entity_id=topic.id, details={"into": [t.id for t in made]}
    )
    return made


def create_rule(session: Session, actor: Principal, label: str, query: str) -> Topic:
    """A topic for every text matching a keyword query (applied to the stored texts now, and to new ones)."""
    ws = actor.workspace_id
    label = _clean_label(label)
    parse_rule(query)
    taken = set(session.scalars(select(Topic.key).where(Topic.workspace_id == ws)))
    topic = Topic(
        workspace_id=ws,
        key=_free_key("rule-" + disc.slugify(label), taken),
        label=label,
        kind="rule",
        rule_query=query.strip(),
        user_edited=True,
        label_edited=True,
    )
    session.add(topic)
    session.flush()
    apply_rule(session, topic)
    audit.record(
        session,
        actor,
        "topic.rule.create",
        entity_type="topic",
        entity_id=topic.id,
        details={"query": topic.rule_query},
    )
    return topic


def update_rule(session: Session, actor: Principal, topic_id: int, query: str) -> Topic:
    topic = get_topic(session, actor.workspace_id, topic_id)
    if topic.kind != "rule":
        raise InvalidInput("Only rule topics have a keyword query.")
    parse_rule(query)
    topic.rule_query = query.strip()
    apply_rule(session, topic)
    audit.record(
        session,
        actor,
        "topic.rule.update",
        entity_type="topic",
        entity_id=topic.id,
        details={"query": topic.rule_query},
    )
    return topic


def apply_rule(session: Session, topic: Topic) -> int:
    """(Re)match a rule topic against every stored text of its workspace; returns how many match."""
    rule = parse_rule(topic.rule_query or "")
    before = set(_members(session, [topic.id]))
    matching = {rid for rid, text in text_records(session, topic.workspace_id) if rule.matches(text)}
    session.execute(delete(RecordTopic).where(RecordTopic.topic_id == topic.id))
    if matching:
        session.execute(insert(RecordTopic), [{"record_id": r, "topic_id": topic.id, "score": 1.0} for r in matching])
    session.flush()
    refresh_topic_column(session, before | matching)
    return len(matching)


# -- statistics ---------------------------------------------------------------------------------------------


@dataclass
class TopicStats:
    topic: Topic
    volume: int
    sentiment_mean: float | None
    negative_share: float | None
    trend: list[tuple[str, int]]  # (bucket start YYYY-MM-DD, records), empty buckets included
    interval: str = "month"


# The trend's bucket follows the span of the data: a month of tweets by day, a year of reviews by week.
TREND_DAYS_UP_TO = 45
TREND_WEEKS_UP_TO = 400


def _day(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", FeedbackRecord.collected_at), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", FeedbackRecord.collected_at)


def trend_interval(first: date, last: date) -> str:
    span = (last - first).days
    return "day" if span <= TREND_DAYS_UP_TO else "week" if span <= TREND_WEEKS_UP_TO else "month"


def _trends(session: Session, ids: list[int]) -> tuple[dict[int, list[tuple[str, int]]], str]:
    """Per topic, record counts per bucket over the workspace's whole date range (same buckets for every topic)."""
    day = _day(session)
    daily: dict[int, dict[date, int]] = defaultdict(dict)
    for t, d, n in session.execute(
        select(RecordTopic.topic_id, day, func.count())
        .join(FeedbackRecord, FeedbackRecord.id == RecordTopic.record_id)
        .where(RecordTopic.topic_id.in_(ids))
        .group_by(RecordTopic.topic_id, day)
    ):
        daily[int(t)][date.fromisoformat(str(d))] = int(n)
    days = [d for per_topic in daily.values() for d in per_topic]
    if not days:
        return {}, "month"
    interval = trend_interval(min(days), max(days))
    buckets = list(bucket_range(min(days), max(days), interval))
    out: dict[int, list[tuple[str, int]]] = {}
    for t, per_day in daily.items():
        counts = dict.fromkeys(buckets, 0)
        for d, n in per_day.items():
            counts[bucket_start(d, interval)] += n
        out[t] = [(b.isoformat(), n) for b, n in counts.items()]
    return out, interval


def topic_stats(session: Session, workspace_id: int, topic_ids: Sequence[int] | None = None) -> list[TopicStats]:
    """Volume, mean sentiment score, share negative and volume over time of each active topic (biggest first)."""
    topics = list_topics(session, workspace_id)
    if topic_ids is not None:
        wanted = set(topic_ids)
        topics = [t for t in topics if t.id in wanted]
    ids = [t.id for t in topics]
    if not ids:
        return []
    negative = func.sum(case((FeedbackRecord.sentiment_label == "negative", 1), else_=0))
    rows = session.execute(
        select(
            RecordTopic.topic_id,
            func.count(),
            func.avg(FeedbackRecord.sentiment_score),
            negative,
            func.count(FeedbackRecord.sentiment_label),
        )
        .join(FeedbackRecord, FeedbackRecord.id == RecordTopic.record_id)
        .where(RecordTopic.topic_id.in_(ids))
        .group_by(RecordTopic.topic_id)
    )
    agg = {int(t): (int(n), avg, int(neg or 0), int(labelled)) for t, n, avg, neg, labelled in rows}
    trends, interval = _trends(session, ids)
    out = []
    for t in topics:
        n, avg, neg, labelled = agg.get(t.id, (0, None, 0, 0))
        out.append(
            TopicStats(
                topic=t,
                volume=n,
                sentiment_mean=round(float(avg), 3) if avg is not None else None,
                negative_share=round(neg / labelled, 3) if labelled else None,
                trend=trends.get(t.id, []),
                interval=interval,
            )
        )
    return sorted(out, key=lambda s: (-s.volume, s.topic.id))


def verbatims(
    session: Session,
    workspace_id: int,
    topic_id: int,
    *,
    limit: int = 20,
    offset: int = 0,
    sentiment: str | None = None,
) -> tuple[list[tuple[FeedbackRecord, float]], int]:
    """The topic's records, most typical first (highest similarity), with the total count."""
    get_topic(session, workspace_id, topic_id)
    base = (
        select(FeedbackRecord, RecordTopic.score)
        .join(RecordTopic, RecordTopic.record_id == FeedbackRecord.id)
        .where(RecordTopic.topic_id == topic_id, FeedbackRecord.workspace_id == workspace_id)
    )
    if sentiment:
        base = base.where(FeedbackRecord.sentiment_label == sentiment)
    total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    rows = session.execute(
        base.order_by(RecordTopic.score.desc(), FeedbackRecord.id.desc()).limit(limit).offset(offset)
    )
    return [(r, float(s)) for r, s in rows], total


def child_ids(session: Session, topic_id: int) -> list[int]:
    """Ids of a topic's active subtopics."""
    stmt = select(Topic.id).where(Topic.parent_id == topic_id, Topic.status == "active").order_by(Topic.id)
    return [int(i) for i in session.scalars(stmt)]


def parent_of(session: Session, topic: Topic) -> Topic | None:
    return session.get(Topic, topic.parent_id) if topic.parent_id else None


def is_active(session: Session, workspace_id: int, topic_id: int) -> bool:
    topic = session.get(Topic, topic_id)
    return topic is not None and topic.workspace_id == workspace_id and topic.status == "active"


def workspace_job(session: Session, workspace_id: int, job_id: int) -> Job | None:
    """A job of this workspace (the explorer shows a discovery job's progress), or None."""
    job = session.get(Job, job_id)
    return job if job is not None and job.workspace_id == workspace_id else None
