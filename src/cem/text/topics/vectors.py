"""The texts of a workspace and their vectors: embeddings stored by enrichment (feedback_embedding), the rest
embedded on demand. The lowest layer of the topics package: everything else reads texts and vectors through here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.feedback.models import FeedbackRecord
from cem.text.models import FeedbackEmbedding
from cem.text.topics.discovery import normalise

Vectors = npt.NDArray[np.float32]
Embed = Callable[[Sequence[str]], Vectors]
DIM = 384
# Ids per IN (...) list: well under the bound-parameter limits of SQLite and PostgreSQL.
CHUNK = 2000


def encode(vector: npt.NDArray[Any]) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def decode(blob: bytes | None) -> Vectors:
    return np.frombuffer(blob or b"", dtype=np.float32)


def chunks(ids: Sequence[int]) -> list[list[int]]:
    """The ids in CHUNK-sized lists, one per IN (...) query."""
    return [list(ids[start : start + CHUNK]) for start in range(0, len(ids), CHUNK)]


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
    for chunk in chunks(ids):
        out.extend((int(i), str(t)) for i, t in session.execute(stmt.where(FeedbackRecord.id.in_(chunk))))
    order = {rid: n for n, rid in enumerate(ids)}
    return sorted(out, key=lambda pair: order[pair[0]])


def stored_vectors(session: Session, record_ids: Sequence[int]) -> dict[int, Vectors]:
    """Embeddings the enrichment pipeline stored (feedback_embedding), for the ids that have one."""
    out: dict[int, Vectors] = {}
    for chunk in chunks(record_ids):
        stmt = select(FeedbackEmbedding.record_id, FeedbackEmbedding.vector).where(
            FeedbackEmbedding.record_id.in_(chunk)
        )
        for rid, blob in session.execute(stmt):
            vector = decode(blob)
            if len(vector) == DIM:
                out[int(rid)] = vector
    return out


def default_embed(texts: Sequence[str]) -> Vectors:
    # The embedding model is loaded by the first text that needs it, not by every process importing topics.
    from cem.text.embeddings import shared_embedder

    return shared_embedder().embed(list(texts))


def complete_vectors(
    records: Sequence[tuple[int, str]], stored: dict[int, Vectors], embed: Embed | None = None
) -> tuple[Vectors, int]:
    """(n, 384) unit vectors of the records: the stored ones where present, the rest embedded now; and how many were."""
    missing = [n for n, (rid, _) in enumerate(records) if rid not in stored]
    out = np.zeros((len(records), DIM), dtype=np.float32)
    for n, (rid, _) in enumerate(records):
        if rid in stored:
            out[n] = stored[rid]
    if missing:
        out[missing] = (embed or default_embed)([records[n][1] for n in missing])
    return normalise(out), len(missing)


def vectors_for(
    session: Session, records: Sequence[tuple[int, str]], embed: Embed | None = None
) -> tuple[Vectors, int]:
    """complete_vectors of the records, with the stored embeddings read from the database."""
    return complete_vectors(records, stored_vectors(session, [rid for rid, _ in records]), embed)
