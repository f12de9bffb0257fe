#!/usr/bin/env bash
# TCP echo, 64 connections, small messages: requests per second of uasyncio's start_server
# against CPython asyncio and uvloop echo servers, all driven by the same epoll client.
# Also prints each server's CPU time per request (from /proc): on a busy machine, where the
# servers compete with the client and other work for cores, that is the steadier comparison.
#
# Usage: bench/run_echo.sh [build_dir] [conns=64] [msg_bytes=64] [seconds=3]
# build_dir must hold a Release build of the echo_server and echo_client targets.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build/release}
conns=${2:-64}
msg=${3:-64}
secs=${4:-3}
python=/usr/bin/python3
client=$build/bench/echo_client

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Starts a server command in the background, reads its "PORT n" line, runs the client on it.
# Prints "<requests per second> <server CPU microseconds per request>".
measure() {
  local out port="" pid rps before after
  out=$(mktemp)
  "$@" >"$out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    port=$(awk '/^PORT/ {print $2}' "$out")
    [ -n "$port" ] && break
    sleep 0.05
  done
  if [ -z "$port" ]; then
    echo "server did not start: $*" >&2
    cat "$out" >&2
    kill "$pid" 2>/dev/null || true
    return 1
  fi
  before=$(cpu_ticks "$pid")
  rps=$("$client" "$port" "$conns" "$msg" "$secs" 0.5 | awk '/^RPS/ {print $2}')
  after=$(cpu_ticks "$pid")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$out"
  # CPU ticks span warm-up and measurement alike: divide by the requests of both (approximately).
  awk -v r="$rps" -v t="$((after - before))" -v s="$secs" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%s %.2f\n", r, t * 1e6 / hz / (r * (s + 0.5)) }'
}

read -r ours ours_cpu < <(measure "$build/bench/echo_server")
read -r uvloop uvloop_cpu < <(measure "$python" "$here/echo_server.py" --uvloop)
read -r asyncio asyncio_cpu < <(measure "$python" "$here/echo_server.py")

printf 'TCP echo: %s connections, %s-byte messages, %ss each (load average: %s)\n' "$conns" "$msg" \
  "$secs" "$(cut -d' ' -f1 /proc/loadavg)"
printf '  %-22s %10s req/s %8s us CPU/req\n' "uasyncio start_server" "$ours" "$ours_cpu" \
  "uvloop (python3)" "$uvloop" "$uvloop_cpu" "asyncio (python3)" "$asyncio" "$asyncio_cpu"
awk -v o="$ours" -v u="$uvloop" -v a="$asyncio" -v oc="$ours_cpu" -v uc="$uvloop_cpu" \
  -v ac="$asyncio_cpu" 'BEGIN {
  printf "  vs uvloop:  %.2fx req/s, %.2fx less CPU per request   (target >= 1.5x)\n", o / u, uc / oc
  printf "  vs asyncio: %.2fx req/s, %.2fx less CPU per request\n", o / a, ac / oc
}'
