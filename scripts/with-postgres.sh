#!/usr/bin/env bash
# Run a command with a private, throwaway PostgreSQL for the decision-log tests.
#
# Used by `make test`: installs Debian's postgresql package when its server binaries are
# missing (and apt-get can), creates a cluster in a fresh directory under var/ (so parallel
# runs never share one), listens on 127.0.0.1 at a free port picked at random, exports
# TIAOKUAI_TEST_POSTGRES_URL for the command, and always stops and deletes the cluster.
# When no server can be had the command still runs, on SQLite only, after a visible notice.
set -uo pipefail
cd "$(dirname "$0")/.."

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

BIN="$(find_bin)"
if [ -z "$BIN" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing PostgreSQL (Debian package postgresql)"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq postgresql; } >/dev/null 2>&1
  BIN="$(find_bin)"
fi
if [ -z "$BIN" ]; then
  reason="no server binaries and no apt-get as root"
  echo "NOTICE: PostgreSQL is not available ($reason): the decision-log tests run on SQLite only" >&2
  exec "$@"
fi

mkdir -p var
DATA="$(mktemp -d "$PWD/var/pg-test.XXXXXX")"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = 0 ]; then chown postgres: "$DATA"; chmod o+x "$PWD/var"; fi
stop() { as_owner "$BIN/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1; rm -rf "$DATA"; }
trap stop EXIT
if ! as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$DATA.initdb.log" 2>&1; then
  echo "NOTICE: PostgreSQL is not available (initdb failed: $(tail -n 1 "$DATA.initdb.log")): the decision-log tests run on SQLite only" >&2
  rm -f "$DATA.initdb.log"
  "$@"; exit $?
fi
rm -f "$DATA.initdb.log"
if ! as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c max_connections=200 -c fsync=on" start >/dev/null; then
  echo "NOTICE: PostgreSQL is not available (the server did not start): the decision-log tests run on SQLite only" >&2
  "$@"; exit $?
fi
"$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres tiaokuai_test
export TIAOKUAI_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/tiaokuai_test"
echo "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (data in ${DATA#$PWD/})"
"$@"
