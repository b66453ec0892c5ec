"""A distribution's reminder schedule: up to `MAX_REMINDERS` emails to non-responders, N days after the send.

Stored on the distribution as `reminders` ([{"after_days": 3.0, "subject": ""}, ...]). Distributions made
before migration 0012 have the single `reminder_after_days` instead; `schedule()` reads both shapes, so a
row the migration did not rewrite (or an old job still queued) keeps working as reminder 1.

Reminder n of an invitation is sent at most once: its idempotency key (`job_effect`) is claimed before
the email is handed to SMTP. Reminder 1 keeps the key of the former single reminder, so an invitation
reminded before the upgrade is never reminded "for the first time" again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cem.distribution.models import Distribution
from cem.errors import InvalidInput

MAX_REMINDERS = 3
MAX_AFTER_DAYS = 90.0
MAX_SUBJECT = 300


@dataclass(frozen=True)
class ReminderStep:
    number: int  # 1-based
    after_days: float
    subject: str = ""  # "" -> "Reminder: <the invitation's subject>"

    def due_at(self, sent_at: datetime | None) -> datetime | None:
        return sent_at + timedelta(days=self.after_days) if sent_at is not None else None


def schedule(dist: Distribution) -> list[ReminderStep]:
    """The distribution's reminders in order; the legacy single-reminder column when the list is empty."""
    stored = dist.reminders or []
    if stored:
        return [
            ReminderStep(i, float(item["after_days"]), str(item.get("subject") or ""))
            for i, item in enumerate(stored, start=1)
        ]
    if dist.reminder_after_days:
        return [ReminderStep(1, float(dist.reminder_after_days))]
    return []


def step(dist: Distribution, number: int) -> ReminderStep | None:
    return next((s for s in schedule(dist) if s.number == number), None)


def validate(items: Sequence[tuple[float, str]]) -> list[dict[str, Any]]:
    """(after_days, subject) pairs -> the stored list; every problem reported at once as InvalidInput."""
    errors: list[dict[str, Any]] = []

    def problem(index: int | None, field: str | None, msg: str) -> None:
        loc: list[str | int] = ["reminders"]
        if index is not None:
            loc.append(index)
        if field is not None:
            loc.append(field)
        errors.append({"loc": loc, "msg": msg})

    if len(items) > MAX_REMINDERS:
        problem(None, None, f"At most {MAX_REMINDERS} reminders per distribution; {len(items)} were given.")
    seen: set[float] = set()
    previous: float | None = None
    for index, (days, subject) in enumerate(items):
        n = index + 1
        if days != days or days <= 0:  # NaN included
            problem(index, "after_days", f"Reminder {n}: the number of days after the send must be more than 0.")
        elif days > MAX_AFTER_DAYS:
            problem(index, "after_days", f"Reminder {n}: at most {MAX_AFTER_DAYS:g} days after the send.")
        elif days in seen:
            problem(index, "after_days", f"Reminder {n}: {days:g} days is already used by another reminder.")
        elif previous is not None and days < previous:
            problem(
                index,
                "after_days",
                f"Reminder {n}: {days:g} days comes before the previous reminder ({previous:g} days); "
                "list the reminders in increasing order.",
            )
        if "\n" in subject or "\r" in subject:
            problem(index, "subject", f"Reminder {n}: the subject must be one line.")
        elif len(subject) > MAX_SUBJECT:
            problem(index, "subject", f"Reminder {n}: the subject is longer than {MAX_SUBJECT} characters.")
        if days == days and days > 0:
            seen.add(days)
            previous = days if previous is None else max(previous, days)
    if errors:
        raise InvalidInput(" ".join(e["msg"] for e in errors), errors=errors)
    return [{"after_days": float(days), "subject": subject.strip()} for days, subject in items]


def counts(dist: Distribution, number: int) -> dict[str, int]:
    """sent / failed / skipped / deferred so far for reminder `number` of the distribution."""
    raw = (dist.reminder_counts or {}).get(str(number)) or {}
    return {k: int(raw.get(k, 0)) for k in ("sent", "failed", "skipped", "deferred")}


def add_counts(dist: Distribution, number: int, **delta: int) -> None:
    """Add to the reminder's counters (the JSON column is replaced, so the change is flushed)."""
    if not any(delta.values()):
        return
    current = counts(dist, number)
    for key, value in delta.items():
        current[key] = current.get(key, 0) + value
    dist.reminder_counts = {**(dist.reminder_counts or {}), str(number): current}


def effect_key(invitation_id: int, number: int) -> str:
    """The idempotency key of reminder `number` to one invitation (reminder 1: the pre-0012 key)."""
    return f"survey-mail:{invitation_id}:reminder" + ("" if number == 1 else str(number))


def deferral_key(invitation_id: int, number: int, until: datetime) -> str:
    """Logged once per person and quiet window: a retried job does not log the same deferral again."""
    return f"{effect_key(invitation_id, number)}:deferred:{until:%Y%m%dT%H%M}"


def job_key(distribution_id: int, number: int, run_at: datetime | None = None) -> str:
    """The dedupe key of the job that sends reminder `number` (reminder 1's first run: the pre-0012 key)."""
    key = f"survey-dist-remind:{distribution_id}" + ("" if number == 1 else f":{number}")
    return key if run_at is None else f"{key}:{run_at:%Y%m%dT%H%M%S}"
