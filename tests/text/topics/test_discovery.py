"""Topic discovery on real airline tweets (cached e5 vectors): reproducible, two levels, distinctive labels."""

from __future__ import annotations

import numpy as np
import pytest

from cem.errors import InvalidInput
from cem.text.topics.discovery import auto_topic_count, ctfidf, discover, slugify, split_rows, top_terms
from cem.text.topics.rules import parse_rule
from tests.text.topics.conftest import Corpus


def _labels(found) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.label for t in found.topics]


def test_same_seed_same_topics_and_two_levels(airline: Corpus) -> None:
    first = discover(airline.texts, airline.vectors, seed=7, min_topic_size=8)
    again = discover(airline.texts, airline.vectors, seed=7, min_topic_size=8)
    assert _labels(first) == _labels(again)
    assert (first.row_topic == again.row_topic).all() and (first.row_subtopic == again.row_subtopic).all()
    assert len(first.topics) >= 4
    with_children = [t for t in first.topics if t.children]
    assert with_children, "no topic has subtopics"
    for topic in with_children:
        assert all(c.key.startswith(topic.key + "/") for c in topic.children)
        assert sum(c.size for c in topic.children) == topic.size
        assert all(c.size >= 8 for c in topic.children)
    # every text has a topic; subtopic indices point into their topic's children
    assert (first.row_topic >= 0).all()
    assert len({t.key for t in first.topics}) == len(first.topics)


def test_labels_name_the_themes_people_complain_about(airline: Corpus) -> None:
    found = discover(airline.texts, airline.vectors, seed=0, min_topic_size=8)
    words = [set(t.label.replace(",", " ").split()) for t in found.topics]
    every = set().union(*words)
    assert every & {"delayed", "delay", "delays", "late"}, _labels(found)
    assert every & {"cancelled", "canceled", "cancellation"}, _labels(found)
    assert every & {"bag", "bags", "baggage", "luggage", "lost"}, _labels(found)
    assert every & {"service", "customer", "hold", "phone", "call"}, _labels(found)
    # a topic's majority reason agrees with its label: the cancelled topic is mostly cancelled flights
    reasons = np.array(airline.reasons)
    for topic in found.topics:
        if {"cancelled", "canceled"} & set(topic.label.replace(",", " ").split()):
            share = (reasons[topic.rows] == "Cancelled Flight").mean()
            assert share > 0.4, (topic.label, share)
    # stop words and @handles never make a label
    assert not every & {"the", "to", "and", "you", "my", "flight"} - {"flight"}
    assert not any(w.startswith("@") for w in every)


def test_other_seed_still_finds_the_themes(airline: Corpus) -> None:
    found = discover(airline.texts, airline.vectors, seed=3, min_topic_size=8)
    every = " ".join(_labels(found))
    assert "cancel" in every and ("delay" in every or "late" in every)


def test_portuguese_labels_skip_portuguese_stop_words() -> None:
    rng = np.random.default_rng(0)
    delivery = [f"a entrega atrasou {n} dias e não chegou o pedido de novo" for n in range(15)]
    broken = [f"o produto veio quebrado e com defeito, que pena {n}" for n in range(15)]
    base = rng.normal(size=(2, 384))
    vectors = np.vstack([base[0] + 0.05 * rng.normal(size=(15, 384)), base[1] + 0.05 * rng.normal(size=(15, 384))])
    found = discover(delivery + broken, vectors, seed=0, min_topic_size=5, n_topics=2)
    labels = _labels(found)
    assert any("entrega" in label or "atrasou" in label for label in labels), labels
    assert any("quebrado" in label or "defeito" in label for label in labels), labels
    words = {w for label in labels for w in label.replace(",", " ").split()}
    assert not words & {"de", "que", "não", "nao", "com", "o", "e"}, labels


def test_ctfidf_prefers_terms_of_one_class() -> None:
    counts = np.array([[10.0, 10.0, 0.0], [10.0, 0.0, 10.0]])
    weights = ctfidf(counts)
    vocab = np.array(["flight", "delay", "bag"])
    assert top_terms(weights[0], vocab, n=1) == ["delay"]
    assert top_terms(weights[1], vocab, n=1) == ["bag"]
    # a word inside a chosen phrase is not repeated
    phrase = np.array(["late flight", "late", "crew"])
    assert top_terms(np.array([3.0, 2.0, 1.0]), phrase, n=2) == ["late flight", "crew"]


def test_split_rows_and_helpers(airline: Corpus) -> None:
    parts = split_rows(airline.texts[:90], airline.vectors[:90], 3, seed=1)
    assert len(parts) == 3 and sum(p.size for p in parts) == 90
    assert slugify("Atraso na entrega, São Paulo!") == "atraso-na-entrega-sao-paulo"
    assert auto_topic_count(100_000, 10) == 40 and auto_topic_count(40, 10) == 3


def test_bad_inputs_are_refused(airline: Corpus) -> None:
    with pytest.raises(ValueError, match="one vector per text"):
        discover(airline.texts[:5], airline.vectors[:4])
    with pytest.raises(ValueError, match="min_topic_size"):
        discover(airline.texts, airline.vectors, min_topic_size=1)
    with pytest.raises(ValueError, match="split"):
        split_rows(airline.texts[:1], airline.vectors[:1], 2)
    tiny = discover(airline.texts[:3], airline.vectors[:3], min_topic_size=10)
    assert tiny.topics == [] and (tiny.row_topic == -1).all()


def test_rule_queries_match_words_phrases_prefixes_and_exclusions() -> None:
    rule = parse_rule("refund, money back, reembols*, -coupon")
    assert rule.matches("I want a REFUND now")
    assert rule.matches("give me my money   back")
    assert rule.matches("Quero o reembolso do pedido")
    assert rule.matches("foi reembolsado?")
    assert not rule.matches("refunded")  # whole words unless a * says otherwise
    assert not rule.matches("refund with a coupon")
    assert not rule.matches("back money")
    assert parse_rule("atraso").matches("ATRASÓ demais")  # accents and case are ignored
    assert not rule.matches(None)
    for bad, message in [
        ("", "needs a keyword"),
        ("-coupon", "at least one term"),
        ("***", "no letters"),
        ("x" * 501, "longer"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            parse_rule(bad)


def test_portuguese_reviews_get_portuguese_labels(olist: tuple[list[str], np.ndarray, list[int]]) -> None:
    """Real Olist reviews: labels are distinctive Portuguese words (stop words out), never English fallbacks."""
    from cem.text.topics.stopwords import PORTUGUESE_STOP_WORDS

    texts, vectors, stars = olist
    found = discover(texts, vectors, seed=0, min_topic_size=8)
    assert len(found.topics) >= 4
    words = {w for t in found.topics for c in [t, *t.children] for w in c.label.replace(",", " ").split()}
    assert not words & PORTUGUESE_STOP_WORDS, words & PORTUGUESE_STOP_WORDS
    assert words & {"entrega", "prazo", "chegou", "recebi", "produto"}, _labels(found)
    # praise and complaints end up apart: some topic is mostly 4-5 stars, another mostly 1-2 stars
    shares = [np.mean([stars[r] >= 4 for r in t.rows]) for t in found.topics]
    assert max(shares) > 0.85 and min(shares) < 0.35, shares
