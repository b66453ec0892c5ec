#!/usr/bin/env bash
# Create .venv and install cem (with dev extras when given "dev"). Idempotent; safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
if [ "${1:-}" = "dev" ]; then
  # dev includes the optional Spark engine so its parity test runs in CI.
  .venv/bin/pip install -q -e ".[dev,spark]"
else
  .venv/bin/pip install -q -e .
fi
# sentimentai-py ships the sentiment heads cem uses; its declared deps pull torch, which cem does not need.
.venv/bin/pip install -q --no-deps "sentimentai-py==2.0.0"
