"""Settings: one pydantic-settings class, CEM_ prefix, built by a factory (never at import time)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "dev-insecure-secret-change-me"


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
    # API-token look-ups are cached this long (0: never). A revocation in the same process applies at once;
    # other processes (a second server worker, the CLI) see it within this many seconds.
    token_cache_seconds: float = 5.0
    cookie_secure: bool = False
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
    # Base URL written into survey links (emails, widget); default http://host:port.
    public_url: str = ""

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

    def check_secrets(self) -> None:
        """Refuse to run outside dev/test with the published default secret."""
        if self.env == "prod" and (self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32):
            raise RuntimeError(
                "CEM_SECRET_KEY is the default or shorter than 32 characters; "
                "set a long random secret before running with CEM_ENV=prod."
            )


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
