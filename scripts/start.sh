#!/usr/bin/env bash
# Set up cem in .venv, build the demo workspace on the embedded SQLite default, and serve on 127.0.0.1:8000.
# Arguments go to `cem demo` (e.g. `--data /path/to/shared/data`, `--reset` for a new admin password).
# The public data is looked up in --data, $CEM_SHARED_DATA_DIR, <repo>/../shared/data, ../shared/data and
# ./shared/data (relative to the repo); without it a smaller synthetic demo is built.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$(pwd)/.venv/bin:$PATH"
cem db upgrade
cem demo "$@"
echo "Starting the web app and API on http://${CEM_HOST:-127.0.0.1}:${CEM_PORT:-8000} (Ctrl-C to stop) ..."
exec cem serve
