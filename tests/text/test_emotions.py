"""Emotions (experimental): multi-label from example sentences on the same embeddings; users can edit the examples."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from cem.errors import InvalidInput
from cem.text.embeddings import shared_embedder
from cem.text.emotions import DEFAULT_EXAMPLES, EMOTIONS, shared_emotion_model, validate_examples


def test_default_examples_read_clear_emotions_in_both_languages() -> None:
    texts = [
        "I am absolutely furious, this is outrageous and unacceptable!",
        "Que nojo, a comida veio estragada e com cabelo.",
        "We are so happy, it was a wonderful trip, thank you!",
        "The parcel arrived on Tuesday.",
    ]
    found = shared_emotion_model().detect(shared_embedder().embed(texts))
    assert "anger" in found[0]
    assert "disgust" in found[1]
    assert "joy" in found[2]
    assert found[3] == []
    assert all(set(f) <= set(EMOTIONS) for f in found)


def test_validate_examples() -> None:
    merged = validate_examples({"joy": ["  Yay!  ", ""]})
    assert merged["joy"] == ["Yay!"] and merged["anger"] == DEFAULT_EXAMPLES["anger"]
    for bad in ({}, {"love": ["x"]}, {"joy": []}, {"joy": "happy"}, {"joy": ["x" * 301]}, {"joy": [1]}):
        with pytest.raises(InvalidInput):
            validate_examples(bad)  # type: ignore[arg-type]


def test_emotion_examples_api(api: Callable[[str], TestClient]) -> None:
    admin = api("admin")
    body = api("viewer").get("/api/v1/text/settings/emotions").json()
    assert body["experimental"] is True and set(body["examples"]) == {*EMOTIONS, "none"}
    r = admin.put("/api/v1/text/settings/emotions", json={"examples": {"surprise": ["Did not see that coming!"]}})
    assert r.status_code == 200 and r.json()["examples"]["surprise"] == ["Did not see that coming!"]
    assert api("viewer").get("/api/v1/text/settings/emotions").json()["examples"]["surprise"] == [
        "Did not see that coming!"
    ]
    r = admin.put("/api/v1/text/settings/emotions", json={"examples": {"love": ["x"]}})
    assert r.status_code == 422 and "Unknown emotion" in r.json()["detail"]
    assert api("analyst").put("/api/v1/text/settings/emotions", json={"examples": {"joy": ["x"]}}).status_code == 403
    assert api("viewer").get("/api/v1/text/settings/emotions").json()["examples"]["surprise"] == [
        "Did not see that coming!"
    ]
