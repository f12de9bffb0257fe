#!/usr/bin/env bash
# Installs what the project needs, builds the daemon, and runs it in the foreground with its
# defaults (http://127.0.0.1:8080, tasks kept in ./data/uasyncd.db). Arguments are passed to
# uasyncd, e.g. `bash scripts/run.sh --listen 0.0.0.0:9000 --ephemeral`; Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DUASYNCD_BENCH=OFF
cmake --build build/release -j "$(nproc)" --target uasyncd
exec build/release/server/uasyncd "$@"
