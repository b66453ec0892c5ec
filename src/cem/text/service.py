"""Text analytics on stored feedback: semantic search, similar feedback, label corrections and workspace training."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.auth import audit
from cem.auth.principal import Principal
from cem.db.base import utcnow
from cem.errors import BadRequest, Conflict, InvalidInput
from cem.feedback import enrichment as feedback_enrichment
from cem.feedback import service as feedback_service
from cem.feedback.fulltext import SpanFinder
from cem.feedback.models import FeedbackRecord
from cem.feedback.schemas import FeedbackFilter
from cem.jobs.queue import enqueue
from cem.text import enrich
from cem.text.embeddings import MODEL_NAME, shared_embedder
from cem.text.models import FeedbackEmbedding, LabelCorrection, WorkspaceSentimentModel
from cem.text.sentiment import CLASSES, LABELS
from cem.text.topics import service as topic_service
from cem.text.training import TrainingReport, train
from cem.text.vector_index import Hit, VectorIndex, decode_vector, shared_index

MAX_QUERY_CHARS = 500
RESCORE_BATCH = 2000


@dataclass(frozen=True)
class Found:
    record: FeedbackRecord
    score: float


def _has_filters(flt: FeedbackFilter) -> bool:
    return any(value is not None for value in flt.model_dump().values())


def _candidates(session: Session, workspace_id: int, flt: FeedbackFilter, hidden: SpanFinder | None) -> set[int] | None:
    """Record ids passing the explorer's filters, or None when no filter is set (search everything).

    A full-text `q` among the filters matches only text the caller sees (`hidden`: cem.text.redaction.hidden_spans).
    """
    if not _has_filters(flt):
        return None
    return feedback_service.filtered_id_set(session, workspace_id=workspace_id, flt=flt, hidden=hidden)


def _records(session: Session, hits: Sequence[Hit]) -> list[Found]:
    if not hits:
        return []
    by_id = {
        r.id: r
        for r in session.scalars(select(FeedbackRecord).where(FeedbackRecord.id.in_([h.record_id for h in hits])))
    }
    return [Found(by_id[h.record_id], round(h.score, 4)) for h in hits if h.record_id in by_id]


def semantic_search(
    session: Session,
    *,
    workspace_id: int,
    query: str,
    flt: FeedbackFilter,
    limit: int,
    index: VectorIndex | None = None,
    hidden: SpanFinder | None = None,
) -> list[Found]:
    """Records whose meaning is closest to `query` ("complaints about refunds"), within the explorer's filters.

    Stored embeddings are computed from text with personal data masked (see enrich.embedded_text), so the ranking
    never reveals an email or phone number to a caller who sees it masked.
    """
    query = query.strip()
    if not query:
        raise InvalidInput("Give a search query (q).")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"A search query may be at most {MAX_QUERY_CHARS} characters.")
    vector = shared_embedder().embed([query], urgent=True)[0]  # ahead of any enrichment under way
    hits = (index or shared_index()).search(
        session,
        workspace_id=workspace_id,
        model=MODEL_NAME,
        query=vector,
        limit=limit,
        among=_candidates(session, workspace_id, flt, hidden),
    )
    return _records(session, hits)


def similar(
    session: Session,
    *,
    workspace_id: int,
    record_id: int,
    flt: FeedbackFilter,
    limit: int,
    index: VectorIndex | None = None,
    hidden: SpanFinder | None = None,
) -> list[Found]:
    """The records most similar to one record (by its stored embedding), within the explorer's filters."""
    feedback_service.get_record(session, workspace_id=workspace_id, record_id=record_id)
    stored = session.get(FeedbackEmbedding, record_id)
    if stored is None or stored.model != MODEL_NAME:
        raise Conflict(f"Feedback record {record_id} has no text embedding yet (not a text, or not enriched yet).")
    hits = (index or shared_index()).search(
        session,
        workspace_id=workspace_id,
        model=MODEL_NAME,
        query=decode_vector(stored.vector, stored.dim),
        limit=limit,
        among=_candidates(session, workspace_id, flt, hidden),
        exclude=(record_id,),
    )
    return _records(session, hits)


