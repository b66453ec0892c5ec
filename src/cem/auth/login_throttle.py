"""Login throttling per account and per client address, counted in the database.

Why not a rate-limit library: the well-kept ones (`limits`, and slowapi on top of it) keep their counters in
process memory, Redis, Memcached or MongoDB. cem runs with nothing but its database, often as several web
workers and CLI processes on one store; a per-process counter would give an attacker N times the attempts
(one budget per worker). So the counter lives in the `login_attempt` table, which every process shares.

How it counts (a sliding window of `window` seconds):
- An attempt is recorded and committed *before* the password is checked, then the attempts in the window are
  counted, this one included. Concurrent attempts therefore always see each other (an attempt committed later
  sees the earlier ones): a burst of parallel guesses can never get more checks than the limit.
- Over the limit: the attempt is refused with 429 and Retry-After, and its row is removed again, so hammering
  a locked account does not push the lock further out; the lock lifts when the oldest failures age out.
- A wrong password keeps its rows. A successful login clears the account's failures (the owner proved
  themself) but leaves the address's, so one valid account cannot reset a guessing client's budget.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from cem.auth.models import LoginAttempt
from cem.config import Settings
from cem.db.base import utcnow
from cem.db.session import Database
from cem.errors import TooManyRequests, Unauthorized


@dataclass(frozen=True)
class _Counter:
    key: str
    limit: int
    kind: str  # "account" | "address", for the message


@dataclass(frozen=True)
class _Reservation:
    counters: tuple[_Counter, ...]
    row_ids: tuple[int, ...]


def _keyed(secret: str, kind: str, value: str) -> str:
    """HMAC of the email or address under the server secret: the table never holds either in the clear."""
    return hmac.new(secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


class LoginThrottle:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.settings.login_window_seconds)

    @contextmanager
    def attempt(self, *, email: str, address: str) -> Iterator[None]:
        """Guard one login: raises TooManyRequests before the body runs when either budget is spent."""
        secret = self.settings.secret_key
        counters = (
            _Counter(_keyed(secret, "account", email.strip().lower()), self.settings.login_max_failures_per_account,
                     "account"),
            _Counter(_keyed(secret, "address", address), self.settings.login_max_failures_per_address, "address"),
        )  # fmt: skip
        reservation = self._reserve(counters)
        try:
            yield
        except Unauthorized:
            raise  # a wrong password: its rows stay and count
        except BaseException:
            self._delete(reservation.row_ids)  # not a password guess (e.g. no access to that workspace)
            raise
        self._succeeded(reservation)

    def _reserve(self, counters: tuple[_Counter, ...]) -> _Reservation:
        now = utcnow()
        with self.db.unit_of_work() as session:
            session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - self.window))
            rows = [LoginAttempt(key=c.key, at=now) for c in counters]
            session.add_all(rows)
            session.flush()
            reservation = _Reservation(counters, tuple(r.id for r in rows))
        refusal = self._refusal(counters, reservation, now)
        if refusal is not None:
            self._delete(reservation.row_ids)
            raise refusal
        return reservation

    def _refusal(
        self, counters: tuple[_Counter, ...], reservation: _Reservation, now: datetime
    ) -> TooManyRequests | None:
        since = now - self.window
        waits: list[tuple[float, str]] = []
        with self.db.unit_of_work(readonly=True) as session:
            for counter in counters:
                in_window = (LoginAttempt.key == counter.key) & (LoginAttempt.at >= since)
                total = int(session.scalar(select(func.count()).where(in_window)) or 0)
                if total <= counter.limit:
                    continue
                # The others must drop to limit - 1 for this attempt to fit: wait for the (others - limit + 1)th
                # oldest of them to leave the window.
                others = ~LoginAttempt.id.in_(reservation.row_ids)
                oldest = session.scalar(
                    select(LoginAttempt.at)
                    .where(in_window & others)
                    .order_by(LoginAttempt.at, LoginAttempt.id)
                    .offset(max(0, total - 1 - counter.limit))
                    .limit(1)
                )
                ages_out = (oldest or now) + self.window
                waits.append(((ages_out - now).total_seconds(), counter.kind))
        if not waits:
            return None
        seconds, kind = max(waits)
        retry_after = max(1, math.ceil(seconds))
        return TooManyRequests(
            f"Too many failed logins for this {kind}; try again in {_readable(retry_after)}.",
            retry_after=retry_after,
        )

    def _succeeded(self, reservation: _Reservation) -> None:
        account = reservation.counters[0].key
        with self.db.unit_of_work() as session:
            session.execute(
                delete(LoginAttempt).where((LoginAttempt.key == account) | LoginAttempt.id.in_(reservation.row_ids))
            )

    def _delete(self, row_ids: tuple[int, ...]) -> None:
        with self.db.unit_of_work() as session:
            session.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(row_ids)))


def _readable(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"
