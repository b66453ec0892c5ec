"""The intermediate representation every importer produces before it becomes a cem survey definition.

Each format parser (Qualtrics .qsf, LimeSurvey .lss, SurveyJS JSON) reads its file into these plain dataclasses and
records, with a location, everything it had to leave out. `cem.interchange.importers.convert` then maps the result onto
the survey definition model, so the three parsers share one mapping (and one place that knows the cem model).

What a parser fills for the import report (`cem.interchange.importers.convert.ImportReport`, counted from the result):
display-only content is an IRQuestion of type "display" (headline = its plain text), never a question; a continuous
slider is type "slider" with range_min/range_max/step and lower/upper labels; a star rating is "rating" with
rating_style "stars" and `scale` = its number of stars. Every simplification is a warning located by
`question_location(...)` ("question Q12 'Rate us'") whose message says what was changed and how
("side-by-side: split into 3 questions").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cem.surveys.definition import QuestionType

LocalText = dict[str, str]

# The question types an importer can produce are exactly cem's own.
IRQuestionType = QuestionType


@dataclass
class ImportWarning:
    """Something in the source that cem could not represent. `location` names the element (question id etc.)."""

    location: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"location": self.location, "message": self.message}

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


def question_location(ref: str, headline: LocalText | None = None, lang: str | None = None) -> str:
    """How a warning names a question: its source id and the start of its text, e.g. "question Q12 'Rate us'"."""
    texts = headline or {}
    words = " ".join((texts.get(lang or "") or next(iter(texts.values()), "")).split())
    if not words:
        return f"question {ref}"
    return f"question {ref} {(words[:40] + '…') if len(words) > 40 else words!r}"


@dataclass
class IRChoice:
    id: str
    label: LocalText
    other: bool = False


@dataclass
class IRCondition:
    """A leaf compares an operand with a value; a group ("and"/"or") holds children."""

    kind: Literal["leaf", "and", "or"] = "leaf"
    children: list[IRCondition] = field(default_factory=list)
    operand: Literal["question", "hidden", "variable"] = "question"
    ref: str = ""
    operator: str = "equals"
    value: str | float | list[str] | None = None


@dataclass
class IRJump:
    condition: IRCondition
    target: str  # an IR page id, or "end" (the default ending)


@dataclass
class IRQuestion:
    id: str
    type: IRQuestionType
    headline: LocalText
    help: LocalText = field(default_factory=dict)
    required: bool = False
    choices: list[IRChoice] = field(default_factory=list)
    rows: list[IRChoice] = field(default_factory=list)
    columns: list[IRChoice] = field(default_factory=list)
    scale: int | None = None  # csat/rating points (stars: the number of stars)
    rating_style: Literal["stars", "numbers", "smileys"] = "numbers"
    lower_label: LocalText = field(default_factory=dict)
    upper_label: LocalText = field(default_factory=dict)
    range_min: float = 0  # slider
    range_max: float = 100  # slider
    step: float = 1  # slider
    text_long: bool = False
    validation: Literal["none", "email", "number", "phone", "url"] = "none"
    display_logic: IRCondition | None = None
    jumps: list[IRJump] = field(default_factory=list)
    source_ref: str = ""  # the id the source file uses (QID7, LimeSurvey qid/title, SurveyJS name)
    export_tag: str = ""  # Qualtrics DataExportTag: the column name prefix of legacy response exports
    row_tags: dict[str, str] = field(default_factory=dict)  # Qualtrics ChoiceDataExportTags: column name -> row
    # How the source's response columns refer to choices/rows/columns -> cem ids (e.g. Qualtrics recode values).
    choice_codes: dict[str, str] = field(default_factory=dict)
    row_codes: dict[str, str] = field(default_factory=dict)
    column_codes: dict[str, str] = field(default_factory=dict)
    consent_value: str | None = None  # value that means "agreed" in source responses (SurveyJS boolean valueTrue)
    answers_importable: bool = True  # False when source answers cannot fit the cem question (e.g. slider values)


@dataclass
class IRPage:
    id: str
    title: LocalText = field(default_factory=dict)
    questions: list[IRQuestion] = field(default_factory=list)
    display_logic: IRCondition | None = None


@dataclass
class IRVariable:
    name: str
    type: Literal["number", "text"] = "number"
    initial: float | str = 0


@dataclass
class IRSurvey:
    format: Literal["qualtrics", "limesurvey", "surveyjs"]
    name: str
    default_language: str
    languages: list[str] = field(default_factory=list)
    pages: list[IRPage] = field(default_factory=list)
    hidden_fields: list[str] = field(default_factory=list)
    variables: list[IRVariable] = field(default_factory=list)
    end_message: LocalText = field(default_factory=dict)
    welcome: LocalText = field(default_factory=dict)
    warnings: list[ImportWarning] = field(default_factory=list)

    def warn(self, location: str, message: str) -> None:
        self.warnings.append(ImportWarning(location, message))

    @property
    def questions(self) -> list[IRQuestion]:
        return [q for page in self.pages for q in page.questions]
