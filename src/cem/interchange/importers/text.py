"""Text helpers shared by the importers: survey tools store question texts as HTML fragments."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_LINE_TAGS = frozenset({"div", "li", "tr", "ul", "ol", "table"})  # a block of its own line
_PARAGRAPH_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"})  # a block set apart
# Breaks are collected as markers and decided per run of them: editors write lines as <div>s and empty lines as
# <div><br></div> or <br><br>, paragraphs as <p>.
_LINE, _BR, _PARAGRAPH = "\x00L", "\x00B", "\x00P"
_BREAKS = re.compile(r"(?:\s*\x00[LBP])+\s*")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_LINK = re.compile(r"^(https?://|mailto:)\S+$", re.IGNORECASE)


class _TextExtractor(HTMLParser):
    """Text of an HTML fragment: block tags become line breaks, a link becomes "text (url)" so the address
    survives without any markup (cem stores texts as plain text and escapes them where shown)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.links: list[tuple[str, int]] = []  # (href, index in parts where the link text starts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip_depth += 1
        elif tag == "br":
            self.parts.append(_BR)
        elif tag in _LINE_TAGS or tag in _PARAGRAPH_TAGS:
            self.parts.append(_PARAGRAPH if tag in _PARAGRAPH_TAGS else _LINE)
        elif tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            self.links.append((href if _LINK.match(href) else "", len(self.parts)))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skip_depth:
            self.skip_depth -= 1
        elif tag in _LINE_TAGS or tag in _PARAGRAPH_TAGS:
            self.parts.append(_PARAGRAPH if tag in _PARAGRAPH_TAGS else _LINE)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = " ".join("".join(self.parts[start:]).split())
            address = href.removeprefix("mailto:")
            if href and label != address:
                self.parts.append(f" ({address})" if label else address)

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.parts.append(data.replace("\x00", ""))  # NUL marks breaks here


def plain_text(value: str | None) -> str:
    """HTML fragment -> readable plain text (tags dropped, entities decoded, whitespace tidied)."""
    if not value:
        return ""
    if "<" not in value and "&" not in value:
        return _SPACES.sub(" ", value).strip()
    parser = _TextExtractor()
    parser.feed(value)
    parser.close()
    text = html.unescape(_BREAKS.sub(_break, "".join(parser.parts))).replace("\xa0", " ")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _break(run: re.Match[str]) -> str:
    markers = run.group(0)
    brs, lines = markers.count(_BR), markers.count(_LINE)
    paragraph = _PARAGRAPH in markers or brs >= 2 or (brs and lines >= 3)
    return "\n\n" if paragraph else "\n"


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
