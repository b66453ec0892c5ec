"""Enrichment of text feedback: language, sentiment, emotions and a stored embedding for search; topics come from
the `records_enriched` hook (cem.text.topics.plugin), and the columns are written through cem.feedback.enrichment.

Runs in background jobs (never in the ingest request; the `feedback_stored` hook queues them, cem.text.plugin).
The slow part, embedding, happens outside any write transaction: records are read, then embedded and classified,
then written in one short unit of work that first checks each text is still the one that was embedded (a text
changed meanwhile is left to the job its own change enqueued).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from cem import hooks
from cem.db.base import utcnow
from cem.db.session import Database
from cem.feedback import enrichment as feedback_enrichment
from cem.feedback.models import FeedbackRecord
from cem.text import settings as text_settings
from cem.text.embeddings import MODEL_NAME, Embedder, Vectors, shared_embedder
from cem.text.emotions import shared_emotion_model
from cem.text.language import detect_languages
from cem.text.models import FeedbackEmbedding, WorkspaceSentimentModel
from cem.text.pii import redact
from cem.text.sentiment import Sentiment, shared_default_analyzer
from cem.text.training import LinearHead
from cem.text.vector_index import encode_vector

log = logging.getLogger("cem.text")

TEXT_FIELD_TYPES = ("text",)
Progress = Callable[[int], None]


def embedded_text(text: str) -> str:
    """What is embedded and classified: the text with every kind of personal data masked ("[EMAIL]", "[PHONE]"...).

    Whatever the workspace shows to whom: an embedding of the original would let semantic search and similar feedback
    rank a record holding "jane.doe@example.com" first for that query, telling a role that sees it masked that the
    record contains it. Meaning (sentiment, emotions, topics) does not depend on which address or number it was.
    """
    return redact(text)


def _digest(embedded: str) -> str:
    return hashlib.sha256(embedded.encode("utf-8")).hexdigest()


def text_hash(text: str) -> str:
    """What an embedding was computed from (the masked text): a changed text has a different hash and is enriched
    again. Embeddings stored before masking was introduced no longer match for texts holding personal data, so
    `cem text backfill` re-embeds exactly those."""
    return _digest(embedded_text(text))


@dataclass
class EnrichResult:
    enriched: int = 0
    skipped: int = 0  # blank, not a text field, already up to date, or changed while being enriched
    languages: dict[str, int] = field(default_factory=dict)

    def add(self, other: EnrichResult) -> None:
        """Fold in the result of another batch of the same job."""
        self.enriched += other.enriched
        self.skipped += other.skipped
        for language, count in other.languages.items():
            self.languages[language] = self.languages.get(language, 0) + count

    def to_json(self) -> dict[str, Any]:
        return {"enriched": self.enriched, "skipped": self.skipped, "languages": self.languages}


@dataclass(frozen=True)
class _Pending:
    record_id: int
    text: str
    embedded: str  # embedded_text(text)
    language: str | None
    digest: str


def _load(session: Session, workspace_id: int, record_ids: Sequence[int], force: bool) -> list[_Pending]:
    fr, fe = FeedbackRecord, FeedbackEmbedding
    rows = session.execute(
        select(fr.id, fr.value_text, fr.language, fr.enriched_at, fe.text_hash, fe.model)
        .outerjoin(fe, fe.record_id == fr.id)
        .where(fr.workspace_id == workspace_id, fr.id.in_(record_ids), fr.field_type.in_(TEXT_FIELD_TYPES))
        .order_by(fr.id)
    ).all()
    pending = []
    for record_id, text, language, enriched_at, stored_hash, model in rows:
        if not text or not text.strip():
            continue
        embedded = embedded_text(text)
        digest = _digest(embedded)
        fresh = enriched_at is not None and stored_hash == digest and model == MODEL_NAME
        if force or not fresh:
            pending.append(_Pending(record_id, text, embedded, language, digest))
    return pending


def workspace_head(session: Session, workspace_id: int) -> LinearHead | None:
    """The workspace's active trained sentiment model, if it has one for the current embedding model."""
    row = session.scalars(
        select(WorkspaceSentimentModel)
        .where(
            WorkspaceSentimentModel.workspace_id == workspace_id,
            WorkspaceSentimentModel.active.is_(True),
            WorkspaceSentimentModel.embedding_model == MODEL_NAME,
        )
        .order_by(WorkspaceSentimentModel.id.desc())
        .limit(1)
    ).first()
    return LinearHead.from_json(row.classes, row.weights) if row is not None else None


def sentiments(
    texts: Sequence[str], vectors: npt.NDArray[Any], head: LinearHead | None, part_vectors: Vectors | None = None
) -> list[Sentiment]:
    """The workspace's own model when it has one, else the default (multilingual) model."""
    if head is not None:
        return head.sentiments(vectors)
    return shared_default_analyzer().from_vectors(texts, vectors, part_vectors)


def announce(session: Session, workspace_id: int, record_ids: list[int], vectors: npt.NDArray[Any]) -> None:
    """Call the `records_enriched` hook (topic assignment implements it) in a savepoint: a failing implementation
    must not lose the sentiment, emotions and embeddings of the batch (topics are assigned again on the next
    re-discovery or re-enrichment)."""
    try:
        with session.begin_nested():
            hooks.records_enriched(session, workspace_id=workspace_id, record_ids=record_ids, vectors=vectors)
    except Exception:
        log.exception("records_enriched failed for %d records of workspace %d", len(record_ids), workspace_id)


