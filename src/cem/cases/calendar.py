"""Business time: work periods per weekday in a time zone, minus holidays, minus paused spans.

Hand-written on zoneinfo rather than `businesstimedelta` (no release since 2017, pytz-based) or `workalendar`
(country holiday tables, no work periods or pauses): SLAs need several periods a day (lunch, split shifts),
holidays the workspace names itself, and paused spans subtracted, which neither library does.
Every period is built in local wall time and converted to UTC, so a day of a DST change has its true length.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS = 3 * 366  # a target further than this in business time is a misconfiguration, not a deadline
Span = tuple[datetime, datetime]


class CalendarError(ValueError):
    """A calendar that cannot be used (unknown zone, overlapping or reversed periods, bad date)."""


def parse_hours(hours: dict[str, list[list[str]]]) -> dict[int, list[tuple[time, time]]]:
    """{"mon": [["09:00", "17:00"]]} -> {0: [(09:00, 17:00)]}; CalendarError naming the weekday otherwise."""
    periods: dict[int, list[tuple[time, time]]] = {}
    for name, spans in hours.items():
        if name not in WEEKDAYS:
            raise CalendarError(f"{name!r} is not a weekday; use {', '.join(WEEKDAYS)}.")
        parsed = []
        for span in spans:
            try:
                start, end = (time.fromisoformat(v) for v in span)
            except (TypeError, ValueError):
                raise CalendarError(f"{name}: {span!r} is not a pair of HH:MM times.") from None
            if end <= start:
                raise CalendarError(f"{name}: the period {span[0]}-{span[1]} ends before it starts.")
            parsed.append((start, end))
        parsed.sort()
        for (_, end), (start, _) in itertools.pairwise(parsed):
            if start < end:
                raise CalendarError(f"{name}: work periods overlap.")
        periods[WEEKDAYS.index(name)] = parsed
    if not any(periods.values()):
        raise CalendarError("A calendar needs at least one work period.")
    return periods


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"{name!r} is not a known time zone (use an IANA name such as Europe/Lisbon).") from None


@dataclass(frozen=True)
class Calendar:
    tz: ZoneInfo
    periods: dict[int, list[tuple[time, time]]]
    holidays: frozenset[date]

    @classmethod
    def from_config(cls, timezone: str, hours: dict[str, list[list[str]]], holidays: Sequence[str]) -> Calendar:
        try:
            days = frozenset(date.fromisoformat(h) for h in holidays)
        except ValueError:
            raise CalendarError("Holidays must be ISO dates (YYYY-MM-DD).") from None
        return cls(tz=zone(timezone), periods=parse_hours(hours), holidays=days)

    def work_spans(self, start: datetime) -> Iterator[Span]:
        """Business periods (UTC) from `start` on, the first clipped to start."""
        day = start.astimezone(self.tz).date()
        for _ in range(MAX_DAYS):
            if day not in self.holidays:
                for begin, end in self.periods.get(day.weekday(), []):
                    a = datetime.combine(day, begin, self.tz).astimezone(UTC)
                    b = datetime.combine(day, end, self.tz).astimezone(UTC)
                    if b > start:
                        yield max(a, start), b
            day += timedelta(days=1)

    def add(self, start: datetime, minutes: float, paused: Sequence[Span] = ()) -> datetime | None:
        """The moment `minutes` of business time after `start`, not counting `paused` spans; None if a pause
        without an end (the case waits on the customer now) stops the clock before the target is reached."""
        remaining = timedelta(minutes=minutes)
        for span in self.work_spans(start):
            for a, b in _minus(span, paused):
                if b - a >= remaining:
                    return a + remaining
                remaining -= b - a
            if any(p_end == _OPEN_END and p_start <= span[1] for p_start, p_end in paused):
                return None
        return None

    def minutes_between(self, start: datetime, end: datetime, paused: Sequence[Span] = ()) -> float:
        """Business minutes from start to end, not counting paused spans."""
        total = timedelta()
        for span in self.work_spans(start):
            if span[0] >= end:
                break
            for a, b in _minus((span[0], min(span[1], end)), paused):
                total += b - a
        return total.total_seconds() / 60


_OPEN_END = datetime.max.replace(tzinfo=UTC)


def open_end() -> datetime:
    """The end of a pause that is still going on."""
    return _OPEN_END


def _minus(span: Span, paused: Sequence[Span]) -> list[Span]:
    """`span` without the parts covered by `paused` (sorted, non-overlapping pieces)."""
    pieces = [span]
    for p_start, p_end in paused:
        cut: list[Span] = []
        for a, b in pieces:
            if p_end <= a or p_start >= b:
                cut.append((a, b))
                continue
            if p_start > a:
                cut.append((a, p_start))
            if p_end < b:
                cut.append((p_end, b))
        pieces = cut
    return pieces
