"""Topics stored in a workspace: discovery, assignment of new feedback, edits that survive re-discovery."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sqlalchemy import func, select

from cem.auth.models import AuditLog
from cem.db.session import Database
from cem.errors import InvalidInput, NotFound
from cem.feedback.models import FeedbackRecord
from cem.text.topics import assignment, catalogue, editing, runs, statistics
from cem.text.topics.assignment import assign_topics
from cem.text.topics.models import RecordTopic, Topic
from tests.conftest import Workspace
from tests.text.topics.conftest import Corpus, store_texts

HELD_OUT = 20  # the last tweets are "new feedback" arriving after discovery


@pytest.fixture
def discovered(db: Database, workspace: Workspace, airline: Corpus) -> list[int]:
    texts = airline.texts[:-HELD_OUT]
    ids = store_texts(db, workspace.id, texts, sentiments=airline.sentiments, dates=airline.dates)
    with db.unit_of_work() as session:
        report = runs.discover_workspace(
            session, workspace.id, seed=0, min_topic_size=8, embed=airline.embed(), actor=workspace.principal()
        )
    assert report.texts == len(texts) and report.embedded == len(texts)
    assert report.topics >= 4 and report.subtopics >= 2
    return ids


def _active(db: Database, ws: int) -> list[Topic]:
    with db.unit_of_work(readonly=True) as session:
        return catalogue.list_topics(session, ws)


def _by_word(topics: list[Topic], *words: str) -> Topic:
    return next(t for t in topics if t.parent_id is None and any(w in t.label for w in words))


def test_discovery_fills_topics_field_and_statistics(db: Database, workspace: Workspace, discovered: list[int]) -> None:
    topics = _active(db, workspace.id)
    keys = {t.key for t in topics}
    with db.unit_of_work(readonly=True) as session:
        stored = dict(session.execute(select(FeedbackRecord.id, FeedbackRecord.topics)).all())
        stats = statistics.topic_stats(session, workspace.id)
        audited = session.scalar(select(func.count()).where(AuditLog.action == "topic.discover"))
    tagged = [v for v in stored.values() if v]
    assert len(tagged) > 0.9 * len(discovered)  # the per-topic threshold leaves ~2% as outliers
    for value in tagged:
        assert set(value) <= keys
        parents = [k for k in value if "/" not in k]
        assert len(parents) == 1
        assert all(k.split("/")[0] == parents[0] for k in value)
    level1 = [s for s in stats if s.topic.parent_id is None]
    assert sum(s.volume for s in level1) == len(tagged)
    cancelled = next(s for s in level1 if "cancel" in s.topic.label)
    assert cancelled.negative_share is not None and cancelled.negative_share > 0.7
    assert cancelled.sentiment_mean is not None and cancelled.sentiment_mean < -0.4
    assert cancelled.trend and sum(n for _, n in cancelled.trend) == cancelled.volume
    assert cancelled.interval == "day"  # the sample spans about a week of February 2015
    assert all(len(day) == 10 for day, _ in cancelled.trend) and len(cancelled.trend) >= 5
    assert audited == 1


def test_new_feedback_joins_existing_topics_without_clustering(
    db: Database, workspace: Workspace, airline: Corpus, discovered: list[int]
) -> None:
    before = {t.id for t in _active(db, workspace.id)}
    new_ids = store_texts(db, workspace.id, airline.texts[-HELD_OUT:], prefix="new")
    noise = np.random.default_rng(1).normal(size=(1, 384)).astype(np.float32)
    other = store_texts(db, workspace.id, ["zzz qqq completely unrelated"], prefix="noise")
    with db.unit_of_work() as session:
        got = assign_topics(session, workspace.id, new_ids, airline.vectors[-HELD_OUT:])
        off = assign_topics(session, workspace.id, other, noise)
        model = assignment.load_model(session, workspace.id)
    assert {t.id for t in _active(db, workspace.id)} == before  # nothing re-clustered
    assert sum(1 for keys in got.values() if keys) >= HELD_OUT * 0.8
    sims = airline.vectors[-HELD_OUT:] @ model.parent_matrix.T
    for n, rid in enumerate(new_ids):
        if got[rid]:
            assert got[rid][0] == model.parents[int(np.argmax(sims[n]))].key
    assert off == {other[0]: []}  # far from every centroid: no topic rather than a wrong one
    with db.unit_of_work(readonly=True) as session:
        assert session.get_one(FeedbackRecord, new_ids[0]).topics == got[new_ids[0]]
        # records of other workspaces or unknown ids are ignored
        assert assign_topics(session, workspace.id + 1, new_ids[:1], airline.vectors[:1]) == {}


def test_rule_topics_match_keywords_for_stored_and_new_feedback(
    db: Database, workspace: Workspace, discovered: list[int]
) -> None:
    with db.unit_of_work() as session:
        rule = editing.create_rule(session, workspace.principal(), "Baggage", "bag, bags, luggage, baggage")
        rule_id, key = rule.id, rule.key
    with db.unit_of_work(readonly=True) as session:
        members = set(session.scalars(select(RecordTopic.record_id).where(RecordTopic.topic_id == rule_id)))
        texts = dict(session.execute(select(FeedbackRecord.id, FeedbackRecord.value_text)).all())
        record = session.get_one(FeedbackRecord, next(iter(members)))
        assert key in (record.topics or [])
    expected = {rid for rid, t in texts.items() if any(w in t.lower().split() for w in ("bag", "bags", "luggage"))}
    assert expected <= members and len(members) >= 20
    new = store_texts(db, workspace.id, ["Where is my luggage?? 3 days now"], prefix="rule")
    with db.unit_of_work() as session:
        assert key in assign_topics(session, workspace.id, new, None)[new[0]]
        editing.update_rule(session, workspace.principal(), rule_id, "wifi")
        assert session.get_one(FeedbackRecord, new[0]).topics == []


def test_edits_survive_rediscovery(db: Database, workspace: Workspace, airline: Corpus, discovered: list[int]) -> None:
    actor = workspace.principal()
    topics = _active(db, workspace.id)
    cancelled = _by_word(topics, "cancel")
    level1 = [t for t in topics if t.parent_id is None and t.id != cancelled.id]
    doomed, target, source = level1[0], level1[1], level1[2]
    with db.unit_of_work() as session:
        editing.rename(session, actor, cancelled.id, "Cancellations")
        doomed_members = set(catalogue.members(session, [doomed.id]))
        editing.delete_topic(session, actor, doomed.id)
        editing.merge(session, actor, target.id, [source.id])
        rule = editing.create_rule(session, actor, "Refunds", "refund*")
        rule_members = set(catalogue.members(session, [rule.id]))
        assert not any(doomed.key in (r.topics or []) for r in session.scalars(select(FeedbackRecord)))
    with db.unit_of_work() as session:
        report = runs.discover_workspace(session, workspace.id, seed=5, min_topic_size=8, embed=airline.embed())
    assert report.kept_edited >= 2 and report.suppressed >= 1
    after = {t.id: t for t in _active(db, workspace.id)}
    assert after[cancelled.id].label == "Cancellations" and after[cancelled.id].key == cancelled.key
    assert target.id in after and source.id not in after and doomed.id not in after
    assert after[rule.id].kind == "rule"
    with db.unit_of_work(readonly=True) as session:
        assert session.get_one(Topic, doomed.id).status == "deleted"
        assert session.get_one(Topic, source.id).status == "merged"
        assert set(catalogue.members(session, [rule.id])) == rule_members
        # the deleted theme was not handed to a new topic: most of its old texts carry no discovered topic now
        still = session.scalars(select(FeedbackRecord.topics).where(FeedbackRecord.id.in_(doomed_members))).all()
        assert sum(1 for keys in still if keys) <= 0.5 * len(doomed_members)
        assert len(catalogue.members(session, [cancelled.id])) > 10


def test_split_replaces_a_topic_with_k(
    db: Database, workspace: Workspace, airline: Corpus, discovered: list[int]
) -> None:
    topic = max((t for t in _active(db, workspace.id) if t.parent_id is None), key=lambda t: t.id)
    with db.unit_of_work(readonly=True) as session:
        members = set(catalogue.members(session, [topic.id]))
    with db.unit_of_work() as session:
        made = editing.split(session, workspace.principal(), topic.id, 2, embed=airline.embed())
        made_ids = [t.id for t in made]
        assert all(t.user_edited and t.parent_id is None for t in made)
    with db.unit_of_work(readonly=True) as session:
        parts = [set(catalogue.members(session, [i])) for i in made_ids]
        assert parts[0] | parts[1] == members and not parts[0] & parts[1]
        assert session.get_one(Topic, topic.id).status == "split"
        record = session.get_one(FeedbackRecord, next(iter(parts[0])))
        assert topic.key not in (record.topics or [])
    with db.unit_of_work() as session:  # re-discovery keeps the user's split
        runs.discover_workspace(session, workspace.id, seed=0, min_topic_size=8, embed=airline.embed())
    assert set(made_ids) <= {t.id for t in _active(db, workspace.id)}


def test_bad_edits_change_nothing(db: Database, workspace: Workspace, airline: Corpus, discovered: list[int]) -> None:
    actor = workspace.principal()
    topics = _active(db, workspace.id)
    parent = next(t for t in topics if t.parent_id is None)
    child = next(t for t in topics if t.parent_id is not None)
    with db.unit_of_work() as session:
        rule = editing.create_rule(session, actor, "Wifi", "wifi")
        rule_id = rule.id
    cases = [
        (lambda s: editing.rename(s, actor, parent.id, "   "), InvalidInput, "empty"),
        (lambda s: editing.rename(s, actor, parent.id, "x" * 201), InvalidInput, "at most"),
        (lambda s: editing.merge(s, actor, parent.id, [child.id]), InvalidInput, "same level"),
        (lambda s: editing.merge(s, actor, parent.id, [rule_id]), InvalidInput, "rule topic"),
        (lambda s: editing.merge(s, actor, parent.id, [parent.id]), InvalidInput, "at least one other"),
        (lambda s: editing.split(s, actor, parent.id, 1), InvalidInput, "2 to 10"),
        (lambda s: editing.split(s, actor, rule_id, 2), InvalidInput, "rule topic"),
        (lambda s: editing.rename(s, actor, 999_999, "x"), NotFound, "not found"),
        (lambda s: editing.update_rule(s, actor, parent.id, "x"), InvalidInput, "Only rule topics"),
        (lambda s: editing.create_rule(s, actor, "Empty", "-x"), InvalidInput, "at least one term"),
    ]
    for action, error, message in cases:
        with pytest.raises(error, match=message), db.unit_of_work() as session:
            action(session)
    assert [(t.id, t.label, t.status) for t in _active(db, workspace.id) if t.id != rule_id] == [
        (t.id, t.label, t.status) for t in topics
    ]
    other = dataclasses.replace(workspace.principal(), workspace_id=workspace.id + 1)  # cannot see these topics
    with pytest.raises(NotFound), db.unit_of_work() as session:
        editing.rename(session, other, parent.id, "Mine")


def test_discovery_needs_enough_texts(db: Database, workspace: Workspace, airline: Corpus) -> None:
    store_texts(db, workspace.id, airline.texts[:3])
    with pytest.raises(InvalidInput, match="at least 10"), db.unit_of_work() as session:
        runs.discover_workspace(session, workspace.id, embed=airline.embed())


def test_a_corrected_topic_sticks_through_reassignment_and_rediscovery(
    db: Database, workspace: Workspace, airline: Corpus, discovered: list[int]
) -> None:
    from cem.text.models import LabelCorrection

    topics = _active(db, workspace.id)
    record_id = discovered[0]
    with db.unit_of_work(readonly=True) as session:
        current = session.get_one(FeedbackRecord, record_id).topics or []
    chosen = next(t for t in topics if t.parent_id is None and t.key not in current)
    with db.unit_of_work() as session:
        with pytest.raises(InvalidInput, match="No topic is called"):
            assignment.correct_record_topic(session, workspace.id, record_id, "no such topic")
        session.add(LabelCorrection(workspace_id=workspace.id, record_id=record_id, topic=chosen.label.upper()))
        keys = assignment.correct_record_topic(session, workspace.id, record_id, chosen.label.upper())
    assert keys[0] == chosen.key
    with db.unit_of_work() as session:
        assert assign_topics(session, workspace.id, [record_id], airline.vectors[:1])[record_id][0] == chosen.key
        runs.discover_workspace(session, workspace.id, seed=2, min_topic_size=8, embed=airline.embed())
        record = session.get_one(FeedbackRecord, record_id)
        assert record.topics and record.topics[0] == chosen.key
