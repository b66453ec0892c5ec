"""How Qualtrics question shapes that cem asks differently become cem questions (part of the .qsf parser).

Descriptive text/graphic -> a display block; Slider/STAR -> star ratings; other sliders -> numeric sliders; a slider
or star question with several statements -> one question per statement; a side-by-side question -> one matrix per
column group. Each split or loss is a warning naming the question and what was done.
"""

from __future__ import annotations

import copy
from typing import Any

from cem.interchange.importers.ir import IRChoice, IRQuestion, IRSurvey, LocalText
from cem.interchange.importers.text import plain_text


class QuestionShapes:
    """Mixin of cem.interchange.importers.qualtrics.QualtricsParser, which provides the readers declared here."""

    ir: IRSurvey
    lang: str

    def _choices(self, payload: dict[str, Any], key: str, order_key: str, loc: str) -> list[IRChoice]:
        raise NotImplementedError

    def _text(self, payload: dict[str, Any], key: str, loc: str) -> LocalText:
        raise NotImplementedError

    def _recodes(self, payload: dict[str, Any], choices: list[IRChoice]) -> dict[str, str]:
        raise NotImplementedError

    def _display(self, question: IRQuestion, selector: Any, loc: str) -> bool:
        """Descriptive text (DB/TB) or graphic (DB/GRB): display-only content, not a question.
        False when there is nothing to show."""
        question.type = "display"
        question.required = False
        if selector in ("GRB", "FLB"):
            what = "graphic" if selector == "GRB" else "file"
            if not any(question.headline.values()):
                self.ir.warn(loc, f"{what}-only descriptive block not imported: cem text blocks show no {what}s")
                return False
            self.ir.warn(loc, f"descriptive {what}: imported as a text block with its caption; the {what} is not")
        return True

    def _per_statement(self, question: IRQuestion, payload: dict[str, Any], loc: str) -> list[IRQuestion]:
        """A slider or star question asks each of its statements on its own scale: one cem question per statement,
        named after the Qualtrics response columns (id QID5_1, ImportId QID5-1, export tag Q5_1) so answers import."""
        statements = self._choices(payload, "Choices", "ChoiceOrder", loc) or [IRChoice("1", {})]
        tags = payload.get("ChoiceDataExportTags")
        questions: list[IRQuestion] = []
        for statement in statements:
            part = copy.deepcopy(question)
            part.choices, part.rows, part.columns, part.row_tags = [], [], [], {}
            part.source_ref = f"{question.id}-{statement.id}"
            part.export_tag = str(tags.get(statement.id)) if isinstance(tags, dict) and tags.get(statement.id) else ""
            part.export_tag = part.export_tag or f"{question.export_tag}_{statement.id}"
            if len(statements) > 1:
                part.id = f"{question.id}_{statement.id}"
                part.headline = {
                    lang: " — ".join(
                        t for t in (text, statement.label.get(lang) or statement.label.get(self.lang)) if t
                    )
                    for lang, text in question.headline.items()
                }
            questions.append(part)
        if len(statements) > 1:
            kind = "star rating" if question.type == "rating" else "slider"
            ids = ", ".join(q.id for q in questions)
            self.ir.warn(
                loc,
                f"{kind} with {len(statements)} statements: split into {len(statements)} {kind}s ({ids}), "
                "each headed by the question and its statement",
            )
        return questions

    def _side_by_side(self, question: IRQuestion, payload: dict[str, Any], loc: str) -> None:
        """The shared rows; the column groups become one matrix each (_per_group)."""
        question.type = "matrix"
        question.rows = self._choices(payload, "Choices", "ChoiceOrder", loc)
        question.row_codes = {r.id: r.id for r in question.rows}

    def _per_group(self, question: IRQuestion, payload: dict[str, Any], loc: str) -> list[IRQuestion]:
        """A side-by-side question asks its rows once per column group: one cem matrix per group, named after the
        response columns (ImportId QID1#2-<row>, export tag Q1#2_<row>). The first keeps the question's id."""
        groups = payload.get("AdditionalQuestions") or {}
        keys = sorted(groups, key=lambda k: int(k) if str(k).isdigit() else 0)
        if not keys:
            self.ir.warn(loc, "side-by-side question without column groups in the file: imported as an empty matrix")
            return [question]
        parts: list[IRQuestion] = []
        for index, key in enumerate(keys):
            group = groups[key] if isinstance(groups[key], dict) else {}
            part = copy.deepcopy(question)
            part.columns = self._choices(group, "Answers", "AnswerOrder", loc)
            part.column_codes = self._recodes(group, part.columns)
            part.source_ref = f"{question.id}#{key}"
            if index:
                part.id = f"{question.id}_{key}"
                part.export_tag = str(group.get("DataExportTag") or f"{question.export_tag}#{key}")
            title = self._text(group, "QuestionText", loc)
            if len(keys) > 1:
                part.headline = {
                    lang: " — ".join(t for t in (text, title.get(lang) or title.get(self.lang)) if t)
                    for lang, text in question.headline.items()
                }
            self._group_warnings(group, loc, title.get(self.lang) or key)
            parts.append(part)
        if len(parts) > 1:
            self.ir.warn(
                loc,
                f"side-by-side with {len(parts)} column groups: split into {len(parts)} matrix questions "
                f"({', '.join(p.id for p in parts)}), each headed by the question and its column group",
            )
        return parts

    def _group_warnings(self, group: dict[str, Any], loc: str, name: str) -> None:
        selector, sub = group.get("Selector"), group.get("SubSelector")
        if selector == "TE":
            self.ir.warn(loc, f"column group {name!r} asks a text per row: imported as a matrix of its columns")
        elif sub == "MultipleAnswer":
            self.ir.warn(loc, f"column group {name!r} allows several answers per row: cem asks one")
        elif sub == "DL":
            self.ir.warn(loc, f"column group {name!r} uses dropdowns: shown as a plain matrix row")

    def _slider(self, question: IRQuestion, payload: dict[str, Any], selector: Any, loc: str) -> None:
        config = payload.get("Configuration") or {}
        if selector == "STAR":
            question.type = "rating"
            question.rating_style = "stars"
            question.scale = _whole(config.get("StarCount")) or _whole(config.get("CSSliderMax")) or 5
            if str(config.get("StarType") or "discrete") != "discrete":
                self.ir.warn(loc, "star rating allowed parts of a star: cem asks for whole stars")
            return
        question.type = "slider"
        low, high = _number(config.get("CSSliderMin"), 0.0), _number(config.get("CSSliderMax"), 100.0)
        if not low < high:
            self.ir.warn(loc, f"slider range {low:g} to {high:g} is empty; imported as 0 to 100")
            low, high = 0.0, 100.0
        decimals = int(_number(config.get("NumDecimals"), 0))
        grid = int(_number(config.get("GridLines"), 0))
        step = (high - low) / grid if config.get("SnapToGrid") and grid > 0 else 10.0 ** -max(0, min(decimals, 6))
        if abs((high - low) / step - round((high - low) / step)) > 1e-9:
            self.ir.warn(loc, f"slider step {step:g} does not divide {low:g} to {high:g}; cem uses 1/100 of the range")
            step = (high - low) / 100
        question.range_min, question.range_max, question.step = low, high, step
        labels = self._choices(payload, "Labels", "LabelOrder", loc)
        if labels:
            question.lower_label = labels[0].label
        if len(labels) > 1:
            question.upper_label = labels[-1].label
        middle = [plain_text(label.label.get(self.lang)) for label in labels[1:-1]]
        if middle:
            self.ir.warn(
                loc,
                f"slider labels between the ends not imported ({', '.join(repr(m) for m in middle)}): cem labels the "
                "two ends of a slider",
            )
        if selector not in ("HSLIDER", "HBAR", None):
            self.ir.warn(loc, f"slider layout {selector} shown as a horizontal slider")

    # -- logic -----------------------------------------------------------------------------------


def _number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number == number and abs(number) != float("inf") else default


def _whole(value: Any) -> int | None:
    number = _number(value, 0)
    return int(number) if number >= 1 and number.is_integer() else None
