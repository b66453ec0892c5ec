"""The SurveyJS export of display text (escaped html) and sliders (SurveyJS 'slider'), and their way back in."""

from __future__ import annotations

import json

from cem.interchange.exporters.surveyjs import to_surveyjs
from cem.interchange.importers import read_definition
from cem.surveys.definition import parse_definition

DEFINITION = {
    "default_language": "en",
    "languages": ["en", "zh-Hans"],
    "pages": [
        {
            "id": "p1",
            "questions": [
                {
                    "id": "intro",
                    "type": "display",
                    "headline": {"en": 'Hi <img src=x onerror="alert(1)">\nline two\n\nNext & last', "zh-Hans": "你好"},
                    "display_logic": {"source": "hidden", "ref": "plan", "operator": "equals", "value": "pro"},
                },
                {
                    "id": "warmth",
                    "type": "slider",
                    "headline": {"en": "How warm?", "zh-Hans": "多暖?"},
                    "range_min": -5,
                    "range_max": 5,
                    "step": 0.5,
                    "lower_label": {"en": "Frosty"},
                    "upper_label": {"en": "Glowing"},
                },
            ],
        }
    ],
    "hidden_fields": [{"id": "plan"}],
}


def test_display_and_slider_export_and_import_back() -> None:
    model = to_surveyjs(parse_definition(DEFINITION), name="x")
    intro, warmth = model["pages"][0]["elements"]
    assert intro["type"] == "html" and intro["name"] == "intro"
    assert intro["html"]["default"] == (
        "<p>Hi &lt;img src=x onerror=&quot;alert(1)&quot;&gt;<br>line two</p><p>Next &amp; last</p>"
    )
    assert intro["html"]["zh-Hans"] == "<p>你好</p>"
    assert "<img" not in json.dumps(model)
    assert warmth == {
        "name": "warmth",
        "title": {"default": "How warm?", "zh-Hans": "多暖?"},
        "type": "slider",
        "min": -5,
        "max": 5,
        "step": 0.5,
        "customLabels": [{"value": -5, "text": "Frosty"}, {"value": 5, "text": "Glowing"}],
    }
    back = read_definition("x.json", json.dumps(model).encode()).definition.question_map()
    assert back["intro"].type == "display" and not back["intro"].answerable
    assert back["intro"].headline["en"] == 'Hi <img src=x onerror="alert(1)">\nline two\n\nNext & last'
    assert back["warmth"].type == "slider" and back["warmth"].points() == (-5, 5) and back["warmth"].step == 0.5
    assert back["warmth"].lower_label == {"en": "Frosty"} and back["warmth"].upper_label == {"en": "Glowing"}
