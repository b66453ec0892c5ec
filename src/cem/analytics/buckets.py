"""Calendar time buckets (day, week starting Monday, month, quarter), in UTC."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta


def bucket_start(day: date, interval: str) -> date:
    """The first day of the bucket holding `day`."""
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    if interval == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    raise ValueError(f"unknown interval {interval!r}")


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def shift(start: date, interval: str, steps: int) -> date:
    """The bucket `steps` buckets after (negative: before) the bucket starting at `start`."""
    if interval == "day":
        return start + timedelta(days=steps)
    if interval == "week":
        return start + timedelta(weeks=steps)
    if interval == "month":
        return _add_months(start, steps)
    if interval == "quarter":
        return _add_months(start, 3 * steps)
    raise ValueError(f"unknown interval {interval!r}")


def bucket_range(first: date, last: date, interval: str) -> Iterator[date]:
    """Every bucket start from the bucket of `first` to the bucket of `last`, empty ones included."""
    current, end = bucket_start(first, interval), bucket_start(last, interval)
    while current <= end:
        yield current
        current = shift(current, interval, 1)
