"""A cem survey definition as a SurveyJS survey model (JSON), readable by SurveyJS and by cem's own importer.

Texts in one language are plain strings; several languages become SurveyJS localisation objects
({"default": ..., "fr": ...}) with the survey's default language as "default" and `locale`.
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

    def html(self, lt: LocalText) -> str | dict[str, str]:
        texts = self.text(lt) or ""
        if isinstance(texts, dict):
            return {lang: html.escape(value, quote=False) for lang, value in texts.items()}
        return html.escape(texts, quote=False)

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
            el.update(type="slider", min=q.range_min, max=q.range_max, step=q.step)
            labels = [(q.range_min, q.lower_label), (q.range_max, q.upper_label)]
            if q.lower_label or q.upper_label:
                el["customLabels"] = [{"value": v, "text": self.text(lt)} for v, lt in labels if lt]
        elif q.type in ("cta", "display"):
            # cem texts are plain text; SurveyJS shows this one as HTML, so it is escaped.
            el = {"type": "html", "name": q.id, "html": self.html(q.headline)}
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


def to_surveyjs(defn: SurveyDefinition, *, name: str = "") -> dict[str, Any]:
    return _Exporter(defn).run(name)
