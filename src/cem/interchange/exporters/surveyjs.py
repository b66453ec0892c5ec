"""A cem survey definition as a SurveyJS survey model (JSON), readable by SurveyJS and by cem's own importer.

Texts in one language are plain strings; several languages become SurveyJS localisation objects
({"default": ..., "fr": ...}) with the survey's default language as "default" and `locale`.
A display block becomes an `html` element whose HTML is the escaped text (paragraphs and line breaks kept); a slider
becomes SurveyJS's `slider` question (min, max, step, end labels as customLabels; SurveyJS 2.1+).
"""

from __future__ import annotations

import html
from typing import Any

from cem.interchange.surveyjs import INPUT_TYPES, OPERATORS
from cem.surveys.definition import Condition, ConditionGroup, ConditionNode, LocalText, Question, SurveyDefinition


class _Exporter:
    def __init__(self, defn: SurveyDefinition) -> None:
        self.defn = defn
        self.default = defn.default_language

    def text(self, lt: LocalText) -> str | dict[str, str] | None:
        values = {k: v for k, v in lt.items() if v}
        if not values:
            return None
        if set(values) == {self.default}:
            return values[self.default]
        out = {"default": values.get(self.default) or next(iter(values.values()))}
        out.update({k: v for k, v in values.items() if k != self.default})
        return out

    def html(self, lt: LocalText) -> str | dict[str, str] | None:
        """Plain text as safe HTML: escaped, blank lines -> paragraphs, single newlines -> <br>."""
        escaped = {lang: _paragraphs(value) for lang, value in lt.items() if value}
        return self.text(escaped)

    def condition(self, node: ConditionNode | None) -> str | None:
        if node is None:
            return None
        if isinstance(node, ConditionGroup):
            parts = [self.condition(child) for child in node.conditions]
            if any(p is None for p in parts):
                return None
            return f" {node.combinator} ".join(f"({p})" if " and " in p or " or " in p else p for p in parts if p)
        return self._leaf(node)

    def _leaf(self, node: Condition) -> str | None:
        if node.source not in ("question", "variable"):
            return None
        op = OPERATORS.get(node.operator)
        if op is None:
            return None
        ref = "{" + node.ref + "}"
        if op in ("empty", "notempty"):
            return f"{ref} {op}"
        if isinstance(node.value, list):
            return f"{ref} {op} [" + ", ".join(f"'{v}'" for v in node.value) + "]"
        value = node.value if isinstance(node.value, int | float) else f"'{node.value}'"
        return f"{ref} {op} {value}"

    def question(self, q: Question) -> dict[str, Any]:
        el: dict[str, Any] = {"name": q.id, "title": self.text(q.headline) or q.id}
        if q.help:
            el["description"] = self.text(q.help)
        if q.required:
            el["isRequired"] = True
        if q.type in ("nps", "csat", "ces", "rating"):
            low, high = q.points()
            el.update(type="rating", rateMin=low, rateMax=high)
            if q.style == "stars":
                el["rateType"] = "stars"
            elif q.style == "smileys":
                el["rateType"] = "smileys"
            if q.lower_label:
                el["minRateDescription"] = self.text(q.lower_label)
            if q.upper_label:
                el["maxRateDescription"] = self.text(q.upper_label)
        elif q.type in ("single_choice", "multiple_choice", "dropdown", "ranking"):
            kind = {"single_choice": "radiogroup", "multiple_choice": "checkbox"}.get(q.type, q.type)
            el["type"] = kind
            el["choices"] = [{"value": c.id, "text": self.text(c.label) or c.id} for c in q.choices if c.id != "other"]
            other = next((c for c in q.choices if c.id == "other"), None)
            if other is not None:
                el["showOtherItem"] = True
                el["otherText"] = self.text(other.label)
        elif q.type == "text":
            if q.input == "long":
                el["type"] = "comment"
            else:
                el["type"] = "text"
                if q.validation in INPUT_TYPES:
                    el["inputType"] = INPUT_TYPES[q.validation]
        elif q.type == "date":
            el.update(type="text", inputType="date")
        elif q.type == "matrix":
            points = [{"value": str(n), "text": str(n)} for n in range(1, (q.scale or 5) + 1)]
            el.update(
                type="matrix",
                rows=[{"value": r.id, "text": self.text(r.label) or r.id} for r in q.rows],
                columns=[{"value": c.id, "text": self.text(c.label) or c.id} for c in q.columns] or points,
            )
        elif q.type == "consent":
            el.update(type="boolean", renderAs="checkbox")
        elif q.type == "slider":
            low, high = q.points()
            el.update(type="slider", min=low, max=high, step=q.step)
            labels = [(low, self.text(q.lower_label)), (high, self.text(q.upper_label))]
            if any(label for _, label in labels):
                el["customLabels"] = [{"value": value, "text": label or str(value)} for value, label in labels]
        elif q.type == "display":
            el = {"type": "html", "name": q.id, "html": self.html(q.headline) or ""}
        elif q.type == "cta":
            el = {"type": "html", "name": q.id, "html": self.html(q.headline) or ""}
        visible = self.condition(q.display_logic)
        if visible:
            el["visibleIf"] = visible
        return el

    def run(self, name: str) -> dict[str, Any]:
        title = self.text(self.defn.title) or name
        model: dict[str, Any] = {"title": title, "locale": self.default, "pages": []}
        for page in self.defn.pages:
            out: dict[str, Any] = {"name": page.id, "elements": [self.question(q) for q in page.questions]}
            if page.title:
                out["title"] = self.text(page.title)
            visible = self.condition(page.display_logic)
            if visible:
                out["visibleIf"] = visible
            model["pages"].append(out)
        ending = next(iter(self.defn.endings), None)
        if ending is not None and (ending.message or ending.headline):
            model["completedHtml"] = self.text(ending.message or ending.headline)
        if self.defn.variables:
            # SurveyJS keeps named values as calculated values; their initial value is the expression.
            model["calculatedValues"] = [
                {"name": v.id, "expression": repr(v.initial) if isinstance(v.initial, str) else str(v.initial)}
                for v in self.defn.variables
            ]
        model["showProgressBar"] = "top" if self.defn.settings.progress_bar else "off"
        return model


def _paragraphs(value: str) -> str:
    blocks = [block.strip() for block in value.replace("\r\n", "\n").split("\n\n") if block.strip()]
    return "".join("<p>" + "<br>".join(html.escape(line) for line in block.split("\n")) + "</p>" for block in blocks)


def to_surveyjs(defn: SurveyDefinition, *, name: str = "") -> dict[str, Any]:
    return _Exporter(defn).run(name)
