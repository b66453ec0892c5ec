"""Contact-frequency (fatigue) rules: who may be contacted now, and if not, exactly why.

The rules are explicit and separate, unlike a single cooldown that counts every survey:

- unsubscribed: the person opted out of surveys (email link); honoured on every channel.
- recontact: per survey, the same person is not asked the same survey again within `recontact_days`
  (None: asked at most once, ever).
- global_cooldown: across all surveys and channels, at least `global_cooldown_days` since the last
  contact that counts. A survey may opt out of the cooldown (`respects_cooldown=False`, e.g. a
  transactional survey after a support ticket) and its contacts then don't count towards it either.
- max_per_period: at most `max_per_period` counted contacts in any `period_days` window.
- quiet_hours: no contact between `quiet_start` and `quiet_end` in the workspace time zone (the window
  may span midnight); email sends are deferred to the end of the window, a widget is simply not shown.

`decide()` is a pure function of the clock, the rules and the person's contact history, so the tests
drive it with a table of cases and a fixed clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cem.errors import InvalidInput

SKIP_REASONS = (
    "unsubscribed",
    "no_email",
    "recontact",
    "global_cooldown",
    "max_per_period",
    "quiet_hours",
    "not_in_audience",
    "display_percentage",
)
REASON_LABELS = {
    "unsubscribed": "Unsubscribed from surveys",
    "no_email": "No email address",
    "recontact": "Already asked this survey recently (per-survey recontact rule)",
    "global_cooldown": "Contacted by another survey recently (global cooldown)",
    "max_per_period": "Reached the maximum number of surveys in the period",
    "quiet_hours": "Quiet hours in the workspace time zone",
    "not_in_audience": "Does not match the audience filters",
    "display_percentage": "Not sampled (display percentage)",
}


@dataclass(frozen=True)
class WorkspaceRules:
    """Rules shared by every survey of a workspace."""

    global_cooldown_days: float = 0.0
    max_per_period: int | None = None
    period_days: int = 30
    quiet_start: time | None = None
    quiet_end: time | None = None
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if self.global_cooldown_days < 0:
            raise InvalidInput("global_cooldown_days cannot be negative.")
        if self.max_per_period is not None and self.max_per_period < 1:
            raise InvalidInput("max_per_period must be at least 1 (or empty for no maximum).")
        if self.period_days < 1:
            raise InvalidInput("period_days must be at least 1.")
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise InvalidInput("Quiet hours need both a start and an end time.")
        zone(self.timezone)

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)


@dataclass(frozen=True)
class SurveyRules:
    """Rules of one survey."""

    survey_id: int
    recontact_days: float | None = None  # None: never ask the same person this survey twice
    respects_cooldown: bool = True


@dataclass(frozen=True)
class Contact:
    """One past contact of a person: a survey sent (email) or shown (widget)."""

    survey_id: int
    at: datetime
    counts: bool = True  # False for surveys that opted out of the global cooldown


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str | None = None
    detail: str = ""
    retry_at: datetime | None = None  # for quiet hours: when contacting becomes possible again


ALLOWED = Decision(True)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"Unknown time zone {name!r}; use an IANA name such as 'Europe/Lisbon'.") from None


def quiet_until(now: datetime, rules: WorkspaceRules) -> datetime | None:
    """The end of the quiet window `now` falls into (aware UTC), or None outside quiet hours."""
    if rules.quiet_start is None or rules.quiet_end is None or rules.quiet_start == rules.quiet_end:
        return None
    local = now.astimezone(rules.tz)
    start, end, clock = rules.quiet_start, rules.quiet_end, local.time()
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:  # spans midnight, e.g. 21:00-08:00
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=rules.tz).astimezone(now.tzinfo)


@dataclass(frozen=True)
class History:
    """What the rules need from a person's contacts, precomputed (e.g. by one SQL aggregate)."""

    last_counted: datetime | None = None  # latest contact that counts towards the cooldown
    last_this_survey: datetime | None = None
    counted_in_period: int = 0

    @classmethod
    def of(cls, contacts: Iterable[Contact], *, survey_id: int, now: datetime, period_days: int) -> History:
        period_start = now - timedelta(days=period_days)
        last_counted = last_this = None
        in_period = 0
        for c in contacts:
            if c.survey_id == survey_id and (last_this is None or c.at > last_this):
                last_this = c.at
            if c.counts:
                if last_counted is None or c.at > last_counted:
                    last_counted = c.at
                if c.at > period_start:
                    in_period += 1
        return cls(last_counted, last_this, in_period)


def decide(
    now: datetime,
    rules: WorkspaceRules,
    survey: SurveyRules,
    history: History,
    *,
    unsubscribed: bool = False,
    needs_email: bool = False,
    has_email: bool = True,
) -> Decision:
    """Whether a person may be contacted with `survey` at `now`; the first rule that blocks wins."""
    if unsubscribed:
        return Decision(False, "unsubscribed")
    if needs_email and not has_email:
        return Decision(False, "no_email")
    if history.last_this_survey is not None:
        if survey.recontact_days is None:
            return Decision(False, "recontact", f"already asked on {history.last_this_survey:%Y-%m-%d}")
        again = history.last_this_survey + timedelta(days=survey.recontact_days)
        if now < again:
            return Decision(False, "recontact", f"not before {again:%Y-%m-%d %H:%M} UTC")
    if survey.respects_cooldown:
        if rules.global_cooldown_days and history.last_counted is not None:
            again = history.last_counted + timedelta(days=rules.global_cooldown_days)
            if now < again:
                return Decision(False, "global_cooldown", f"not before {again:%Y-%m-%d %H:%M} UTC")
        if rules.max_per_period is not None and history.counted_in_period >= rules.max_per_period:
            return Decision(
                False,
                "max_per_period",
                f"{history.counted_in_period} of {rules.max_per_period} in {rules.period_days} days",
            )
    until = quiet_until(now, rules)
    if until is not None:
        return Decision(False, "quiet_hours", f"until {until:%Y-%m-%d %H:%M} UTC", retry_at=until)
    return ALLOWED
