"""Qualtrics .qsf (JSON survey export) -> intermediate representation.

A .qsf holds `SurveyEntry` (name, language) and `SurveyElements`: SQ (one per question), BL (blocks and their
question order, page breaks and skip logic), FL (survey flow: block order, branches, embedded data), and others
(options, scoring, quotas...) cem has no equivalent for. Questions in the Trash block are not part of the survey.

Mapping that keeps the meaning: descriptive text/graphic (DB) -> display blocks (not questions); Slider/STAR -> a
star rating with its number of stars; other sliders (HSLIDER, HBAR) -> numeric sliders with their range, step and end
labels, one per statement; texts in every language of the file, Qualtrics language codes mapped to BCP 47
(QUALTRICS_LANGUAGES).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from cem.interchange.importers.convert import language_code
from cem.interchange.importers.ir import (
    IRChoice,
    IRCondition,
    IRJump,
    IRPage,
    IRQuestion,
    IRSurvey,
    LocalText,
    question_location,
)
from cem.interchange.importers.qualtrics_shapes import QuestionShapes
from cem.interchange.importers.text import has_script, plain_text, safe_id, unique_id

# Qualtrics language codes that are not BCP 47 tags as they are, -> BCP 47 (the one table of them). Codes not listed
# are tags already and only change case (EN-GB -> en-GB, PT-BR -> pt-BR, ES-ES -> es-ES, FR-CA -> fr-CA, DE -> de).
QUALTRICS_LANGUAGES: dict[str, str] = {
    "ZH-S": "zh-Hans",  # Chinese (Simplified)
    "ZH-T": "zh-Hant",  # Chinese (Traditional)
    "ES": "es-419",  # Qualtrics "ES" is Spanish (Latin America); Spain is "ES-ES"
    "ASM": "as",  # Assamese
    "BEL": "be",  # Belarusian
    "CEB": "ceb",  # Cebuano (ISO 639-2, already a tag)
    "HYE": "hy",  # Armenian
    "KAN": "kn",  # Kannada
    "KAT": "ka",  # Georgian
    "KAZ": "kk",  # Kazakh
    "MAL": "ml",  # Malayalam
    "MAR": "mr",  # Marathi
    "ORI": "or",  # Odia
    "SIN": "si",  # Sinhala
    "SQI": "sq",  # Albanian
    "TEL": "te",  # Telugu
    "TGL": "fil",  # Tagalog / Filipino
}

_PIPE = re.compile(r"\$\{([a-z]+)://([^}]*)\}")
_CHOICE_LOCATOR = re.compile(r"q://(QID\d+)/(?:SelectableChoice|ChoiceDisplayed)/(\w+)")
_IGNORED_ELEMENTS = frozenset({"SQ", "BL", "FL", "RS", "STAT", "SO"})  # RS/STAT/SO carry nothing a survey needs
_IGNORED_FLOW = frozenset({"Block", "Standard", "Root", "EmbeddedData"})

_TEXT_VALIDATION = {
    "ValidEmail": "email",
    "ValidNumber": "number",
    "ValidPhone": "phone",
    "ValidUSPhone": "phone",
    "ValidURL": "url",
}


class QualtricsParser(QuestionShapes):
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        entry = data.get("SurveyEntry") or {}
        self.ir = IRSurvey(
            format="qualtrics",
            name=str(entry.get("SurveyName") or "Imported Qualtrics survey"),
            default_language="en",
        )
        self.unknown_languages: set[str] = set()
        self.lang = self._language(str(entry.get("SurveyLanguage") or "EN")) or "en"
        self.ir.default_language = self.lang
        self.ir.languages = [self.lang]
        self.payloads: dict[str, dict[str, Any]] = {}
        self.blocks: dict[str, dict[str, Any]] = {}
        self.flow: dict[str, Any] = {}
        self.page_of_question: dict[str, str] = {}
        self.page_ids: set[str] = set()
        self.block_pages: dict[str, list[str]] = {}

    # -- reading ---------------------------------------------------------------------------------

    def parse(self) -> IRSurvey:
        for element in self.data.get("SurveyElements") or []:
            kind = element.get("Element")
            payload = element.get("Payload")
            if kind == "SQ" and isinstance(payload, dict):
                self.payloads[str(payload.get("QuestionID") or element.get("PrimaryAttribute"))] = payload
            elif kind == "BL":
                blocks = payload.values() if isinstance(payload, dict) else payload or []
                for block in blocks:
                    self.blocks[str(block.get("ID"))] = block
            elif kind == "FL" and isinstance(payload, dict):
                self.flow = payload
            elif kind == "SO" and isinstance(payload, dict):
                for raw in payload.get("AvailableLanguages") or {}:
                    self._language(str(raw))
            elif kind not in _IGNORED_ELEMENTS:
                self._warn_element(kind, element)
        block_order = self._block_order()
        pages = [page for block_id in block_order for page in self._block_pages(block_id)]
        self.ir.pages = pages
        self._apply_skip_logic(block_order)
        self._warn_trash()
        return self.ir

    def _warn_element(self, kind: str, element: dict[str, Any]) -> None:
        what = {
            "QC": "question count settings",
            "SCO": "scoring",
            "NT": "a survey note",
            "BR": "a response browse setting",
            "QO": "a quota",
            "QG": "a quota group",
            "PL": "a preview link",
            "PROJ": "project settings",
            "TR": "a trigger",
            "CTR": "a contact trigger",
            "ANN": "annotations",
        }.get(kind, f"survey element type {kind}")
        label = element.get("PrimaryAttribute") or kind
        # Empty scoring / question-count records are present in every export; only real content is worth a warning.
        if kind in ("QC", "SCO") and not _has_content(element.get("Payload"), kind):
            return
        self.ir.warn(f"element {kind} {label}", f"{what} is not imported (cem has no equivalent)")

    def _language(self, raw: str) -> str | None:
        """The BCP 47 tag of a Qualtrics language code (added to the survey's languages), or None (warned once)."""
        code = QUALTRICS_LANGUAGES.get(raw.strip().upper().replace("_", "-")) or language_code(raw)
        if code is None:
            if raw not in self.unknown_languages:
                self.unknown_languages.add(raw)
                self.ir.warn("survey", f"language {raw!r} is not a known Qualtrics language code; its texts dropped")
            return None
        if code not in self.ir.languages:
            self.ir.languages.append(code)
        return code

    def _translations(self, payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The question's texts per other language ({"ZH-S": {"QuestionText": ..., "Choices": {...}}}), by BCP 47."""
        raw = payload.get("Language")
        if not isinstance(raw, dict):
            return {}
        out: dict[str, dict[str, Any]] = {}
        for lang, values in raw.items():
            code = self._language(str(lang))
            if code and isinstance(values, dict):
                out[code] = values
        return out

    # -- survey flow -------------------------------------------------------------------------------

    def _block_order(self) -> list[str]:
        order: list[str] = []
        for node in _walk_flow(self.flow.get("Flow") or []):
            kind = node.get("Type")
            if kind in ("Block", "Standard"):
                block_id = str(node.get("ID"))
                if block_id in order:
                    self.ir.warn(
                        f"flow {node.get('FlowID')}",
                        f"block {block_id} is shown again in the flow; "
                        "cem shows each page once, the repeat was dropped",
                    )
                elif block_id in self.blocks:
                    order.append(block_id)
            elif kind == "EmbeddedData":
                for item in node.get("EmbeddedData") or []:
                    name = str(item.get("Field") or "").strip()
                    if name and name not in self.ir.hidden_fields:
                        self.ir.hidden_fields.append(name)
                    if item.get("Value") not in (None, ""):
                        self.ir.warn(
                            f"hidden field {name}",
                            "its value set in the survey flow "
                            f"({item.get('Value')!r}) is not imported; it is filled from the link",
                        )
            elif kind not in _IGNORED_FLOW:
                self.ir.warn(f"flow {node.get('FlowID')}", _flow_warning(node))
        for block_id, block in self.blocks.items():
            if block_id not in order and block.get("Type") != "Trash" and block.get("BlockElements"):
                self.ir.warn(f"block {block_id}", "the block is not in the survey flow; imported after the others")
                order.append(block_id)
        return order

    def _block_pages(self, block_id: str) -> list[IRPage]:
        block = self.blocks[block_id]
        title = plain_text(block.get("Description"))
        pages: list[IRPage] = []
        current = self._new_page(block_id, len(pages), title)
        # cem jumps go to pages; a question that skip logic jumps to starts its own page so the jump can land there.
        targets = {
            str(rule.get("SkipToDestination"))
            for item in block.get("BlockElements") or []
            for rule in item.get("SkipLogic") or []
        }
        for item in block.get("BlockElements") or []:
            if item.get("Type") == "Question" and str(item.get("QuestionID")) in targets and current.questions:
                pages.append(current)
                current = self._new_page(block_id, len(pages), "")
            if item.get("Type") == "Page Break":
                if current.questions:
                    pages.append(current)
                    current = self._new_page(block_id, len(pages), "")
                continue
            if item.get("Type") != "Question":
                continue
            qid = str(item.get("QuestionID"))
            payload = self.payloads.get(qid)
            if payload is None:
                self.ir.warn(f"block {block_id}", f"question {qid} is listed but not defined; skipped")
                continue
            questions = self._questions(payload)
            current.questions.extend(questions)
            if questions:
                self.page_of_question[qid] = current.id
        if current.questions:
            pages.append(current)
        self.block_pages[block_id] = [p.id for p in pages]
        return pages

    def _new_page(self, block_id: str, index: int, title: str) -> IRPage:
        page_id = unique_id(safe_id(f"{block_id}_{index + 1}", prefix="page"), self.page_ids)
        return IRPage(id=page_id, title={self.lang: title} if title else {})

    # -- questions ---------------------------------------------------------------------------------

    def _text(self, payload: dict[str, Any], key: str, loc: str) -> LocalText:
        raw = payload.get(key) or ""
        if has_script(raw):
            self.ir.warn(loc, "JavaScript in the question text is not imported")
        texts = {self.lang: self._piped(plain_text(raw), loc)}
        for code, values in self._translations(payload).items():
            if isinstance(values.get(key), str) and values[key]:
                texts[code] = self._piped(plain_text(values[key]), loc)
        return texts

    def _piped(self, text: str, loc: str) -> str:
        def replace(match: re.Match[str]) -> str:
            scheme, path = match.group(1), match.group(2)
            if scheme == "q" and path.startswith("QID"):
                return "{{" + path.split("/")[0] + "}}"
            if scheme == "e" and path.startswith("Field/"):
                name = path.split("/", 1)[1]
                if name not in self.ir.hidden_fields:
                    self.ir.hidden_fields.append(name)
                return "{{hidden." + name + "}}"
            self.ir.warn(loc, f"piped text ${{{scheme}://{path}}} has no cem equivalent; left as plain text")
            return match.group(0)

        return _PIPE.sub(replace, text)

    def _choices(self, payload: dict[str, Any], key: str, order_key: str, loc: str) -> list[IRChoice]:
        raw = payload.get(key) or {}
        if not isinstance(raw, dict):
            return []
        order = [str(k) for k in payload.get(order_key) or raw.keys()]
        order += [k for k in raw if k not in order]
        translations = self._translations(payload)
        choices: list[IRChoice] = []
        for choice_key in order:
            spec = raw.get(choice_key)
            if not isinstance(spec, dict):
                continue
            label = {self.lang: self._piped(plain_text(spec.get("Display")), loc)}
            for code, values in translations.items():
                by_key = values.get(key)
                translated = (by_key.get(choice_key) or {}).get("Display") if isinstance(by_key, dict) else None
                if isinstance(translated, str) and translated:
                    label[code] = self._piped(plain_text(translated), loc)
            if spec.get("DisplayLogic"):
                self.ir.warn(
                    f"{loc}.{key.lower()}[{choice_key}]",
                    "display logic on a single choice is dropped; the choice is always shown",
                )
            if spec.get("ExclusiveAnswer"):
                self.ir.warn(f"{loc}.{key.lower()}[{choice_key}]", "'exclusive answer' is not enforced by cem")
            choices.append(IRChoice(id=choice_key, label=label, other=bool(spec.get("TextEntry"))))
        return choices

    def _questions(self, payload: dict[str, Any]) -> list[IRQuestion]:
        """The cem questions of one Qualtrics question: none (not importable), one, or one per slider statement."""
        qid = str(payload.get("QuestionID"))
        qtype, selector, sub = payload.get("QuestionType"), payload.get("Selector"), payload.get("SubSelector")
        headline = self._text(payload, "QuestionText", f"question {qid}")
        loc = question_location(qid, headline, self.lang)
        validation = (payload.get("Validation") or {}).get("Settings") or {}
        required = validation.get("ForceResponse") == "ON"
        question = IRQuestion(
            id=qid,
            type="text",
            headline=headline,
            required=required,
            source_ref=qid,
            export_tag=str(payload.get("DataExportTag") or qid),
        )
        if qtype == "MC":
            self._multiple_choice(question, payload, selector, loc)
        elif qtype == "Matrix":
            self._matrix(question, payload, selector, sub, loc)
        elif qtype == "SBS":
            self._side_by_side(question, payload, loc)
        elif qtype == "TE":
            self._text_entry(question, payload, selector, validation, loc)
        elif qtype == "Slider":
            self._slider(question, payload, selector, loc)
        elif qtype == "RO":
            question.type = "ranking"
            question.choices = self._choices(payload, "Choices", "ChoiceOrder", loc)
        elif qtype == "DB":
            if not self._display(question, selector, loc):
                return []
        elif qtype in ("Timing", "Meta", "Captcha", "FileUpload", "Draw", "HeatMap", "HotSpot", "Signature"):
            self.ir.warn(loc, f"question type {qtype} has no cem equivalent; the question is not imported")
            return []
        else:
            self.ir.warn(loc, f"question type {qtype}/{selector} has no cem equivalent; the question is not imported")
            return []
        question.choice_codes = self._recodes(payload, question.choices)
        tags = payload.get("ChoiceDataExportTags")
        if isinstance(tags, dict):
            question.row_tags = {str(tag): str(key) for key, tag in tags.items()}
        self._logic(question, payload, loc)
        for ignored, what in (
            ("Randomization", "choice randomisation"),
            ("ChoiceGroups", "choice groups"),
            ("DefaultChoices", "default answers"),
            ("GradingData", "grading/scoring"),
            ("DynamicChoices", "carried-forward choices"),
        ):
            if payload.get(ignored):
                self.ir.warn(loc, f"{what} not imported")
        if payload.get("QuestionJS"):
            self.ir.warn(loc, "question JavaScript not imported")
        if question.type in ("slider", "rating") and qtype == "Slider":
            return self._per_statement(question, payload, loc)
        if qtype == "SBS":
            return self._per_group(question, payload, loc)
        return [question]

    def _recodes(self, payload: dict[str, Any], choices: list[IRChoice]) -> dict[str, str]:
        """Response exports hold recode values (when set) instead of choice keys: map both to the choice."""
        codes = {c.id: c.id for c in choices}
        recodes = payload.get("RecodeValues")
        if isinstance(recodes, dict):
            for choice_key, code in recodes.items():
                codes[str(code)] = str(choice_key)
        return codes

    def _multiple_choice(self, question: IRQuestion, payload: dict[str, Any], selector: Any, loc: str) -> None:
        question.choices = self._choices(payload, "Choices", "ChoiceOrder", loc)
        if selector == "NPS":
            question.type = "nps"
            question.choices = []
        elif selector in ("MAVR", "MAHR", "MACOL", "MSB"):
            question.type = "multiple_choice"
        elif selector in ("DL", "SB"):
            question.type = "dropdown"
        else:
            question.type = "single_choice"
            if selector not in ("SAVR", "SAHR", "SACOL"):
                self.ir.warn(loc, f"layout {selector} shown as a plain single-choice list")

    def _matrix(self, question: IRQuestion, payload: dict[str, Any], selector: Any, sub: Any, loc: str) -> None:
        question.type = "matrix"
        question.rows = self._choices(payload, "Choices", "ChoiceOrder", loc)
        question.columns = self._choices(payload, "Answers", "AnswerOrder", loc)
        question.row_codes = {r.id: r.id for r in question.rows}
        question.column_codes = self._recodes(payload, question.columns)
        if selector == "TE" or sub == "Long":
            self.ir.warn(
                loc,
                "text entry per matrix row is not supported; imported as a matrix of the answer "
                "columns (the typed texts are not asked)",
            )
        elif sub == "MultipleAnswer":
            self.ir.warn(loc, "several answers per matrix row are not supported; cem asks one answer per row")
        elif sub == "DND":
            self.ir.warn(loc, "drag-and-drop matrix shown as a plain matrix")
        elif selector not in ("Likert", "Bipolar", "Profile") or sub not in ("SingleAnswer", "DL", None):
            self.ir.warn(loc, f"matrix layout {selector}/{sub} shown as a plain matrix")
        if not question.columns:
            self.ir.warn(loc, "the matrix has no answer columns in the file")

    def _text_entry(
        self, question: IRQuestion, payload: dict[str, Any], selector: Any, validation: dict[str, Any], loc: str
    ) -> None:
        question.type = "text"
        question.text_long = selector in ("ML", "ESTB")
        content = validation.get("ContentType")
        if content in _TEXT_VALIDATION:
            question.validation = _TEXT_VALIDATION[content]  # type: ignore[assignment]
        elif content:
            self.ir.warn(loc, f"content validation {content} not imported")
        if selector == "PW":
            self.ir.warn(loc, "password masking is not supported; shown as a short text")
        if selector == "FORM":
            fields = [plain_text(c.get("Display")) for c in (payload.get("Choices") or {}).values()]
            self.ir.warn(loc, f"form fields {fields} are asked as one long text")
            question.text_long = True

    def _logic(self, question: IRQuestion, payload: dict[str, Any], loc: str) -> None:
        logic = payload.get("DisplayLogic")
        if isinstance(logic, dict):
            condition, problems = self._condition(logic)
            if problems:
                self.ir.warn(loc, "display logic dropped (the question is always shown): " + "; ".join(problems))
            else:
                question.display_logic = condition
        if payload.get("SkipLogic"):
            self.ir.warn(loc, "question-level skip logic format not recognised; not imported")

    def _condition(self, logic: dict[str, Any]) -> tuple[IRCondition | None, list[str]]:
        """Qualtrics BooleanExpression: sets ("0","1"...) joined by If/AndIf/OrIf, each a list of expressions."""
        problems: list[str] = []
        groups: list[tuple[str, IRCondition]] = []
        for set_key in sorted((k for k in logic if k.isdigit()), key=int):
            block = logic[set_key]
            leaves: list[tuple[str, IRCondition]] = []
            for expr_key in sorted((k for k in block if k.isdigit()), key=int):
                expr = block[expr_key]
                leaf, problem = self._leaf(expr)
                if problem:
                    problems.append(problem)
                elif leaf is not None:
                    leaves.append((str(expr.get("Conjuction") or "And").lower(), leaf))
            if leaves:
                groups.append(("or" if block.get("Type") == "OrIf" else "and", _join(leaves)))
        if problems or not groups:
            return None, problems or ["no condition found"]
        return _join(groups), []

    def _leaf(self, expr: dict[str, Any]) -> tuple[IRCondition | None, str | None]:
        kind, operator = expr.get("LogicType"), expr.get("Operator")
        if kind == "Question":
            match = _CHOICE_LOCATOR.match(str(expr.get("LeftOperand") or expr.get("ChoiceLocator") or ""))
            if match and operator in ("Selected", "NotSelected"):
                ref, choice = match.group(1), match.group(2)
                op = "includes_any" if operator == "Selected" else "not_equals"
                return IRCondition(ref=ref, operator=op, value=[choice] if op == "includes_any" else choice), None
            if operator in ("Displayed", "NotDisplayed"):
                return None, f"'choice is {operator.lower()}' on {expr.get('QuestionID')} has no cem equivalent"
            return None, f"question condition {operator} on {expr.get('LeftOperand')} not supported"
        if kind == "EmbeddedField":
            name = str(expr.get("LeftOperand") or "")
            hidden_op = {
                "EqualTo": "equals",
                "NotEqualTo": "not_equals",
                "GreaterThan": "greater_than",
                "LessThan": "less_than",
                "Contains": "contains",
                "NotEmpty": "is_answered",
                "Empty": "is_skipped",
            }.get(str(operator))
            if hidden_op and name:
                if name not in self.ir.hidden_fields:
                    self.ir.hidden_fields.append(name)
                return IRCondition(operand="hidden", ref=name, operator=hidden_op, value=expr.get("RightOperand")), None
        description = plain_text(expr.get("Description")) or f"{kind} {operator}"
        return None, f"condition on {kind} ({description}) has no cem equivalent"

    def _apply_skip_logic(self, block_order: list[str]) -> None:
        page_ids = [p.id for p in self.ir.pages]
        by_id = {q.id: q for q in self.ir.questions}
        for block_id in block_order:
            block_pages = self.block_pages.get(block_id) or []
            after_block = _page_after(page_ids, block_pages[-1]) if block_pages else "end"
            for item in self.blocks[block_id].get("BlockElements") or []:
                for rule in item.get("SkipLogic") or []:
                    qid = str(rule.get("QuestionID") or item.get("QuestionID"))
                    self._skip_rule(by_id.get(qid), qid, rule, after_block)

    def _skip_rule(self, question: IRQuestion | None, qid: str, rule: dict[str, Any], after_block: str) -> None:
        loc = f"question {qid}"
        if question is None:
            return
        match = _CHOICE_LOCATOR.match(str(rule.get("Locator") or rule.get("ChoiceLocator") or ""))
        condition = rule.get("Condition")
        if not match or condition not in ("Selected", "NotSelected"):
            self.ir.warn(loc, f"skip logic '{plain_text(rule.get('Description'))}' not supported; dropped")
            return
        destination = str(rule.get("SkipToDestination"))
        if destination == "ENDOFSURVEY":
            target = "end"
        elif destination == "ENDOFBLOCK":
            target = after_block
        elif destination in self.page_of_question:
            target = self.page_of_question[destination]
            page = next(p for p in self.ir.pages if p.id == target)
            if page.questions and page.questions[0].id != destination:
                self.ir.warn(loc, f"skip to {destination} lands on the start of its page ({target}) in cem")
        else:
            self.ir.warn(loc, f"skip logic to {destination} (not an imported question) dropped")
            return
        op = "includes_any" if condition == "Selected" else "not_equals"
        value: str | list[str] = [match.group(2)] if op == "includes_any" else match.group(2)
        question.jumps.append(IRJump(IRCondition(ref=match.group(1), operator=op, value=value), target))

    def _warn_trash(self) -> None:
        for block in self.blocks.values():
            if block.get("Type") == "Trash":
                for item in block.get("BlockElements") or []:
                    if item.get("Type") == "Question":
                        self.ir.warn(f"question {item.get('QuestionID')}", "in the Qualtrics trash; not imported")


def _join(parts: list[tuple[str, IRCondition]]) -> IRCondition:
    """Left-to-right and/or chain -> AND binds tighter than OR (Qualtrics' own precedence)."""
    or_groups: list[list[IRCondition]] = [[parts[0][1]]]
    for conj, cond in parts[1:]:
        if conj == "or":
            or_groups.append([cond])
        else:
            or_groups[-1].append(cond)
    ands = [g[0] if len(g) == 1 else IRCondition(kind="and", children=g) for g in or_groups]
    return ands[0] if len(ands) == 1 else IRCondition(kind="or", children=ands)


def _page_after(page_ids: list[str], page_id: str) -> str:
    index = page_ids.index(page_id)
    return page_ids[index + 1] if index + 1 < len(page_ids) else "end"


def _walk_flow(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in nodes:
        yield node
        if node.get("Type") in ("Branch", "BlockRandomizer", "Randomizer", "Group"):
            # Children of a branch/randomiser are still pages of the survey; their condition is warned about.
            yield from _walk_flow(node.get("Flow") or [])


def _flow_warning(node: dict[str, Any]) -> str:
    kind = node.get("Type")
    if kind == "Branch":
        description = _branch_text(node.get("BranchLogic") or {})
        return f"branch in the survey flow ({description}) not imported: its blocks are always shown"
    if kind in ("BlockRandomizer", "Randomizer"):
        return "randomiser in the survey flow not imported: its elements keep their order"
    if kind == "WebService":
        return f"web service call to {node.get('URL')!r} not imported"
    if kind == "EndSurvey":
        return "early 'end of survey' in the flow not imported"
    return f"survey-flow element {kind} not imported"


def _branch_text(logic: dict[str, Any]) -> str:
    parts = [
        plain_text(expr.get("Description"))
        for block in logic.values()
        if isinstance(block, dict)
        for expr in block.values()
        if isinstance(expr, dict)
    ]
    return " ".join(p for p in parts if p) or "condition"


def _has_content(payload: Any, kind: str) -> bool:
    if not payload:
        return False
    if kind == "SCO" and isinstance(payload, dict):
        return bool(payload.get("ScoringCategories") or payload.get("GradingCategories"))
    if kind == "QC":
        return False
    return True


def parse_qsf(data: dict[str, Any]) -> IRSurvey:
    return QualtricsParser(data).parse()