# -- label corrections ----------------------------------------------------------------------------------------------


def correct_label(
    session: Session, *, actor: Principal, record_id: int, sentiment_label: str | None, topic: str | None
) -> LabelCorrection:
    """Record a user's correction (the latest per record wins) and show it on the record right away."""
    if sentiment_label is None and topic is None:
        raise InvalidInput("Give a corrected sentiment_label, a topic, or both.")
    if sentiment_label is not None and sentiment_label not in LABELS:
        raise InvalidInput(f"Unknown sentiment label {sentiment_label!r}; use one of: {', '.join(LABELS)}.")
    record = feedback_service.get_record(session, workspace_id=actor.workspace_id, record_id=record_id)
    if not record.value_text:
        raise BadRequest(f"Feedback record {record_id} has no text to label.")
    row = session.scalars(select(LabelCorrection).where(LabelCorrection.record_id == record_id)).first()
    if row is None:
        row = LabelCorrection(workspace_id=actor.workspace_id, record_id=record_id)
        session.add(row)
    if sentiment_label is not None:
        row.sentiment_label = sentiment_label
        record.sentiment_label = sentiment_label
        record.updated_at = utcnow()  # the analytics snapshot refreshes by updated_at
    if topic is not None:
        row.topic = topic.strip() or None
        # An existing topic (by key or label) moves the record into it for good; other names stay as typed.
        record.topics = topic_service.apply_topic_correction(session, actor.workspace_id, record_id, row.topic)
    row.user_id = actor.actor_id if actor.actor_type == "user" else None
    row.corrected_by = actor.label
    row.created_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "text.label_correct",
        entity_type="feedback_record",
        entity_id=record_id,
        details={"sentiment_label": sentiment_label, "topic": topic},
    )
    return row


def get_text_record(session: Session, *, workspace_id: int, record_id: int) -> FeedbackRecord:
    return feedback_service.get_record(session, workspace_id=workspace_id, record_id=record_id)


def find_text_record(session: Session, *, workspace_id: int, record_id: int) -> FeedbackRecord | None:
    record = session.get(FeedbackRecord, record_id)
    return record if record is not None and record.workspace_id == workspace_id else None


def correction_count(session: Session, *, workspace_id: int) -> int:
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).where(LabelCorrection.workspace_id == workspace_id)) or 0)


def corrections(session: Session, *, workspace_id: int, limit: int = 500) -> list[LabelCorrection]:
    return list(
        session.scalars(
            select(LabelCorrection)
            .where(LabelCorrection.workspace_id == workspace_id)
            .order_by(LabelCorrection.created_at.desc(), LabelCorrection.id.desc())
            .limit(limit)
        )
    )


# -- training ---------------------------------------------------------------------------------------------------------


def _training_set(session: Session, workspace_id: int) -> tuple[list[int], np.ndarray[Any, Any], list[str], list[str]]:
    """Corrected records that have a stored embedding: ids, vectors, corrected labels, texts."""
    rows = session.execute(
        select(
            LabelCorrection.record_id,
            LabelCorrection.sentiment_label,
            FeedbackEmbedding.vector,
            FeedbackEmbedding.dim,
            FeedbackRecord.value_text,
        )
        .join(FeedbackEmbedding, FeedbackEmbedding.record_id == LabelCorrection.record_id)
        .join(FeedbackRecord, FeedbackRecord.id == LabelCorrection.record_id)
        .where(
            LabelCorrection.workspace_id == workspace_id,
            LabelCorrection.sentiment_label.in_(CLASSES),
            FeedbackEmbedding.model == MODEL_NAME,
        )
        .order_by(LabelCorrection.record_id)
    ).all()
    ids = [r[0] for r in rows]
    vectors = np.stack([decode_vector(r[2], r[3]) for r in rows]) if rows else np.zeros((0, 384), np.float32)
    return ids, vectors, [str(r[1]) for r in rows], [r[4] or "" for r in rows]


