"""Emotions (EXPERIMENTAL, not yet measured on labelled data): joy, anger, sadness, fear, surprise, disgust.

No installable package ships emotion weights that load offline, so emotions are read from the same e5 embeddings as
sentiment: each emotion is the centroid of a few example sentences (English and Portuguese), next to a "none" class of
plain, unemotional statements. A text gets every emotion whose share of a softmax over the centroids' cosine
similarities passes a threshold, so several may apply. Workspaces can replace the example sentences (stored in
workspace settings) to fit their domain.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from cem.errors import InvalidInput
from cem.text.embeddings import Embedder, shared_embedder

EMOTIONS: tuple[str, ...] = ("joy", "anger", "sadness", "fear", "surprise", "disgust")
NONE = "none"
# Softmax temperature over cosine similarities (e5 was trained with 0.01) and the share an emotion needs.
TEMPERATURE = 0.01
MIN_SHARE = 0.3
MAX_EXAMPLES = 50
MAX_EXAMPLE_CHARS = 300

DEFAULT_EXAMPLES: dict[str, list[str]] = {
    "joy": [
        "I am so happy with this, it made my day!",
        "Loved it, what a wonderful experience.",
        "Thank you so much, I'm delighted.",
        "Best trip ever, we had a great time.",
        "Estou muito feliz com a compra, adorei!",
        "Que alegria, chegou tudo perfeito.",
        "Amei o atendimento, fiquei encantada.",
    ],
    "anger": [
        "I am furious, this is unacceptable!",
        "Absolutely outraged by how I was treated.",
        "Stop ignoring me, I'm sick of your excuses!",
        "This makes me so angry, third time you've done this.",
        "Estou revoltado, isso é um absurdo!",
        "Que raiva, ninguém resolve nada!",
        "Inaceitável, estou furiosa com essa empresa.",
    ],
    "sadness": [
        "I'm really sad and disappointed, it was a gift for my mother.",
        "This ruined our holiday, we are heartbroken.",
        "I feel let down, I expected so much more.",
        "Unfortunately it never arrived and my son cried.",
        "Fiquei muito triste, era um presente.",
        "Que decepção, estou desanimada.",
        "Infelizmente estragou nossa viagem.",
    ],
    "fear": [
        "I'm scared my card details were stolen.",
        "I'm worried I will miss my connection and be stranded.",
        "The turbulence was terrifying, I was afraid.",
        "I'm anxious that my package is lost forever.",
        "Estou com medo de ter sido golpe.",
        "Fiquei preocupada, tenho receio de não receber.",
        "Tenho medo que cobrem de novo no cartão.",
    ],
    "surprise": [
        "Wow, I did not expect that at all!",
        "I was surprised it arrived a week early.",
        "Can't believe they upgraded us for free, what a surprise!",
        "Suddenly my flight was gone from the app?!",
        "Nossa, que surpresa, chegou muito antes!",
        "Não esperava por isso, fiquei surpreso.",
        "Inacreditável, de repente cancelaram!",
    ],
    "disgust": [
        "Disgusting, the food was rotten.",
        "The seat was filthy and the toilet smelled awful.",
        "Gross, there was hair in my meal.",
        "The room was dirty and revolting.",
        "Que nojo, o produto veio sujo e mofado.",
        "Nojento, a comida estava estragada.",
        "Veio com cheiro horrível, repugnante.",
    ],
    NONE: [
        "The package arrived on Tuesday.",
        "My flight leaves at 9 from gate 12.",
        "I ordered two items in blue.",
        "Please update my address.",
        "O pedido chegou na terça-feira.",
        "Comprei dois itens na cor azul.",
        "Qual é o prazo de entrega?",
    ],
}

Floats = npt.NDArray[np.float64]


def validate_examples(examples: Mapping[str, Any]) -> dict[str, list[str]]:
    """Checked example sentences: known emotions (or "none") only, 1-50 non-blank sentences each, <= 300 chars."""
    if not isinstance(examples, Mapping) or not examples:
        raise InvalidInput("Emotion examples must be an object mapping an emotion to a list of sentences.")
    known = (*EMOTIONS, NONE)
    unknown = sorted(set(examples) - set(known))
    if unknown:
        raise InvalidInput(f"Unknown emotion(s) {', '.join(unknown)}; use: {', '.join(known)}.")
    clean: dict[str, list[str]] = {}
    for name, sentences in examples.items():
        if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
            raise InvalidInput(f"Examples for {name!r} must be a list of sentences.")
        kept = [s.strip() for s in sentences if s.strip()]
        if not 1 <= len(kept) <= MAX_EXAMPLES:
            raise InvalidInput(f"Give 1-{MAX_EXAMPLES} example sentences for {name!r}, got {len(kept)}.")
        if any(len(s) > MAX_EXAMPLE_CHARS for s in kept):
            raise InvalidInput(f"Example sentences for {name!r} must be at most {MAX_EXAMPLE_CHARS} characters.")
        clean[name] = kept
    # Emotions the workspace did not override keep the defaults.
    return {name: clean.get(name, DEFAULT_EXAMPLES[name]) for name in known}


def examples_digest(examples: Mapping[str, Sequence[str]]) -> str:
    return hashlib.sha256(json.dumps(examples, sort_keys=True).encode()).hexdigest()


class EmotionModel:
    """Centroids of example sentences; computed once per distinct example set and cached."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self.embedder = embedder or shared_embedder()
        self._cache: dict[str, Floats] = {}
        self._lock = threading.Lock()

    def centroids(self, examples: Mapping[str, Sequence[str]]) -> Floats:
        """(7, 384) unit vectors: the six emotions then "none"."""
        key = examples_digest(examples)
        with self._lock:
            if key not in self._cache:
                names = (*EMOTIONS, NONE)
                means = np.stack([self.embedder.embed(list(examples[n])).mean(axis=0) for n in names])
                means = means.astype(np.float64)
                self._cache[key] = means / np.linalg.norm(means, axis=1, keepdims=True)
            return self._cache[key]

    def scores(self, vectors: npt.NDArray[Any], examples: Mapping[str, Sequence[str]] | None = None) -> Floats:
        """(n, 7) softmax shares over the emotions and "none"."""
        c = self.centroids(examples or DEFAULT_EXAMPLES)
        z = np.asarray(vectors, dtype=np.float64) @ c.T / TEMPERATURE
        z = np.exp(z - z.max(axis=1, keepdims=True))
        out: Floats = z / z.sum(axis=1, keepdims=True)
        return out

    def detect(self, vectors: npt.NDArray[Any], examples: Mapping[str, Sequence[str]] | None = None) -> list[list[str]]:
        """Per vector, the emotions (possibly several, possibly none) whose share reaches MIN_SHARE."""
        shares = self.scores(vectors, examples)
        return [[e for e, s in zip(EMOTIONS, row[: len(EMOTIONS)], strict=True) if s >= MIN_SHARE] for row in shares]


@cache
def shared_emotion_model() -> EmotionModel:
    """The process-wide emotion model (built once, on first use)."""
    return EmotionModel()
