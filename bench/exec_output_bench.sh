#!/usr/bin/env bash
# Write amplification of exec output (issue 10): the real daemon (SQLite, --sync full) runs one
# task of STEPS exec steps that each print BYTES bytes (default 40 x 2 MiB), one after the other;
# printed: the bytes the daemon process had written to storage (/proc/PID/io write_bytes, from
# just before the submit to a second after the task's end, so its last commit is in) next to the
# target, and the database file's size. The daemon keeps up to 1 MiB of each stream (kOutputCap),
# so the output stored is about half of what the steps print.
#   bash bench/exec_output_bench.sh [DAEMON] [STEPS] [BYTES]
# DAEMON: a uasyncd binary (default build/release/server/uasyncd: the README's build). Takes a
# few seconds; the daemon and its directory are removed on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/await-port.sh
. "$root/scripts/lib/await-port.sh"
daemon=${1:-$root/build/release/server/uasyncd}
steps=${2:-40}
bytes=${3:-2097152}
if [ ! -x "$daemon" ]; then
  echo "no daemon at $daemon: build it (cmake --build build/release --target uasyncd) or name one" >&2
  exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/exec-output-bench-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

"$daemon" --listen 127.0.0.1:0 --log-level warn --allow-exec --data-dir "$work/data" \
  >"$work/daemon.log" 2>&1 &
pid=$!
port=$(await_port "$work/daemon.log" "$pid")
url=http://127.0.0.1:$port

step="{\"exec\": [\"sh\", \"-c\", \"head -c $bytes /dev/zero | tr '\\\\\\\\0' a\"]}"
spec="{\"name\": \"exec-output-bench\", \"sequence\": ["
for i in $(seq "$steps"); do
  [ "$i" -gt 1 ] && spec+=", "
  spec+=$step
done
spec+="]}"

written() { sed -n 's/^write_bytes: //p' "/proc/$pid/io"; }
before=$(written)
start=$(date +%s.%N)
id=$(curl -sf --json "$spec" "$url/api/tasks" | sed -n 's/.*"id":"\(t[0-9]*\)".*/\1/p')
state=$(curl -sf "$url/api/tasks/$id/wait?timeout=600" | sed -n 's/.*"state":"\([a-z_]*\)".*/\1/p')
end=$(date +%s.%N)
sleep 1
after=$(written)
printed=$(curl -sf "$url/api/tasks/$id/output" | python3 -c '
import json, sys
steps = json.load(sys.stdin)["steps"]
print(sum(s["stdout_bytes"] for s in steps), sum(len(s["stdout"]) for s in steps))')
kill -TERM "$pid"
wait "$pid" || true
pid=""
db=$(stat -c %s "$work/data/uasyncd.db")
wal=$(stat -c %s "$work/data/uasyncd.db-wal" 2>/dev/null || echo 0)

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
read -r total kept <<<"$printed"
echo "task $id: $steps exec steps x $bytes bytes, $state in $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }') s"
echo "printed by the steps:      $(mib "$total") (stdout bytes)"
echo "kept (up to 1 MiB/stream): $(mib "$kept")"
echo "daemon write_bytes:        $(mib $((after - before)))   target: about the output size (80 MiB), was 1,115 MiB"
echo "database file:             $(mib "$db") (+ WAL $(mib "$wal") after the daemon stopped)"
