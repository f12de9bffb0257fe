#!/usr/bin/env bash
# The scheduler-core benchmarks of issue 2, C++ next to CPython asyncio, in one command:
#   bash bench/run_core.sh [build-dir]
# Builds bench/core_bench (Release, -O2, no sanitizers) in build-dir (default build/h-bench),
# runs each workload in fresh processes (so each process's first run is cold and its RSS growth
# is its own), runs the same workloads with /usr/bin/python3 (bench/asyncio_core.py), and prints
# every figure, its target and the ratio C++ vs CPython. Raw JSON is kept in
# <build-dir>/bench-results/.
#
# Environment: COLD_RUNS (fresh C++ processes per workload, default 3; the median is reported),
# SKIP_PYTHON=1 (reuse the last CPython results), PY_SWITCHES (sleep(0) switches in CPython (d)),
# BENCH_NICE=-20 (run the measured processes at that priority, as root, when other jobs load the
# machine; the report prints the load average either way).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-build/h-bench}
out=$build/bench-results
cold_runs=${COLD_RUNS:-3}
run=()
[ -n "${BENCH_NICE:-}" ] && run=(nice -n "$BENCH_NICE")

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DUASYNCD_SANITIZE= -DUASYNCD_BENCH=ON >/dev/null
cmake --build "$build" -j 2 --target core_bench >/dev/null
mkdir -p "$out"

for w in a b c d; do
  echo "== C++ workload ($w), $cold_runs fresh processes" >&2
  for i in $(seq 1 "$cold_runs"); do
    # The first process also times warm runs (Google Benchmark's iterations); the others only
    # need their first, cold run.
    min_time=0.5
    [ "$i" -gt 1 ] && min_time=0.001
    "${run[@]}" "$build/bench/core_bench" --benchmark_filter="^BM_${w}_" --benchmark_min_time=$min_time \
      --benchmark_format=json >"$out/cpp_${w}_$i.json" 2>/dev/null
  done
done

if [ "${SKIP_PYTHON:-0}" != 1 ] || [ ! -s "$out/cpython.jsonl" ]; then
  echo "== CPython asyncio (takes ~30 s)" >&2
  "${run[@]}" /usr/bin/python3 bench/asyncio_core.py --switches "${PY_SWITCHES:-400000}" >"$out/cpython.jsonl"
fi

/usr/bin/python3 bench/core_report.py "$out" "$cold_runs"
