"""Exact vector search over a workspace's stored embeddings, behind one small interface.

Why numpy and not an approximate index: a (n, 384) float32 matrix product is exact (recall 1.0) and, measured by
benchmarks/text_search.py, fast enough at a million records on these cores; pgvector is not packaged for Debian's
PostgreSQL 15 here (`apt-cache policy postgresql-15-pgvector` finds nothing), and sqlite-vec would add a native
extension for no recall gain. The matrix is loaded once per workspace and refreshed when the stored rows change.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cem.text.embeddings import DIM, MODEL_NAME, shared_embedder
from cem.text.models import FeedbackEmbedding

if TYPE_CHECKING:
    from cem.db.session import Database

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Hit:
    record_id: int
    score: float  # cosine similarity, -1..1


class VectorIndex(Protocol):
    """Nearest stored embeddings of a workspace to a query vector, optionally only among `among` record ids."""

    def search(
        self,
        session: Session,
        *,
        workspace_id: int,
        model: str,
        query: Vector,
        limit: int,
        among: Collection[int] | None = None,
        exclude: Collection[int] = (),
    ) -> list[Hit]: ...


@dataclass
class _Matrix:
    signature: tuple[int, datetime | None]
    ids: npt.NDArray[np.int64]
    vectors: npt.NDArray[np.float32]


def decode_vector(blob: bytes, dim: int = DIM) -> Vector:
    out: Vector = np.frombuffer(blob, dtype=np.float32, count=dim)
    return out


def encode_vector(vector: npt.NDArray[Any]) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def top_k(scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.intp]:
    """Indexes of the k highest scores, best first (argpartition: O(n), not a full sort)."""
    if k <= 0 or scores.size == 0:
        return np.empty(0, dtype=np.intp)
    if k < scores.size:
        part = np.argpartition(-scores, k - 1)[:k]
    else:
        part = np.arange(scores.size)
    order: npt.NDArray[np.intp] = part[np.argsort(-scores[part], kind="stable")]
    return order


class NumpyIndex:
    """Exact cosine search (vectors are L2-normalised, so a dot product) over a cached per-workspace matrix."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str], _Matrix] = {}
        self._lock = threading.Lock()

    def _signature(self, session: Session, workspace_id: int, model: str) -> tuple[int, datetime | None]:
        # Count and newest write together change whenever a row is added, replaced (new created_at) or deleted.
        row = session.execute(
            select(func.count(), func.max(FeedbackEmbedding.created_at)).where(
                FeedbackEmbedding.workspace_id == workspace_id, FeedbackEmbedding.model == model
            )
        ).one()
        return int(row[0]), row[1]

    def matrix(self, session: Session, workspace_id: int, model: str) -> _Matrix:
        """The workspace's (ids, vectors), refreshed only when its stored embeddings changed.

        While enrichment runs the embeddings change between any two searches; reloading every row each time made a
        search wait for the whole table. Rows written since the cached load (created_at >= its newest) are merged in
        by record id; only when that does not account for the stored count (rows were deleted) is all reloaded.
        """
        signature = self._signature(session, workspace_id, model)
        key = (workspace_id, model)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached.signature == signature:
            return cached
        loaded = None
        if cached is not None and cached.signature[1] is not None:
            loaded = self._merge_newer(session, workspace_id, model, cached, signature)
        if loaded is None:
            loaded = self._load_all(session, workspace_id, model, signature)
        with self._lock:
            self._cache[key] = loaded
        return loaded

    @staticmethod
    def _rows(session: Session, workspace_id: int, model: str, since: datetime | None = None) -> _Matrix:
        stmt = select(FeedbackEmbedding.record_id, FeedbackEmbedding.vector).where(
            FeedbackEmbedding.workspace_id == workspace_id, FeedbackEmbedding.model == model
        )
        if since is not None:
            stmt = stmt.where(FeedbackEmbedding.created_at >= since)
        rows = session.execute(stmt.order_by(FeedbackEmbedding.record_id)).all()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), DIM)
        return _Matrix((len(rows), None), ids, vectors)

    def _load_all(
        self, session: Session, workspace_id: int, model: str, signature: tuple[int, datetime | None]
    ) -> _Matrix:
        found = self._rows(session, workspace_id, model)
        return _Matrix(signature, found.ids, found.vectors)

    def _merge_newer(
        self,
        session: Session,
        workspace_id: int,
        model: str,
        cached: _Matrix,
        signature: tuple[int, datetime | None],
    ) -> _Matrix | None:
        """The cached matrix with rows written since merged in (replacing by record id), or None if that does not
        add up to `signature`'s count. `>=` re-reads rows of the newest cached instant: merging is idempotent."""
        newer = self._rows(session, workspace_id, model, since=cached.signature[1])
        if newer.ids.size > max(1000, cached.ids.size // 2):  # most of it changed: a plain reload is as cheap
            return None
        replaced = np.isin(cached.ids, newer.ids)
        ids = np.concatenate([cached.ids[~replaced], newer.ids])
        if ids.size != signature[0]:
            return None
        vectors = np.concatenate([cached.vectors[~replaced], newer.vectors])
        order = np.argsort(ids, kind="stable")
        return _Matrix(signature, ids[order], vectors[order])

    def warm(self, session: Session, model: str) -> int:
        """Load every workspace's matrix now (at server start); returns how many workspaces have embeddings."""
        workspaces = session.scalars(
            select(FeedbackEmbedding.workspace_id).where(FeedbackEmbedding.model == model).distinct()
        ).all()
        for workspace_id in workspaces:
            self.matrix(session, workspace_id, model)
        return len(workspaces)

    def is_loaded(self, workspace_id: int, model: str) -> bool:
        with self._lock:
            return (workspace_id, model) in self._cache

    def search(
        self,
        session: Session,
        *,
        workspace_id: int,
        model: str,
        query: Vector,
        limit: int,
        among: Collection[int] | None = None,
        exclude: Collection[int] = (),
    ) -> list[Hit]:
        m = self.matrix(session, workspace_id, model)
        return search_matrix(m.ids, m.vectors, query, limit, among=among, exclude=exclude)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


def search_matrix(
    ids: npt.NDArray[np.int64],
    vectors: npt.NDArray[np.float32],
    query: Vector,
    limit: int,
    *,
    among: Collection[int] | None = None,
    exclude: Collection[int] = (),
) -> list[Hit]:
    """Exact top-`limit` by dot product, restricted to `among` (filters) and without `exclude`."""
    if ids.size == 0:
        return []
    rows: npt.NDArray[np.intp] | None = None
    if among is not None:
        wanted = np.fromiter(among, dtype=np.int64, count=len(among))
        rows = np.flatnonzero(np.isin(ids, wanted))
    if exclude:
        drop = np.isin(ids, np.fromiter(exclude, dtype=np.int64, count=len(exclude)))
        rows = np.flatnonzero(~drop) if rows is None else rows[~drop[rows]]
    q = np.asarray(query, dtype=np.float32)
    if rows is None:
        scores = vectors @ q
        best = top_k(scores, limit)
        return [Hit(int(ids[i]), float(scores[i])) for i in best]
    scores = vectors[rows] @ q
    best = top_k(scores, limit)
    return [Hit(int(ids[rows[i]]), float(scores[i])) for i in best]


_shared = NumpyIndex()


def shared_index() -> NumpyIndex:
    """The process-wide index (one cached matrix per workspace)."""
    return _shared


def warm_search(db: Database) -> int:
    """Make semantic search ready before its first query: load the embedding model and every workspace's matrix.

    Run by the server in a background thread at start (app.py). Without it the first search after a restart paid
    for both, and on the demo waited behind the enrichment that the start kicked off. Returns the workspaces loaded.
    """
    shared_embedder().warm()
    with db.unit_of_work(readonly=True) as session:
        return _shared.warm(session, MODEL_NAME)
