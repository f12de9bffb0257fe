#!/usr/bin/env bash
# next_fire of the schedules of issue 16 next to Python's croniter, in one command:
#   bash bench/run_schedule.sh [build-dir]
# Builds bench/schedule_bench (Release, -O2) in build-dir (default build/h-bench), runs it, runs
# the same cases in croniter (/usr/bin/python3, Debian's python3-croniter) and prints ns per
# next fire, the ratio and the target. Raw JSON is kept in <build-dir>/bench-results/.
# Environment: SECONDS_PER_CASE (croniter's time per case, default 0.5).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-build/h-bench}
out=$build/bench-results
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DUASYNCD_SANITIZE= -DUASYNCD_BENCH=ON >/dev/null
cmake --build "$build" -j 2 --target schedule_bench >/dev/null
mkdir -p "$out"
"$build/bench/schedule_bench" --benchmark_min_time=0.2 --benchmark_format=json \
  >"$out/schedule.json" 2>/dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 bench/schedule_report.py "$out/schedule.json"
