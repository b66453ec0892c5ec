"""Sentiment: the default multilingual model, the English-only VADER fallback and the label rules."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cem.text.sentiment import (
    LABELS,
    EmbeddingSentiment,
    Sentiment,
    analyze_texts,
    clauses,
    contrast_parts,
    from_probabilities,
    get_analyzer,
    head_probabilities,
    load_head,
)

ENGLISH = [
    ("@united you lost my luggage again and nobody answers the phone. Worst airline ever.", "negative"),
    ("@SouthwestAir thank you so much, the crew was amazing and we landed early!", "positive"),
    ("Terrible customer service, I waited 3 hours on hold.", "negative"),
    ("Love this airline, great legroom and friendly staff", "positive"),
]
PORTUGUESE = [
    ("Péssimo, o produto chegou quebrado e ninguém responde.", "negative"),
    ("Produto excelente, chegou antes do prazo. Recomendo!", "positive"),
    ("Não recebi o meu pedido até hoje, estou muito insatisfeita", "negative"),
    ("Ótima loja, entrega rápida e tudo certinho", "positive"),
]


@pytest.fixture(scope="module")
def default() -> EmbeddingSentiment:
    return EmbeddingSentiment()


def test_default_model_reads_english_and_portuguese(default: EmbeddingSentiment) -> None:
    texts = [t for t, _ in ENGLISH + PORTUGUESE]
    results = default.analyze(texts)
    assert [r.label for r in results] == [label for _, label in ENGLISH + PORTUGUESE]
    for result in results:
        assert -1.0 <= result.score <= 1.0
        assert (result.score > 0) == (result.label == "positive")


def test_progress_counts_every_text(default: EmbeddingSentiment) -> None:
    seen: list[int] = []
    default.analyze(["ok", "bad", "good"], progress=seen.append)
    assert sum(seen) == 3


def test_blank_texts_get_no_sentiment(default: EmbeddingSentiment) -> None:
    results = analyze_texts(["", "   ", "Great service!"], default)
    assert results[:2] == [None, None]
    assert results[2] is not None
    assert results[2].label == "positive"


def test_vader_scores_english_but_never_portuguese() -> None:
    vader = get_analyzer("vader")
    texts = ["I love this airline, great crew", "Péssimo produto, não recomendo", "ok", "Terrible delay again"]
    results = analyze_texts(texts, vader)
    assert results[0] == Sentiment("positive", results[0].score) and results[0].score > 0.5
    assert results[1] is None  # Portuguese: VADER's English lexicon would call it neutral, so it is not scored
    assert results[2] is None  # too short to know it is English
    assert results[3] is not None and results[3].label == "negative"


def test_unknown_model_is_rejected() -> None:
    with pytest.raises(ValueError, match="Unknown sentiment model 'bert'"):
        get_analyzer("bert")


@pytest.mark.parametrize(
    ("probabilities", "label"),
    [
        ((0.8, 0.15, 0.05), "negative"),
        ((0.1, 0.7, 0.2), "neutral"),
        ((0.05, 0.1, 0.85), "positive"),
        ((0.45, 0.1, 0.45), "mixed"),
        ((0.35, 0.3, 0.35), "mixed"),
    ],
)
def test_labels_from_probabilities(probabilities: tuple[float, float, float], label: str) -> None:
    result = from_probabilities(*probabilities)
    assert result.label == label
    assert result.label in LABELS
    assert result.score == pytest.approx(probabilities[2] - probabilities[0])


def test_shipped_heads_give_probabilities() -> None:
    import numpy as np

    vectors = np.random.default_rng(0).normal(size=(5, 384))
    for kind in ("logistic", "mlp"):
        p = head_probabilities(vectors, load_head(kind, "2.0"))
        assert p.shape == (5, 3)
        assert np.allclose(p.sum(axis=1), 1.0)


def test_praise_and_complaint_in_one_text_is_mixed(default: EmbeddingSentiment) -> None:
    texts = [
        "The food was great but the service was terrible.",
        "Adorei o produto, mas a entrega atrasou muito e o atendimento foi péssimo.",
        "Great crew and we landed early, thank you!",  # no contrast: stays positive
        "Nothing but problems with this airline",  # "but" without a positive clause: stays negative
    ]
    results = default.analyze(texts)
    assert [r.label for r in results] == ["mixed", "mixed", "positive", "negative"]
    assert results[0].polarity in {"negative", "positive"}
    # Clauses embedded in the same pass as the texts (enrichment) give the labels of a separate clause pass.
    seen: list[int] = []
    vectors, part_vectors = default.embed(texts, progress=seen.append)
    assert sum(seen) == len(texts)  # progress counts the texts, not the clauses riding along
    assert len(part_vectors) == len(contrast_parts(texts)) == 4  # "Nothing but problems": one clause of 2+ words
    assert default.from_vectors(texts, vectors, part_vectors) == default.from_vectors(texts, vectors) == results


def test_clauses_split_at_contrast_only() -> None:
    assert clauses("Good seats, but awful food") == ["Good seats", "awful food"]
    assert clauses("Produto bom, porém veio faltando uma peça.") == ["Produto bom", "veio faltando uma peça."]
    assert clauses("Butter was fresh") == ["Butter was fresh"]


def test_runs_without_torch_or_the_network() -> None:
    """The default model loads from installed packages only: nothing pulls torch or a model hub client."""
    code = (
        "import sys; from cem.text.sentiment import get_analyzer; "
        "r = get_analyzer().analyze(['great']); "
        "bad = [m for m in ('torch', 'sentimentai', 'huggingface_hub', 'sentence_transformers') if m in sys.modules]; "
        "assert not bad, bad; print(r[0].label)"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "positive"
