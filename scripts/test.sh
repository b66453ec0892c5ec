#!/usr/bin/env bash
# The whole test suite: install everything, lint and type-check, then run the tests on SQLite (with the
# browser tests) and, in parallel, on a real PostgreSQL server that this script starts and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash scripts/system-deps.sh
bash scripts/setup.sh dev
export PATH="$ROOT/.venv/bin:$PATH"
mkdir -p artifacts

echo "== ruff"; ruff check src tests benchmarks scripts
echo "== mypy"; mypy
echo "== import contracts"; lint-imports

PG_URL=$(bash scripts/pg.sh start)
trap 'bash scripts/pg.sh stop' EXIT

echo "== pytest on SQLite and on PostgreSQL (in parallel)"
CEM_TEST_DATABASE_URL="" pytest -p no:cacheprovider -n 2 --junitxml=artifacts/sqlite.xml "$@" > artifacts/pytest-sqlite.log 2>&1 &
SQLITE_PID=$!
CEM_TEST_DATABASE_URL="$PG_URL" pytest -p no:cacheprovider -n 2 -m "not browser" --junitxml=artifacts/postgres.xml "$@" > artifacts/pytest-postgres.log 2>&1 &
PG_PID=$!
status=0
wait $SQLITE_PID || status=1
wait $PG_PID || status=1
echo "== SQLite run"; tail -n 40 artifacts/pytest-sqlite.log
echo "== PostgreSQL run"; tail -n 40 artifacts/pytest-postgres.log
exit $status
