"""Language detection on short English and Portuguese feedback."""

from __future__ import annotations

import pytest

from cem.text.language import detect_language, detect_languages


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("O produto chegou antes do prazo, recomendo!", "pt"),
        ("Péssimo atendimento, nunca mais compro nessa loja", "pt"),
        ("@united thanks for losing my bag again", "en"),
        ("The flight was delayed three hours and nobody told us why", "en"),
        ("El pedido llegó roto y nadie responde", "es"),
    ],
)
def test_detects_language(text: str, code: str) -> None:
    assert detect_language(text) == code


def test_too_short_or_only_handles_is_unknown() -> None:
    assert detect_languages(["ok", "@united", "10/10", ""]) == [None, None, None, None]


def test_custom_language_set_and_bad_codes() -> None:
    assert detect_language("Muito obrigado pela ajuda", ("en", "pt")) == "pt"
    with pytest.raises(ValueError, match="Unknown ISO 639-1"):
        detect_language("hello", ("en", "xx"))
    with pytest.raises(ValueError, match="at least two"):
        detect_language("hello", ("en",))
