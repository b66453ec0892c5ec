"""Invitation and reminder emails: HTML + text, with the survey's first question embedded.

For a score question (NPS, CSAT, CES, rating) every answer is a link: clicking 9 in the email opens the
survey with 9 already stored. The template context for a survey is built once per distribution
(`EmailContent.for_definition`), then each person's email only fills in their links.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from cem.distribution.mailer import OutgoingEmail
from cem.surveys.definition import SurveyDefinition, is_rtl, text

TEMPLATES = Path(__file__).resolve().parents[1] / "web" / "templates" / "distribution" / "email"
SCORE_TYPES = ("nps", "csat", "ces", "rating")

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
    undefined=StrictUndefined,
    trim_blocks=False,
    auto_reload=False,
)


@dataclass(frozen=True)
class EmailContent:
    """The per-survey part of an invitation: title, subject, first question."""

    subject: str
    title: str
    lang: str
    question: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_definition(
        cls, defn: SurveyDefinition, *, survey_name: str, subject: str = "", lang: str | None = None
    ) -> EmailContent:
        lang = lang or defn.default_language
        title = text(defn.title, lang, defn.default_language) or survey_name
        question: dict[str, Any] = {"id": "", "headline": "", "points": [], "lower_label": "", "upper_label": ""}
        first = next((q for _, _, q in defn.answerable_questions()), None)
        if first is not None:
            question["id"] = first.id
            question["headline"] = text(first.headline, lang, defn.default_language)
            if first.type in SCORE_TYPES:
                low, high = (int(end) for end in first.points())  # score types have whole points
                question["points"] = list(range(low, high + 1))
                question["lower_label"] = text(first.lower_label, lang, defn.default_language)
                question["upper_label"] = text(first.upper_label, lang, defn.default_language)
        return cls(subject=subject or title, title=title, lang=lang, question=question)

    def answer_range(self) -> tuple[int, int] | None:
        points = self.question.get("points") or []
        return (points[0], points[-1]) if points else None


def render(
    content: EmailContent,
    *,
    to: str,
    link: str,
    unsubscribe_link: str,
    greeting: str = "",
    reminder: bool = False,
    subject: str = "",
) -> OutgoingEmail:
    """One person's email; `subject` replaces the default ("Reminder: " + the invitation's subject)."""
    context = {
        "subject": content.subject,
        "title": content.title,
        "lang": content.lang,
        "rtl": is_rtl(content.lang),
        "question": content.question,
        "link": link,
        "unsubscribe_link": unsubscribe_link,
        "greeting": greeting,
        "reminder": reminder,
    }
    subject = subject or ("Reminder: " if reminder else "") + content.subject
    return OutgoingEmail(
        to=to,
        subject=subject,
        text=_env.get_template("invitation.txt").render(context),
        html=_env.get_template("invitation.html").render(context),
        headers={
            # RFC 8058 one-click unsubscribe: mail clients POST to this URL without a login.
            "List-Unsubscribe": f"<{unsubscribe_link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
