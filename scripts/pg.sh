#!/usr/bin/env bash
# Start (or stop) a throwaway PostgreSQL 15 server for the tests on 127.0.0.1:$CEM_PG_PORT.
# PostgreSQL refuses to run as root, so the cluster belongs to the postgres user (or the current user).
set -euo pipefail
PGBIN=/usr/lib/postgresql/15/bin
PORT=${CEM_PG_PORT:-54329}
DIR=${CEM_PG_DIR:-/tmp/cem-pg-$PORT}
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then RUN_AS=(runuser -u postgres --); fi

case "${1:-start}" in
  start)
    rm -rf "$DIR"
    mkdir -p "$DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres "$DIR"
    "${RUN_AS[@]}" "$PGBIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    "${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
    echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/cem_test"
    ;;
  stop)
    "${RUN_AS[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    ;;
esac
