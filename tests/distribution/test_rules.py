"""Contact-frequency rules as a table of cases: who is sent, who is skipped and why, on a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from cem.distribution.rules import Contact, History, SurveyRules, WorkspaceRules, decide, quiet_until
from cem.errors import InvalidInput

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # a Tuesday, 14:00 UTC
SURVEY = 1
OTHER = 2


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


COOLDOWN_14 = WorkspaceRules(global_cooldown_days=14)
MAX_2_IN_30 = WorkspaceRules(max_per_period=2, period_days=30)
QUIET_LISBON = WorkspaceRules(quiet_start=time(21, 0), quiet_end=time(8, 0), timezone="Europe/Lisbon")
QUIET_TOKYO = WorkspaceRules(quiet_start=time(21, 0), quiet_end=time(8, 0), timezone="Asia/Tokyo")
NONE = WorkspaceRules()
ONCE = SurveyRules(SURVEY)  # never twice
EVERY_90 = SurveyRules(SURVEY, recontact_days=90)
TRANSACTIONAL = SurveyRules(SURVEY, recontact_days=0, respects_cooldown=False)

# (case, workspace rules, survey rules, contacts, flags, expected reason or None when sent)
CASES = [
    ("fresh person, no rules", NONE, ONCE, [], {}, None),
    ("unsubscribed beats everything", NONE, ONCE, [], {"unsubscribed": True}, "unsubscribed"),
    ("email channel, no address", NONE, ONCE, [], {"needs_email": True, "has_email": False}, "no_email"),
    ("widget needs no address", NONE, ONCE, [], {"needs_email": False, "has_email": False}, None),
    ("same survey asked before, once only", NONE, ONCE, [Contact(SURVEY, ago(400))], {}, "recontact"),
    ("same survey 30 days ago, recontact 90", NONE, EVERY_90, [Contact(SURVEY, ago(30))], {}, "recontact"),
    ("same survey 91 days ago, recontact 90", NONE, EVERY_90, [Contact(SURVEY, ago(91))], {}, None),
    ("other survey 3 days ago, cooldown 14", COOLDOWN_14, EVERY_90, [Contact(OTHER, ago(3))], {}, "global_cooldown"),
    ("other survey 15 days ago, cooldown 14", COOLDOWN_14, EVERY_90, [Contact(OTHER, ago(15))], {}, None),
    (
        "transactional survey ignores the cooldown",
        COOLDOWN_14,
        TRANSACTIONAL,
        [Contact(OTHER, ago(1))],
        {},
        None,
    ),
    (
        "a transactional contact does not count towards the cooldown",
        COOLDOWN_14,
        EVERY_90,
        [Contact(OTHER, ago(1), counts=False)],
        {},
        None,
    ),
    (
        "two counted contacts in 30 days, max 2",
        MAX_2_IN_30,
        EVERY_90,
        [Contact(OTHER, ago(5)), Contact(3, ago(20))],
        {},
        "max_per_period",
    ),
    (
        "one of the two is older than the period",
        MAX_2_IN_30,
        EVERY_90,
        [Contact(OTHER, ago(5)), Contact(3, ago(31))],
        {},
        None,
    ),
    ("14:00 UTC is 14:00 in Lisbon, not quiet", QUIET_LISBON, ONCE, [], {}, None),
    ("14:00 UTC is 23:00 in Tokyo, quiet", QUIET_TOKYO, ONCE, [], {}, "quiet_hours"),
    (
        "recontact is reported before the cooldown",
        COOLDOWN_14,
        EVERY_90,
        [Contact(SURVEY, ago(2))],
        {},
        "recontact",
    ),
]


@pytest.mark.parametrize(
    ("rules", "survey", "contacts", "flags", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_contact_rules_table(
    rules: WorkspaceRules,
    survey: SurveyRules,
    contacts: list[Contact],
    flags: dict[str, bool],
    expected: str | None,
) -> None:
    history = History.of(contacts, survey_id=survey.survey_id, now=NOW, period_days=rules.period_days)
    decision = decide(NOW, rules, survey, history, **flags)
    assert decision.reason == expected, decision
    assert decision.allowed is (expected is None)


def test_quiet_hours_end_is_the_local_morning() -> None:
    until = quiet_until(NOW, QUIET_TOKYO)
    assert until == datetime(2026, 3, 10, 23, 0, tzinfo=UTC)  # 08:00 on the 11th in Tokyo
    decision = decide(NOW, QUIET_TOKYO, ONCE, History())
    assert decision.retry_at == until
    # Just after the window ends, the same person is contacted.
    assert decide(until, QUIET_TOKYO, ONCE, History()).allowed


def test_quiet_window_within_one_day() -> None:
    lunch = WorkspaceRules(quiet_start=time(13, 0), quiet_end=time(15, 0))
    assert quiet_until(NOW, lunch) == NOW.replace(hour=15)
    assert quiet_until(NOW.replace(hour=15), lunch) is None
    assert quiet_until(NOW.replace(hour=12, minute=59), lunch) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"global_cooldown_days": -1}, "negative"),
        ({"max_per_period": 0}, "at least 1"),
        ({"period_days": 0}, "at least 1"),
        ({"quiet_start": time(21, 0)}, "both"),
        ({"timezone": "Mars/Olympus"}, "Unknown time zone"),
    ],
)
def test_bad_rules_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        WorkspaceRules(**kwargs)  # type: ignore[arg-type]
