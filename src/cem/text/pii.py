"""Find and mask personal data in free text: emails, phone numbers, card numbers, IBANs, IP addresses and names.

Every candidate is validated (Luhn for cards, ISO 7064 mod 97 for IBANs, octet ranges for IPs, digit counts and
separators for phones) so that order numbers, dates, prices and versions stay readable.

Person names are found by rule, not by a model: no named-entity model for both English and Portuguese ships in a
package installable here (spaCy's pipelines are not on PyPI; GLiNER and the like download weights at run time). A name
is one to three capitalised words that the text introduces as a person's: after a title (Mr, Mrs, Dr, Sr., Sra., Dona)
or a phrase such as "my name is", "spoke with", "agent", "meu nome é", "falei com", "atendente". Names written
without such a cue ("Thanks to Maria for her help") are not found.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

KINDS: tuple[str, ...] = ("email", "iban", "card", "ip", "phone", "name")

# Lengths of IBANs per country (ISO 13616 registry, the countries our users are likely to quote).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AT": 20, "BE": 16, "BG": 22, "BR": 29, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22,
    "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15,
    "PL": 28, "PT": 25, "RO": 24, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26,
}  # fmt: skip

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,30}")
# 13-19 digits, optionally grouped by single spaces or dashes, not glued to other digits.
_CARD = re.compile(r"(?<![\d.,/-])\d(?:[ -]?\d){12,18}(?![\d])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_PHONE_PATTERNS = (
    # International: +55 11 98765-4321, +1 (555) 123-4567, +44 20 7946 0958, +351 912 345 678.
    re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,5}(?!\d)"),
    # Area code in parentheses: (11) 98765-4321, (555) 123-4567, (21) 3456 7890.
    re.compile(r"(?<!\w)\(\d{2,4}\)[ ]?\d{3,5}[ .-]?\d{4}(?!\d)"),
    # Three separated groups ending in four digits: 555-123-4567, 11 98765 4321, 020 7946 0958.
    re.compile(r"(?<![\w/.-])(?<!\d[ .-])(?:1[ .-])?\d{2,5}[ .-]\d{3,5}[ .-]\d{4}(?![\w/]|[ .-]\d)"),
    # Mobile with a dash: 98765-4321 (Brazil), 912-345-678 shapes are covered above.
    re.compile(r"(?<![\w/.-])9\d{4}-\d{4}(?![\w/]|[.-]\d)"),
)
# A number right after one of these words is a reference (order 12345-678-9012, version 1.2.3.4), not personal data.
_REFERENCE_BEFORE = re.compile(
    r"(?:\b(?:order|pedido|ref|reference|referência|invoice|nota|fatura|ticket|protocolo|protocol|tracking|rastreio|"
    r"version|versão|versao|build|no\.|n[º°])|#)\W{0,3}$",
    re.IGNORECASE,
)
# A cue that introduces a person (case-insensitive), then the name: capitalised words, with Portuguese/Spanish/Dutch
# particles between them ("Ana de Souza"). Titles need a capital and may end in a dot.
_NAME_WORD = "[A-ZÀ-ÖØ-Þ](?:[a-zà-öø-ÿ]|['\u2019-][A-ZÀ-ÖØ-Þa-zà-öø-ÿ])+"  # Ana, O'Connor, Jean-Luc
_NAME = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Miss|Dr|Dra|Sr|Sra|Srta|Dona|Mme|Mlle)\.?[ ]+"
    r"|\b(?i:my name is|my name's|spoke (?:with|to)|talked (?:with|to)|chatted with|agent|representative|attendant|"
    r"employee named|ask for|asked for|"
    r"meu nome é|me chamo|falei com|falar com|conversei com|fui atendid[oa] por|atendente|vendedor[a]?|"
    r"funcionári[oa]|mi nombre es|hablé con)[ ]+(?:(?i:the |o |a |la |el )?))"
    rf"({_NAME_WORD}(?:[ ]+(?:(?:da|de|do|dos|das|del|van|von|di)[ ]+)?{_NAME_WORD}){{0,2}})"
)
# Capitalised words a cue may be followed by that are not names ("spoke with Customer Service", "agent Was rude").
_NOT_NAMES = frozenset(
    "The A An I It This That Customer Service Support Team Manager Supervisor Someone Somebody Nobody Everyone "
    "Was Is Were Are Did Does Had Has Who And But Then Today Yesterday Monday Tuesday Wednesday Thursday Friday "
    "Saturday Sunday Ninguém Alguém Atendimento Suporte Equipe Gerente Que Foi Era Hoje Ontem".split()
)
# Every kind but names needs one of these (an email "@", an IPv6 address ":", the others digits): texts without
# any, most feedback, are done with one scan instead of nine patterns.
_MAYBE_PII = re.compile(r"[\d@:]")
# Card issuer prefixes (Visa, Mastercard, Amex, Diners, Discover, JCB, Elo, Hipercard): other Luhn-valid digit runs,
# such as order or tracking numbers, are left alone.
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[047]|35|36|38|6011|65|64[4-9]|62|636368|438935|504175|451416|606282)")


@dataclass(frozen=True)
class PiiMatch:
    """One piece of personal data found in a text (character offsets, end exclusive)."""

    kind: str
    start: int
    end: int
    value: str


def luhn_valid(digits: str) -> bool:
    """True when a digit string passes the Luhn check used by payment cards."""
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """True when a compact IBAN (no spaces) has its country's length and a valid mod-97 checksum."""
    iban = iban.upper()
    expected = IBAN_LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        return False
    if not 15 <= len(iban) <= 34 or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _emails(text: str) -> Iterator[PiiMatch]:
    for m in _EMAIL.finditer(text):
        yield PiiMatch("email", m.start(), m.end(), m.group())


