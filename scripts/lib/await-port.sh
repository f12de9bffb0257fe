# shellcheck shell=bash
# Sourced by the scripts and benches that start a daemon on --listen HOST:0.
# await_port LOG [PID]: prints the port the daemon wrote to LOG ("listening on HOST:PORT"), once
# it has; fails (printing LOG to stderr) after 10 s, or at once if PID is given and has ended.
await_port() {
  local log=$1 pid=${2:-} port=""
  for _ in $(seq 200); do
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log" | head -1)
    if [ -n "$port" ]; then
      echo "$port"
      return 0
    fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.05
  done
  cat "$log" >&2
  return 1
}
