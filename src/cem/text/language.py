"""Language detection with lingua (its models ship in the wheel), restricted to a small language set for speed."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from lingua import IsoCode639_1, LanguageDetector, LanguageDetectorBuilder

# The languages cem's users mostly write in; fewer candidates make lingua faster and short texts less ambiguous.
DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "pt", "es", "fr", "de", "it", "nl")
# Below this many letters ("ok", "10/10") no detector is reliable: report "unknown" (None) rather than guess.
MIN_LETTERS = 3
# A winner must beat the runner-up by this margin, otherwise the language is unknown.
MIN_RELATIVE_DISTANCE = 0.05


def _iso(code: str) -> IsoCode639_1:
    try:
        return IsoCode639_1.from_str(code.lower())
    except ValueError:
        raise ValueError(f"Unknown ISO 639-1 language code: {code!r}.") from None


@functools.lru_cache(maxsize=4)
def detector(languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> LanguageDetector:
    """A lingua detector for the given ISO 639-1 codes, built once per language set (building takes ~1 s)."""
    if len(languages) < 2:
        raise ValueError("Language detection needs at least two candidate languages.")
    isos = [_iso(code) for code in languages]
    return (
        LanguageDetectorBuilder.from_iso_codes_639_1(*isos)
        .with_minimum_relative_distance(MIN_RELATIVE_DISTANCE)
        .with_preloaded_language_models()
        .build()
    )


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def detect_language(text: str, languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> str | None:
    """The ISO 639-1 code of text's language ("en", "pt", ...), or None when it is too short or ambiguous."""
    return detect_languages([text], languages)[0]


def detect_languages(texts: Sequence[str], languages: tuple[str, ...] = DEFAULT_LANGUAGES) -> list[str | None]:
    """detect_language for many texts at once (lingua spreads the batch over the CPU cores)."""
    stripped = [_strip_handles(t) for t in texts]
    found = detector(languages).detect_languages_in_parallel_of(stripped)
    return [
        lang.iso_code_639_1.name.lower() if lang is not None and _letters(text) >= MIN_LETTERS else None
        for text, lang in zip(stripped, found, strict=True)
    ]


def _strip_handles(text: str) -> str:
    """Drop @mentions, #tags and URLs, which carry no language but skew short texts (tweets)."""
    return " ".join(w for w in text.split() if not w.startswith(("@", "#", "http://", "https://")))
