"""A survey definition: the JSON document stored per survey version, and its validator.

Shape (all ids are stable strings, unique in their kind across the whole survey):

    SurveyDefinition
      default_language, languages, title (LocalText)
      pages[]: id, title, questions[], display_logic, jump_logic[], calculations[]
        questions[]: id, type, headline, help, required, choices/rows/columns, display_logic, jump_logic[]
          (type "display" is display-only text, not a question: never answered, required or counted;
           type "slider" is a continuous number from range_min to range_max in steps of `step`)
      hidden_fields[]: id, attribute (customer attribute used when the link does not carry it)
      variables[]: id, type number|text, initial
      endings[]: id, headline, message, redirect_url (all LocalText)
      settings: progress_bar, allow_back, close_after_responses, opens_at, closes_at, touchpoint

Texts are `LocalText` (language code -> text); `text(lt, lang, default)` falls back to the default
language, then to any text present. Recall (piping) inside texts: `{{question_id}}`,
`{{hidden.name}}`, `{{var.name}}`.

Conditions are trees: a `ConditionGroup` (combinator and|or over children) or a leaf `Condition`
(source question|hidden|attribute|variable, ref, operator, value). Matrix rows are referred to as
`question_id.row_id`.

Answer values (the normalised form used by the engine, the API and `cem.responses.service.add_response`):
    nps/csat/ces/rating: int;  slider: int or float (on a step of the range);
    single_choice/dropdown: choice id;  multiple_choice: [choice ids];
    ranking: [choice ids, best first];  text: str;  matrix: {row_id: column id (or int when `scale`)};
    date: "YYYY-MM-DD";  consent: true;  cta: true (clicked) / false (dismissed);  display: never answered.
    Text typed into an "other" choice goes under the key "<question_id>.other".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

LocalText = dict[str, str]
RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur"})

Id = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")]
# BCP 47 language[-Script][-REGION] (en, pt-BR, zh-Hans, zh-Hant-TW, es-419), plus one other subtag of 2-8 characters.
LANGUAGE_CODE_PATTERN = r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?(-[A-Za-z0-9]{2,8})?$"
LanguageCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=LANGUAGE_CODE_PATTERN)]
Number = int | float

QuestionType = Literal[
    "nps",
    "csat",
    "ces",
    "rating",
    "slider",
    "single_choice",
    "multiple_choice",
    "dropdown",
    "text",
    "matrix",
    "ranking",
    "date",
    "consent",
    "cta",
    "display",
]
# QuestionType is the one list of question types; everything else that lists them derives from it or is keyed by it
# (the importers' cem.interchange.importers.ir, the builder's labels below, QUESTION_FIELD_TYPES).
QUESTION_TYPES: tuple[str, ...] = QuestionType.__args__  # type: ignore[attr-defined]
CHOICE_TYPES = frozenset({"single_choice", "multiple_choice", "dropdown", "ranking"})
SCORE_TYPES = frozenset({"nps", "csat", "ces", "rating"})
DISPLAY_TYPES = frozenset({"display"})  # shown, never answered: no answers, records, or question counts
QUESTION_TYPE_LABELS: dict[str, str] = {
    "nps": "NPS (0-10)",
    "csat": "CSAT",
    "ces": "CES (1-7)",
    "rating": "Rating",
    "slider": "Slider",
    "single_choice": "Single choice",
    "multiple_choice": "Multiple choice",
    "dropdown": "Dropdown",
    "text": "Open text",
    "matrix": "Matrix",
    "ranking": "Ranking",
    "date": "Date",
    "consent": "Consent",
    "cta": "Call to action",
    "display": "Text block (not a question)",
}
QUESTION_DEFAULT_HEADLINES = {  # what a new question of the builder asks
    "nps": "How likely are you to recommend us to a friend or colleague?",
    "csat": "How satisfied are you with us?",
    "ces": "The company made it easy for me to handle my issue.",
    "rating": "How would you rate your experience?",
    "consent": "I agree to be contacted about my answers.",
    "cta": "Tell others about us",
    "slider": "How much do you agree?",
    "display": "Thank you for taking part. The next questions are about your last visit.",
}

Operator = Literal[
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "greater_than",
    "less_than",
    "greater_or_equal",
    "less_or_equal",
    "is_answered",
    "is_skipped",
    "includes_any",
    "includes_all",
    "before",
    "after",
]
OPERATORS: tuple[str, ...] = Operator.__args__  # type: ignore[attr-defined]
UNARY_OPERATORS = frozenset({"is_answered", "is_skipped"})
OperandSource = Literal["question", "hidden", "attribute", "variable"]

MAX_SLIDER_STEPS = 10_000
RECALL_PATTERN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")


def text(lt: LocalText | None, lang: str | None, default: str = "en") -> str:
    """The text in `lang`, else in the default language, else any text present, else ""."""
    if not lt:
        return ""
    if lang:
        if lang in lt:
            return lt[lang]
        base = lang.split("-")[0]
        if base in lt:
            return lt[base]
    if default in lt:
        return lt[default]
    return next(iter(lt.values()))


def is_rtl(lang: str | None) -> bool:
    return bool(lang) and lang.split("-")[0].lower() in RTL_LANGUAGES  # type: ignore[union-attr]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Condition(_Strict):
    """A leaf test, e.g. question `nps` less_than 7, or hidden field `plan` equals "pro"."""

    source: OperandSource = "question"
    ref: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    operator: Operator
    value: float | int | bool | str | list[str] | None = None


class ConditionGroup(_Strict):
    combinator: Literal["and", "or"] = "and"
    conditions: list[ConditionNode] = Field(min_length=1)


ConditionNode = Union[ConditionGroup, Condition]  # noqa: UP007 - forward reference needs Union
ConditionGroup.model_rebuild()


class JumpRule(_Strict):
    """After the page is submitted: when `condition` holds, go to page or ending `target`."""

    condition: ConditionNode
    target: Id


class Operand(_Strict):
    """A literal `value`, or the current value of a question/hidden field/variable/attribute."""

    value: float | int | str | None = None
    source: OperandSource | None = None
    ref: str | None = None


class Calculation(_Strict):
    """`variable = variable <op> operand`, applied in order when the page is submitted."""

    variable: Id
    op: Literal["set", "add", "subtract", "multiply", "divide", "append"] = "set"
    operand: Operand = Field(default_factory=Operand)
    when: ConditionNode | None = None


class Choice(_Strict):
    id: Id
    label: LocalText
    other: bool = False  # shows a text box; the typed text is stored under "<question>.other"


class Question(_Strict):
    id: Id
    type: QuestionType
    headline: LocalText
    help: LocalText = Field(default_factory=dict)
    required: bool = False
    # csat: 3/5/7/10 points (default 5); rating: 3-10 points (default 5); matrix: optional numeric scale
    scale: int | None = None
    style: Literal["stars", "numbers", "smileys"] = "numbers"
    lower_label: LocalText = Field(default_factory=dict)  # also the slider's label at range_min
    upper_label: LocalText = Field(default_factory=dict)  # also the slider's label at range_max
    range_min: Number = 0  # slider
    range_max: Number = 100  # slider
    step: Number = 1  # slider: answers are range_min + k * step
    choices: list[Choice] = Field(default_factory=list)
    rows: list[Choice] = Field(default_factory=list)
    columns: list[Choice] = Field(default_factory=list)
    input: Literal["short", "long"] = "short"
    validation: Literal["none", "email", "number", "phone", "url"] = "none"
    placeholder: LocalText = Field(default_factory=dict)
    button_label: LocalText = Field(default_factory=dict)  # cta
    button_url: str | None = None  # cta
    display_logic: ConditionNode | None = None
    jump_logic: list[JumpRule] = Field(default_factory=list)

    @property
    def answerable(self) -> bool:
        """False for display-only content (a text block), which takes no answer and is no question."""
        return self.type not in DISPLAY_TYPES

    def points(self) -> tuple[Number, Number]:
        """Inclusive answer range of a score question or a slider."""
        if self.type == "slider":
            return self.range_min, self.range_max
        if self.type == "nps":
            return 0, 10
        if self.type == "ces":
            return 1, 7
        if self.type in ("csat", "rating"):
            return 1, self.scale or 5
        if self.type == "matrix" and self.scale:
            return 1, self.scale
        raise ValueError(f"{self.type} has no numeric range")


class Page(_Strict):
    id: Id
    title: LocalText = Field(default_factory=dict)
    questions: list[Question] = Field(default_factory=list)
    display_logic: ConditionNode | None = None
    jump_logic: list[JumpRule] = Field(default_factory=list)
    calculations: list[Calculation] = Field(default_factory=list)


class HiddenField(_Strict):
    id: Id
    attribute: str | None = None  # customer attribute read when the link does not carry the value


class Variable(_Strict):
    id: Id
    type: Literal["number", "text"] = "number"
    initial: float | int | str = 0


class Ending(_Strict):
    id: Id
    headline: LocalText = Field(default_factory=dict)
    message: LocalText = Field(default_factory=dict)
    redirect_url: LocalText = Field(default_factory=dict)


class Settings(_Strict):
    progress_bar: bool = True
    allow_back: bool = True
    close_after_responses: int | None = Field(default=None, ge=1)
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    touchpoint: str | None = None  # touchpoint key stored on every feedback record


class SurveyDefinition(_Strict):
    default_language: LanguageCode = "en"
    languages: list[LanguageCode] = Field(default_factory=list)
    title: LocalText = Field(default_factory=dict)
    pages: list[Page] = Field(default_factory=list)
    hidden_fields: list[HiddenField] = Field(default_factory=list)
    variables: list[Variable] = Field(default_factory=list)
    endings: list[Ending] = Field(default_factory=list)
    settings: Settings = Field(default_factory=Settings)

    def all_languages(self) -> list[str]:
        return [self.default_language, *(x for x in self.languages if x != self.default_language)]

    def questions(self) -> Iterator[tuple[int, int, Question]]:
        for p_index, page in enumerate(self.pages):
            for q_index, question in enumerate(page.questions):
                yield p_index, q_index, question

    def answerable_questions(self) -> Iterator[tuple[int, int, Question]]:
        """Like questions(), without display-only blocks: what reports and exports count as questions."""
        return ((p, q, x) for p, q, x in self.questions() if x.answerable)

    def question_map(self) -> dict[str, Question]:
        return {q.id: q for _, _, q in self.questions()}

    def page_index(self, page_id: str) -> int | None:
        for index, page in enumerate(self.pages):
            if page.id == page_id:
                return index
        return None


# --------------------------------------------------------------------------------------------------
# Field types of the feedback records a question produces (see cem.feedback.models.FIELD_TYPES); display blocks
# produce none.

QUESTION_FIELD_TYPES: dict[str, str] = {
    "nps": "nps",
    "csat": "csat",
    "ces": "ces",
    "rating": "rating",
    # TODO(coordinator): once records carry scale_min/scale_max, store Question.range_min/range_max on slider records.
    "slider": "number",
    "single_choice": "choice",
    "multiple_choice": "choice",
    "dropdown": "choice",
    "ranking": "choice",
    "text": "text",
    "matrix": "choice",
    "date": "date",
    "consent": "boolean",
    "cta": "boolean",
}


def field_type(question: Question) -> str:
    """Feedback field type of a question's records (matrix rows: rating with a scale, else choice)."""
    if not question.answerable:
        raise ValueError(f"{question.type} blocks produce no feedback records")
    if question.type == "text" and question.validation == "number":
        return "number"
    if question.type == "matrix" and question.scale:
        return "rating"
    return QUESTION_FIELD_TYPES[question.type]


