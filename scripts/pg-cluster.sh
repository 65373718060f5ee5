#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the service's tests and benchmark: initdb in a temporary
# directory, the server on 127.0.0.1:PORT, and its URL printed on stdout once it accepts
# connections. Then it reads commands on stdin, one a line, and answers each on stdout:
#   stop   -> stops the server (fast shutdown), prints "stopped"
#   start  -> starts it again on the same port and data, prints "started" once it answers
# When stdin closes (the caller exited, however it exited), the server is stopped and the
# directory removed.
#
#   scripts/pg-cluster.sh PORT [postgres -c settings...]
#
# initdb and postgres refuse to run as root: as root they run as the postgres user (Debian's
# package makes it); as anyone else, as that user.
set -euo pipefail
port=${1:?usage: pg-cluster.sh PORT [-c name=value ...]}
shift
bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
if [ ! -x "$bin/initdb" ]; then
  echo "pg-cluster: PostgreSQL is not installed (scripts/install-tools.sh installs it)" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/usernotify-pg.XXXXXX)
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as_owner=(setpriv --reuid=postgres --regid=postgres --init-groups --)
else
  as_owner=()
fi
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 \
  --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }

start() {
  # The server itself is the background job (not a wrapper), so SIGINT reaches it.
  "${as_owner[@]}" "$bin/postgres" -D "$dir/data" -p "$port" -k "$dir" \
    -c listen_addresses=127.0.0.1 "$@" >>"$dir/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 400); do
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      break
    fi
    sleep 0.05
  done
  cat "$dir/server.log" >&2
  exit 1
}

settings=("$@")
start "${settings[@]}"
echo "postgres://postgres@127.0.0.1:$port/postgres"
while read -r command; do
  case "$command" in
    stop)
      kill -INT "$pid"
      wait "$pid" || true
      pid=
      echo stopped
      ;;
    start)
      start "${settings[@]}"
      echo started
      ;;
    *) echo "pg-cluster: unknown command: $command" >&2 ;;
  esac
done
