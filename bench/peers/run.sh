#!/usr/bin/env bash
# The peer benchmark of issue 15: uasyncd (durable --sync full, and --ephemeral) against BullMQ on
# Redis (defaults, and appendfsync always) and Celery on Redis, the same workloads interleaved,
# printing medians, ranges, ratios, the load at each cell, server CPU per job, the disk's fsync
# latency and issue 15's targets. Takes half an hour to two hours (1 h 47 min at load 15-20 on 2
# cores); --quick (small counts, one round) checks that the harness works (1-6 minutes).
#   bash bench/peers/run.sh [--build DIR] [--rounds N] [--quick] [--workloads a,b] [--systems a,b]
#                           [--markdown FILE] [--keep-logs] [--work-dir DIR]
# DIR (default build/release) is configured as a RelWithDebInfo build if it is not one yet; the
# uasyncd and peer_uasyncd_client targets are built in it. Everything else it needs comes from
# scripts/install-deps.sh (redis-server, python3-celery, ...) and npm (bench/peers/package.json).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build/release
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$(realpath -m "$2"); shift 2 ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v node >/dev/null && command -v npm >/dev/null || missing+=(node/npm)
/usr/bin/python3 -c 'import celery, redis, eventlet' 2>/dev/null || missing+=("python3-celery python3-redis python3-eventlet")
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing: ${missing[*]}: run bash scripts/install-deps.sh" >&2
  exit 1
fi

(cd "$root/bench/peers" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

if [ ! -f "$build/CMakeCache.txt" ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUASYNCD_BENCH=ON \
    "${launcher[@]}" >/dev/null
fi
cmake --build "$build" --target uasyncd peer_uasyncd_client >/dev/null

exec /usr/bin/python3 "$root/bench/peers/peers.py" --build "$build" "${args[@]}"
