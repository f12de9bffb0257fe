#!/usr/bin/env bash
# uasyncd over HTTP with wrk on loopback, 64 connections, each figure printed next to its target:
#   submit of {"sleep_ms": 0} tasks, sustained (>= 15,000/s, p99 <= 10 ms)
#   GET of one finished task (>= 20,000/s), and of a running one for comparison
#   submit -> running latency p99, from the API's created/started timestamps (<= 1 ms)
#   RSS per retained finished task, 100k tasks (<= 1 KB)
#
# Usage: bench/daemon_bench.sh [uasyncd binary] [submit seconds=30]
# Environment: LOG_LEVEL (default info, the daemon's default; the log goes to a file),
# HTTP_THREADS (default: the daemon's), CONNS (64), WRK_THREADS (2), RSS_TASKS (100000).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/await-port.sh
. "$here/../scripts/lib/await-port.sh"
bin=${1:-$here/../build/release/server/uasyncd}
secs=${2:-30}
conns=${CONNS:-64}
wrk_threads=${WRK_THREADS:-2}
rss_tasks=${RSS_TASKS:-100000}
log_level=${LOG_LEVEL:-info}
command -v wrk >/dev/null || { echo "wrk is missing: bash scripts/install-deps.sh" >&2; exit 1; }
[ -x "$bin" ] || { echo "no daemon at $bin: build the uasyncd target first" >&2; exit 1; }

work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a fresh daemon on an ephemeral port with extra flags; sets pid and port.
start_daemon() {
  local extra=("$@")
  [ -n "${HTTP_THREADS:-}" ] && extra+=(--http-threads "$HTTP_THREADS")
  "$bin" --listen 127.0.0.1:0 --ephemeral --log-level "$log_level" "${extra[@]}" \
    >"$work/daemon.log" 2>&1 &
  pid=$!
  port=$(await_port "$work/daemon.log" "$pid") || {
    echo "the daemon did not start" >&2
    exit 1
  }
}

stop_daemon() {
  kill "$pid"
  wait "$pid" || true
  pid=""
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
field() { grep '^RESULT' | grep -o " $1=[^ ]*" | head -1 | cut -d= -f2; }
# verdict VALUE OP TARGET -> "ok" or "MISSED"
verdict() { awk -v v="$1" -v t="$3" -v op="$2" \
  'BEGIN { ok = (op == ">=") ? (v >= t) : (v <= t); print ok ? "ok" : "MISSED" }'; }

echo "uasyncd $("$bin" --version) | $(nproc) cores | wrk -t$wrk_threads -c$conns | log level $log_level"

start_daemon
wrk -t"$wrk_threads" -c"$conns" -d2s -s "$here/daemon/submit.lua" "http://127.0.0.1:$port/api/tasks" \
  >/dev/null  # warm-up
out=$(wrk -t"$wrk_threads" -c"$conns" -d"${secs}s" --timeout 10s -s "$here/daemon/submit.lua" \
  "http://127.0.0.1:$port/api/tasks")
s_rps=$(field rps <<<"$out"); s_p99=$(field p99_ms <<<"$out"); s_err=$(field errors <<<"$out")
printf '%-34s %10s/s   p99 %6s ms   errors %s   target >= 15000/s, p99 <= 10 ms: %s, %s\n' \
  "submit {\"sleep_ms\": 0} (${secs}s)" "$s_rps" "$s_p99" "$s_err" \
  "$(verdict "$s_rps" ">=" 15000)" "$(verdict "$s_p99" "<=" 10)"

# Submits SPEC and measures GETs of that task for 10 s: get_bench SPEC LABEL [TARGET-RPS].
get_bench() {
  local id out rps note="(no target)"
  id=$(curl -s -X POST -H 'Content-Type: application/json' -d "$1" \
    "http://127.0.0.1:$port/api/tasks" | grep -o '"id":"t[0-9]*"' | head -1 | cut -d'"' -f4)
  out=$(wrk -t"$wrk_threads" -c"$conns" -d10s -s "$here/daemon/get.lua" \
    "http://127.0.0.1:$port/api/tasks/$id")
  rps=$(field rps <<<"$out")
  [ -n "${3:-}" ] && note="target >= $3/s: $(verdict "$rps" ">=" "$3")"
  printf '%-34s %10s/s   p99 %6s ms   errors %s   %s\n' "GET $2 /api/tasks/$id (10s)" "$rps" \
    "$(field p99_ms <<<"$out")" "$(field errors <<<"$out")" "$note"
}
get_bench '{"value": 42}' finished 20000
# A running task is not in the read cache: each GET is a round trip through the loop thread.
get_bench '{"sleep": 3600}' running

out=$(wrk -t"$wrk_threads" -c"$conns" -d10s -s "$here/daemon/submit_to_running.lua" \
  "http://127.0.0.1:$port/api/tasks")
l_p99=$(field p99_ms <<<"$out"); l_max=$(field max_ms <<<"$out"); l_n=$(field tasks <<<"$out")
printf '%-34s %10s ms  (max %s ms, %s tasks, 1 ms resolution)   target <= 1 ms: %s\n' \
  "submit -> running p99 (under load)" "$l_p99" "$l_max" "$l_n" "$(verdict "$l_p99" "<=" 1)"
stop_daemon

# RSS: a fresh daemon keeping every finished task; a small warm-up first so that the libraries'
# and the allocator's one-time costs are not charged to the tasks.
start_daemon --keep-finished $((rss_tasks * 2))
python3 "$here/daemon/submit_n.py" "$port" 1000 >/dev/null
before=$(rss_kb "$pid")
python3 "$here/daemon/submit_n.py" "$port" "$rss_tasks"
after=$(rss_kb "$pid")
retained=$(curl -s "http://127.0.0.1:$port/api/stats" | sed -n 's/.*"retained":\([0-9]*\).*/\1/p')
per=$(awk -v b="$before" -v a="$after" -v n="$rss_tasks" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
printf '%-34s %10s B   (VmRSS %s -> %s kB, %s retained)   target <= 1024 B: %s\n' \
  "RSS per retained finished task" "$per" "$before" "$after" "$retained" \
  "$(verdict "$per" "<=" 1024)"
stop_daemon
