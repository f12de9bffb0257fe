#!/usr/bin/env bash
# shellcheck disable=SC2046,SC2207  # pid lists (pgrep, pg_pids) are split on purpose
# Cluster mode (issue 17): 3 uasyncd instances on one PostgreSQL (a local server started here,
# fsync on, Unix socket), each figure printed next to its target:
#   submitted-and-finished {"sleep_ms": 0} tasks/s, 64 connections spread over the 3 instances
#     (tasks whose finished_ms falls in the window, read from the database), and the submit p99
#   one instance on PostgreSQL against one on SQLite (--sync full), same client, same window
#   remote cancel: 202 from instance B -> the exec'd process gone on A (cluster_probe cancel)
#   remote dashboard event: a transition on A -> its event on C's GET /api/events stream, 100
#     {"sleep_ms": 20} tasks submitted one at a time (cluster_probe events)
#   fail-over after kill -9 with --lease-ttl 2: the dead instance's tasks running again on another
#     (cluster_probe failover); and, for information, after SIGSTOP (only the lease can expire)
#   duplicate executions, read from the database
# Takes about 1.5-2 minutes; everything it starts (Postgres, daemons) is stopped and its temporary
# directories deleted on exit.
#   bash bench/cluster_bench.sh [BUILD_DIR] [SECONDS] [WARMUP_SECONDS]
# BUILD_DIR (default build/rel-o3) is a Release build configured with -DUASYNCD_BENCH=ON; the
# targets uasyncd, submit_client and cluster_probe are built in it first (under the shared build
# lock; NO_BUILD=1 skips that). CONNS (64), CANCELS (50), EVENT_TASKS (100), LEASE_TTL (2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/await-port.sh
. "$root/scripts/lib/await-port.sh"
build=$(realpath -m "${1:-$root/build/rel-o3}")
seconds=${2:-10}
warmup=${3:-2}
conns=${CONNS:-64}
cancels=${CANCELS:-50}
event_tasks=${EVENT_TASKS:-100}
ttl=${LEASE_TTL:-2}
daemon=$build/server/uasyncd
client=$build/bench/submit_client
probe=$build/bench/cluster_probe

if [ "${NO_BUILD:-0}" != 1 ]; then
  flock /tmp/uasyncd-build.lock cmake --build "$build" --target uasyncd submit_client cluster_probe \
    >/dev/null
