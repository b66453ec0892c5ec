"""Settings: one pydantic-settings class, CEM_ prefix, built by a factory (never at import time)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "dev-insecure-secret-change-me"
MIN_SECRET_LENGTH = 32
MIN_SECRET_DISTINCT = 8
# zxcvbn's estimate for a production secret: 10^24 guesses (~80 bits). Random secrets of 32 characters score far
# above it (hex: >= 10^27, url-safe: >= 10^30); repeats, sequences, keyboard walks and sentences of common words
# fall below it, whatever their length.
MIN_SECRET_GUESSES_LOG10 = 24.0
# How much work hashing a new password takes: "standard" is argon2's RFC 9106 low-memory profile (64 MiB, 3 passes,
# about a third of a second); "minimal" is argon2's cheapest, for test suites that create many users.
PasswordHashCost = Literal["standard", "minimal"]


class Settings(BaseSettings):
    """Every knob of a cem deployment; read from CEM_* environment variables or a .env file."""

    model_config = SettingsConfigDict(env_prefix="CEM_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    secret_key: str = DEFAULT_SECRET
    data_dir: Path = Path("var")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    # Largest accepted request body; bulk ingest beyond this must be split or go through `cem import`.
    max_body_bytes: int = 20 * 1024 * 1024
    max_bulk_records: int = 10_000
    # The embedded default runs a worker thread inside the web process so one command is enough.
    in_process_worker: bool = True
    worker_poll_seconds: float = 0.5
    # Worker threads that only take interactive jobs (imports, sends, discovery runs): reserved capacity, so a
    # person's job starts within seconds while a long enrichment backfill occupies the general thread.
    worker_interactive_slots: int = Field(default=1, ge=0, le=16)
    # Load the embedding model and the vector index at server start, so the first semantic search is fast.
    warm_text_search: bool = True
    session_hours: int = 12
    # Existing hashes verify whatever this says (an argon2 hash carries its own parameters); CEM_ENV=prod refuses
    # "minimal".
    password_hash_cost: PasswordHashCost = "standard"
    # API-token look-ups are cached this long (0: never). A revocation in the same process applies at once;
    # other processes (a second server worker, the CLI) see it within this many seconds.
    token_cache_seconds: float = 5.0
    # Session cookies carry the Secure flag when this is set, and always with CEM_ENV=prod.
    cookie_secure: bool = False
    # Login throttling: failed logins allowed per account and per client address within the window; past
    # either, logins from there are refused (429 with Retry-After) until the oldest failures leave the window.
    login_window_seconds: int = Field(default=900, ge=1)
    login_max_failures_per_account: int = Field(default=10, ge=1)
    login_max_failures_per_address: int = Field(default=50, ge=1)
    shared_data_dir: Path = Field(default=Path(__file__).resolve().parents[3] / "shared" / "data")
    # Survey email (SMTP). Empty host: email distributions are refused with a clear message.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "cem <surveys@localhost>"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_security: Literal["none", "starttls", "ssl"] = "none"
    smtp_timeout_seconds: float = 30.0
    # Parallel SMTP connections per sending job (large batches only); most relays accept a few.
    smtp_connections: int = 4
    # Outbound webhooks (cem.webhooks). Endpoints on private, loopback, link-local and other non-public addresses are
    # refused (server-side request forgery) unless this allows them, e.g. for a receiver on the same host.
    webhooks_allow_private: bool = False
    # A delivery counts only if a 2xx answer arrives within this many seconds (the Standard Webhooks figure).
    webhooks_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # A subscription whose deliveries keep failing this long, without one success, is disabled.
    webhooks_disable_after_days: float = Field(default=5.0, gt=0)
    # Base URL written into survey links (emails, widget); default http://host:port.
    public_url: str = ""

    @model_validator(mode="after")
    def _production_hashes_at_full_cost(self) -> Settings:
        if self.env == "prod" and self.password_hash_cost != "standard":
            raise ValueError("CEM_PASSWORD_HASH_COST=minimal is for tests; production hashes passwords at full cost")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or an SQLite file under data_dir (the embedded default)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cem.db').resolve()}"

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def session_cookie_secure(self) -> bool:
        """Production cookies never travel over plain HTTP."""
        return self.cookie_secure or self.env == "prod"

    def check_secrets(self) -> None:
        """Refuse to run in production with the published default secret or one that is short or guessable."""
        if self.env != "prod":
            return
        problem = secret_key_problem(self.secret_key)
        if problem:
            raise RuntimeError(
                f"CEM_SECRET_KEY {problem}; set a long random secret before running with CEM_ENV=prod "
                '(for example: python -c "import secrets; print(secrets.token_urlsafe(32))").'
            )


def secret_key_problem(secret: str) -> str | None:
    """Why `secret` is unfit for production, or None."""
    if secret == DEFAULT_SECRET:
        return "is the published default"
    if len(secret) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(secret)) < MIN_SECRET_DISTINCT:
        return f"uses fewer than {MIN_SECRET_DISTINCT} different characters"
    from zxcvbn import zxcvbn  # imported here: only production start-up needs it

    # Judged by its first 72 characters (zxcvbn's default bound: its cost grows steeply with length).
    if zxcvbn(secret[:72])["guesses_log10"] < MIN_SECRET_GUESSES_LOG10:
        return "is too easy to guess (a repeated pattern, a sequence or common words)"
    return None


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
