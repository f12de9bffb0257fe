#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan, build/fuzz) and runs each for SECONDS
# (default 60) from its seed corpus in tests/fuzz/corpus/<target>; what a run finds is kept in
# build/fuzz/corpus/<target> and the next run starts from it too. A crash, leak, timeout or
# out-of-memory stops the script with the input saved as build/fuzz/artifacts/<target>-*.
#   scripts/fuzz.sh [SECONDS]
# Environment: UASYNCD_FUZZ_JOBS (compile jobs, default all cores), UASYNCD_FUZZ_TARGETS (default
# "spec job_row http").
set -euo pipefail

seconds=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/fuzz
targets=${UASYNCD_FUZZ_TARGETS:-spec job_row http}

launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# -O1 with line tables only (as libFuzzer's documentation builds): reports keep function, file
# and line, and the build (the whole daemon, for the http target) is lighter than at -O2 -g; a
# unity build (sources in batches) lighter still.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
  -DCMAKE_CXX_COMPILER=clang++ -DUASYNCD_FUZZ=ON -DUASYNCD_BENCH=OFF -DCMAKE_UNITY_BUILD=ON \
  "${launcher[@]}" >/dev/null
cmake --build "$build" --target fuzzers -j "${UASYNCD_FUZZ_JOBS:-$(nproc)}"

mkdir -p "$build/artifacts"
# The targets run side by side (libFuzzer is single-threaded): each still gets SECONDS, and the
# script takes SECONDS, not SECONDS times the number of targets.
fuzz() {
  local target=$1 corpus=$build/corpus/$1
  mkdir -p "$corpus"
  # -timeout: one input may take at most 10 s; -rss_limit_mb: bounded memory, as for the daemon.
  "$build/tests/fuzz/${target}_fuzzer" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" \
    "$corpus" "$root/tests/fuzz/corpus/$target" >"$build/$target.log" 2>&1
}
declare -A pids
for target in $targets; do
  fuzz "$target" &
  pids[$target]=$!
done
status=0
for target in $targets; do
  log=$build/$target.log
  if wait "${pids[$target]}"; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz $target: ${runs:-?} executions in ${seconds} s, no crash"
  else
    echo "fuzz $target: FAILED (log $log)"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' "$log" || tail -20 "$log"
    status=1
  fi
done
exit $status