def _ibans(text: str) -> Iterator[PiiMatch]:
    for m in _IBAN.finditer(text):
        candidate = m.group()
        # The pattern may run into a following word; walk characters up to the country's length.
        want = IBAN_LENGTHS.get(candidate[:2])
        lengths = [want] if want else list(range(34, 14, -1))
        for length in lengths:
            end = _end_after_alnum(candidate, length)
            compact = re.sub(r"[ -]", "", candidate[:end]) if end else ""
            if end and iban_valid(compact):
                yield PiiMatch("iban", m.start(), m.start() + end, candidate[:end])
                break


def _end_after_alnum(candidate: str, count: int) -> int:
    """Index just past the count-th alphanumeric character, or 0 when there are fewer."""
    seen = 0
    for index, char in enumerate(candidate):
        if char.isalnum():
            seen += 1
            if seen == count:
                return index + 1
    return 0


def _cards(text: str) -> Iterator[PiiMatch]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if _CARD_PREFIX.match(digits) and luhn_valid(digits):
            yield PiiMatch("card", m.start(), m.end(), m.group())


def _is_reference(text: str, start: int) -> bool:
    return _REFERENCE_BEFORE.search(text, max(0, start - 16), start) is not None


def _ips(text: str) -> Iterator[PiiMatch]:
    for m in _IPV4.finditer(text):
        if _is_reference(text, m.start()):
            continue
        if all(int(part) <= 255 and (part == "0" or not part.startswith("0")) for part in m.group().split(".")):
            yield PiiMatch("ip", m.start(), m.end(), m.group())
    for m in _IPV6.finditer(text):
        value = m.group()
        # Clock times (10:30:00) have colons too; an IPv6 address has "::" or eight groups.
        if "::" not in value and value.count(":") != 7:
            continue
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            continue
        yield PiiMatch("ip", m.start(), m.end(), value)


def _names(text: str) -> Iterator[PiiMatch]:
    for m in _NAME.finditer(text):
        words = [(w.group(), w.start(), w.end()) for w in re.finditer(r"\S+", m.group(1))]
        while words and words[-1][0] in _NOT_NAMES:  # "Maria Was rude": the name ends before "Was"
            words.pop()
        if not words or words[0][0] in _NOT_NAMES:
            continue
        start, end = m.start(1), m.start(1) + words[-1][2]
        yield PiiMatch("name", start, end, text[start:end])


def _phones(text: str) -> Iterator[PiiMatch]:
    for pattern in _PHONE_PATTERNS:
        for m in pattern.finditer(text):
            digits = sum(c.isdigit() for c in m.group())
            if 8 <= digits <= 15 and not _is_reference(text, m.start()):
                yield PiiMatch("phone", m.start(), m.end(), m.group())


_FINDERS: dict[str, Callable[[str], Iterator[PiiMatch]]] = {
    "email": _emails,
    "iban": _ibans,
    "card": _cards,
    "ip": _ips,
    "phone": _phones,
    "name": _names,
}


def check_kinds(kinds: Collection[str]) -> None:
    """Raise ValueError naming any kind of personal data this module does not know."""
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"Unknown PII kind(s): {', '.join(unknown)}; known: {', '.join(KINDS)}.")


def find_pii(text: str, kinds: Collection[str] = KINDS) -> list[PiiMatch]:
    """All non-overlapping personal data in text, in order; stronger kinds (email, IBAN, card) win overlaps."""
    check_kinds(kinds)
    if not _MAYBE_PII.search(text) and ("name" not in kinds or not _NAME.search(text)):
        return []
    taken: list[PiiMatch] = []
    # KINDS is ordered by how specific each validator is, so an email's digits never become a phone number.
    for kind in KINDS:
        if kind not in kinds:
            continue
        for match in _FINDERS[kind](text):
            if not any(match.start < t.end and t.start < match.end for t in taken):
                taken.append(match)
    return sorted(taken, key=lambda m: m.start)


def redact(text: str, kinds: Collection[str] = KINDS, template: str = "[{kind}]") -> str:
    """The text with each piece of personal data replaced by template (default "[EMAIL]", "[PHONE]", ...)."""
    parts: list[str] = []
    cursor = 0
    for match in find_pii(text, kinds):
        parts.append(text[cursor : match.start])
        parts.append(template.format(kind=match.kind.upper()))
        cursor = match.end
    parts.append(text[cursor:])
    return "".join(parts)
