"""Embedding in batches (length order, one engine thread per core, repeated texts once) changes no vector."""

from __future__ import annotations

import numpy as np

from cem.text.embeddings import DIM, MAX_CHARS, Embedder, batches, shared_embedder

TEXTS = [
    "The flight was delayed three hours and nobody told us anything, then they lost my bag.",
    "ok",
    "Produto chegou antes do prazo, muito bom!",
    "Great crew but the seats were awful, but honestly I'd fly with them again next month.",
    "ok",  # a repeat: embedded once, returned twice
    "Não recomendo.",
    "Still waiting for my refund " * 100,  # longer than MAX_CHARS: cut before embedding
    "Muito bom",
    "Thanks!",
    "Entrega rápida, mas a caixa veio amassada e faltou uma peça do kit que comprei para o meu filho.",
]


def test_batched_embedding_equals_one_by_one_in_input_order() -> None:
    embedder = Embedder(workers=2)
    seen: list[int] = []
    batched = embedder.embed(TEXTS, progress=seen.append, batch_size=3)
    # One by one as a search query is embedded: a lone urgent batch on the engine's own threads.
    one_by_one = np.stack([shared_embedder().embed([text], urgent=True)[0] for text in TEXTS])
    assert batched.shape == (len(TEXTS), DIM) and batched.dtype == np.float32
    assert len(seen) > 1 and sum(seen) == len(TEXTS)  # several batches; progress counts every input text
    np.testing.assert_allclose(batched, one_by_one, rtol=0, atol=1e-6)
    # Input order, not length order: distinct texts have distinct vectors, repeats the same one.
    assert np.array_equal(batched[1], batched[4]) and not np.allclose(batched[0], batched[1])
    np.testing.assert_allclose(batched[6], embedder.embed([TEXTS[6][:MAX_CHARS]])[0], rtol=0, atol=1e-6)
    # One engine call per text on one thread gives the same vectors too.
    serial = Embedder(workers=1).embed(TEXTS, batch_size=1)
    np.testing.assert_allclose(serial, one_by_one, rtol=0, atol=1e-6)
    assert embedder.embed([]).shape == (0, DIM)


def test_batches_go_shortest_first_within_both_limits() -> None:
    lengths = [50, 400, 10, 120, 10, 90, 300, 10]
    groups = batches(lengths, batch_size=3, batch_chars=200)
    assert [i for group in groups for i in group] == sorted(range(len(lengths)), key=lengths.__getitem__)
    assert all(len(group) <= 3 for group in groups)
    # Over the character budget only when a single text is longer than it.
    assert all(sum(lengths[i] for i in group) <= 200 or len(group) == 1 for group in groups)
    assert groups == [[2, 4, 7], [0, 5], [3], [6], [1]]
    assert batches([]) == []
