"""Sentiment analysis: label (negative / neutral / positive / mixed) and score in [-1, 1] per text, fully offline.

The default analyzer embeds texts with multilingual-e5-small and applies the 3-class head shipped by sentimentai-py
(it works on Portuguese and English alike). VADER is a fast English-only fallback: it never scores other languages.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

import numpy as np
import numpy.typing as npt

from cem.text.anchors import ANCHORS
from cem.text.embeddings import Embedder, Vectors, shared_embedder
from cem.text.language import detect_languages

# The sentiment labels a record can carry (the API's, the explorer's filters and corrections): written once here.
SentimentLabel = Literal["negative", "neutral", "positive", "mixed"]
LABELS: tuple[str, ...] = get_args(SentimentLabel)
Progress = Callable[[int], None]
Floats = npt.NDArray[np.float64]

# Which shipped head: measured by benchmarks/text_eval.py (its "logistic 2.0" beats "mlp 2.0" once anchored).
HEAD = ("logistic", "2.0")
# Softmax temperature over cosine similarities to the anchor centroids: e5 was trained with 0.01.
ANCHOR_TEMPERATURE = 0.01
CLASSES = ("negative", "neutral", "positive")
# A text is "mixed" when both poles are this likely at once (e.g. "great food, awful service").
MIXED_MIN = 0.3
# ... or when one of its contrasting clauses is this clearly positive and another this clearly negative.
CLAUSE_STRONG = 0.6
# Contrastive conjunctions (English, Portuguese, Spanish) that join a praise and a complaint in one text.
_CONTRAST = re.compile(
    r"[,;.]?\s+(?:but|however|although|though|yet|mas|porém|porem|entretanto|contudo|no entanto|só que|pero|aunque)\b",
    re.IGNORECASE,
)
# VADER's documented thresholds on its compound score.
VADER_POSITIVE = 0.05
# Share of positive and of negative words above which VADER's text is mixed.
VADER_MIXED = 0.2


@dataclass(frozen=True)
class Sentiment:
    """One text's sentiment: a label from LABELS and a score from -1 (negative) to 1 (positive)."""

    label: str
    score: float
    polarity: str = ""  # the strongest of negative / neutral / positive, also for a mixed text

    def __post_init__(self) -> None:
        if not self.polarity:
            object.__setattr__(self, "polarity", self.label)


class SentimentAnalyzer(Protocol):
    """Anything that scores texts; languages=None means every language, else the ISO 639-1 codes it supports."""

    name: str
    languages: frozenset[str] | None

    def analyze(self, texts: Sequence[str], *, progress: Progress | None = None) -> list[Sentiment]:
        """One Sentiment per text, in order (texts are non-empty and in a supported language)."""
        ...


