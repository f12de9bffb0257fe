#!/usr/bin/env bash
# What can be checked of the Docker image without a container engine:
#   1. every shared library the release binary needs (ldd) comes from a package the Dockerfile's
#      runtime stage installs, from one of their dependencies, or from the base image's
#      essential/required packages (dpkg -S, apt-cache depends);
#   2. the binary starts as an unprivileged system user with a data directory it owns, serves
#      /healthz, and answers --healthcheck.
#   scripts/check-image.sh BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/await-port.sh
. scripts/lib/await-port.sh
bin=$(readlink -f "${1:?usage: check-image.sh BINARY}")

# The runtime stage's packages: the apt-get install line(s) after the last FROM.
runtime=$(awk '/^FROM /{stage=""} {stage = stage $0 "\n"} END {printf "%s", stage}' Dockerfile |
  tr '\\' ' ' | tr '\n' ' ' | grep -o 'no-install-recommends[^&]*' | sed 's/no-install-recommends//')
[ -n "$runtime" ] || { echo "no apt-get install in the Dockerfile's runtime stage" >&2; exit 1; }
# shellcheck disable=SC2086
allowed=$( {
  printf '%s\n' $runtime
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances $runtime 2>/dev/null | grep -v '^ ' | grep -v '^<'
  dpkg-query -W -f='${Package} ${Essential} ${Priority}\n' | awk '$2 == "yes" || $3 == "required" {print $1}'
} | sed 's/:.*//' | sort -u)

missing=0
while read -r lib; do
  [ -n "$lib" ] || continue
  real=$(readlink -f "$lib")
  owner=""
  for candidate in "$lib" "$real" "${lib/#\/lib\//\/usr\/lib\/}" "${real/#\/usr\/lib\//\/lib\/}"; do
    owner=$(dpkg -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$owner" ] && break
  done
  if [ -z "$owner" ]; then
    echo "  $lib: no package owns it"
    missing=1
  elif ! grep -qx "$owner" <<<"$allowed"; then
    echo "  $lib: from $owner, which the runtime stage does not install"
    missing=1
  else
    echo "  $lib: $owner"
  fi
done < <(ldd "$bin" | awk '/=> \// {print $3} /^\t\// {print $1}')
[ "$missing" = 0 ] || { echo "the image would miss libraries" >&2; exit 1; }

# An unprivileged user with a data directory it owns, as in the image.
user=uasyncd-check
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
as_user=()
if [ "$(id -u)" -eq 0 ]; then
  id "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
  as_user=(setpriv --reuid="$user" --regid="$user" --init-groups --)
  chmod 755 "$work"
  cp "$bin" "$work/uasyncd"
  bin="$work/uasyncd"
  mkdir "$work/data"
  chown "$user:$user" "$work/data"
else
  mkdir "$work/data"
fi
"${as_user[@]}" "$bin" --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/log" 2>&1 &
pid=$!
port=$(await_port "$work/log" "$pid") || { echo "the daemon did not start as $user" >&2; exit 1; }
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
head -1 <&3 | grep -q ' 200 ' || { echo "GET /healthz did not answer 200" >&2; exit 1; }
exec 3<&-
"${as_user[@]}" "$bin" --listen "127.0.0.1:$port" --healthcheck ||
  { echo "--healthcheck failed" >&2; exit 1; }
owner=$(stat -c %U "$work/data/uasyncd.db")
[ "$(id -u)" -ne 0 ] || [ "$owner" = "$user" ] ||
  { echo "uasyncd.db is owned by $owner, not $user" >&2; exit 1; }
echo "  started as $(id -un "$user" 2>/dev/null || id -un), /healthz 200, --healthcheck 0, uasyncd.db owned by $owner"
