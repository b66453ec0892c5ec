"""LimeSurvey .lss (XML structure export) -> intermediate representation.

An .lss is a <document> of tables, each `<name><fields>...</fields><rows><row>...</row></rows></name>`. Older exports
(LimeSurvey 2.x/3.x, DBVersion < 400) repeat every question, group, subquestion and answer row once per language
with a <language> column; newer ones (LimeSurvey 4+) keep one row per item and put the texts in *_l10ns tables.
Both are read into one view: item -> {language: text}.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from xml.etree.ElementTree import Element

from cem.interchange.importers.ir import (
    IRChoice,
    IRCondition,
    IRPage,
    IRQuestion,
    IRQuestionType,
    IRSurvey,
    IRVariable,
    LocalText,
    question_location,
)
from cem.interchange.importers.languages import LIMESURVEY, bcp47
from cem.interchange.importers.limesurvey_expressions import ExpressionParser, Unsupported
from cem.interchange.importers.text import has_script, plain_text, safe_id, unique_id

# LimeSurvey question type codes -> (cem type, note). Arrays are matrices: subquestions are rows; the 5- and
# 10-point arrays keep their numeric scale.
_ARRAY_SCALES = {"A": 5, "B": 10}
_SINGLE = {"L": "list (radio)", "!": "list (dropdown)", "O": "list with comment", "G": "gender", "Y": "yes/no"}
_ARRAY_FIXED_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "C": [("Y", "Yes"), ("U", "Uncertain"), ("N", "No")],
    "E": [("I", "Increase"), ("S", "Same"), ("D", "Decrease")],
}
_DROPPED_TYPES = {"|": "file upload", "I": "language switch"}


def _table(root: Element, name: str) -> list[dict[str, str]]:
    rows = root.find(f"{name}/rows")
    if rows is None:
        return []
    return [{child.tag: (child.text or "") for child in row} for row in rows]


@dataclass
class _Item:
    """One question, group, subquestion or answer with its texts in every language."""

    row: dict[str, str]
    texts: dict[str, LocalText] = field(default_factory=lambda: defaultdict(dict))


class LimeSurveyParser:
    def __init__(self, root: Element) -> None:
        self.root = root
        survey_rows = _table(root, "surveys")
        survey = survey_rows[0] if survey_rows else {}
        languages = [el.text or "" for el in root.findall("languages/language") if el.text]
        default = survey.get("language") or (languages[0] if languages else "en")
        extra = [x for x in (survey.get("additional_languages") or "").split() if x]
        ordered = list(dict.fromkeys([default, *[x for x in languages + extra if x != default]]))
        self.ir = IRSurvey(format="limesurvey", name="", default_language="", languages=[])
        self.lang_map = self._language_map(ordered)
        self.default = self.lang_map[default] or bcp47(default, LIMESURVEY)
        self.ir.default_language = self.default
        self.ir.languages = [tag for tag in self.lang_map.values() if tag]
        self.attributes: dict[str, dict[str, str]] = defaultdict(dict)
        for row in _table(root, "question_attributes"):
            if not row.get("language") or row.get("language") == default:
                self.attributes[row.get("qid", "")][row.get("attribute", "")] = row.get("value", "")
        self.code_to_id: dict[str, str] = {}
        self.qid_to_code: dict[str, str] = {}
        self.code_types: dict[str, str] = {}
        self.taken_ids: set[str] = set()
        self.slider_ids: dict[tuple[str, str], str] = {}  # (question id, field code) -> the field's slider id

    # -- languages ----------------------------------------------------------------------------------------------

    def _language_map(self, codes: list[str]) -> dict[str, str | None]:
        """LimeSurvey code -> BCP 47 tag (`languages.LIMESURVEY`); None for a second code that maps to a tag already
        taken (de and de-informal are both German): its texts are left out, with a warning."""
        result: dict[str, str | None] = {}
        taken: dict[str, str] = {}
        for code in codes:
            tag = bcp47(code, LIMESURVEY)
            if tag in taken:
                result[code] = None
                self.ir.warn(
                    "survey", f"language {code!r} is {tag!r} in BCP 47 like {taken[tag]!r}: its texts are left out"
                )
                continue
            if tag != code:
                self.ir.warn(
                    "survey", f"language {code!r} imported as {tag!r} (BCP 47 has no tag for the form of address)"
                )
            result[code] = taken[tag] = tag
        return result

    def _lang(self, code: str | None) -> str | None:
        """The BCP 47 tag of a row's language column (the default language when it has none)."""
        if not code:
            return self.default
        if code not in self.lang_map:
            self.lang_map.update(self._language_map([code]))
            if self.lang_map[code]:
                self.ir.languages.append(self.lang_map[code] or "")
        return self.lang_map[code]

    # -- reading tables into language-aware items -------------------------------------------------------------

    def _items(
        self, table: str, key: str, l10n_table: str | None, l10n_key: str, fields: tuple[str, ...]
    ) -> dict[str, _Item]:
        items: dict[str, _Item] = {}
        for row in _table(self.root, table):
            ident = row.get(key, "")
            item = items.setdefault(ident, _Item(row))
            lang = self._lang(row.get("language"))
            if lang == self.default:
                item.row = row
            if lang is None:
                continue
            for name in fields:
                if row.get(name):
                    item.texts[name][lang] = row[name]
        if l10n_table:
            for row in _table(self.root, l10n_table):
                item_or_none = items.get(row.get(l10n_key, ""))
                lang = self._lang(row.get("language"))
                if item_or_none is None or lang is None:
                    continue
                for name in fields:
                    if row.get(name):
                        item_or_none.texts[name][lang] = row[name]
        return items

    def parse(self) -> IRSurvey:
        settings = {self._lang(r.get("surveyls_language")): r for r in _table(self.root, "surveys_languagesettings")}
        settings.pop(None, None)
        default_settings = settings.get(self.default) or next(iter(settings.values()), {})
        self.ir.name = plain_text(default_settings.get("surveyls_title")) or "Imported LimeSurvey survey"
        for lang, row in settings.items():
            if lang and row.get("surveyls_endtext"):
                self.ir.end_message[lang] = plain_text(row["surveyls_endtext"])
            if lang and row.get("surveyls_welcometext"):
                self.ir.welcome[lang] = plain_text(row["surveyls_welcometext"])
        if self.ir.welcome:
            self.ir.warn("survey", "the welcome text is not shown by cem (it is kept nowhere)")
        groups = self._items("groups", "gid", "group_l10ns", "gid", ("group_name", "description"))
        questions = self._items("questions", "qid", "question_l10ns", "qid", ("question", "help"))
        subquestions = self._items("subquestions", "qid", "question_l10ns", "qid", ("question",))
        answers = self._answers()
        for item in questions.values():
            title = item.row.get("title", "")
            self.code_to_id[title] = unique_id(safe_id(title), self.taken_ids)
            self.qid_to_code[item.row.get("qid", "")] = title
            self.code_types[title] = item.row.get("type", "")
        subs_by_parent: dict[str, list[_Item]] = defaultdict(list)
        for sub in subquestions.values():
            subs_by_parent[sub.row.get("parent_qid", "")].append(sub)
        by_group: dict[str, list[_Item]] = defaultdict(list)
        for item in questions.values():
            by_group[item.row.get("gid", "")].append(item)
        page_ids: set[str] = set()
        for gid, group in sorted(groups.items(), key=lambda g: _int(g[1].row.get("group_order"))):
            page = IRPage(
                id=unique_id(safe_id(f"g{gid}", prefix="page"), page_ids),
                title=self._texts(group.texts["group_name"], f"group {gid}"),
            )
            relevance = group.row.get("grelevance") or ""
            page.display_logic = self._relevance(relevance, f"group {gid}")
            if group.texts.get("description"):
                self.ir.warn(f"group {gid}", "the group description is not shown by cem")
            for item in sorted(by_group.get(gid, []), key=lambda i: _int(i.row.get("question_order"))):
                page.questions += self._questions(item, subs_by_parent.get(item.row.get("qid", ""), []), answers)
            self.ir.pages.append(page)
        orphans = [q for gid, qs in by_group.items() if gid not in groups for q in qs]
        for item in orphans:
            self.ir.warn(f"question {item.row.get('title')}", "belongs to no group in the file; not imported")
        if _table(self.root, "quota"):
            self.ir.warn("survey", "quotas are not imported")
        if _table(self.root, "assessments"):
            self.ir.warn("survey", "assessments are not imported")
        if _table(self.root, "defaultvalues"):
            self.ir.warn("survey", "default answers are not imported")
        return self.ir

    def _answers(self) -> dict[str, dict[int, list[tuple[str, LocalText, int]]]]:
        """qid -> scale -> [(code, texts, sort order)]."""
        l10n: dict[str, LocalText] = defaultdict(dict)
        for row in _table(self.root, "answer_l10ns"):
            lang = self._lang(row.get("language"))
            if lang:
                l10n[row.get("aid", "")][lang] = row.get("answer", "")
        merged: dict[tuple[str, int, str], tuple[LocalText, int]] = {}
        for row in _table(self.root, "answers"):
            key = (row.get("qid", ""), _int(row.get("scale_id")), row.get("code", ""))
            texts, order = merged.get(key, ({}, _int(row.get("sortorder"))))
            if row.get("aid") in l10n:
                texts.update(l10n[row["aid"]])
            lang = self._lang(row.get("language"))
            if row.get("answer") and lang:
                texts[lang] = row["answer"]
            merged[key] = (texts, order)
        result: dict[str, dict[int, list[tuple[str, LocalText, int]]]] = defaultdict(lambda: defaultdict(list))
        for (qid, scale, code), (texts, order) in merged.items():
            result[qid][scale].append((code, texts, order))
        for scales in result.values():
            for options in scales.values():
                options.sort(key=lambda o: o[2])
        return result

    # -- questions ------------------------------------------------------------------------------------

    def _texts(self, texts: LocalText, loc: str) -> LocalText:
        out: LocalText = {}
        for lang, raw in texts.items():
            if has_script(raw):
                self.ir.warn(loc, f"JavaScript in the {lang} text is not imported")
            out[lang] = self._piped(plain_text(raw), loc)
        return out

    def _piped(self, value: str, loc: str) -> str:
        def replace(match: re.Match[str]) -> str:
            expr = match.group(1).strip()
            ref = expr.split(".")[0]
            if ref in self.code_to_id and re.fullmatch(r"[A-Za-z0-9_]+(\.(shown|NAOK|value))?", expr):
                return "{{" + self.code_to_id[ref] + "}}"
            self.ir.warn(loc, f"expression {{{expr}}} in the text has no cem equivalent; left as plain text")
            return match.group(0)

        return re.sub(r"\{([^{}]+)\}", replace, value)

    def _choice_list(self, options: list[tuple[str, LocalText, int]], loc: str) -> list[IRChoice]:
        return [IRChoice(id=code, label=self._texts(texts, loc)) for code, texts, _ in options]

    def _sub_choices(self, subs: list[_Item], scale: int, loc: str) -> list[IRChoice]:
        chosen = [s for s in subs if _int(s.row.get("scale_id")) == scale]
        chosen.sort(key=lambda s: _int(s.row.get("question_order")))
        choices = []
        for sub in chosen:
            if sub.row.get("relevance") not in ("", "1", None):
                self.ir.warn(
                    f"{loc}.{sub.row.get('title')}",
                    f"condition {sub.row.get('relevance')!r} on a subquestion is dropped; it is always shown",
                )
            choices.append(IRChoice(id=sub.row.get("title", ""), label=self._texts(sub.texts["question"], loc)))
        return choices

    def _questions(
        self, item: _Item, subs: list[_Item], answers: dict[str, dict[int, list[tuple[str, LocalText, int]]]]
    ) -> list[IRQuestion]:
        """The cem questions of one LimeSurvey question: usually one, none for what cem cannot ask, one slider per
        field of a multiple numerical input shown as sliders."""
        row = item.row
        kind = row.get("type", "")
        if kind == "X":
            return [self._display(item)]
        if kind == "K" and self.attributes.get(row.get("qid", ""), {}).get("slider_layout") == "1":
            return self._sliders(item, subs)
        question = self._question(item, subs, answers)
        return [question] if question is not None else []

    def _location(self, item: _Item) -> str:
        """How warnings name the question: its code and the start of its text."""
        texts = item.texts["question"]
        return question_location(item.row.get("title", ""), {self.default: plain_text(texts.get(self.default))})

    def _base(self, item: _Item, kind: IRQuestionType) -> IRQuestion:
        """The parts every question has: id, texts, mandatory flag, relevance as display logic."""
        code = item.row.get("title", "")
        loc = self._location(item)
        question = IRQuestion(
            id=self.code_to_id[code],
            type=kind,
            headline=self._texts(item.texts["question"], loc),
            help=self._texts(item.texts.get("help") or {}, loc),
            required=kind != "display" and item.row.get("mandatory") == "Y",
            source_ref=code,
        )
        question.display_logic = self._relevance(item.row.get("relevance") or "", loc)
        return question

    def _display(self, item: _Item) -> IRQuestion:
        """Boilerplate (type X): text shown to the respondent, never answered."""
        return self._base(item, "display")

    def _sliders(self, item: _Item, subs: list[_Item]) -> list[IRQuestion]:
        """Multiple numerical input with the slider layout: each field is a slider from slider_min to slider_max in
        steps of slider_accuracy; a field's text "label|left|right" (slider_separator) gives its end labels."""
        code = item.row.get("title", "")
        attrs = self.attributes.get(item.row.get("qid", ""), {})
        low, high = _float(attrs.get("slider_min"), 0), _float(attrs.get("slider_max"), 100)
        step = _float(attrs.get("slider_accuracy"), 1) or 1
        separator = attrs.get("slider_separator", "|") or "|"
        base = self._base(item, "slider")
        sliders = []
        for sub in sorted(subs, key=lambda s: _int(s.row.get("question_order"))):
            sub_code = sub.row.get("title", "")
            label: LocalText = {}
            lower: LocalText = {}
            upper: LocalText = {}
            for lang, raw in self._texts(sub.texts["question"], f"question {code}.{sub_code}").items():
                parts = raw.split(separator)
                label[lang] = parts[0].strip()
                if len(parts) > 1:
                    lower[lang] = parts[1].strip()
                if len(parts) > 2:
                    upper[lang] = parts[2].strip()
            headline = {
                lang: f"{text} — {label[lang]}" if label.get(lang) else text for lang, text in base.headline.items()
            }
            self.slider_ids[(base.id, sub_code)] = unique_id(f"{base.id}_{safe_id(sub_code)}", self.taken_ids)
            sliders.append(
                replace(
                    base,
                    id=self.slider_ids[(base.id, sub_code)],
                    headline=headline or label,
                    lower_label=lower,
                    upper_label=upper,
                    range_min=low,
                    range_max=high,
                    step=step,
                    source_ref=f"{code}_{sub_code}",
                )
            )
        self.ir.warn(
            self._location(item),
            f"multiple numerical input shown as sliders: became {len(sliders)} slider questions "
            f"({low:g} to {high:g} in steps of {step:g}), one per field",
        )
        return sliders

    def _question(
        self, item: _Item, subs: list[_Item], answers: dict[str, dict[int, list[tuple[str, LocalText, int]]]]
    ) -> IRQuestion | None:
        row = item.row
        qid, code, kind = row.get("qid", ""), row.get("title", ""), row.get("type", "")
        loc = self._location(item)
        attrs = self.attributes.get(qid, {})
        if kind in _DROPPED_TYPES:
            self.ir.warn(loc, f"{_DROPPED_TYPES[kind]} question has no cem equivalent; not imported")
            return None
        if kind == "*":
            name = self.code_to_id[code]
            self.ir.variables.append(IRVariable(name=name, type="text", initial=""))
            self.ir.warn(
                loc,
                f"equation {plain_text(item.texts['question'].get(self.default, ''))!r} became the empty text "
                f"variable {name!r}: its formula is not imported, and conditions on it are dropped",
            )
            return None
        question = self._base(item, "text")
        own_answers = answers.get(qid, {})
        if kind in _SINGLE:
            question.type = "dropdown" if kind == "!" else "single_choice"
            if kind == "Y":
                question.choices = [IRChoice("Y", {self.default: "Yes"}), IRChoice("N", {self.default: "No"})]
            elif kind == "G":
                question.choices = [IRChoice("F", {self.default: "Female"}), IRChoice("M", {self.default: "Male"})]
            else:
                question.choices = self._choice_list(own_answers.get(0, []), loc)
            if kind == "O":
                self.ir.warn(loc, "the comment box of 'list with comment' is not asked")
        elif kind in ("M", "P"):
            question.type = "multiple_choice"
            question.choices = self._sub_choices(subs, 0, loc)
            if kind == "P":
                self.ir.warn(loc, "the comment box next to each option is not asked")
        elif kind == "R":
            question.type = "ranking"
            question.choices = self._choice_list(own_answers.get(0, []), loc)
        elif kind == "5":
            question.type = "rating"
            question.scale = 5
        elif kind in ("S", "T", "U", "N"):
            question.text_long = kind in ("T", "U")
            if kind == "N":
                question.validation = "number"
        elif kind in ("Q", "K"):
            question.text_long = True
            fields = [plain_text(s.texts["question"].get(self.default, "")) for s in subs]
            self.ir.warn(
                loc,
                f"multiple {'numerical' if kind == 'K' else 'short text'} fields {fields} are asked as one long text",
            )
        elif kind == "D":
            question.type = "date"
        elif kind in ("F", "H", "A", "B", "C", "E", "1", ":", ";"):
            self._array(question, kind, subs, own_answers, loc)
        else:
            self.ir.warn(loc, f"question type {kind!r} has no cem equivalent; not imported")
            return None
        if row.get("other") == "Y" and question.type in ("single_choice", "multiple_choice", "dropdown"):
            label = {self.default: attrs.get("other_replace_text") or "Other"}
            question.choices.append(IRChoice(id="other", label=label, other=True))
        question.choice_codes = {c.id: c.id for c in question.choices}
        if row.get("preg"):
            self.ir.warn(loc, f"validation pattern {row['preg']!r} not imported")
        for name, what in (
            ("em_validation_q", "validation expression"),
            ("random_order", "random order"),
            ("array_filter", "array filter"),
            ("array_filter_exclude", "array filter (exclude)"),
            ("min_answers", "minimum answers"),
            ("max_answers", "maximum answers"),
            ("equals_num_value", "sum check"),
            ("hidden", "'always hidden' flag"),
        ):
            value = attrs.get(name)
            if value not in (None, "", "0", "N"):
                self.ir.warn(loc, f"{what} ({value!r}) not imported")
        return question

    def _array(
        self,
        question: IRQuestion,
        kind: str,
        subs: list[_Item],
        own_answers: dict[int, list[tuple[str, LocalText, int]]],
        loc: str,
    ) -> None:
        question.type = "matrix"
        question.rows = self._sub_choices(subs, 0, loc)
        if kind in _ARRAY_SCALES:
            question.scale = _ARRAY_SCALES[kind]
        elif kind in _ARRAY_FIXED_COLUMNS:
            question.columns = [IRChoice(c, {self.default: label}) for c, label in _ARRAY_FIXED_COLUMNS[kind]]
        elif kind in (":", ";"):
            question.columns = self._sub_choices(subs, 1, loc)
            self.ir.warn(
                loc,
                f"array of {'numbers' if kind == ':' else 'texts'}: each cell becomes one choice "
                "of the row (the typed values are not asked)",
            )
        else:
            question.columns = self._choice_list(own_answers.get(0, []), loc)
            if kind == "1":
                self.ir.warn(loc, "dual-scale array: only the first scale is imported")
            if kind == "H":
                self.ir.warn(loc, "array by column: rows and columns are shown the usual way round")
        question.row_codes = {r.id: r.id for r in question.rows}
        question.column_codes = {c.id: c.id for c in question.columns}

    # -- relevance (LimeSurvey Expression Manager) -------------------------------------------------------

    def _relevance(self, expression: str, loc: str) -> IRCondition | None:
        expr = expression.strip()
        if expr in ("", "1", "true"):
            return None
        try:
            return ExpressionParser(expr, self._resolve).parse()
        except Unsupported as exc:
            self.ir.warn(loc, f"condition {expr!r} is not supported ({exc}); dropped (always shown)")
            return None

    def _resolve(self, name: str) -> tuple[str, str | None, str] | None:
        """An Expression Manager variable -> (question id, subquestion code or None, LimeSurvey question type);
        a field of a multiple numerical input asked as sliders is its slider question."""
        resolved = self._variable(name)
        if resolved and resolved[1] and (resolved[0], resolved[1]) in self.slider_ids:
            return self.slider_ids[(resolved[0], resolved[1])], None, "slider"
        return resolved

    def _variable(self, name: str) -> tuple[str, str | None, str] | None:
        """Accepts `code`, `code.NAOK`, `code_sub` (a subquestion), and SGQA names `<sid>X<gid>X<qid><sub>`."""
        name = re.sub(r"\.(NAOK|value|shown)$", "", name)
        sgqa = re.fullmatch(r"\d+X\d+X(\d+)(\w*)", name)
        if sgqa:
            code = self.qid_to_code.get(sgqa.group(1))
            return (self.code_to_id[code], sgqa.group(2) or None, self.code_types[code]) if code else None
        if name in self.code_to_id:
            return self.code_to_id[name], None, self.code_types[name]
        head, _, sub = name.rpartition("_")
        if head in self.code_to_id and sub:
            return self.code_to_id[head], sub, self.code_types[head]
        return None


def _float(value: str | None, default: float) -> float:
    try:
        return float((value or "").replace(",", ".")) if value not in (None, "") else default
    except ValueError:
        return default


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def parse_lss(root: Element) -> IRSurvey:
    return LimeSurveyParser(root).parse()
