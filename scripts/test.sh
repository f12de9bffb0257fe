#!/usr/bin/env bash
# Installs what the project needs, then builds and runs every test: a normal build with
# -Werror, the whole suite again under AddressSanitizer+UndefinedBehaviorSanitizer, and the
# threaded tests under ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

jobs=$(nproc)
build_and_test() {
  local dir=$1 label=$2
  shift 2
  cmake -S . -B "$dir" -G Ninja -DUASYNCD_BENCH=OFF "$@"
  cmake --build "$dir" -j "$jobs"
  echo "== ctest: $dir"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" $label)
}

build_and_test build/release "" -DCMAKE_BUILD_TYPE=RelWithDebInfo
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  build_and_test build/asan "" -DCMAKE_BUILD_TYPE=Debug -DUASYNCD_SANITIZE=address,undefined
TSAN_OPTIONS=halt_on_error=1 \
  build_and_test build/tsan "-L threaded" -DCMAKE_BUILD_TYPE=Debug -DUASYNCD_SANITIZE=thread
