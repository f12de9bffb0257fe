#!/usr/bin/env bash
# Installs what the project needs, builds it, and runs it: the daemon once it exists, until then
# the seed examples (in real time: the wait_for and gather examples take 7 s each).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUASYNCD_BENCH=OFF
cmake --build build/release -j "$(nproc)"

if [ -x build/release/server/uasyncd ]; then
  exec build/release/server/uasyncd "$@"
fi
for example in create_task run task_cancel wait_for gather; do
  echo "== examples/$example.cpp"
  build/release/examples/example_$example || echo "(exit code $?)"
done
