"""What the hosted survey page shows: view models, already localised, piped (recalled answers) and escaped by Jinja.

Pure functions of a definition, a logic context and a language: no database, so a view outlives its transaction.
Used by the hosted page (cem.responses.web) and the builder's preview (cem.responses.web_team).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cem.responses import answers as answer_rules
from cem.responses.respondent import pick_language
from cem.surveys import logic
from cem.surveys.definition import SCORE_TYPES, Ending, Page, Question, SurveyDefinition, is_rtl, text
from cem.surveys.models import Survey

WIDGET_CHANNELS = ("link", "widget")
DEFAULT_LABELS = {
    "nps": ("Not at all likely", "Extremely likely"),
    "ces": ("Strongly disagree", "Strongly agree"),
    "csat": ("Very dissatisfied", "Very satisfied"),
    "rating": ("", ""),
}
SMILEYS = {3: ["😞", "😐", "😀"], 5: ["😡", "😞", "😐", "🙂", "😀"]}


@dataclass
class Option:
    value: str
    label: str
    other: bool = False
    symbol: str = ""


@dataclass
class QuestionView:
    id: str
    type: str
    headline: str
    help: str
    required: bool
    options: list[Option] = field(default_factory=list)
    rows: list[Option] = field(default_factory=list)
    low_label: str = ""
    high_label: str = ""
    input: str = "short"
    validation: str = "none"
    placeholder: str = ""
    button_label: str = ""
    button_url: str | None = None
    style: str = "numbers"
    range_min: str = ""  # slider bounds and step as HTML attribute values ("0", "0.5")
    range_max: str = ""
    step: str = ""
    value: Any = None
    other_value: str = ""
    error: str | None = None


@dataclass
class PageView:
    slug: str  # plain values only: a view may outlive a rolled-back transaction
    lang: str
    rtl: bool
    title: str
    page_title: str = ""
    page_id: str = ""
    questions: list[QuestionView] = field(default_factory=list)
    progress: int = 0  # percent done when this page is shown
    page_number: int = 1
    page_count: int = 1
    show_progress: bool = True
    can_go_back: bool = False
    nonce: str = ""
    resume_key: str = ""
    carry: dict[str, str] = field(default_factory=dict)  # hidden inputs of a not-yet-started response
    languages: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    ending_headline: str = ""
    ending_message: str = ""
    unavailable: str = ""
    preview: bool = False
    preview_next: str | None = None
    action: str = ""


def _labels(question: Question, lang: str, default: str) -> tuple[str, str]:
    low = text(question.lower_label, lang, default)
    high = text(question.upper_label, lang, default)
    fallback = DEFAULT_LABELS.get(question.type, ("", ""))
    return low or fallback[0], high or fallback[1]


def _score_options(question: Question) -> list[Option]:
    low, high = (int(end) for end in question.points())  # score types have whole points
    points = high - low + 1
    options = []
    for number in range(low, high + 1):
        symbol = ""
        if question.type == "rating" and question.style == "stars":
            symbol = "★"
        elif question.type == "rating" and question.style == "smileys" and points in SMILEYS:
            symbol = SMILEYS[points][number - low]
        options.append(Option(value=str(number), label=f"{number} of {high}" if symbol else str(number), symbol=symbol))
    return options


def question_view(
    defn: SurveyDefinition, question: Question, ctx: logic.Context, lang: str, values: dict[str, Any]
) -> QuestionView:
    default = defn.default_language
    low, high = _labels(question, lang, default)
    view = QuestionView(
        id=question.id,
        type=question.type,
        headline=logic.localised(question.headline, defn, ctx, lang),
        help=logic.localised(question.help, defn, ctx, lang),
        required=question.required,
        low_label=low,
        high_label=high,
        input=question.input,
        validation=question.validation,
        placeholder=text(question.placeholder, lang, default),
        button_label=text(question.button_label, lang, default) or "Continue",
        button_url=question.button_url,
        style=question.style,
        value=values.get(question.id),
        other_value=str(values.get(question.id + answer_rules.OTHER_SUFFIX) or ""),
    )
    if question.type in SCORE_TYPES:
        view.options = _score_options(question)
    elif question.type == "slider":
        bounds = (*question.points(), question.step)
        view.range_min, view.range_max, view.step = (f"{number:g}" for number in bounds)
    elif question.type == "matrix":
        view.rows = [Option(value=r.id, label=text(r.label, lang, default)) for r in question.rows]
        if question.scale:
            view.options = [Option(value=str(n), label=str(n)) for n in range(1, question.scale + 1)]
        else:
            view.options = [Option(value=c.id, label=text(c.label, lang, default)) for c in question.columns]
    else:
        view.options = [Option(value=c.id, label=text(c.label, lang, default), other=c.other) for c in question.choices]
    return view


def carry_fields(defn: SurveyDefinition, query: dict[str, str], lang: str) -> dict[str, str]:
    carry = {"lang": lang}
    for hidden in defn.hidden_fields:
        if query.get(hidden.id):
            carry[f"h_{hidden.id}"] = query[hidden.id][:1000]
    if query.get("channel") in WIDGET_CHANNELS:
        carry["channel"] = query["channel"]
    return carry


def _progress(defn: SurveyDefinition, page_id: str) -> tuple[int, int, int]:
    index = defn.page_index(page_id) or 0
    count = max(len(defn.pages), 1)
    return index + 1, count, round(100 * index / count)


def page_view(
    survey: Survey,
    defn: SurveyDefinition,
    page: Page,
    ctx: logic.Context,
    lang: str,
    *,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
) -> PageView:
    errors = errors or {}
    number, count, percent = _progress(defn, page.id)
    views = []
    for question in logic.visible_questions(page, ctx):
        view = question_view(defn, question, ctx, lang, values)
        view.error = errors.get(question.id)
        views.append(view)
    return PageView(
        slug=survey.slug,
        lang=lang,
        rtl=is_rtl(lang),
        title=text(defn.title, lang, defn.default_language) or survey.name,
        page_title=logic.localised(page.title, defn, ctx, lang),
        page_id=page.id,
        questions=views,
        progress=percent,
        page_number=number,
        page_count=count,
        show_progress=defn.settings.progress_bar,
        languages=defn.all_languages() if len(defn.all_languages()) > 1 else [],
        errors=errors,
        action=f"/s/{survey.slug}",
    )


def ending_texts(defn: SurveyDefinition, ending_id: str | None, ctx: logic.Context, lang: str) -> tuple[str, str]:
    ending = _ending(defn, ending_id)
    if ending is None:
        return "Thank you!", "Your answers are saved."
    headline = logic.localised(ending.headline, defn, ctx, lang) or "Thank you!"
    return headline, logic.localised(ending.message, defn, ctx, lang)


def _ending(defn: SurveyDefinition, ending_id: str | None) -> Ending | None:
    return next((e for e in defn.endings if e.id == ending_id), None)


def redirect_url(defn: SurveyDefinition, ending_id: str | None, ctx: logic.Context, lang: str) -> str | None:
    """The ending's redirect with recalled values URL-encoded (never a javascript: or relative URL)."""
    ending = _ending(defn, ending_id)
    if ending is None:
        return None
    template = text(ending.redirect_url, lang, defn.default_language)
    if not template or not re.match(r"^https?://", template):
        return None
    encoded = logic.Context(
        answers={k: quote(logic.display_answer(None, v, lang, lang), safe="") for k, v in ctx.answers.items()},
        hidden={k: quote(str(v), safe="") for k, v in ctx.hidden.items()},
        variables={k: quote(str(v), safe="") for k, v in ctx.variables.items()},
    )
    return logic.recall(template, defn, encoded, lang)


def message_view(survey: Survey | None, message: str, lang: str = "en") -> PageView:
    view = PageView(slug=survey.slug if survey else "", lang=lang, rtl=is_rtl(lang), title="")
    view.title = survey.name if survey else "Survey"
    view.unavailable = message
    return view


def preview_view(survey: Survey, defn: SurveyDefinition, page_id: str | None, lang: str | None) -> PageView:
    """The builder's preview: any page of the working copy, logic ignored, nothing stored."""
    language = pick_language(defn, lang, None, None)
    if not defn.pages:
        view = message_view(survey, "Add a page to see the preview.", language)
        view.preview = True
        return view
    index = defn.page_index(page_id or "") or 0
    page = defn.pages[index]
    ctx = logic.Context(variables=logic.initial_variables(defn))
    view = page_view(survey, defn, page, ctx, language, values={})
    view.questions = [question_view(defn, q, ctx, language, {}) for q in page.questions]
    view.preview = True
    view.preview_next = defn.pages[index + 1].id if index + 1 < len(defn.pages) else None
    view.action = f"/surveys/{survey.id}/preview"
    return view
