"""Discovery runs: (re-)discover a workspace's topics from its stored texts and store them, keeping user edits.

A run reads the texts and their stored vectors, embeds the rest and clusters outside any transaction
(discovery.discover), then in one short write maps the new clusters onto the old topics and re-assigns every text.
A new cluster continues an old topic when most of its texts belonged to it; renamed, merged, split and corrected
topics keep their labels; a deleted topic's tombstone absorbs its theme, so the theme is not rediscovered.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.auth import audit
from cem.auth.principal import Principal
from cem.db.session import Database
from cem.errors import InvalidInput
from cem.jobs.models import Job
from cem.text.topics import discovery as disc
from cem.text.topics.assignment import Model, assign_topics, load_model
from cem.text.topics.catalogue import (
    MAX_LABEL,
    children,
    free_key,
    taken_keys,
    terms_text,
    topic_from_cluster,
)
from cem.text.topics.models import RecordTopic, Topic
from cem.text.topics.vectors import (
    CHUNK,
    Embed,
    Vectors,
    chunks,
    complete_vectors,
    encode,
    stored_vectors,
    text_records,
)

Progress = Callable[[str, float], None]
# A new cluster continues an old topic when at least this share of its texts belonged to that topic before.
MAP_OVERLAP = 0.5


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


class RunOptions(TypedDict, total=False):
    """How a run clusters; every key is optional."""

    seed: int  # the same seed gives the same topics (default 0)
    min_topic_size: int  # the smallest topic and subtopic kept (default discovery.DEFAULT_MIN_TOPIC_SIZE)
    n_topics: int | None  # how many topics to find (default None: automatic)
    embed: Embed | None  # embeds texts that have no stored vector (default None: the shared model)
    progress: Progress | None  # told (stage, fraction done) as the run goes


def discover_workspace(
    session: Session, workspace_id: int, *, actor: Principal | None = None, **options: Unpack[RunOptions]
) -> DiscoveryReport:
    """(Re-)discover topics in one session (small workspaces, tests); see discover_in_db for long runs."""
    records, stored = read_texts(session, workspace_id, options)
    computed = compute(records, stored, options)
    return store(session, workspace_id, computed, options, actor=actor)


def discover_in_db(
    db: Database, workspace_id: int, *, actor: Principal | None = None, **options: Unpack[RunOptions]
) -> DiscoveryReport:
    """(Re-)discover topics: read, then embed and cluster outside any transaction, then one write.

    On SQLite a write transaction holds the single write lock; embedding missing texts can take minutes, so only
    the final mapping and assignment run inside one (records added meanwhile get topics from the enrichment job,
    records deleted meanwhile are skipped).
    """
    with db.unit_of_work(readonly=True) as session:
        records, stored = read_texts(session, workspace_id, options)
    computed = compute(records, stored, options)
    with db.unit_of_work() as session:
        return store(session, workspace_id, computed, options, actor=actor)


def _progress(options: RunOptions) -> Progress:
    return options.get("progress") or (lambda _stage, _done: None)


def read_texts(
    session: Session, workspace_id: int, options: RunOptions
) -> tuple[list[tuple[int, str]], dict[int, Vectors]]:
    """The workspace's texts and their stored embeddings (a read-only step)."""
    min_topic_size = options.get("min_topic_size", disc.DEFAULT_MIN_TOPIC_SIZE)
    records = text_records(session, workspace_id)
    if len(records) < min_topic_size:
        raise InvalidInput(
            f"Topic discovery needs at least {min_topic_size} text feedback records; this workspace has {len(records)}."
        )
    return records, stored_vectors(session, [rid for rid, _ in records])


def compute(records: Sequence[tuple[int, str]], stored: dict[int, Vectors], options: RunOptions) -> Computed:
    """Embed texts that have no stored vector, then cluster and label (no database: may take minutes)."""
    progress = _progress(options)
    clock = time.perf_counter()
    progress("embedding", 0.02)
    vectors, embedded = complete_vectors(records, stored, options.get("embed"))
    seconds = {"embeddings": time.perf_counter() - clock}
    clock = time.perf_counter()
    found = disc.discover(
        [t for _, t in records],
        vectors,
        seed=options.get("seed", 0),
        min_topic_size=options.get("min_topic_size", disc.DEFAULT_MIN_TOPIC_SIZE),
        n_topics=options.get("n_topics"),
        progress=lambda stage, done: progress(stage, 0.1 + 0.7 * done),
    )
    seconds["clustering"] = time.perf_counter() - clock
    ids = np.array([rid for rid, _ in records], dtype=np.int64)
    return Computed(ids, vectors, found, embedded, seconds)


def store(
    session: Session, workspace_id: int, computed: Computed, options: RunOptions, *, actor: Principal | None
) -> DiscoveryReport:
    """Map the new clusters onto the old topics (edits kept), then re-assign every text (one short write)."""
    progress = _progress(options)
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
            details={"seed": options.get("seed", 0), "topics": result.topics, "texts": result.texts},
        )
    progress("done", 1.0)
    return result


def workspace_job(session: Session, workspace_id: int, job_id: int) -> Job | None:
    """A job of this workspace (the explorer shows a discovery job's progress), or None."""
    job = session.get(Job, job_id)
    return job if job is not None and job.workspace_id == workspace_id else None


# -- mapping new clusters onto old topics -------------------------------------------------------------------


def _old_owner(session: Session, model: Model, ids: npt.NDArray[np.int64], vectors: Vectors) -> dict[int, Topic]:
    """Which old level-1 topic (or tombstone) each record belonged to: its current one, else the nearest centroid."""
    owner: dict[int, Topic] = {}
    if not model.parents:
        return owner
    by_id = {t.id: t for t in model.parents}
    current: dict[int, int] = {}
    for chunk in chunks(ids.tolist()):
        rows = session.execute(
            select(RecordTopic.record_id, RecordTopic.topic_id).where(
                RecordTopic.record_id.in_(chunk),
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
    taken = taken_keys(session, ws)
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
        parent = topic_from_cluster(ws, cluster, free_key(cluster.key, taken))
        session.add(parent)
        session.flush()
        _replace_children(session, parent, cluster.children, taken)
    session.flush()
    return kept, suppressed


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
        topic.terms = terms_text(clusters[0])
    kids = children(session, topic.id)
    if any(k.user_edited or k.label_edited for k in kids):
        return  # the user curated the subtopics: keep them as they are
    if len(clusters) == 1:
        _replace_children(session, topic, clusters[0].children, taken)


def _replace_children(session: Session, parent: Topic, clusters: list[disc.Cluster], taken: set[str]) -> None:
    for gone in children(session, parent.id):
        taken.discard(gone.key)
        session.delete(gone)
    session.flush()
    for child in clusters:
        slug = child.key.rsplit("/", 1)[-1]
        key = free_key(f"{parent.key}/{slug}", taken)
        session.add(topic_from_cluster(parent.workspace_id, child, key, parent_id=parent.id))
