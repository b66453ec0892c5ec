"""Password hashing (argon2) and strength rules, and random secrets stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from functools import cache

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from cem.config import PasswordHashCost
from cem.errors import InvalidInput

HASH_PARAMETERS: dict[PasswordHashCost, Parameters] = {
    "standard": profiles.RFC_9106_LOW_MEMORY,
    "minimal": profiles.CHEAPEST,
}
# One deployment hashes at one cost, so the hasher is process-wide: the composition roots (create_app, the CLI's
# open_db) set it from CEM_PASSWORD_HASH_COST; until then new hashes get the production parameters.
_hasher = PasswordHasher.from_parameters(HASH_PARAMETERS["standard"])
MIN_PASSWORD_LENGTH = 10
# zxcvbn's score: 0-1 fall to fewer than a million guesses (repeats, keyboard walks, common words); 2 and up
# need at least that many, which login throttling turns into years of online guessing.
MIN_PASSWORD_SCORE = 2
# zxcvbn's cost grows with length (a 200-character run takes over a second), so it judges a long password by
# its first 72 characters, its own default bound; a password whose first 72 characters are strong is strong.
STRENGTH_PREFIX = 72


def use_password_hash_cost(cost: PasswordHashCost) -> None:
    """Hash new passwords in this process with the parameters of `cost` (stored hashes verify either way)."""
    global _hasher
    _hasher = PasswordHasher.from_parameters(HASH_PARAMETERS[cost])
    _dummy_hash.cache_clear()  # the dummy must cost what a real hash of this process costs


def hash_password(password: str) -> str:
    return str(_hasher.hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """A hash with the same parameters as real ones, so checking an unknown email costs what a known one does."""
    return hash_password(secrets.token_urlsafe(16))


def verify_password_or_dummy(password_hash: str | None, password: str) -> bool:
    """Check `password`, spending the same argon2 work when there is no account (no user enumeration by timing)."""
    if password_hash is None:
        verify_password(_dummy_hash(), password)
        return False
    return verify_password(password_hash, password)


@cache
def _common_passwords() -> frozenset[str]:
    # The 30,000 most common leaked passwords shipped (offline) inside zxcvbn, the strength estimator used below.
    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password_strength(password: str, *, user_inputs: Iterable[str] = ()) -> None:
    """Refuse short, blank, common or easily guessed passwords with a readable reason."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if not password.strip():
        raise InvalidInput("A password cannot be only spaces.")
    if password.lower() in _common_passwords():
        raise InvalidInput("This password is on the list of the most common passwords; choose another.")
    verdict = zxcvbn(password[:STRENGTH_PREFIX], user_inputs=[u for u in user_inputs if u])
    if verdict["score"] < MIN_PASSWORD_SCORE:
        reason = verdict["feedback"]["warning"] or "It follows a pattern that is easy to guess."
        raise InvalidInput(f"This password is too easy to guess. {reason} Use a few uncommon words or more characters.")


def new_secret(prefix: str) -> str:
    """A URL-safe random secret with a readable prefix (e.g. `cem_...`)."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def digest(secret: str) -> str:
    """SHA-256 hex digest: what we store for tokens, sessions and source secrets."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