def enrich_records(
    db: Database,
    *,
    workspace_id: int,
    record_ids: Sequence[int],
    force: bool = False,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> EnrichResult:
    """Enrich the text records among `record_ids` that lack enrichment or whose text changed since."""
    with db.unit_of_work(readonly=True) as session:
        pending = _load(session, workspace_id, record_ids, force)
        head = workspace_head(session, workspace_id)
        examples = text_settings.emotion_examples(session, workspace_id)
    result = EnrichResult(skipped=len(record_ids) - len(pending))
    if not pending:
        return result
    texts = [p.embedded for p in pending]
    if head is None and embedder is None:  # the default model: its clauses are embedded in the same pass
        vectors, part_vectors = shared_default_analyzer().embed(texts, progress=progress)
    else:
        vectors, part_vectors = (embedder or shared_embedder()).embed(texts, progress=progress), None
    unknown = [i for i, p in enumerate(pending) if not p.language]
    originals = [pending[i].text for i in unknown]  # languages are detected on the original wording
    detected = dict(zip(unknown, detect_languages(originals), strict=True)) if unknown else {}
    found = sentiments(texts, vectors, head, part_vectors)
    emotions = shared_emotion_model().detect(vectors, examples)
    with db.unit_of_work() as session:
        current = _current_hashes(session, [p.record_id for p in pending])
        keep = [i for i, p in enumerate(pending) if current.get(p.record_id) == p.digest]
        result.skipped += len(pending) - len(keep)
        if not keep:
            return result
        now = utcnow()
        updates = []
        for i in keep:
            p = pending[i]
            language = p.language or detected.get(i)
            row = feedback_enrichment.Enrichment(
                record_id=p.record_id,
                language=language,
                sentiment_label=found[i].label,
                sentiment_score=found[i].score,
                emotions=emotions[i],
                at=now,
            )
            updates.append(row)
            result.languages[language or "unknown"] = result.languages.get(language or "unknown", 0) + 1
        feedback_enrichment.set_columns(session, updates)
        _store_embeddings(session, workspace_id, [pending[i] for i in keep], vectors[keep], now)
        announce(session, workspace_id, [pending[i].record_id for i in keep], vectors[keep])
        result.enriched = len(keep)
    return result


def _current_hashes(session: Session, record_ids: list[int]) -> dict[int, str]:
    rows = session.execute(
        select(FeedbackRecord.id, FeedbackRecord.value_text).where(FeedbackRecord.id.in_(record_ids))
    ).all()
    return {record_id: text_hash(text) for record_id, text in rows if text}


def _store_embeddings(
    session: Session, workspace_id: int, pending: list[_Pending], vectors: npt.NDArray[np.float32], now: datetime
) -> None:
    ids = [p.record_id for p in pending]
    session.execute(delete(FeedbackEmbedding).where(FeedbackEmbedding.record_id.in_(ids)))
    session.execute(
        insert(FeedbackEmbedding),
        [
            {
                "record_id": p.record_id,
                "workspace_id": workspace_id,
                "model": MODEL_NAME,
                "dim": int(vectors.shape[1]),
                "vector": encode_vector(v),
                "text_hash": p.digest,
                "created_at": now,
            }
            for p, v in zip(pending, vectors, strict=True)
        ],
    )


def record_ids_for_submissions(
    session: Session,
    workspace_id: int,
    submissions: Sequence[tuple[str, str, str]],
    *,
    any_source: Sequence[str] = (),
) -> list[int]:
    """Text records of these (source_type, source_name, submission_id) submissions: what one write stored (the
    hook names submissions, not record ids). `any_source`: submission ids of any source (jobs of older versions)."""
    by_source: dict[tuple[str | None, str | None], list[str]] = {}
    for kind, name, submission_id in submissions:
        by_source.setdefault((kind, name), []).append(submission_id)
    if any_source:
        by_source.setdefault((None, None), []).extend(any_source)
    ids: set[int] = set()
    for (source_type, source_name), submission_ids in by_source.items():
        for start in range(0, len(submission_ids), 500):
            stmt = select(FeedbackRecord.id).where(
                FeedbackRecord.workspace_id == workspace_id,
                FeedbackRecord.submission_id.in_(submission_ids[start : start + 500]),
                FeedbackRecord.field_type.in_(TEXT_FIELD_TYPES),
                FeedbackRecord.value_text.is_not(None),
            )
            if source_type is not None:
                stmt = stmt.where(FeedbackRecord.source_type == source_type, FeedbackRecord.source_name == source_name)
            ids.update(session.scalars(stmt))
    return sorted(ids)


def stale_record_ids(
    session: Session, *, workspace_id: int, after_id: int = 0, limit: int = 500
) -> tuple[list[int], int | None]:
    """Up to `limit` ids after `after_id` needing enrichment (none yet, or a changed text), and where to go on.

    Returns (ids, next after_id or None at the end); the walk is by id, so a restarted backfill resumes cheaply.
    """
    fr, fe = FeedbackRecord, FeedbackEmbedding
    rows = session.execute(
        select(fr.id, fr.value_text, fr.enriched_at, fe.text_hash, fe.model)
        .outerjoin(fe, fe.record_id == fr.id)
        .where(
            fr.workspace_id == workspace_id,
            fr.id > after_id,
            fr.field_type.in_(TEXT_FIELD_TYPES),
            fr.value_text.is_not(None),
        )
        .order_by(fr.id)
        .limit(limit * 4)
    ).all()
    if not rows:
        return [], None
    stale = [
        rid
        for rid, text, enriched_at, digest, model in rows
        if text and text.strip() and (enriched_at is None or model != MODEL_NAME or digest != text_hash(text))
    ]
    return stale[:limit], (rows[-1][0] if len(stale) <= limit else stale[limit - 1])


def count_text_records(session: Session, workspace_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                FeedbackRecord.workspace_id == workspace_id,
                FeedbackRecord.field_type.in_(TEXT_FIELD_TYPES),
                FeedbackRecord.value_text.is_not(None),
            )
        )
        or 0
    )
