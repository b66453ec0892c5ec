#!/usr/bin/env bash
# Set up cem in .venv, build the demo workspace on the embedded SQLite default, and serve on 127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$(pwd)/.venv/bin:$PATH"
cem db upgrade
cem demo
exec cem serve
