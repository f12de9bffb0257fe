#!/usr/bin/env bash
# Submits per second with the durable stores (the SQLite file; PostgreSQL, a local server started
# here with fsync on, over its Unix socket) against --ephemeral, in one run: the same release
# build of uasyncd, the same client (64 keep-alive connections, {"sleep_ms": 0} tasks).
#   bench/durable_bench.sh [BUILD_DIR] [SECONDS]
# BUILD_DIR holds a RelWithDebInfo build of the uasyncd target (default build/rel). cpp-httplib
# serves one keep-alive connection per worker thread, so the daemon gets 64 of them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/await-port.sh
. "$root/scripts/lib/await-port.sh"
build=${1:-$root/build/rel}
seconds=${2:-10}
daemon=$build/server/uasyncd
work=$(mktemp -d "${TMPDIR:-/tmp}/durable-bench-XXXXXX")
# The server's own directory: its user (postgres, when run as root) cannot enter $work.
pg=$(mktemp -d "${TMPDIR:-/tmp}/durable-bench-pg-XXXXXX")
trap 'kill $pid 2>/dev/null || true; bash "$root/tests/support/pg-test-server.sh" stop "$pg"; rm -rf "$work"' EXIT
client=$work/submit_client
# shellcheck disable=SC2046
g++ -std=c++20 -O2 -o "$client" "$root/bench/submit_client.cpp" $(pkg-config --cflags --libs cpp-httplib) -pthread

run() {  # mode, extra daemon flags...
  local mode=$1
  shift
  "$daemon" --listen 127.0.0.1:0 --log-level warn --keep-finished 1000000 --http-threads 64 "$@" >"$work/$mode.log" 2>&1 &
  pid=$!
  local port
  port=$(await_port "$work/$mode.log" "$pid") || exit 1
  local result
  result=$("$client" "$port" 64 "$seconds")
  kill -TERM $pid
  wait $pid || true
  echo "{\"mode\": \"$mode\", \"result\": $result}"
}

run ephemeral --ephemeral
run durable_full --data-dir "$work/full"
run durable_normal --data-dir "$work/normal" --sync normal
PG_TEST_FSYNC=on bash "$root/tests/support/pg-test-server.sh" start "$pg" >/dev/null
psql -q "host=$pg user=uasyncd dbname=postgres" -c "CREATE DATABASE bench_full" -c "CREATE DATABASE bench_normal"
run postgres_full --database-url "host=$pg user=uasyncd dbname=bench_full"
run postgres_normal --database-url "host=$pg user=uasyncd dbname=bench_normal" --sync normal