def _package_dir(name: str) -> Path:
    """A package's folder without importing it (sentimentai's __init__ would import its optional torch stack)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"The package {name!r} is not installed; run scripts/setup.sh.")
    return Path(next(iter(spec.submodule_search_locations)))


@functools.lru_cache(maxsize=4)
def load_head(kind: str, version: str) -> dict[str, Any]:
    """A sentiment head for e5-small shipped inside sentimentai-py (a small JSON of weights)."""
    path = _package_dir("sentimentai") / "scoring" / kind / version / "e5-small.json"
    head: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return head


def _softmax(z: Floats) -> Floats:
    z = np.exp(z - z.max(axis=1, keepdims=True))
    out: Floats = z / z.sum(axis=1, keepdims=True)
    return out


def head_probabilities(vectors: npt.NDArray[Any], head: dict[str, Any]) -> Floats:
    """(n, 3) probabilities [negative, neutral, positive] from a head: linear or ReLU MLP layers, then softmax."""
    z: Floats = np.asarray(vectors, dtype=np.float64)
    if head["type"] == "mlp":
        layers = head["layers"]
        for index, layer in enumerate(layers):
            z = z @ np.asarray(layer["W"], dtype=np.float64).T + np.asarray(layer["b"], dtype=np.float64)
            if index < len(layers) - 1:
                z = np.maximum(z, 0.0)
    else:
        z = z @ np.asarray(head["coef"], dtype=np.float64).T + np.asarray(head["intercept"], dtype=np.float64)
    return _softmax(z / float(head.get("T") or 1.0))


def from_probabilities(p_neg: float, p_neu: float, p_pos: float) -> Sentiment:
    """Label and score from the three class probabilities; both poles strong at once makes it mixed."""
    score = round(p_pos - p_neg, 4)
    polarity = CLASSES[int(np.argmax([p_neg, p_neu, p_pos]))]
    if min(p_neg, p_pos) >= MIXED_MIN:
        return Sentiment("mixed", score, polarity)
    return Sentiment(polarity, score)


def clauses(text: str) -> list[str]:
    """The parts of a text split at contrastive conjunctions ("good seats, but awful food"), of two words or more."""
    parts = (part.strip() for part in _CONTRAST.split(text))
    return [part for part in parts if len(part.split()) >= 2]


def contrast_parts(texts: Sequence[str]) -> list[tuple[int, str]]:
    """(text index, clause) for every text with two or more contrasting clauses, in text order."""
    return [(index, part) for index, text in enumerate(texts) if len(parts := clauses(text)) >= 2 for part in parts]


class EmbeddingSentiment:
    """Default analyzer: e5 embeddings, a shipped 3-class head and example-sentence anchors; multilingual, untrained."""

    name = "e5"
    languages: frozenset[str] | None = None

    def __init__(
        self,
        embedder: Embedder | None = None,
        head: tuple[str, str] = HEAD,
        anchors: dict[str, list[str]] | None = ANCHORS,
    ) -> None:
        self.embedder = embedder or shared_embedder()
        self.head = load_head(*head)
        self.anchors = anchors
        self._centroids: Floats | None = None

    def centroids(self) -> Floats:
        """(3, 384) unit vectors: the mean embedding of each class's anchor sentences (computed once)."""
        if self._centroids is None:
            assert self.anchors is not None
            means = np.stack([self.embedder.embed(self.anchors[c]).mean(axis=0) for c in CLASSES]).astype(np.float64)
            self._centroids = means / np.linalg.norm(means, axis=1, keepdims=True)
        return self._centroids

    def probabilities(self, vectors: npt.NDArray[Any]) -> Floats:
        """(n, 3) [negative, neutral, positive]: the head's probabilities times the anchor similarity softmax."""
        p = head_probabilities(vectors, self.head)
        if self.anchors is not None:
            p = p * _softmax(np.asarray(vectors, dtype=np.float64) @ self.centroids().T / ANCHOR_TEMPERATURE)
            p = p / p.sum(axis=1, keepdims=True)
        return p

    def analyze(self, texts: Sequence[str], *, progress: Progress | None = None) -> list[Sentiment]:
        """Embed and classify texts in batches."""
        if not texts:
            return []
        return self.from_vectors(texts, *self.embed(texts, progress=progress))

    def embed(self, texts: Sequence[str], *, progress: Progress | None = None) -> tuple[Vectors, Vectors]:
        """Vectors of the texts, and of their contrasting clauses (contrast_parts order), in one engine pass.

        One pass rather than a second call for the clauses: the engine's batches and cores stay full (measured: the
        clause pass cost ~10% of enrichment time as a separate call, about half that inside the main one).
        """
        parts = [part for _, part in contrast_parts(texts)]
        both = self.embedder.embed([*texts, *parts], progress=progress, count_first=len(texts))
        return both[: len(texts)], both[len(texts) :]

    def from_vectors(
        self, texts: Sequence[str], vectors: npt.NDArray[Any], part_vectors: npt.NDArray[Any] | None = None
    ) -> list[Sentiment]:
        """Classify texts whose embeddings are already computed (enrichment reuses the stored vectors).

        part_vectors: the vectors of contrast_parts(texts) when the caller embedded them along with the texts;
        otherwise the clauses that can still change a label are embedded here.
        """
        if not texts:
            return []
        results = [from_probabilities(*map(float, row)) for row in self.probabilities(vectors)]
        # Texts already mixed as a whole need no clause pass (it could only make them mixed).
        undecided = {i for i, result in enumerate(results) if result.label != "mixed"}
        parts = contrast_parts(texts)
        if part_vectors is None:
            parts = [(index, part) for index, part in parts if index in undecided]
            part_vectors = self.embedder.embed([part for _, part in parts])
        for index in self._mixed([index for index, _ in parts], part_vectors) & undecided:
            results[index] = Sentiment("mixed", results[index].score, results[index].polarity)
        return results

    def _mixed(self, owners: Sequence[int], part_vectors: npt.NDArray[Any]) -> set[int]:
        """The owners (text indexes) having one clause clearly positive and another clearly negative."""
        if not owners:
            return set()
        p = self.probabilities(part_vectors)
        negative = {i for i, row in zip(owners, p, strict=True) if row[0] >= CLAUSE_STRONG}
        positive = {i for i, row in zip(owners, p, strict=True) if row[2] >= CLAUSE_STRONG}
        return negative & positive


