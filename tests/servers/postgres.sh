#!/usr/bin/env bash
# A throw-away PostgreSQL 15 cluster for the test suites, reachable only on a
# unix socket inside DIR (listen_addresses is empty: no TCP port at all).
#
#   tests/servers/postgres.sh start DIR   # prints the connection URL on stdout
#   tests/servers/postgres.sh stop DIR    # stops it and deletes DIR
#   tests/servers/postgres.sh url DIR     # prints the URL of a running cluster
#
# initdb refuses to run as root, so under root the cluster belongs to the
# `postgres` user that Debian's postgresql package creates. fsync is off: the
# data is thrown away and durability is not what these tests measure.
set -euo pipefail

bin_dir="${PRODIGY_PG_BIN:-/usr/lib/postgresql/15/bin}"

usage() {
  echo "usage: tests/servers/postgres.sh start|stop|url DIR" >&2
  exit 2
}

[ $# -eq 2 ] || usage
action="$1"
dir="$(realpath -m "$2")"

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

url() {
  echo "postgresql:///postgres?host=$dir&user=postgres"
}

case "$action" in
  start)
    if [ ! -x "$bin_dir/initdb" ]; then
      echo "postgres.sh: $bin_dir/initdb not found; install Debian's postgresql package (tools/test.sh does)" >&2
      exit 1
    fi
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    as_owner "$bin_dir/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # A role that must log in with a password, for the wrong-password tests
    # (everyone else is trusted: the socket is reachable only inside DIR).
    { echo "local all prodigy_password scram-sha-256"; cat "$dir/data/pg_hba.conf"; } >"$dir/hba.tmp"
    chmod 600 "$dir/hba.tmp"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir/hba.tmp"; fi
    mv "$dir/hba.tmp" "$dir/data/pg_hba.conf"
    # max_connections leaves room for the 8-writer process test plus readers.
    if ! as_owner "$bin_dir/pg_ctl" -D "$dir/data" -w -t 60 -l "$dir/server.log" \
        -o "-k $dir -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_connections=60" \
        start >/dev/null; then
      cat "$dir/server.log" >&2
      exit 1
    fi
    as_owner "$bin_dir/psql" -X -q -h "$dir" -U postgres -d postgres -v ON_ERROR_STOP=1 \
      -c "CREATE ROLE prodigy_password LOGIN SUPERUSER PASSWORD 'right-password'" >/dev/null
    url
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bin_dir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  url)
    url
    ;;
  *)
    usage
    ;;
esac
