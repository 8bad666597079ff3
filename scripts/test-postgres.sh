#!/usr/bin/env bash
# `make test-postgres`: run the decision-log tests against a throwaway local PostgreSQL.
#
# Installs Debian's postgresql package if no server binaries are found, creates a cluster
# under var/postgres (or $PGDATA_DIR), listens on 127.0.0.1:${PGPORT:-55433} only, runs the
# store tests with TIAOKUAI_DATABASE_URL pointing at it, and always stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PGPORT:-55433}"
DATA="${PGDATA_DIR:-$PWD/var/postgres}"
PYTEST="${PYTEST:-.venv/bin/pytest}"
TESTS=(tests/engine/log/test_store.py tests/engine/cases/test_store.py tests/api/http/test_decision_log_api.py tests/engine/test_replay.py tests/api/cli/test_audit.py)

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
BIN="$(find_bin)"
if [ -z "$BIN" ]; then
  echo "installing PostgreSQL (Debian package postgresql)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  BIN="$(find_bin)"
fi

# initdb and postgres refuse to run as root: run them as the package's `postgres` user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

rm -rf "$DATA"
mkdir -p "$DATA"
if [ "$(id -u)" = 0 ]; then chown postgres: "$DATA"; fi
as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
stop() { as_owner "$BIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true; rm -rf "$DATA"; }
trap stop EXIT
as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c fsync=on" start >/dev/null
"$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres tiaokuai_test

export TIAOKUAI_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/tiaokuai_test"
echo "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT"
"$PYTEST" -p no:cacheprovider "${TESTS[@]}" "$@"
