"""Regenerate migration 0001 from the models (only while no release has shipped).

Usage: .venv/bin/python scripts/regen_initial_migration.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from cem.db.migrate import MIGRATIONS_DIR, alembic_config

VERSIONS = MIGRATIONS_DIR / "versions"


def main() -> None:
    for old in VERSIONS.glob("0001_*.py"):
        old.unlink()
    # Later revisions point at 0001; park them while 0001 is regenerated against an empty database.
    later = [p for p in VERSIONS.glob("0*.py") if not p.name.startswith("0001_")]
    with tempfile.TemporaryDirectory() as tmp:
        parked = [p.rename(Path(tmp) / p.name) for p in later]
        try:
            url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
            cfg = alembic_config(url)
            command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001", head="base")
        finally:
            for p in parked:
                p.rename(VERSIONS / p.name)
    for new in VERSIONS.glob("0001_*.py"):
        text = new.read_text()
        # Alembic renders JSONB's astext_type without importing Text.
        new.write_text(text.replace("astext_type=Text()", "astext_type=sa.Text()"))
        # Keep the generated file in house style so regenerating shows only real schema changes.
        ruff = Path(sys.executable).parent / "ruff"
        subprocess.run([str(ruff), "check", "--fix", "-q", str(new)], check=False)
        subprocess.run([str(ruff), "format", "-q", str(new)], check=False)
        print(f"wrote {new}")


if __name__ == "__main__":
    main()
