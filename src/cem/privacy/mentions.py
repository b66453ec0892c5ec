"""Other people's records that mention the person being erased: found for the erasure report, redacted on request.

A ticket written by one customer may quote another's name, handle, phone number or email. Those records are not
the person's (erasure does not delete them), but the mention is the person's data: the report lists them and the
operator may have every mention replaced by REDACTED. The terms come from the person's customer records (email,
name, external id, and attributes whose key says phone or handle).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from cem.customers.models import Customer
from cem.db.base import Base, utcnow
from cem.feedback.models import FeedbackRecord
from cem.privacy.subject import Subject

REDACTED = "[redacted]"
EXCERPT_CHARS = 60
# Attribute keys whose values name a person's phone or handle (compared lowercased, "_"/"-" removed).
PHONE_KEYS = frozenset({"phone", "phonenumber", "mobile", "mobilephone", "tel", "telephone", "cell", "whatsapp"})
HANDLE_KEYS = frozenset({"handle", "username", "screenname", "twitter", "instagram", "tiktok", "nickname", "login"})
MIN_TERM_CHARS = 3  # shorter names ("Al") would match ordinary words
MIN_PHONE_DIGITS = 6


@dataclass(frozen=True)
class Term:
    """One way the person may be named in text, with how to find it."""

    kind: str  # email, name, handle, phone, external_id
    value: str
    phone: phonenumbers.PhoneNumber | None = None

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        if self.kind == "phone":
            yield from _phone_spans(self, text)
            return
        # Whole words only: "Ann" must not match "Annual"; a handle may be written with its "@".
        body = re.escape(self.value.lstrip("@"))
        prefix = "@?" if self.kind == "handle" else ""
        for match in re.finditer(rf"(?<![\w@.+-]){prefix}{body}(?![\w-]|\.\w)", text, re.IGNORECASE):
            yield match.span()


@dataclass
class Mention:
    """A record of someone else whose text names the person."""

    record_id: int
    customer_id: int | None
    field_id: str
    kinds: list[str]
    excerpt: str
    spans: list[tuple[int, int]] = field(default_factory=list, repr=False)


def terms_of(session: Session, subject: Subject) -> list[Term]:
    """The person's identifying strings, from their customer records (and the request's email addresses)."""
    found: dict[tuple[str, str], Term] = {}

    def add(kind: str, value: Any) -> None:
        text = str(value).strip() if value is not None and not isinstance(value, dict | list) else ""
        if len(text.lstrip("@")) < MIN_TERM_CHARS:
            return
        term = _phone_term(text) if kind == "phone" else Term(kind, text)
        if term is not None:
            found.setdefault((kind, text.lower()), term)

    for email in subject.emails:
        add("email", email)
    customers = session.execute(
        select(Customer.email, Customer.name, Customer.external_id, Customer.attributes).where(
            Customer.id.in_(subject.customer_ids)
        )
    )
    for email, name, external_id, attributes in customers:
        add("email", email)
        add("name", name)
        add("external_id", external_id)
        for key, value in (attributes or {}).items():
            normal = str(key).lower().replace("_", "").replace("-", "")
            if normal in PHONE_KEYS:
                add("phone", value)
            elif normal in HANDLE_KEYS:
                add("handle", value)
    return list(found.values())


def _phone_term(text: str) -> Term | None:
    try:
        number = phonenumbers.parse(text, None)  # needs an international (+) form to know the country
    except phonenumbers.NumberParseException:
        number = None
    if number is None and len(re.sub(r"\D", "", text)) < MIN_PHONE_DIGITS:
        return None
    return Term("phone", text, number)


def _phone_spans(term: Term, text: str) -> Iterator[tuple[int, int]]:
    if term.phone is not None:
        # The library finds numbers written in any format (national or international, any separators).
        region = phonenumbers.region_code_for_number(term.phone)
        for found in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE):
            if found.number.national_number == term.phone.national_number:
                yield found.start, found.end
        return
    # A number stored without its country: its digits in order, any separators between them.
    digits = re.sub(r"\D", "", term.value)
    pattern = r"[\s().-]*".join(re.escape(d) for d in digits)
    for match in re.finditer(rf"(?<!\d){pattern}(?!\d)", text):
        yield match.span()


def _prefilter(terms: Iterable[Term]) -> ColumnElement[bool]:
    """A broad SQL filter (exact matching happens in Python): the text contains a term, or a phone's last digits."""
    text = func.lower(FeedbackRecord.value_text)
    needles = {re.sub(r"\D", "", t.value)[-4:] if t.kind == "phone" else t.value.lstrip("@").lower() for t in terms}
    return or_(*(text.contains(n, autoescape=True) for n in sorted(needles)))


def _merged(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((start, end))
    return out


def _excerpt(text: str, spans: list[tuple[int, int]]) -> str:
    """Where the first mention sits, every mention already shown as REDACTED (the report repeats nothing)."""
    redacted = redact(text, spans)
    start, end = max(0, spans[0][0] - EXCERPT_CHARS), spans[0][0] + len(REDACTED) + EXCERPT_CHARS
    return ("…" if start else "") + redacted[start:end] + ("…" if end < len(redacted) else "")


def redact(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with each span replaced by REDACTED."""
    parts, cursor = [], 0
    for start, end in spans:
        parts += [text[cursor:start], REDACTED]
        cursor = end
    return "".join([*parts, text[cursor:]])


def find(session: Session, subject: Subject, terms: list[Term]) -> list[Mention]:
    """Records of other customers (or of none) in the request's scope whose text names the person."""
    if not terms:
        return []
    others = or_(FeedbackRecord.customer_id.is_(None), FeedbackRecord.customer_id.not_in(subject.customer_ids))
    where = and_(subject.scope(Base.metadata.tables["feedback_record"]), others, _prefilter(terms))
    rows = session.execute(
        select(FeedbackRecord.id, FeedbackRecord.customer_id, FeedbackRecord.field_id, FeedbackRecord.value_text)
        .where(where)
        .order_by(FeedbackRecord.id)
    )
    found = []
    for record_id, customer_id, field_id, stored in rows:
        text = stored or ""
        hits = [(term.kind, span) for term in terms for span in term.spans(text)]
        if not hits:
            continue  # the pre-filter matched inside a longer word
        spans = _merged(span for _, span in hits)
        kinds = sorted({kind for kind, _ in hits})
        found.append(Mention(record_id, customer_id, field_id, kinds, _excerpt(text, spans), spans))
    return found


def redact_all(session: Session, mentions: list[Mention]) -> int:
    """Replace every mention in place (the full-text index follows through its triggers); the count of records."""
    for mention in mentions:
        text = session.scalar(select(FeedbackRecord.value_text).where(FeedbackRecord.id == mention.record_id))
        if text is None:
            continue
        session.execute(
            update(FeedbackRecord)
            .where(FeedbackRecord.id == mention.record_id)
            .values(value_text=redact(text, mention.spans), updated_at=utcnow())
        )
    return len(mentions)
