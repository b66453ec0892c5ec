"""SurveyJS JSON (survey model) -> intermediate representation.

A SurveyJS model is `{"title", "pages": [{"name", "elements": [...]}], ...}` (or `elements` at the top level for a
single page). Texts are a string or a localisation object `{"default": "...", "de": "..."}`. Panels group elements
on a page; cem keeps their questions in place and drops the grouping (with a warning).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from cem.interchange.importers.expressions import Token, TokenStream
from cem.interchange.importers.ir import (
    IRChoice,
    IRCondition,
    IRPage,
    IRQuestion,
    IRSurvey,
    IRVariable,
    LocalText,
    question_location,
)
from cem.interchange.importers.languages import SURVEYJS, bcp47
from cem.interchange.importers.text import plain_text, safe_id, unique_id
from cem.interchange.surveyjs import CEM_OPERATORS, VALIDATIONS

CONTAINER_TYPES = frozenset({"panel", "paneldynamic"})
# Element types with nothing to ask (or nothing cem can ask); counted out of the questions by the tests too.
DROPPED_TYPES = {
    "image": "an image (cem text blocks hold plain text, no pictures)",
    "signaturepad": "a signature pad",
    "file": "a file upload",
}
SLIDER_TYPES = frozenset({"slider", "nouislider"})  # SurveyJS 2's slider and the noUiSlider custom widget
_KNOWN_KEYS = frozenset(
    {
        "title",
        "description",
        "pages",
        "elements",
        "questions",
        "locale",
        "completedHtml",
        "calculatedValues",
        "logoPosition",
        "showProgressBar",
        "showQuestionNumbers",
        "progressBarType",
        "widthMode",
        "completeText",
        "pageNextText",
        "pagePrevText",
        "showTitle",
        "checkErrorsMode",
        "textUpdateMode",
        "questionsOnPageMode",
    }
)


def looks_like_response(data: dict[str, Any]) -> bool:
    """A SurveyJS result ("data" object) rather than a survey model: answers keyed by question name."""
    model_keys = {"pages", "elements", "questions", "calculatedValues", "title", "completedHtml", "locale"}
    return bool(data) and not (model_keys & set(data))


class SurveyJSParser:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        locale = bcp47(str(data.get("locale") or "en"), SURVEYJS)
        self.default = locale
        self.ir = IRSurvey(format="surveyjs", name="", default_language=locale, languages=[locale])
        self.names: set[str] = set()

    def parse(self) -> IRSurvey:
        data = self.data
        self.ir.name = self._plain(data.get("title")) or "Imported SurveyJS survey"
        for key in data:
            if key not in _KNOWN_KEYS:
                self.ir.warn(f"survey.{key}", "setting not imported (cem has no equivalent)")
        pages = data.get("pages")
        if not isinstance(pages, list):
            top = data.get("elements") or data.get("questions") or []
            pages = [{"name": "page1", "elements": top}] if top else []
        page_ids: set[str] = set()
        for index, raw in enumerate(pages):
            if not isinstance(raw, dict):
                self.ir.warn(f"pages[{index}]", "not an object; skipped")
                continue
            name = str(raw.get("name") or f"page{index + 1}")
            page = IRPage(id=unique_id(safe_id(name, prefix="page"), page_ids), title=self._text(raw.get("title")))
            page.display_logic = self._visible_if(raw.get("visibleIf"), f"page {name}")
            page.questions = self._elements(raw.get("elements") or raw.get("questions") or [], f"page {name}")
            self.ir.pages.append(page)
        for calc in data.get("calculatedValues") or []:
            name = str(calc.get("name") or "")
            if name:
                self.ir.variables.append(IRVariable(name=name, type="text", initial=""))
                self.ir.warn(
                    f"calculated value {name}",
                    f"expression {calc.get('expression')!r} not imported; kept as an empty variable",
                )
        if data.get("completedHtml"):
            self.ir.end_message = self._text(data["completedHtml"])
        if not self.ir.questions:
            self.ir.warn("survey", "the file defines no questions")
        return self.ir

    # -- texts -----------------------------------------------------------------------------------------------

    def _text(self, value: Any) -> LocalText:
        if isinstance(value, dict):
            out: LocalText = {}
            for lang, text in value.items():
                code = self.default if lang == "default" else bcp47(str(lang), SURVEYJS)
                out[code] = self._piped(plain_text(str(text)))
                if code not in self.ir.languages:
                    self.ir.languages.append(code)
            return out
        if value in (None, ""):
            return {}
        return {self.default: self._piped(plain_text(str(value)))}

    def _plain(self, value: Any) -> str:
        texts = self._text(value)
        return texts.get(self.default) or next(iter(texts.values()), "")

    def _piped(self, text: str) -> str:
        # SurveyJS recall is {name}; cem's is {{name}}. Leave {{...}} alone if already doubled.
        return re.sub(r"(?<!\{)\{([A-Za-z_][\w-]*)\}(?!\})", r"{{\1}}", text)

    # -- elements ------------------------------------------------------------------------------------------

    def _elements(self, elements: list[Any], loc: str) -> list[IRQuestion]:
        questions: list[IRQuestion] = []
        for index, element in enumerate(elements):
            if not isinstance(element, dict):
                self.ir.warn(f"{loc}.elements[{index}]", "not an object; skipped")
                continue
            kind, name = str(element.get("type") or ""), str(element.get("name") or f"element{index + 1}")
            where = question_location(name, self._text(element.get("title")), self.default)
            if kind in CONTAINER_TYPES:
                note = "repeating panel: asked once" if kind == "paneldynamic" else "panel grouping dropped"
                self.ir.warn(f"panel {name}", f"{note}; its questions are kept on the page")
                questions += self._elements(element.get("elements") or element.get("templateElements") or [], loc)
                continue
            if kind in DROPPED_TYPES:
                self.ir.warn(where, f"{DROPPED_TYPES[kind]} has no cem question equivalent; not imported")
                continue
            if kind == "expression":
                self.ir.variables.append(IRVariable(name=name, type="text", initial=""))
                self.ir.warn(
                    where,
                    f"calculated value {str(element.get('expression') or '')!r} shown to respondents: kept as the "
                    f"empty text variable {name!r} (the formula is not imported, nothing is shown)",
                )
                continue
            question = self._question(element, kind, name, where)
            if question is not None:
                questions.append(question)
        return questions

    def _choices(self, raw: Any, where: str) -> list[IRChoice]:
        choices: list[IRChoice] = []
        for item in raw or []:
            if isinstance(item, dict):
                value = item.get("value", item.get("name"))
                label = self._text(item.get("text") if item.get("text") is not None else item.get("title"))
            else:
                value, label = item, {}
            if value is None:
                self.ir.warn(where, "a choice without a value was skipped")
                continue
            choices.append(IRChoice(id=str(value), label=label or {self.default: str(value)}))
        return choices

    def _question(self, el: dict[str, Any], kind: str, name: str, where: str) -> IRQuestion | None:
        unique = unique_id(name, self.names)
        if unique != name:  # e.g. a dynamic panel's field named like a question of the page
            self.ir.warn(where, f"a second element named {name!r}: imported as {unique!r}")
        question = IRQuestion(
            id=unique,
            type="text",
            headline=self._text(el.get("title")) or {self.default: name},
            help=self._text(el.get("description")),
            required=bool(el.get("isRequired")),
            source_ref=name,
        )
        if kind == "text" and el.get("inputType") != "range":
            input_type = str(el.get("inputType") or "text")
            if input_type == "date":
                question.type = "date"
            elif input_type in VALIDATIONS:
                question.validation = VALIDATIONS[input_type]  # type: ignore[assignment]
            elif input_type != "text":
                self.ir.warn(where, f"input type {input_type!r} is asked as a short text")
        elif kind == "comment":
            question.text_long = True
        elif kind in ("radiogroup", "checkbox", "dropdown", "tagbox", "imagepicker", "ranking"):
            self._choice_question(question, el, kind, where)
        elif kind == "boolean":
            self._boolean(question, el)
        elif kind == "rating":
            self._rating(question, el, where)
        elif kind in ("matrix", "matrixdropdown", "matrixdynamic"):
            self._matrix(question, el, kind, where)
        elif kind == "multipletext":
            items = [str(i.get("name")) for i in el.get("items") or [] if isinstance(i, dict)]
            question.text_long = True
            self.ir.warn(where, f"multiple text fields {items} are asked as one long text")
        elif kind == "html":
            question.type = "display"  # the HTML as plain text: tags dropped, entities decoded; never required
            question.headline = self._text(el.get("html")) or {self.default: name}
            question.help, question.required = {}, False
        elif kind in SLIDER_TYPES or (kind == "text" and el.get("inputType") == "range"):
            self._slider(question, el, kind, where)
        else:
            self.ir.warn(where, f"question type {kind!r} has no cem equivalent; not imported")
            return None
        question.display_logic = self._visible_if(el.get("visibleIf"), where)
        for key, what in (
            ("enableIf", "enable condition"),
            ("requiredIf", "required condition"),
            ("validators", "validators"),
            ("defaultValue", "default answer"),
            ("choicesVisibleIf", "choice conditions"),
            ("choicesOrder", "choice order"),
        ):
            if el.get(key) not in (None, "", [], "none"):
                self.ir.warn(where, f"{what} not imported")
        return question

    def _choice_question(self, question: IRQuestion, el: dict[str, Any], kind: str, where: str) -> None:
        question.choices = self._choices(el.get("choices"), where)
        multi = kind in ("checkbox", "tagbox") or (kind == "imagepicker" and el.get("multiSelect"))
        question.type = {"dropdown": "dropdown", "ranking": "ranking"}.get(
            kind, "multiple_choice" if multi else "single_choice"
        )  # type: ignore[assignment]
        if kind == "imagepicker":
            self.ir.warn(where, "image choices are shown by their labels (images not imported)")
        if el.get("choicesByUrl"):
            self.ir.warn(where, "choices loaded from a URL are not imported")
        if el.get("showNoneItem") or el.get("hasNone"):
            question.choices.append(IRChoice("none", self._text(el.get("noneText")) or {self.default: "None"}))
        if el.get("showOtherItem") or el.get("hasOther"):
            label = self._text(el.get("otherText")) or {self.default: "Other"}
            question.choices.append(IRChoice("other", label, other=True))
        if el.get("showSelectAllItem") or el.get("hasSelectAll"):
            self.ir.warn(where, "'select all' option not imported")
        for key in ("maxSelectedChoices", "minSelectedChoices"):
            if el.get(key):
                self.ir.warn(where, f"{key} ({el[key]}) not enforced")
        question.choice_codes = {c.id: c.id for c in question.choices}

    def _boolean(self, question: IRQuestion, el: dict[str, Any]) -> None:
        yes, no = str(el.get("valueTrue", "true")), str(el.get("valueFalse", "false"))
        if el.get("renderAs") == "checkbox":
            question.type = "consent"
            question.consent_value = yes
            return
        question.type = "single_choice"
        question.choices = [
            IRChoice(yes, self._text(el.get("labelTrue")) or {self.default: "Yes"}),
            IRChoice(no, self._text(el.get("labelFalse")) or {self.default: "No"}),
        ]
        question.choice_codes = {yes: yes, no: no, "true": yes, "false": no, "True": yes, "False": no}

    def _rating(self, question: IRQuestion, el: dict[str, Any], where: str) -> None:
        """1..N (3 <= N <= 10) stays a rating of N points (stars, smileys or numbers); 0..10 is NPS when the question
        says so (name or title), otherwise it and every other range keeps its numbers as a slider."""
        values = el.get("rateValues")
        if values:
            raw = [v.get("value") if isinstance(v, dict) else v for v in values]
            numbers = sorted(_num(n) for n in raw)
            low, high = numbers[0], numbers[-1]
            step = min((b - a for a, b in itertools.pairwise(numbers)), default=1) or 1
            if any(isinstance(v, dict) and v.get("text") not in (None, str(v.get("value"))) for v in values):
                self.ir.warn(where, "the labels of the rating's values are not kept (only its two end labels)")
        else:
            low = _num(el.get("rateMin", 1))
            step = _num(el.get("rateStep", 1)) or 1
            rate_count = el.get("rateCount")
            high = _num(el.get("rateMax", low + step * (int(_num(rate_count)) - 1) if rate_count else 5))
        count = round((high - low) / step) + 1
        question.lower_label = self._text(el.get("minRateDescription") or el.get("mininumRateDescription"))
        question.upper_label = self._text(el.get("maxRateDescription") or el.get("maximumRateDescription"))
        rate_type = str(el.get("rateType") or el.get("rateDisplayMode") or "")
        question.rating_style = "stars" if "star" in rate_type else "smileys" if "smil" in rate_type else "numbers"
        if (low, high, count) == (0, 10, 11) and _says_nps(question, el):
            question.type = "nps"
        elif low == 1 and step == 1 and 3 <= count <= 10:
            question.type = "rating"
            question.scale = count
        else:
            question.type = "slider"
            question.range_min, question.range_max, question.step = low, high, step
            self.ir.warn(
                where,
                f"{rate_type or 'numbers'} rating {low:g} to {high:g} (steps of {step:g}) kept as a slider with that "
                "range: cem ratings run from 1 to 3-10 points",
            )

    def _slider(self, question: IRQuestion, el: dict[str, Any], kind: str, where: str) -> None:
        """SurveyJS 2 `slider` (min, max, step), the noUiSlider widget (rangeMin, rangeMax, step) or a range input."""
        low = _num(el.get("rangeMin", el.get("min", 0)))
        high = _num(el.get("rangeMax", el.get("max", 100)))
        question.type = "slider"
        question.range_min, question.range_max, question.step = low, high, _num(el.get("step", 1)) or 1
        labels = {_num(x.get("value")): x.get("text") for x in el.get("customLabels") or [] if isinstance(x, dict)}
        question.lower_label = self._text(labels.get(low) or el.get("minRateDescription"))
        question.upper_label = self._text(labels.get(high) or el.get("maxRateDescription"))
        if el.get("sliderType") == "range" or isinstance(el.get("defaultValue"), list):
            self.ir.warn(where, f"{kind} with two handles (a range) is asked as one value")

    def _matrix(self, question: IRQuestion, el: dict[str, Any], kind: str, where: str) -> None:
        question.type = "matrix"
        rows = el.get("rows") or []
        if kind == "matrixdynamic":
            count = int(el.get("rowCount") or 1)
            rows = [{"value": f"row{n}", "text": f"Row {n}"} for n in range(1, count + 1)]
            self.ir.warn(where, f"dynamic matrix (respondent adds rows) imported with {count} fixed rows")
        question.rows = self._choices(rows, where)
        if kind == "matrix":
            question.columns = self._choices(el.get("columns"), where)
            points = [str(n) for n in range(1, len(question.columns) + 1)]
            if 3 <= len(points) <= 10 and all(
                c.id == p and set(c.label.values()) <= {p} for c, p in zip(question.columns, points, strict=True)
            ):  # columns 1..N labelled by their numbers: a numeric scale
                question.scale, question.columns = len(points), []
        else:
            columns = [c.get("name") if isinstance(c, dict) else c for c in el.get("columns") or []]
            question.columns = self._choices(el.get("choices"), where) or [
                IRChoice(str(c), {self.default: str(c)}) for c in columns if c
            ]
            self.ir.warn(where, f"dropdown matrix columns {columns} became one answer per row")
        question.row_codes = {r.id: r.id for r in question.rows}
        question.column_codes = {c.id: c.id for c in question.columns}

    def _visible_if(self, expression: Any, where: str) -> IRCondition | None:
        if not expression:
            return None
        text = str(expression)
        try:
            return _Condition(text).parse()
        except ValueError as exc:
            self.ir.warn(where, f"condition {text!r} is not supported ({exc}); dropped (always shown)")
            return None


_TOKEN = re.compile(
    r"""\s*(?:(?P<ref>\{[A-Za-z_][\w.-]*\})|(?P<str>'[^']*'|"[^"]*")|(?P<num>-?\d+(?:\.\d+)?)|
        (?P<op>==|!=|<>|>=|<=|[=<>()\[\],!])|(?P<word>[A-Za-z_]\w*))""",
    re.VERBOSE,
)


def _lower_word(kind: str, value: str) -> Token:
    return (kind, value.lower()) if kind == "word" else (kind, value)


class _Condition(TokenStream):
    """SurveyJS expressions: {name} <op> value, empty/notempty, anyof/allof [..], and/or, parentheses."""

    or_token = ("word", "or")
    and_token = ("word", "and")

    def __init__(self, text: str) -> None:
        super().__init__(text, _TOKEN, _lower_word)

    def factor(self) -> IRCondition:
        if self.peek() == ("op", "("):
            self.take()
            node = self.disjunction()
            if self.take() != ("op", ")"):
                raise ValueError("missing ')'")
            return node
        kind, ref = self.take()
        if kind != "ref":
            raise ValueError(f"{ref!r} is not a question reference")
        ref = ref[1:-1]
        op_kind, op = self.take()
        if op_kind == "word" and op in ("empty", "notempty"):
            return IRCondition(ref=ref, operator="is_skipped" if op == "empty" else "is_answered")
        operator = CEM_OPERATORS.get(op)
        if operator is None:
            raise ValueError(f"operator {op!r}")
        return IRCondition(ref=ref, operator=operator, value=self.value())

    def value(self) -> str | list[str]:
        kind, raw = self.take()
        if kind == "str":
            return raw[1:-1]
        if kind == "num":
            return raw
        if kind == "word" and raw in ("true", "false"):
            return raw
        if (kind, raw) == ("op", "["):
            items: list[str] = []
            while self.peek() != ("op", "]"):
                item = self.value()
                items.append(item if isinstance(item, str) else ",".join(item))
                if self.peek() == ("op", ","):
                    self.take()
            self.take()
            return items
        raise ValueError(f"{raw!r} is not a value")


def _says_nps(question: IRQuestion, el: dict[str, Any]) -> bool:
    """Whether a 0-10 rating presents itself as a Net Promoter question (its name or title)."""
    words = " ".join([str(el.get("name") or ""), *question.headline.values()]).lower()
    return "nps" in words or "recommend" in words or "promoter" in words


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def parse_surveyjs(data: dict[str, Any]) -> IRSurvey:
    return SurveyJSParser(data).parse()
