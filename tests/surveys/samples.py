"""Sample survey definitions shared by the survey tests (and usable by the interchange/distribution tests)."""

from __future__ import annotations

from typing import Any


def sample_definition() -> dict[str, Any]:
    """Three pages, skip logic on NPS, piping, a calculated variable, two endings, English + German + Arabic."""
    return {
        "default_language": "en",
        "languages": ["en", "de", "ar"],
        "title": {"en": "Customer survey", "de": "Kundenumfrage", "ar": "استطلاع العملاء"},
        "hidden_fields": [{"id": "plan", "attribute": "plan"}, {"id": "order"}],
        "variables": [{"id": "score", "type": "number", "initial": 0}],
        "endings": [
            {"id": "thanks", "headline": {"en": "Thank you, {{name}}!", "de": "Danke, {{name}}!", "ar": "شكرا"}},
            {"id": "promoter_end", "redirect_url": {"en": "https://example.com/review?plan={{hidden.plan}}"}},
        ],
        "settings": {"touchpoint": None},
        "pages": [
            {
                "id": "p1",
                "title": {"en": "About you", "de": "Über Sie", "ar": "عنك"},
                "questions": [
                    {
                        "id": "nps",
                        "type": "nps",
                        "required": True,
                        "headline": {
                            "en": "How likely are you to recommend us?",
                            "de": "Wie wahrscheinlich?",
                            "ar": "ما مدى احتمال",
                        },
                    },
                    {
                        "id": "name",
                        "type": "text",
                        "headline": {"en": "Your first name", "de": "Ihr Vorname", "ar": "اسمك"},
                    },
                ],
                "calculations": [
                    {"variable": "score", "op": "add", "operand": {"source": "question", "ref": "nps"}},
                    {
                        "variable": "score",
                        "op": "add",
                        "operand": {"value": 100},
                        "when": {"source": "hidden", "ref": "plan", "operator": "equals", "value": "pro"},
                    },
                ],
                "jump_logic": [
                    {
                        "condition": {"source": "question", "ref": "nps", "operator": "greater_or_equal", "value": 9},
                        "target": "p3",
                    }
                ],
            },
            {
                "id": "p2",
                "title": {"en": "What went wrong, {{name}}?"},
                "questions": [
                    {
                        "id": "issues",
                        "type": "multiple_choice",
                        "required": True,
                        "headline": {"en": "What went wrong, {{name}}?", "de": "Was lief schief?", "ar": "ما الخطأ"},
                        "choices": [
                            {"id": "price", "label": {"en": "Price", "de": "Preis", "ar": "السعر"}},
                            {"id": "speed", "label": {"en": "Speed", "de": "Tempo", "ar": "السرعة"}},
                            {"id": "other", "label": {"en": "Other", "de": "Andere", "ar": "أخرى"}, "other": True},
                        ],
                    },
                    {
                        "id": "email",
                        "type": "text",
                        "validation": "email",
                        "headline": {"en": "Email for a call back", "de": "E-Mail", "ar": "البريد"},
                        "display_logic": {"source": "question", "ref": "nps", "operator": "less_than", "value": 5},
                    },
                ],
            },
            {
                "id": "p3",
                "questions": [
                    {
                        "id": "reason",
                        "type": "text",
                        "input": "long",
                        "headline": {
                            "en": "You gave {{nps}} - why?",
                            "de": "Sie gaben {{nps}} - warum?",
                            "ar": "لماذا {{nps}}",
                        },
                    },
                    {
                        "id": "csat",
                        "type": "csat",
                        "headline": {"en": "How satisfied are you?", "de": "Wie zufrieden?", "ar": "ما مدى رضاك"},
                    },
                ],
                "jump_logic": [
                    {
                        "condition": {
                            "combinator": "and",
                            "conditions": [
                                {"source": "question", "ref": "nps", "operator": "equals", "value": 10},
                                {"source": "hidden", "ref": "plan", "operator": "equals", "value": "pro"},
                            ],
                        },
                        "target": "promoter_end",
                    }
                ],
            },
        ],
    }
