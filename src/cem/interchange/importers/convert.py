"""Intermediate representation -> cem `SurveyDefinition`, with every loss recorded as a located warning.

Source ids are kept where cem accepts them (Qualtrics QIDs, LimeSurvey codes, SurveyJS names) so that response
exports can be matched back; ids cem does not accept (e.g. choice code "1") get a prefix, and the mapping is kept
in `ImportedSurvey.codes` for the response importer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from cem.interchange.importers.ir import (
    ImportWarning,
    IRChoice,
    IRCondition,
    IRPage,
    IRQuestion,
    IRSurvey,
    LocalText,
    question_location,
)
from cem.interchange.importers.text import unique_id
from cem.surveys.definition import (
    LANGUAGE_CODE_PATTERN,
    Choice,
    Condition,
    ConditionGroup,
    ConditionNode,
    Ending,
    HiddenField,
    JumpRule,
    Page,
    Question,
    SurveyDefinition,
    Variable,
    blocking_errors,
    validate_definition,
)

_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_LANG = re.compile(LANGUAGE_CODE_PATTERN)
END_ID = "end"


@dataclass
class QuestionCodes:
    """How a source response export names one question's answers, in cem ids."""

    question_id: str
    source_ref: str
    type: str
    export_tag: str = ""
    choices: dict[str, str] = field(default_factory=dict)  # source code -> cem choice id
    rows: dict[str, str] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    consent_value: str | None = None
    answers_importable: bool = True  # False when the source's answers cannot fit cem's question (e.g. sliders)
    row_tags: dict[str, str] = field(default_factory=dict)  # legacy export column name -> source row key


@dataclass(frozen=True)
class ImportReport:
    """What an import kept, counted from the resulting definition (the same for every format), and what it changed.

    question_count counts answerable questions only; display-only text blocks are display_count; logic_rule_count
    counts display conditions and jump rules of pages and questions that survived the import.
    """

    format: str
    question_count: int
    display_count: int
    page_count: int
    languages: list[str]
    logic_rule_count: int
    warnings: list[ImportWarning]

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "question_count": self.question_count,
            "display_count": self.display_count,
            "page_count": self.page_count,
            "languages": self.languages,
            "logic_rule_count": self.logic_rule_count,
            "warnings": [w.as_dict() for w in self.warnings],
        }

    def summary(self) -> str:
        languages = ", ".join(self.languages)
        return (
            f"{self.question_count} questions, {self.display_count} display blocks on {self.page_count} pages; "
            f"languages {languages}; {self.logic_rule_count} logic rules; {len(self.warnings)} warnings."
        )


@dataclass
class ImportedSurvey:
    name: str
    format: str
    definition: SurveyDefinition
    warnings: list[ImportWarning]
    codes: dict[str, QuestionCodes]  # cem question id -> codes

    @property
    def question_count(self) -> int:
        """Answerable questions (display-only text blocks are not questions)."""
        return sum(1 for _ in self.definition.answerable_questions())

    def report(self) -> ImportReport:
        defn = self.definition
        questions = [q for _, _, q in defn.questions()]
        rules = sum((p.display_logic is not None) + len(p.jump_logic) for p in defn.pages)
        rules += sum((q.display_logic is not None) + len(q.jump_logic) for q in questions)
        return ImportReport(
            format=self.format,
            question_count=self.question_count,
            display_count=sum(1 for q in questions if not q.answerable),
            page_count=len(defn.pages),
            languages=defn.all_languages(),
            logic_rule_count=rules,
            warnings=list(self.warnings),
        )

    def codes_json(self) -> dict[str, Any]:
        return {qid: c.__dict__ for qid, c in self.codes.items()}


def cem_id(raw: str, prefix: str) -> str:
    """`raw` when cem accepts it as an id, else a prefixed, cleaned version of it."""
    if _ID.match(raw):
        return raw
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", raw).strip("_") or "x"
    return f"{prefix}{cleaned}"[:64] if not cleaned[0].isalpha() else cleaned[:64]


def language_code(raw: str) -> str | None:
    """`raw` in BCP 47 casing (pt_br -> pt-BR, ZH-hans -> zh-Hans, es-419), or None when it is no language tag.
    Tool-specific codes (Qualtrics ZH-S...) are mapped by their parser before they get here."""
    head, *subtags = raw.strip().replace("_", "-").split("-")
    parts = [head.lower()]
    for index, subtag in enumerate(subtags):
        if index == 0 and len(subtag) == 4 and subtag.isalpha():
            parts.append(subtag.title())  # script
        elif len(subtag) == 2 and subtag.isalpha() and len(parts) <= 2:
            parts.append(subtag.upper())  # region
        else:
            parts.append(subtag)
    code = "-".join(parts)
    return code if _LANG.match(code) else None