fi
for f in "$daemon" "$client" "$probe"; do
  [ -x "$f" ] || { echo "missing $f: build uasyncd submit_client cluster_probe in $build" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/cluster-bench-XXXXXX")
# The server's own directory: its user (postgres, when run as root) cannot enter $work.
pg=$(mktemp -d "${TMPDIR:-/tmp}/cluster-bench-pg-XXXXXX")
declare -A pid port logs
starts=0
extra_pids=()  # the daemons' children (exec supervisor), so that none outlives the run
# The daemons are not this shell's children: a dead one stays a zombie until init reaps it.
alive() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}
cleanup() {
  set +e
  for n in "${!pid[@]}"; do
    kill -CONT "${pid[$n]}" 2>/dev/null
    kill -TERM "${pid[$n]}" 2>/dev/null
  done
  for n in "${!pid[@]}"; do
    for _ in $(seq 50); do alive "${pid[$n]}" || break; sleep 0.1; done
    kill -KILL "${pid[$n]}" 2>/dev/null
  done
  for p in "${extra_pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  bash "$root/tests/support/pg-test-server.sh" stop "$pg" >/dev/null 2>&1
  if [ -n "${KEEP_LOGS:-}" ]; then mkdir -p "$KEEP_LOGS" && cp "$work"/*.log "$KEEP_LOGS"/; fi
  rm -rf "$work" "$pg"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME FLAGS...: a daemon on an ephemeral port; sets pid[NAME] and port[NAME].
start() {
  local name=$1
  shift
  mkdir -p "$work/$name"
  starts=$((starts + 1))
  local log=$work/$starts-$name.log  # one per start: a restarted instance is a new one
  logs[$name]=$log
  : >"$log"
  # Started from a subshell: not this shell's job, so a kill -9 prints no "Killed" notice here.
  pid[$name]=$(
    "$daemon" --listen 127.0.0.1:0 --log-level warn --keep-finished 1000000 --http-threads "$conns" \
      --allow-exec --data-dir "$work/$name" "$@" >"$log" 2>&1 </dev/null &
    echo $!
  )
  port[$name]=$(await_port "$log" "${pid[$name]}") || {
    echo "instance $name did not start" >&2
    exit 1
  }
  sleep 0.2  # its exec supervisor
  extra_pids+=($(pgrep -P "${pid[$name]}" || true))
}
gone() {  # NAME: waits (up to 30 s) until the instance's process has exited
  for _ in $(seq 600); do alive "${pid[$1]}" || break; sleep 0.05; done
  unset "pid[$1]"
}
stop() {
  kill -TERM "${pid[$1]}"
  gone "$1"
}
cluster() {  # NAME: a cluster member on the database "cluster"
  start "$1" --database-url "host=$pg user=uasyncd dbname=cluster" --lease-ttl "$ttl" \
    --instance-name "$1"
}
q() { psql -Atq "host=$pg user=uasyncd dbname=$1" -c "$2"; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
# verdict VALUE OP TARGET -> "met" or "MISSED"
verdict() { awk -v v="$1" -v t="$3" -v op="$2" \
  'BEGIN { ok = (op == ">=") ? (v >= t) : (v <= t); print ok ? "met" : "MISSED" }'; }
final="state NOT IN ('scheduled', 'pending', 'running')"
# finished_in DB-KIND WHERE START_MS END_MS: tasks finished in [START, END)
finished_in() {
  local sql="SELECT count(*) FROM $2 WHERE finished_ms >= $3 AND finished_ms < $4 AND $final"
  if [ "$1" = sqlite ]; then sqlite3 "$work/sqlite/uasyncd.db" "$sql"; else q "$1" "$sql"; fi
}
# CPU time (clock ticks: utime + stime + those of reaped children) of PIDS..., summed.
cpu_of() {
  for p in "$@"; do awk '{ sub(/.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$p/stat" 2>/dev/null; done |
    awk '{ s += $1 } END { print s + 0 }'
}
pg_pids() {  # the server and its backends
  local master
  master=$(head -1 "$pg/data/postmaster.pid")
  echo "$master" $(pgrep -P "$master")
}
# load PORTS DB DAEMON-PIDS...: runs the client; sets result, fin (finished in the window),
# fin_rate, and cpu: "daemon D us + postgres P us" per task (CPU over the whole run, warm-up
# included, divided by the 201 answers of the whole run).
load() {
  local ports=$1 db=$2 d0 p0=0 d1 p1=0 ws we tick
  shift 2
  tick=$(getconf CLK_TCK)
  d0=$(cpu_of "$@")
  [ "$db" != sqlite ] && p0=$(cpu_of $(pg_pids))
  result=$("$client" "$ports" "$conns" "$seconds" "$warmup")
  d1=$(cpu_of "$@")
  [ "$db" != sqlite ] && p1=$(cpu_of $(pg_pids))
  cpu=$(awk -v d="$((d1 - d0))" -v p="$((p1 - p0))" -v n="$(field "$result" created_all)" -v t="$tick" \
    'BEGIN { printf "daemon %.0f us + postgres %.0f us", d * 1e6 / t / n, p * 1e6 / t / n }')
  ws=$(field "$result" window_start_ms)
  we=$(field "$result" window_end_ms)
  if [ "$db" = sqlite ]; then
    fin=$(finished_in sqlite tasks "$ws" "$we")
  else
    fin=$(finished_in "$db" uasyncd_tasks "$ws" "$we")
  fi
  fin_rate=$(awk -v n="$fin" -v a="$ws" -v b="$we" 'BEGIN { printf "%.0f", n * 1000 / (b - a) }')
}
live() { q "$1" "SELECT count(*) FROM uasyncd_tasks WHERE NOT ($final)"; }

echo "uasyncd $("$daemon" --version) ($build) | $(nproc) cores | $(uptime | sed 's/.*load/load/')"
echo "client: $conns keep-alive connections submitting {\"sleep_ms\": 0}, ${warmup} s warm-up, ${seconds} s window"
PG_TEST_FSYNC=on bash "$root/tests/support/pg-test-server.sh" start "$pg" >/dev/null
psql -q "host=$pg user=uasyncd dbname=postgres" -c "CREATE DATABASE cluster"
echo "PostgreSQL $(psql -Atq "host=$pg user=uasyncd dbname=postgres" -c 'SHOW server_version') on a Unix socket, fsync $(psql -Atq "host=$pg user=uasyncd dbname=postgres" -c 'SHOW fsync'), synchronous_commit $(psql -Atq "host=$pg user=uasyncd dbname=postgres" -c 'SHOW synchronous_commit')"
echo

# --- one instance: SQLite (--sync full) then PostgreSQL --------------------------------------
# In the order SQLite, PostgreSQL, PostgreSQL, SQLite (the machine's speed drifts), each on a
# fresh store; the figure per mode is the sum of its two windows.
sq_n=0 sq_s=0 pg_n=0 pg_s=0 sq_runs=() pg_runs=() sq_cpu=() pg_cpu=()
one() {  # MODE ROUND
  if [ "$1" = sqlite ]; then
    rm -rf "$work/sqlite"
    start sqlite
    load "${port[sqlite]}" sqlite "${pid[sqlite]}"
    stop sqlite
    sq_n=$((sq_n + fin)) sq_s=$((sq_s + $(field "$result" created))) sq_runs+=("$fin_rate")
    sq_cpu+=("$cpu")
  else
    psql -q "host=$pg user=uasyncd dbname=postgres" -c "CREATE DATABASE single$2"
    start "single$2" --database-url "host=$pg user=uasyncd dbname=single$2"
    load "${port[single$2]}" "single$2" "${pid[single$2]}"
    stop "single$2"
    pg_n=$((pg_n + fin)) pg_s=$((pg_s + $(field "$result" created))) pg_runs+=("$fin_rate")
    pg_cpu+=("$cpu")
  fi
}
one sqlite 1
one postgres 1
one postgres 2
one sqlite 2
rate() { awk -v n="$1" -v s="$seconds" 'BEGIN { printf "%.0f", n / s / 2 }'; }
sq_fin=$(rate "$sq_n") sq_sub=$(rate "$sq_s") pg_fin=$(rate "$pg_n") pg_sub=$(rate "$pg_s")
ratio=$(awk -v a="$pg_fin" -v b="$sq_fin" 'BEGIN { printf "%.0f", (b > 0) ? 100 * a / b : 0 }')
printf '%-58s %s\n' "one instance, SQLite --sync full: finished/s (submits/s)" \
  "$sq_fin/s ($sq_sub/s; windows: ${sq_runs[*]})"
printf '%-58s %s\n' "one instance, PostgreSQL: finished/s (submits/s)" \
  "$pg_fin/s ($pg_sub/s; windows: ${pg_runs[*]})"
printf '%-58s %s   target >= 70%%: %s\n' "one instance, PostgreSQL / SQLite (finished/s)" "$ratio%" \
  "$(verdict "$ratio" ">=" 70)"
printf '  %-56s %s\n' "CPU per task, SQLite (2 windows)" "${sq_cpu[0]}; ${sq_cpu[1]}"
printf '  %-56s %s\n' "CPU per task, PostgreSQL (2 windows)" "${pg_cpu[0]}; ${pg_cpu[1]}"

# --- three instances --------------------------------------------------------------------------
cluster a
cluster b
cluster c
load "${port[a]},${port[b]},${port[c]}" cluster "${pid[a]}" "${pid[b]}" "${pid[c]}"
cl_created_all=$(field "$result" created_all)
cl_p99=$(field "$result" p99_ms)
printf '%-58s %s   target >= 3000/s (stretch 5000): %s%s\n' \
  "3 instances: submitted-and-finished tasks/s" "$fin_rate/s" "$(verdict "$fin_rate" ">=" 3000)" \
  "$([ "$(verdict "$fin_rate" ">=" 5000)" = met ] && echo ", stretch met" || echo ", stretch missed")"
printf '%-58s %s\n' "  submits/s (201 answers; others)" \
  "$(field "$result" per_second)/s; $(field "$result" other)"
printf '%-58s %s ms (p50 %s, max %s)   target <= 25 ms: %s\n' "3 instances: submit p99" \
  "$cl_p99" "$(field "$result" p50_ms)" "$(field "$result" max_ms)" "$(verdict "$cl_p99" "<=" 25)"
printf '  %-56s %s\n' "CPU per task (3 daemons; postgres)" "$cpu"
drain_start=$(date +%s.%N)
for _ in $(seq 300); do [ "$(live cluster)" = 0 ] && break; sleep 0.1; done
printf '%-58s %s\n' "  backlog at the window's end drained in" \
  "$(awk -v a="$drain_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }') ($(live cluster) live left)"
# Every finish is counted once by the instance that made it (finished_total is per instance): more
# finishes than final rows would mean a task finished twice.
fin_events=0
for n in a b c; do
  e=$(curl -s "127.0.0.1:${port[$n]}/api/stats" | python3 -c \
    'import json,sys; print(sum(json.load(sys.stdin)["finished_total"].values()))')
  fin_events=$((fin_events + e))
done
fin_rows=$(q cluster "SELECT count(*) FROM uasyncd_tasks WHERE $final")
tput_where="convert_from(spec, 'UTF8')::jsonb ? 'sleep_ms'"
tput_rows=$(q cluster "SELECT count(*) FROM uasyncd_tasks WHERE $tput_where")
tput_done=$(q cluster "SELECT count(*) FROM uasyncd_tasks WHERE $tput_where AND state = 'done'")

# --- remote cancel ----------------------------------------------------------------------------
out=$("$probe" cancel "${port[a]}" "${port[b]}" "$cancels")
c50=$(field "$out" p50_ms)
c99=$(field "$out" p99_ms)
printf '%-58s p50 %s ms, p99 %s ms (max %s; %s of %s (of %s asked) answered 202, %s not gone in 5 s)   target p50 <= 10, p99 <= 50: %s, %s\n' \
  "remote cancel: 202 on B -> process gone on A" "$c50" "$c99" "$(field "$out" max_ms)" \
  "$(field "$out" answered_202)" "$(field "$out" cancels)" "$cancels" "$(field "$out" not_gone_in_5s)" \
  "$(verdict "$c50" "<=" 10)" "$(verdict "$c99" "<=" 50)"

# --- remote dashboard event -------------------------------------------------------------------
# A stream open on C; tasks submitted one at a time to A; an event's latency is its arrival on C
# (wall clock) minus its "time" (A's wall clock of the transition; one machine, one clock).
out=$("$probe" events "${port[a]}" "${port[c]}" "$event_tasks")
e99=$(field "$out" p99_ms)
printf '%-58s p50 %s ms, p99 %s ms, max %s ms (%s of %s seen)   target p99 <= 100 ms: %s\n' \
  "remote dashboard event: finished on A -> event on C" "$(field "$out" p50_ms)" "$e99" \
  "$(field "$out" max_ms)" "$(field "$out" finished_seen)" "$(field "$out" tasks)" \
  "$(verdict "$e99" "<=" 100)"
printf '  %-56s p50 %s ms, p99 %s ms, max %s ms (%s of %s seen)\n' \
  "submit sent to A -> \"submitted\" event on C" "$(field "$out" submit_p50_ms)" \
  "$(field "$out" submit_p99_ms)" "$(field "$out" submit_max_ms)" "$(field "$out" submitted_seen)" \
  "$(field "$out" tasks)"
printf '  %-56s p50 %s ms, p99 %s ms, max %s ms (%s missing)\n' \
  "baseline: finished on A -> event on A's own stream" "$(field "$out" local_p50_ms)" \
  "$(field "$out" local_p99_ms)" "$(field "$out" local_max_ms)" "$(field "$out" local_missing)"
printf '  %-56s %s frames (%s with several events)\n' "C's stream during the probe" \
  "$(field "$out" frames)" "$(field "$out" frames_with_several)"

# --- fail-over --------------------------------------------------------------------------------
failovers=()
trial() {  # VICTIM WATCHER [STOP]
  local out how="kill -9 of"
  [ -n "${3:-}" ] && how="SIGSTOP of"
  out=$("$probe" failover "${pid[$1]}" "${port[$1]}" "${port[$2]}" 4 ${3:-})
  failovers+=("$(field "$out" last_s)")
  printf '  %-56s %s\n' "$how $1, watched through $2" \
    "first task running again after $(field "$out" first_s) s, all $(field "$out" running_again) of 4 after $(field "$out" last_s) s"
}
echo "fail-over (--lease-ttl $ttl), 4 {\"sleep\": 60, \"retries\": 1} tasks on the victim:"
trial a b
gone a
cluster a
trial b c
gone b
cluster b
trial c a
gone c
cluster c
worst=$(printf '%s\n' "${failovers[@]}" | sort -g | tail -1)
printf '%-58s %s s (trials: %s)   target <= 4 s: %s\n' "fail-over after kill -9: worst" "$worst" \
  "${failovers[*]}" "$(verdict "$worst" "<=" 4)"
# The lease path: a frozen instance keeps its connections (and advisory lock) open.
failovers=()
stopped_log=${logs[a]}
trial a b STOP
kill -CONT "${pid[a]}"
sleep 1
printf '%-58s %s s (for information: about ttl + 1-2 s expected)\n' "fail-over after SIGSTOP" \
  "${failovers[0]}"

# --- duplicates -------------------------------------------------------------------------------
for _ in $(seq 100); do [ "$(live cluster)" = 0 ] && break; sleep 0.1; done
failover_name="name = convert_to('failover', 'UTF8')"
dup=$(q cluster "SELECT count(*) FROM uasyncd_tasks WHERE attempts > 1 AND NOT ($failover_name)")
fo_bad=$(q cluster "SELECT count(*) FROM uasyncd_tasks WHERE $failover_name AND (attempts <> 2 OR state <> 'cancelled')")
fo_all=$(q cluster "SELECT count(*) FROM uasyncd_tasks WHERE $failover_name")
printf '%-58s %s   target 0: %s\n' "duplicate executions: tasks with attempts > 1" "$dup" \
  "$(verdict "$dup" "<=" 0)"
printf '  %-56s %s\n' "load tasks: 201 answers / rows / done" "$cl_created_all / $tput_rows / $tput_done"
printf '  %-56s %s\n' "finishes counted by the 3 instances / final rows" "$fin_events / $fin_rows"
printf '  %-56s %s\n' "fail-over tasks not (attempts 2, cancelled)" "$fo_bad of $fo_all"
printf '  %-56s %s\n' "live rows left" "$(live cluster)"
for log in "$work"/*.log; do
  w=$(grep -c -E '\[(warning|error|critical)\]' "$log" || true)
  if [ "$w" -gt 0 ]; then
    note=""
    [ "$log" = "$stopped_log" ] && note=" (the SIGSTOP victim: fencing itself is expected)"
    printf '  %-56s %s\n' "log $(basename "$log"): warnings/errors$note" "$w"
    grep -E '\[(warning|error|critical)\]' "$log" | head -3 | cut -c1-200 | sed 's/^/    /'
  fi
done

echo
echo "peer: none. The peers of bench/peers (BullMQ 6.7 on Redis, Celery 5.2 on Redis) submit through"
echo "  a client library speaking to Redis, not over HTTP to the workers, and the harness runs one"
echo "  worker process, so no peer measures \"tasks/s through HTTP on a shared store\": no ratio."
echo "load at the end: $(uptime | sed 's/.*load/load/')"
