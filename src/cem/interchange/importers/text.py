"""Text helpers shared by the importers: survey tools store question texts as HTML fragments."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:  # noqa: ARG002
        if tag in ("script", "style"):
            self.skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skip_depth:
            self.skip_depth -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.parts.append(data)


def plain_text(value: str | None) -> str:
    """HTML fragment -> readable plain text (tags dropped, entities decoded, whitespace tidied)."""
    if not value:
        return ""
    if "<" not in value and "&" not in value:
        return _SPACES.sub(" ", value).strip()
    parser = _TextExtractor()
    parser.feed(value)
    parser.close()
    text = html.unescape("".join(parser.parts)).replace("\xa0", " ")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def has_script(value: str | None) -> bool:
    return bool(value) and "<script" in (value or "").lower()


_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


def safe_id(raw: str, *, prefix: str = "q") -> str:
    """An identifier made of letters, digits and underscores that starts with a letter."""
    cleaned = _ID_UNSAFE.sub("_", raw).strip("_")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"{prefix}_{cleaned}" if cleaned else prefix
    return cleaned[:64]


def unique_id(candidate: str, taken: set[str]) -> str:
    """`candidate`, or `candidate_2`, `candidate_3`... whichever is not in `taken`; the result is added to it."""
    value, n = candidate, 2
    while value in taken:
        value = f"{candidate}_{n}"
        n += 1
    taken.add(value)
    return value