class VaderSentiment:
    """VADER, the English lexicon baseline: fast, but it knows no other language."""

    name = "vader"
    languages: frozenset[str] | None = frozenset({"en"})

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._vader = SentimentIntensityAnalyzer()

    def analyze(self, texts: Sequence[str], *, progress: Progress | None = None) -> list[Sentiment]:
        """Score each text with VADER's compound score and its usual +-0.05 thresholds."""
        out = []
        for text in texts:
            scores = self._vader.polarity_scores(text)
            out.append(_vader_label(scores))
            if progress is not None:
                progress(1)
        return out


def _vader_label(scores: dict[str, float]) -> Sentiment:
    compound = float(scores["compound"])
    if compound >= VADER_POSITIVE:
        polarity = "positive"
    elif compound <= -VADER_POSITIVE:
        polarity = "negative"
    else:
        polarity = "neutral"
    mixed = scores["pos"] >= VADER_MIXED and scores["neg"] >= VADER_MIXED
    return Sentiment("mixed" if mixed else polarity, round(compound, 4), polarity)


@cache
def shared_default_analyzer() -> EmbeddingSentiment:
    """The process-wide default analyzer (its anchor centroids are computed once)."""
    return EmbeddingSentiment()


ANALYZERS: dict[str, Callable[[], SentimentAnalyzer]] = {"e5": EmbeddingSentiment, "vader": VaderSentiment}
DEFAULT_ANALYZER = "e5"


def get_analyzer(name: str = DEFAULT_ANALYZER) -> SentimentAnalyzer:
    """An analyzer by name ("e5", the default, or "vader")."""
    try:
        factory = ANALYZERS[name]
    except KeyError:
        raise ValueError(f"Unknown sentiment model {name!r}; choose one of: {', '.join(ANALYZERS)}.") from None
    return factory()


def analyze_texts(
    texts: Sequence[str], analyzer: SentimentAnalyzer, *, progress: Progress | None = None
) -> list[Sentiment | None]:
    """Sentiment per text; None for blank texts and for texts in a language the analyzer does not support."""
    wanted = [i for i, text in enumerate(texts) if text and text.strip()]
    if analyzer.languages is not None and wanted:
        # Texts whose language is unknown (too short) pass only if the analyzer's language is plausible: never
        # silently read Portuguese as English, so they must be detected as a supported language.
        found = detect_languages([texts[i] for i in wanted])
        wanted = [i for i, lang in zip(wanted, found, strict=True) if lang in analyzer.languages]
    if progress is not None and len(wanted) < len(texts):
        progress(len(texts) - len(wanted))
    results: list[Sentiment | None] = [None] * len(texts)
    for index, sentiment in zip(wanted, analyzer.analyze([texts[i] for i in wanted], progress=progress), strict=True):
        results[index] = sentiment
    return results
