#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests (Debian's postgresql package): `start DIR` runs initdb into
# DIR/data and starts the server listening on a Unix socket in DIR only (no TCP port), superuser
# "uasyncd" with trust authentication, fsync off; `restart DIR [SECONDS]` stops it, leaves it
# down SECONDS and starts it again; `stop DIR` stops it and deletes DIR. ctest runs
# both as the fixture "postgres" (tests/CMakeLists.txt). Run as root, the server runs as the
# "postgres" user (initdb and postgres refuse root). PG_TEST_FSYNC=on keeps fsync on (for a
# benchmark that compares durable commits).
#   tests/support/pg-test-server.sh start|restart|stop DIR [SECONDS]
set -euo pipefail

action=${1:?start or stop}
dir=${2:?the server directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ]; then
  echo "pg-test-server: no PostgreSQL in /usr/lib/postgresql (apt-get install postgresql)" >&2
  exit 1
fi
as_owner=()
[ "$(id -u)" -eq 0 ] && as_owner=(runuser -u postgres --)

stop() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null || true
  fi
  rm -rf "$dir"
}

fsync=${PG_TEST_FSYNC:-off}
run_server() {
  if ! "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses='' -k $dir -c fsync=$fsync -c full_page_writes=$fsync -c max_connections=300" \
    start >/dev/null; then
    cat "$dir/server.log" >&2
    exit 1
  fi
}
case $action in
  start)
    stop  # a server an interrupted run left behind
    mkdir -p "$dir"
    [ ${#as_owner[@]} -gt 0 ] && chown postgres "$dir"
    "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U uasyncd --auth=trust -E UTF8 --locale=C -N \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    run_server
    echo "postgres for the tests: socket in $dir"
    ;;
  restart)  # restart DIR [SECONDS]: a fast stop, SECONDS down (default 0), a start
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    sleep "${3:-0}"
    run_server
    ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|restart|stop DIR [SECONDS]" >&2
    exit 2
    ;;
esac
