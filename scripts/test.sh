#!/usr/bin/env bash
# Installs what the project needs, lints the Dockerfile and docker-compose.yml, then builds and
# runs every test: a normal build with -Werror, the whole suite again under
# AddressSanitizer+UndefinedBehaviorSanitizer, and the threaded tests under ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage's time, printed at the end (and at a failure): the run must stay under 30 minutes.
stage_name="" stage_start=$SECONDS stage_times=""
stage() {
  [ -n "$stage_name" ] && stage_times+=$(printf '%6d s  %s' $((SECONDS - stage_start)) "$stage_name")$'\n'
  stage_name=$1 stage_start=$SECONDS
  [ -z "$1" ] || echo "== $1"
}
report_times() {
  # A failure before the browser tests were waited for leaves them running: stop them.
  if [ -n "${browser_pid:-}" ] && kill -0 "$browser_pid" 2>/dev/null; then
    pkill -P "$browser_pid" 2>/dev/null || true
    kill "$browser_pid" 2>/dev/null || true
  fi
  stage ""
  printf '== stage times (whole run %d s)\n%s' "$SECONDS" "$stage_times"
}
trap report_times EXIT

stage "install packages: scripts/install-deps.sh"
bash scripts/install-deps.sh

# npx keeps the linter in its own cache (~/.npm), never in the repository.
stage "dockerfilelint Dockerfile"
npx --yes dockerfilelint Dockerfile

# The cluster's compose file (docs/cluster.md): its schema, anchors, depends_on and volume
# references, checked by Compose v1 itself; `config` reads the file only, no engine needed.
stage "docker-compose config -q: docker-compose.yml"
docker-compose -f docker-compose.yml config -q

jobs=$(nproc)
configure() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja "$@"
}
run_ctest() {
  local dir=$1
  shift
  stage "ctest: $dir $*"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" "$@")
}

# Release build (-O3), warnings as errors: the build type users pick, where g++ 12 warns the most
# (-Wrestrict); the benchmarks are built too, so they keep compiling.
# The daemon's test programs themselves at -O0 (UASYNCD_TESTS_AT_O0): the libraries they test
# are -O3, and the tests compile in a third of the time.
stage "build: release"
configure build/release -DCMAKE_BUILD_TYPE=Release -DUASYNCD_BENCH=ON -DUASYNCD_TESTS_AT_O0=ON
cmake --build build/release -j "$jobs"
run_ctest build/release

# No container engine runs here: what can be checked of the image is (its libraries, and a start
# as an unprivileged user with its own data directory).
stage "image check: build/release/server/uasyncd"
bash scripts/check-image.sh build/release/server/uasyncd

# The dashboard in Debian's Chromium, against the release daemon (not under the sanitizers: the
# page is what is tested there). Its tests mostly wait (on the page, on timers), so they run
# beside the ASan build below, which runs at the lowest CPU priority: the page and the daemon it
# drives get the cores whenever they want them, and the run is minutes shorter.
browser_log=build/browser-tests.log
(cd tests/web && npm ci --no-audit --no-fund &&
  start=$SECONDS &&
  UASYNCD_BIN="$PWD/../../build/release/server/uasyncd" node --test --test-concurrency=1 dashboard.test.mjs &&
  echo "browser tests took $((SECONDS - start)) s") > "$browser_log" 2>&1 &
browser_pid=$!

# The whole suite under AddressSanitizer+UndefinedBehaviorSanitizer. The sanitizer builds compile
# every library again, as unity builds (batches of sources: the heavy headers parsed once a
# batch); the release build above compiles each source on its own, which checks its includes.
stage "build: asan"
configure build/asan -DCMAKE_BUILD_TYPE=Debug -DUASYNCD_SANITIZE=address,undefined -DUASYNCD_BENCH=OFF \
  -DCMAKE_UNITY_BUILD=ON
nice -n 19 cmake --build build/asan -j "$jobs"
stage "browser tests: tests/web (started beside the asan build; the wait for their end)"
browser_status=0
wait "$browser_pid" || browser_status=$?
cat "$browser_log"
[ "$browser_status" -eq 0 ] || { echo "browser tests failed (exit $browser_status)"; exit 1; }
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 run_ctest build/asan

# The threaded tests (files *_threaded_test.cpp) under ThreadSanitizer: only they are built.
stage "build: tsan"
configure build/tsan -DCMAKE_BUILD_TYPE=Debug -DUASYNCD_SANITIZE=thread -DUASYNCD_BENCH=OFF \
  -DCMAKE_UNITY_BUILD=ON
cmake --build build/tsan -j "$jobs" --target threaded_tests
TSAN_OPTIONS=halt_on_error=1 run_ctest build/tsan -L threaded --no-tests=error

# The fuzzers (clang, ASan+UBSan), bounded: 20 s per target here; scripts/fuzz.sh 3600 by hand.
stage "fuzzers: build, then 20 s each"
bash scripts/fuzz.sh 20
