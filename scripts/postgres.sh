#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and for trying several attestkms
# nodes on one machine: a new cluster in DIR, listening on 127.0.0.1 only,
# trust authentication for local connections (nothing else can reach it).
#
#   eval "$(scripts/postgres.sh start DIR)"   # prints the exports, starts it
#   scripts/postgres.sh stop DIR              # stops it (DIR can then go)
#
# start prints two lines to eval: ATTESTKMS_TEST_POSTGRES (the URL tests
# read; each test makes its own database in it) and PGDATA. The server runs
# as the invoking user, or as "nobody" when that is root (PostgreSQL refuses
# to run as root). It needs PostgreSQL's server binaries (initdb, pg_ctl,
# postgres) on PATH or in /usr/lib/postgresql/*/bin; on Debian: apt-get
# install postgresql.
set -euo pipefail

usage() {
  echo "usage: $0 start DIR [PORT] | stop DIR" >&2
  exit 2
}
[ $# -ge 2 ] || usage
cmd=$1
dir=$2

find_bin() {
  if command -v "$1" >/dev/null; then
    command -v "$1"
    return
  fi
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/$1" ]; then
      echo "$d/$1"
      return
    fi
  done
  echo "$0: $1 not found: install PostgreSQL's server binaries (apt-get install postgresql)" >&2
  exit 1
}

# as runs a command as the cluster's owner. (As root, DIR's parents must let
# nobody through: a directory of mktemp -d under /tmp does.)
as() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u nobody -- "$@"
  else
    "$@"
  fi
}

case $cmd in
start)
  port=${3:-}
  if [ -z "$port" ]; then
    # A free loopback port, chosen by the kernel.
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  fi
  initdb=$(find_bin initdb)
  pg_ctl=$(find_bin pg_ctl)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ "$(id -u)" = 0 ]; then
    chown nobody "$dir"
  fi
  as "$initdb" -D "$dir/data" -U attestkms --auth=trust --encoding=UTF8 --no-instructions >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  # Sockets in DIR, not /var/run/postgresql (which may not exist or be ours).
  as "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=on" start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  echo "export ATTESTKMS_TEST_POSTGRES='postgres://attestkms@127.0.0.1:$port/postgres?sslmode=disable'"
  echo "export PGDATA='$dir/data'"
  ;;
stop)
  pg_ctl=$(find_bin pg_ctl)
  if [ -d "$dir/data" ]; then
    as "$pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  ;;
*)
  usage
  ;;
esac