def train_workspace_model(session: Session, *, actor: Principal) -> tuple[TrainingReport, WorkspaceSentimentModel]:
    """Fit the workspace's own sentiment model on its corrected labels; it replaces the default only if it beats it.

    When it does, a job re-scores the workspace's stored texts with it (from stored embeddings, no re-embedding).
    """
    ws = actor.workspace_id
    _, vectors, labels, texts = _training_set(session, ws)
    default = [s.polarity for s in enrich.sentiments(texts, vectors, None)] if texts else []
    try:
        report = train(vectors, labels, default)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    row = WorkspaceSentimentModel(
        workspace_id=ws,
        embedding_model=MODEL_NAME,
        classes=list(report.head.classes),
        weights=report.head.to_json(),
        samples=report.samples,
        cv_accuracy=report.cv_accuracy,
        cv_macro_f1=report.cv_macro_f1,
        default_accuracy=report.default_accuracy,
        default_macro_f1=report.default_macro_f1,
        active=report.beats_default,
    )
    if report.beats_default:
        for old in session.scalars(
            select(WorkspaceSentimentModel).where(
                WorkspaceSentimentModel.workspace_id == ws, WorkspaceSentimentModel.active.is_(True)
            )
        ):
            old.active = False
    session.add(row)
    session.flush()
    if report.beats_default:
        enqueue(session, "text.rescore", workspace_id=ws)
    audit.record(
        session,
        actor,
        "text.train",
        entity_type="workspace_sentiment_model",
        entity_id=row.id,
        details={
            "samples": report.samples,
            "cv_macro_f1": report.cv_macro_f1,
            "default_macro_f1": report.default_macro_f1,
            "active": row.active,
        },
    )
    return report, row


def training_message(report: TrainingReport) -> str:
    """One line for the CLI and the UI: the cross-validated figures and whether the default was replaced."""
    figures = (
        f"{report.samples} corrected labels, {report.folds}-fold CV: accuracy {report.cv_accuracy:.3f}, "
        f"macro-F1 {report.cv_macro_f1:.3f} (default model on the same folds: accuracy {report.default_accuracy:.3f}, "
        f"macro-F1 {report.default_macro_f1:.3f})"
    )
    if report.beats_default:
        return f"{figures}. The workspace now uses its own model; stored texts are being re-scored."
    return f"{figures}. Kept the current model: the trained one does not beat the default."


def models(session: Session, *, workspace_id: int) -> list[WorkspaceSentimentModel]:
    return list(
        session.scalars(
            select(WorkspaceSentimentModel)
            .where(WorkspaceSentimentModel.workspace_id == workspace_id)
            .order_by(WorkspaceSentimentModel.id.desc())
        )
    )


def rescore_batch(session: Session, *, workspace_id: int, after_id: int, batch: int = RESCORE_BATCH) -> int | None:
    """Recompute sentiment of one batch of enriched records from their stored embeddings; next after_id or None.

    Corrected labels stay as the user set them.
    """
    head = enrich.workspace_head(session, workspace_id)
    rows = session.execute(
        select(FeedbackEmbedding.record_id, FeedbackEmbedding.vector, FeedbackEmbedding.dim, FeedbackRecord.value_text)
        .join(FeedbackRecord, FeedbackRecord.id == FeedbackEmbedding.record_id)
        .where(
            FeedbackEmbedding.workspace_id == workspace_id,
            FeedbackEmbedding.model == MODEL_NAME,
            FeedbackEmbedding.record_id > after_id,
        )
        .order_by(FeedbackEmbedding.record_id)
        .limit(batch)
    ).all()
    if not rows:
        return None
    corrected = set(
        session.scalars(
            select(LabelCorrection.record_id).where(
                LabelCorrection.record_id.in_([r[0] for r in rows]), LabelCorrection.sentiment_label.is_not(None)
            )
        )
    )
    keep = [r for r in rows if r[0] not in corrected]
    if keep:
        vectors = np.stack([decode_vector(r[1], r[2]) for r in keep])
        found = enrich.sentiments([r[3] or "" for r in keep], vectors, head)
        sentiments = {r[0]: (s.label, s.score) for r, s in zip(keep, found, strict=True)}
        feedback_enrichment.set_sentiments(session, sentiments, at=utcnow())
    return int(rows[-1][0])
