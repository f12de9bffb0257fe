#!/usr/bin/env bash
# Installs every Debian 12 package uasyncd needs to build, test and benchmark.
# Idempotent: packages already present are left alone, and apt-get update runs
# only when something is missing.
#   --build-only   just what building the daemon needs (the Docker image's build stage)
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build
  libuv1-dev libspdlog-dev libfmt-dev libcpp-httplib-dev nlohmann-json3-dev
  libsqlite3-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  libhowardhinnant-date-dev libpq-dev tzdata
)
build_only=false
[ "${1:-}" = "--build-only" ] && build_only=true
if ! $build_only; then
  # Tests (jq reads the client's JSON, openssl makes a TLS certificate), benchmarks (CPython
  # asyncio and uvloop peers, wrk) and the browser tests.
  packages+=(clang-format python3 python3-uvloop wrk chromium jq openssl)
  # The peer benchmark (bench/peers): Redis for BullMQ and Celery; Celery with its Redis client
  # and the eventlet pool.
  packages+=(redis-server python3-celery python3-redis python3-eventlet)
  # The PostgreSQL backend's tests start their own server (tests/support/pg-test-server.sh).
  packages+=(postgresql)
  # The schedule benchmark's peer (bench/run_schedule.sh): croniter.
  packages+=(python3-croniter)
  # The libFuzzer targets (scripts/fuzz.sh): clang 14 and its fuzzer and sanitizer runtimes.
  packages+=(clang libclang-rt-14-dev)
  # The docker-compose.yml check (scripts/test.sh): Compose v1 validates a file with no engine;
  # --no-install-recommends keeps docker.io out.
  packages+=(docker-compose)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# The browser tests need node and npm; a node from elsewhere (it bundles npm) is kept.
$build_only || command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
