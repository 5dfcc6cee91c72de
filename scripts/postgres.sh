#!/usr/bin/env bash
# A local PostgreSQL server for dflab: `scripts/postgres.sh start|stop|url`.
#
#   start  initialises a cluster under $DFLAB_PG_DIR (default: .pg/ in the repository) on the first run, starts it
#          on 127.0.0.1:$DFLAB_PG_PORT (default 54329) and prints one line: DFLAB_DATABASE_URL=postgresql://...
#   stop   stops it (the data stays; `rm -rf .pg` forgets it)
#   url    prints the DFLAB_DATABASE_URL line without starting anything
#
# initdb and the server refuse to run as root, so as root they run as the `postgres` user (runuser); as anyone
# else they run directly. Authentication is `trust` and the server listens on loopback only: a development and
# test database, never a production one. Binaries: Debian's `postgresql` package (/usr/lib/postgresql/N/bin),
# or $DFLAB_PG_BIN.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${DFLAB_PG_DIR:-$ROOT/.pg}"
PORT="${DFLAB_PG_PORT:-54329}"
USER_NAME=dflab
DB_NAME=dflab
URL="postgresql://$USER_NAME@127.0.0.1:$PORT/$DB_NAME"

find_bin() {
  if [ -n "${DFLAB_PG_BIN:-}" ]; then echo "$DFLAB_PG_BIN"; return; fi
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$newest" ]; then echo "$newest"; return; fi
  command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)"
}

BIN="$(find_bin || true)"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  echo "error: PostgreSQL server binaries not found (apt-get install postgresql, or set DFLAB_PG_BIN)" >&2
  exit 2
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  mkdir -p "$DIR"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$DIR"
    chmod 700 "$DIR"
  fi
  if [ ! -f "$DIR/PG_VERSION" ]; then
    as_owner "$BIN/initdb" -D "$DIR" -A trust -U "$USER_NAME" -E UTF8 --no-instructions >"$DIR.initdb.log" 2>&1 || {
      cat "$DIR.initdb.log" >&2; echo "error: initdb failed in $DIR" >&2; exit 2; }
    rm -f "$DIR.initdb.log"
  fi
  if ! as_owner "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
    # fsync stays on: the ledger's durability tests kill writers, and a test server should behave like a real one.
    as_owner "$BIN/pg_ctl" -D "$DIR" -w -t 60 -l "$DIR/log" \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null || {
      tail -n 20 "$DIR/log" >&2; echo "error: the PostgreSQL server in $DIR did not start" >&2; exit 2; }
  fi
  if ! as_owner "$BIN/psql" -h "$DIR" -p "$PORT" -U "$USER_NAME" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
    as_owner "$BIN/createdb" -h "$DIR" -p "$PORT" -U "$USER_NAME" "$DB_NAME"
  fi
  echo "DFLAB_DATABASE_URL=$URL"
}

stop() {
  if [ -f "$DIR/PG_VERSION" ] && as_owner "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
    as_owner "$BIN/pg_ctl" -D "$DIR" -w -m fast stop >/dev/null
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "DFLAB_DATABASE_URL=$URL" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
