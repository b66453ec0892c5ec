"""Text analytics API: semantic search, similar feedback, label corrections, training, PII and emotion settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from cem.api.body import StrictJsonRoute
from cem.api.deps import Admin, DbSession, Reader, Writer
from cem.feedback.schemas import FeedbackFilter, FeedbackRead
from cem.schemas import Id
from cem.text import service
from cem.text import settings as text_settings
from cem.text.embeddings import MODEL_NAME
from cem.text.redaction import hidden_spans, masker_for
from cem.text.schemas import (
    CorrectionRead,
    EmotionExamples,
    LabelIn,
    ModelRead,
    PiiSettings,
    SearchHit,
    SearchResults,
    TrainResult,
)

router = APIRouter(tags=["text"], route_class=StrictJsonRoute)

Filters = Annotated[FeedbackFilter, Depends()]


def _results(session: DbSession, actor: Reader, found: list[service.Found]) -> SearchResults:
    masker = masker_for(session, actor)
    items = []
    for f in found:
        record = FeedbackRead.model_validate(f.record)
        items.append(SearchHit(record=masker.model(record) if masker else record, score=f.score))
    return SearchResults(items=items, model=MODEL_NAME)


@router.get("/text/search", response_model=SearchResults, summary="Semantic search over feedback text")
def search(
    session: DbSession,
    actor: Reader,
    filters: Filters,
    limit: int = Query(default=20, ge=1, le=200),
) -> SearchResults:
    """Records closest in meaning to `q` (e.g. "complaints about refunds"), within the other explorer filters."""
    query = filters.q or ""
    flt = filters.model_copy(update={"q": None})
    found = service.semantic_search(
        session,
        workspace_id=actor.workspace_id,
        query=query,
        flt=flt,
        limit=limit,
        hidden=hidden_spans(session, actor),
    )
    return _results(session, actor, found)


@router.get("/feedback/{record_id}/similar", response_model=SearchResults, summary="Feedback similar to one record")
def similar(
    session: DbSession,
    actor: Reader,
    record_id: Id,
    filters: Filters,
    limit: int = Query(default=10, ge=1, le=200),
) -> SearchResults:
    found = service.similar(
        session,
        workspace_id=actor.workspace_id,
        record_id=record_id,
        flt=filters,  # its full-text `q` matches only text the caller sees
        limit=limit,
        hidden=hidden_spans(session, actor),
    )
    return _results(session, actor, found)


@router.put("/feedback/{record_id}/label", response_model=CorrectionRead, summary="Correct a record's sentiment/topic")
def correct_label(session: DbSession, actor: Writer, record_id: Id, body: LabelIn) -> CorrectionRead:
    row = service.correct_label(
        session, actor=actor, record_id=record_id, sentiment_label=body.sentiment_label, topic=body.topic
    )
    return CorrectionRead.model_validate(row)


@router.get("/text/corrections", response_model=list[CorrectionRead], summary="Label corrections, newest first")
def corrections(
    session: DbSession, actor: Reader, limit: int = Query(default=100, ge=1, le=1000)
) -> list[CorrectionRead]:
    return [
        CorrectionRead.model_validate(r)
        for r in service.corrections(session, workspace_id=actor.workspace_id, limit=limit)
    ]


@router.get("/text/models", response_model=list[ModelRead], summary="The workspace's trained sentiment models")
def models(session: DbSession, actor: Reader) -> list[ModelRead]:
    return [ModelRead.model_validate(m) for m in service.models(session, workspace_id=actor.workspace_id)]


@router.post("/text/models/train", response_model=TrainResult, summary="Train the workspace's sentiment model")
def train(session: DbSession, actor: Writer) -> TrainResult:
    """Fit on corrected labels; it replaces the default only if its cross-validated macro-F1 is higher."""
    report, row = service.train_workspace_model(session, actor=actor)
    return TrainResult(
        model=ModelRead.model_validate(row),
        folds=report.folds,
        replaced_default=row.active,
        message=service.training_message(report),
    )


@router.get("/text/settings/pii", response_model=PiiSettings, summary="PII redaction settings")
def get_pii(session: DbSession, actor: Reader) -> PiiSettings:
    config = text_settings.pii_config(session, actor.workspace_id)
    return PiiSettings.model_validate(config.to_json())


@router.put("/text/settings/pii", response_model=PiiSettings, summary="Change PII redaction settings")
def put_pii(session: DbSession, actor: Admin, body: PiiSettings) -> PiiSettings:
    config = text_settings.set_pii_config(session, actor, enabled=body.enabled, kinds=list(body.kinds))
    return PiiSettings.model_validate(config.to_json())


@router.get(
    "/text/settings/emotions", response_model=EmotionExamples, summary="Emotion example sentences (experimental)"
)
def get_emotions(session: DbSession, actor: Reader) -> EmotionExamples:
    return EmotionExamples(examples=text_settings.emotion_examples(session, actor.workspace_id))


@router.put("/text/settings/emotions", response_model=EmotionExamples, summary="Edit emotion example sentences")
def put_emotions(session: DbSession, actor: Admin, body: EmotionExamples) -> EmotionExamples:
    return EmotionExamples(examples=text_settings.set_emotion_examples(session, actor, body.examples))