class _Converter:
    def __init__(self, ir: IRSurvey) -> None:
        self.ir = ir
        self.warnings = list(ir.warnings)
        self.lang_map: dict[str, str] = {}
        self.question_ids: dict[str, str] = {}  # IR id -> cem id
        self.choice_ids: dict[str, dict[str, str]] = {}  # cem question id -> IR choice id -> cem id
        self.row_ids: dict[str, dict[str, str]] = {}
        self.column_ids: dict[str, dict[str, str]] = {}
        self.ir_types = {q.id: q.type for q in ir.questions}
        self.codes: dict[str, QuestionCodes] = {}
        self.taken: set[str] = set()

    def warn(self, location: str, message: str) -> None:
        self.warnings.append(ImportWarning(location, message))

    def _split_for_logic(self) -> None:
        """Display logic in cem reads answers of earlier pages. LimeSurvey (and Qualtrics in-page logic) show or
        hide a question live on the page where its condition's question is answered: such a question starts a new
        page right after, which keeps the logic working with the same order of questions."""
        pages: list[IRPage] = []
        for page in self.ir.pages:
            current = IRPage(id=page.id, title=page.title, display_logic=page.display_logic)
            part = 1
            for question in page.questions:
                on_page = {q.id for q in current.questions}
                needed = sorted(_refs(question.display_logic) & on_page)
                if needed:
                    pages.append(current)
                    part += 1
                    current = IRPage(id=f"{page.id}_{part}", title=page.title, display_logic=page.display_logic)
                    self.warn(
                        question_location(question.source_ref or question.id, question.headline),
                        f"moved to a new page after {', '.join(needed)}: its display logic depends on them and cem "
                        "evaluates display logic on earlier pages",
                    )
                current.questions.append(question)
            pages.append(current)
        self.ir.pages = pages

    def run(self) -> ImportedSurvey:
        self._split_for_logic()
        default = self._language(self.ir.default_language) or "en"
        languages = [lang for lang in (self._language(x) for x in self.ir.languages) if lang]
        hidden = [HiddenField(id=cem_id(h, "h_")) for h in dict.fromkeys(self.ir.hidden_fields)]
        variables = [Variable(id=cem_id(v.name, "v_"), type=v.type, initial=v.initial) for v in self.ir.variables]
        for ir_page in self.ir.pages:
            for q in ir_page.questions:
                self.question_ids[q.id] = unique_id(cem_id(q.id, "q_"), self.taken)
        page_ids = {p.id: unique_id(cem_id(p.id, "page_"), self.taken) for p in self.ir.pages}
        page_ids["end"] = END_ID
        pages = []
        for ir_page in self.ir.pages:
            if not ir_page.questions:
                self.warn(f"page {ir_page.id}", "the page has no question or text cem can show; left out")
                continue
            questions = [self._question(q, page_ids) for q in ir_page.questions]
            pages.append(
                Page(
                    id=page_ids[ir_page.id],
                    title=self._text(ir_page.title),
                    questions=questions,
                    display_logic=self._condition(ir_page.display_logic, f"page {ir_page.id}"),
                )
            )
        endings = [Ending(id=END_ID, message=self._text(self.ir.end_message))]
        definition = SurveyDefinition(
            default_language=default,
            languages=list(dict.fromkeys([default, *languages])),
            title={default: self.ir.name},
            pages=pages,
            hidden_fields=hidden,
            variables=variables,
            endings=endings,
        )
        definition = self._drop_invalid_logic(definition)
        return ImportedSurvey(self.ir.name, self.ir.format, definition, self.warnings, self.codes)

    # -- pieces ----------------------------------------------------------------------------------------------

    def _language(self, raw: str) -> str | None:
        if raw not in self.lang_map:
            code = language_code(raw)
            if code is None:
                self.warn("survey", f"language {raw!r} is not a language code cem understands; its texts dropped")
                code = ""
            self.lang_map[raw] = code
        return self.lang_map[raw] or None

    def _text(self, lt: LocalText) -> LocalText:
        out: LocalText = {}
        for lang, value in lt.items():
            code = self._language(lang)
            if code and value:
                out[code] = value[:5000]
        return out

    def _choices(self, items: list[IRChoice], loc: str, prefix: str) -> tuple[list[Choice], dict[str, str]]:
        taken: set[str] = set()
        ids: dict[str, str] = {}
        result: list[Choice] = []
        for item in items:
            choice_id = unique_id(cem_id(item.id, prefix), taken)
            ids[item.id] = choice_id
            label = self._text(item.label) or {self.ir.default_language: item.id}
            if not any(label.values()):
                label = {next(iter(label)): item.id}
                self.warn(loc, f"choice {item.id!r} has no label; its code is shown")
            result.append(Choice(id=choice_id, label=self._fill(label), other=item.other))
        return result, ids

    def _fill(self, lt: LocalText) -> LocalText:
        """Empty texts are not allowed where a label is required: fall back to another language's text."""
        return {k: v for k, v in lt.items() if v} or lt

    def _display(self, q: IRQuestion, loc: str) -> Question:
        """Display-only text: its text and display logic; nothing answerable, no response codes."""
        headline = self._text(q.headline)
        if not any(headline.values()):
            headline = {self._language(self.ir.default_language) or "en": "…"}
            self.warn(loc, "the text block is empty in the file; shown as '…'")
        return Question(
            id=self.question_ids[q.id],
            type="display",
            headline=headline,
            help=self._text(q.help),
            display_logic=self._condition(q.display_logic, loc),
        )

    def _question(self, q: IRQuestion, page_ids: dict[str, str]) -> Question:
        qid = self.question_ids[q.id]
        loc = question_location(q.source_ref or q.id, q.headline, self.ir.default_language)
        if q.type == "display":
            return self._display(q, loc)
        choices, choice_ids = self._choices(q.choices, loc, "c")
        rows, row_ids = self._choices(q.rows, loc, "r")
        columns, column_ids = self._choices(q.columns, loc, "c")
        self.choice_ids[qid], self.row_ids[qid], self.column_ids[qid] = choice_ids, row_ids, column_ids
        headline = self._text(q.headline)
        if not any(headline.values()):
            headline = {self._language(self.ir.default_language) or "en": q.source_ref or q.id}
            self.warn(loc, "the question has no text; its id is shown instead")
        scale = q.scale
        if q.type == "rating" and scale is not None and not 3 <= scale <= 10:
            self.warn(loc, f"a {scale}-point rating is not supported; imported as 10 points")
            scale = 10
        question = Question(
            id=qid,
            type=q.type,
            headline=headline,
            help=self._text(q.help),
            required=q.required,
            scale=scale,
            style=q.rating_style,
            lower_label=self._text(q.lower_label),
            upper_label=self._text(q.upper_label),
            range_min=_number(q.range_min),
            range_max=_number(q.range_max),
            step=_number(q.step),
            choices=choices,
            rows=rows,
            columns=columns,
            input="long" if q.text_long else "short",
            validation=q.validation,
            display_logic=self._condition(q.display_logic, loc),
            jump_logic=[
                JumpRule(condition=cond, target=page_ids[j.target])
                for j in q.jumps
                if j.target in page_ids and (cond := self._condition(j.condition, loc)) is not None
            ],
        )
        self.codes[qid] = QuestionCodes(
            question_id=qid,
            source_ref=q.source_ref or q.id,
            type=q.type,
            export_tag=q.export_tag,
            choices={code: choice_ids.get(target, target) for code, target in q.choice_codes.items()},
            rows={code: row_ids.get(target, target) for code, target in q.row_codes.items()},
            columns={code: column_ids.get(target, target) for code, target in q.column_codes.items()},
            consent_value=q.consent_value,
            answers_importable=q.answers_importable,
            row_tags=q.row_tags,
        )
        return question

    def _condition(self, node: IRCondition | None, loc: str) -> ConditionNode | None:
        if node is None:
            return None
        if node.kind != "leaf":
            children = [self._condition(child, loc) for child in node.children]
            if any(child is None for child in children):
                return None
            return ConditionGroup(combinator=node.kind, conditions=[c for c in children if c is not None])
        ref = node.ref
        value: Any = node.value
        operator = node.operator
        if node.operand == "question":
            base, _, row = ref.partition(".")
            if base not in self.question_ids:
                self.warn(loc, f"condition on {base!r}, which is not an imported question; dropped")
                return None
            qid = self.question_ids[base]
            if row:  # a matrix row: its value is a column
                ref = f"{qid}.{self.row_ids.get(qid, {}).get(row, row)}"
                value = self._choice_value(self.column_ids.get(qid, {}), value)
            else:
                ref = qid
                value = self._choice_value(self.choice_ids.get(qid, {}), value)
            # "option not selected" on a multiple choice is "does not include", not "differs from".
            if operator == "not_equals" and self.ir_types.get(base) in ("multiple_choice", "ranking"):
                operator = "not_contains"
        elif node.operand == "hidden":
            ref = cem_id(ref, "h_")
        return Condition(source=node.operand, ref=ref, operator=operator, value=value)

    def _choice_value(self, ids: dict[str, str], value: Any) -> Any:
        if isinstance(value, list):
            return [ids.get(v, v) for v in value]
        if isinstance(value, str):
            return ids.get(value, value)
        return value

    def _drop_invalid_logic(self, definition: SurveyDefinition) -> SurveyDefinition:
        """Logic that would stop the survey going live (references to later questions...) is dropped, with a
        warning, so an imported survey can be published; other problems are left for the builder to show."""
        data = definition.model_dump(mode="json")
        for error in blocking_errors(validate_definition(definition)):
            if error.code in ("recall_not_answered", "unknown_recall"):
                self._drop_recall(data, error.path, error.message)
                continue
            match = re.match(r"^(pages\[\d+\](?:\.questions\[\d+\])?)\.(display_logic|jump_logic\[\d+\])", error.path)
            if not match:
                continue
            target = _resolve(data, match.group(1))
            key = match.group(2)
            where = _describe(target)
            if key == "display_logic" and target.get("display_logic") is not None:
                target["display_logic"] = None
                self.warn(where, f"display logic dropped: {error.message}")
            elif key.startswith("jump_logic"):
                index = int(key[len("jump_logic[") : -1])
                rules = target.get("jump_logic") or []
                if index < len(rules) and rules[index] is not None:
                    rules[index] = None
                    self.warn(where, f"skip logic dropped: {error.message}")
        for page in data["pages"]:
            page["jump_logic"] = [r for r in page.get("jump_logic") or [] if r is not None]
            for question in page["questions"]:
                question["jump_logic"] = [r for r in question.get("jump_logic") or [] if r is not None]
        try:
            return SurveyDefinition.model_validate(data)
        except ValidationError:  # pragma: no cover - only logic was removed
            return definition

    def _drop_recall(self, data: dict[str, Any], path: str, message: str) -> None:
        """Recall of a question on the same or a later page (LimeSurvey allows it): keep the reference as text."""
        *parents, lang = path.split(".")
        holder = _resolve(data, ".".join(parents[:-1])) if len(parents) > 1 else data
        texts = holder.get(parents[-1]) if parents else None
        if not isinstance(texts, dict) or not isinstance(texts.get(lang), str):
            return
        ref = re.search(r"'([^']+)'", message)
        name = ref.group(1) if ref else ""
        before = texts[lang]
        texts[lang] = re.sub(r"\{\{\s*(?:hidden\.|var\.)?" + re.escape(name) + r"\s*\}\}", f"[{name}]", before)
        if texts[lang] != before:
            self.warn(f"{_describe(holder)}", f"recall of {name!r} dropped from the {lang} text: {message}")


def _number(value: float) -> int | float:
    """Whole numbers stay ints in the definition JSON (0, not 0.0)."""
    return int(value) if float(value).is_integer() else float(value)


def _refs(node: IRCondition | None) -> set[str]:
    if node is None:
        return set()
    if node.kind != "leaf":
        return set().union(*(_refs(child) for child in node.children)) if node.children else set()
    return {node.ref.partition(".")[0]} if node.operand == "question" else set()


def _resolve(data: dict[str, Any], path: str) -> dict[str, Any]:
    node: Any = data
    for name, index in re.findall(r"(\w+)\[(\d+)\]", path):
        node = node[name][int(index)]
    return node


def _describe(node: dict[str, Any]) -> str:
    if "type" in node:
        return question_location(node["id"], node.get("headline"))
    if "label" in node:
        return f"choice {node['id']}"
    return f"page {node.get('id')}"


def to_definition(ir: IRSurvey) -> ImportedSurvey:
    return _Converter(ir).run()