# --------------------------------------------------------------------------------------------------
# Validation


@dataclass(frozen=True)
class DefinitionError:
    path: str  # e.g. "pages[1].questions[0].choices"
    message: str
    code: str
    severity: Literal["error", "warning"] = "error"

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message, "code": self.code, "severity": self.severity}


def parse_definition(data: Any) -> SurveyDefinition:
    """Parse a JSON-like object (raises pydantic.ValidationError with located errors)."""
    if isinstance(data, SurveyDefinition):
        return data
    return SurveyDefinition.model_validate(data)


def validate_definition(defn: SurveyDefinition) -> list[DefinitionError]:
    """Every problem that stops a definition going live (severity error) plus warnings."""
    return _Validator(defn).run()


def blocking_errors(errors: list[DefinitionError]) -> list[DefinitionError]:
    return [e for e in errors if e.severity == "error"]


class _Validator:
    def __init__(self, defn: SurveyDefinition) -> None:
        self.defn = defn
        self.errors: list[DefinitionError] = []
        self.question_page: dict[str, int] = {}
        for p_index, _, question in defn.questions():
            self.question_page.setdefault(question.id, p_index)
        self.page_ids = {p.id: i for i, p in enumerate(defn.pages)}
        self.ending_ids = {e.id for e in defn.endings}
        self.hidden_ids = {h.id for h in defn.hidden_fields}
        self.variable_ids = {v.id for v in defn.variables}
        self.questions = defn.question_map()

    def add(self, path: str, code: str, message: str, severity: Literal["error", "warning"] = "error") -> None:
        self.errors.append(DefinitionError(path=path, message=message, code=code, severity=severity))

    def run(self) -> list[DefinitionError]:
        defn = self.defn
        if not defn.pages:
            self.add("pages", "no_pages", "A survey needs at least one page.")
        self._duplicates()
        for p_index, page in enumerate(defn.pages):
            self._page(p_index, page)
        for e_index, ending in enumerate(defn.endings):
            path = f"endings[{e_index}]"
            self._texts(path, {"headline": ending.headline, "message": ending.message}, None, required=False)
            for lang, url in ending.redirect_url.items():
                if url and not re.match(r"^https?://", url):
                    self.add(f"{path}.redirect_url.{lang}", "bad_url", f"Redirect {url!r} must start with http(s)://.")
        for v_index, var in enumerate(defn.variables):
            if var.type == "number" and not isinstance(var.initial, int | float):
                self.add(f"variables[{v_index}].initial", "bad_initial", f"Variable {var.id!r} is a number.")
        settings = defn.settings
        if settings.opens_at and settings.closes_at and settings.closes_at <= settings.opens_at:
            self.add("settings.closes_at", "bad_dates", "The close date must be after the open date.")
        return self.errors

    def _duplicates(self) -> None:
        seen: dict[str, str] = {}
        items: list[tuple[str, str, str]] = [(f"pages[{i}].id", p.id, "page") for i, p in enumerate(self.defn.pages)]
        items += [(f"pages[{p}].questions[{q}].id", x.id, "question") for p, q, x in self.defn.questions()]
        items += [(f"endings[{i}].id", e.id, "ending") for i, e in enumerate(self.defn.endings)]
        for path, ident, kind in items:
            if ident in seen:
                self.add(path, "duplicate_id", f"The {kind} id {ident!r} is already used by {seen[ident]}.")
            else:
                seen[ident] = f"a {kind}"
        named: list[tuple[str, str, list[str]]] = [
            ("hidden field", "hidden_fields", [h.id for h in self.defn.hidden_fields]),
            ("variable", "variables", [v.id for v in self.defn.variables]),
        ]
        for kind, field, ids in named:
            names: set[str] = set()
            for index, ident in enumerate(ids):
                if ident in names:
                    self.add(f"{field}[{index}].id", "duplicate_id", f"The {kind} id {ident!r} is used twice.")
                names.add(ident)

    def _page(self, p_index: int, page: Page) -> None:
        path = f"pages[{p_index}]"
        if not page.questions:
            self.add(f"{path}.questions", "empty_page", f"Page {page.id!r} has no questions.")
        self._texts(path, {"title": page.title}, p_index, required=False)
        if page.display_logic is not None:
            self._condition(f"{path}.display_logic", page.display_logic, p_index, same_page_ok=False)
        for r_index, rule in enumerate(page.jump_logic):
            self._jump(f"{path}.jump_logic[{r_index}]", rule, p_index)
        for c_index, calc in enumerate(page.calculations):
            c_path = f"{path}.calculations[{c_index}]"
            if calc.variable not in self.variable_ids:
                self.add(f"{c_path}.variable", "unknown_variable", f"Unknown variable {calc.variable!r}.")
            operand = calc.operand
            if operand.source is not None:
                self._reference(f"{c_path}.operand", operand.source, operand.ref or "", p_index, same_page_ok=True)
            if calc.when is not None:
                self._condition(f"{c_path}.when", calc.when, p_index, same_page_ok=True)
        for q_index, question in enumerate(page.questions):
            self._question(f"{path}.questions[{q_index}]", question, p_index)

    def _question(self, path: str, q: Question, p_index: int) -> None:
        self._texts(path, {"headline": q.headline, "help": q.help}, p_index, required=True)
        if not q.answerable:
            self._display(path, q)
        if q.type == "slider":
            self._slider(path, q)
        if q.type in CHOICE_TYPES:
            self._choices(f"{path}.choices", q.choices, p_index)
        if q.type == "matrix":
            if not q.rows:
                self.add(f"{path}.rows", "matrix_no_rows", f"Matrix {q.id!r} has no rows.")
            if not q.columns and not q.scale:
                self.add(f"{path}.columns", "matrix_no_columns", f"Matrix {q.id!r} has no columns or scale.")
            self._choices(f"{path}.rows", q.rows, p_index, allow_empty=True)
            self._choices(f"{path}.columns", q.columns, p_index, allow_empty=True)
            if q.scale is not None and not 2 <= q.scale <= 10:
                self.add(f"{path}.scale", "bad_scale", "A matrix scale has 2 to 10 points.")
        if q.type == "csat" and q.scale not in (None, 3, 5, 7, 10):
            self.add(f"{path}.scale", "bad_scale", "A CSAT scale has 3, 5, 7 or 10 points.")
        if q.type == "rating" and q.scale is not None and not 3 <= q.scale <= 10:
            self.add(f"{path}.scale", "bad_scale", "A rating has 3 to 10 points.")
        if q.type == "cta" and q.button_url and not re.match(r"^https?://", q.button_url):
            self.add(f"{path}.button_url", "bad_url", "The button link must start with http(s)://.")
        if q.display_logic is not None:
            self._condition(f"{path}.display_logic", q.display_logic, p_index, same_page_ok=False)
        for r_index, rule in enumerate(q.jump_logic):
            self._jump(f"{path}.jump_logic[{r_index}]", rule, p_index)

    def _display(self, path: str, q: Question) -> None:
        """A display block takes no answer, so nothing that presumes one applies to it."""
        if q.required:
            self.add(f"{path}.required", "display_required", f"{q.id!r} is display text: it cannot be required.")
        for name in ("choices", "rows", "columns"):
            if getattr(q, name):
                self.add(f"{path}.{name}", "display_answers", f"{q.id!r} is display text: it has no {name}.")
        if q.jump_logic:
            self.add(
                f"{path}.jump_logic",
                "display_jump",
                f"{q.id!r} is display text: put jump logic on its page or a question.",
            )

    def _slider(self, path: str, q: Question) -> None:
        low, high, step = q.range_min, q.range_max, q.step
        if not low < high:
            self.add(
                f"{path}.range_max", "bad_range", f"The slider's maximum ({high}) must be above its minimum ({low})."
            )
            return
        if not step > 0:
            self.add(f"{path}.step", "bad_step", "The slider's step must be above 0.")
            return
        steps = (high - low) / step
        if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
            self.add(f"{path}.step", "bad_step", f"The step {step} does not divide the range {low} to {high}.")
        elif steps > MAX_SLIDER_STEPS:
            self.add(f"{path}.step", "bad_step", f"{round(steps):,} steps are too many (at most {MAX_SLIDER_STEPS:,}).")

    def _choices(self, path: str, choices: list[Choice], p_index: int, allow_empty: bool = False) -> None:
        if not choices and not allow_empty:
            self.add(path, "empty_choices", "The question has no choices.")
        seen: set[str] = set()
        for c_index, choice in enumerate(choices):
            if choice.id in seen:
                self.add(f"{path}[{c_index}].id", "duplicate_id", f"The choice id {choice.id!r} is used twice.")
            seen.add(choice.id)
            self._texts(f"{path}[{c_index}]", {"label": choice.label}, p_index, required=True)

    def _texts(self, path: str, texts: dict[str, LocalText], p_index: int | None, *, required: bool) -> None:
        langs = self.defn.all_languages()
        for name, lt in texts.items():
            if not lt:
                if required and name != "help":
                    self.add(f"{path}.{name}", "missing_text", f"The {name} is empty.")
                continue
            for lang in langs:
                if not lt.get(lang):
                    fallback = "the default language" if lang != self.defn.default_language else "another language"
                    self.add(
                        f"{path}.{name}.{lang}",
                        "missing_translation",
                        f"No {lang!r} text; {fallback} is shown instead.",
                        "warning",
                    )
            for lang, value in lt.items():
                self._recall(f"{path}.{name}.{lang}", value, p_index)

    def _recall(self, path: str, value: str, p_index: int | None) -> None:
        for match in RECALL_PATTERN.finditer(value):
            ref = match.group(1)
            if ref.startswith("hidden."):
                if ref[7:] not in self.hidden_ids:
                    self.add(path, "unknown_recall", f"Recall of unknown hidden field {ref[7:]!r}.")
            elif ref.startswith("var."):
                if ref[4:] not in self.variable_ids:
                    self.add(path, "unknown_recall", f"Recall of unknown variable {ref[4:]!r}.")
            elif ref not in self.question_page:
                self.add(path, "unknown_recall", f"Recall of unknown question {ref!r}.")
            elif not self.questions[ref].answerable:
                self.add(path, "recall_display", f"Recall of {ref!r}, which is display text and has no answer.")
            elif p_index is not None and self.question_page[ref] >= p_index:
                self.add(path, "recall_not_answered", f"Recall of {ref!r}, which is not on an earlier page.")

    def _jump(self, path: str, rule: JumpRule, p_index: int) -> None:
        self._condition(f"{path}.condition", rule.condition, p_index, same_page_ok=True)
        if rule.target in self.ending_ids:
            return
        if rule.target not in self.page_ids:
            self.add(f"{path}.target", "unknown_target", f"Jump target {rule.target!r} is no page or ending.")
        elif self.page_ids[rule.target] <= p_index:
            self.add(f"{path}.target", "jump_cycle", f"Jump to {rule.target!r} goes back to an earlier page (a cycle).")

    def _condition(self, path: str, node: ConditionNode, p_index: int, *, same_page_ok: bool) -> None:
        if isinstance(node, ConditionGroup):
            for index, child in enumerate(node.conditions):
                self._condition(f"{path}.conditions[{index}]", child, p_index, same_page_ok=same_page_ok)
            return
        self._reference(path, node.source, node.ref, p_index, same_page_ok=same_page_ok)
        if node.operator not in UNARY_OPERATORS and node.value is None:
            self.add(f"{path}.value", "missing_value", f"The operator {node.operator!r} needs a value.")

    def _reference(self, path: str, source: str, ref: str, p_index: int, *, same_page_ok: bool) -> None:
        if source == "hidden" and ref not in self.hidden_ids:
            self.add(f"{path}.ref", "unknown_reference", f"Unknown hidden field {ref!r}.")
        elif source == "variable" and ref not in self.variable_ids:
            self.add(f"{path}.ref", "unknown_reference", f"Unknown variable {ref!r}.")
        elif source == "question":
            question_id, _, row = ref.partition(".")
            question = self.questions.get(question_id)
            if question is None:
                self.add(f"{path}.ref", "unknown_reference", f"Unknown question {question_id!r}.")
                return
            if not question.answerable:
                self.add(
                    f"{path}.ref", "reference_display", f"{question_id!r} is display text: it has no answer to test."
                )
                return
            if row and row != "other" and row not in {r.id for r in question.rows}:
                self.add(f"{path}.ref", "unknown_reference", f"Question {question_id!r} has no row {row!r}.")
            page = self.question_page[question_id]
            if page > p_index or (page == p_index and not same_page_ok):
                self.add(
                    f"{path}.ref",
                    "reference_not_answered",
                    f"Question {question_id!r} is not answered yet at this point (it is on a later page).",
                )
