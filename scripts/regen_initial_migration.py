"""Regenerate migration 0001 from the models (only while no release has shipped).

Usage: .venv/bin/python scripts/regen_initial_migration.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from cem.db.migrate import MIGRATIONS_DIR, alembic_config

VERSIONS = MIGRATIONS_DIR / "versions"


def main() -> None:
    for old in VERSIONS.glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        cfg = alembic_config(url)
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001", head="base")
    for new in VERSIONS.glob("0001_*.py"):
        text = new.read_text()
        # Alembic renders JSONB's astext_type without importing Text.
        new.write_text(text.replace("astext_type=Text()", "astext_type=sa.Text()"))
        print(f"wrote {new}")


if __name__ == "__main__":
    main()
