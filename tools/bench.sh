#!/usr/bin/env bash
# Builds the benchmark program in release mode (when needed) and runs every
# workload, printing one table (docs/performance.md explains it).
#
#   tools/bench.sh quick            small sizes, well under 5 minutes on 2 cores
#   tools/bench.sh full             the sizes the targets are stated for
#   tools/bench.sh quick --only 24  only workloads 2 and 4 (1 import, 2 append,
#                                   3 concurrent, 4 queries, 5 DLQ stats, 6 open)
#   tools/bench.sh full --out FILE  also write the table to FILE
#   tools/bench.sh postgres [quick|full]  the PostgreSQL engine against raw
#                                   libpq, on a throw-away local server
#
# Generated data lives in a temporary folder under $TMPDIR (default /tmp)
# and is deleted afterwards. The build folder is $PRODIGY_BENCH_BUILD_DIR
# (default build-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib/setup.sh

mode="${1:-quick}"
if [ "$mode" = postgres ]; then
  # Its own build (release, -Dpostgres=enabled) and server, stopped on exit.
  pg_build="${PRODIGY_BENCH_PG_BUILD_DIR:-build-bench-pg}"
  [ -f "$pg_build/build.ninja" ] || meson setup "$pg_build" --buildtype=release -Dpostgres=enabled >&2
  ninja -C "$pg_build" bench/prodigy-pg-bench >&2
  pg_dir="$(mktemp -d /tmp/prodigy-bench-pg.XXXXXX)"
  trap 'tests/servers/postgres.sh stop "$pg_dir"' EXIT
  PRODIGY_BENCH_PG_URL="$(tests/servers/postgres.sh start "$pg_dir")"
  export PRODIGY_BENCH_PG_URL
  "$pg_build/bench/prodigy-pg-bench" "${2:-quick}"
  exit
fi
case "$mode" in
  quick|full) shift || true ;;
  -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
  *) echo "usage: tools/bench.sh quick|full [--only 123456] [--out FILE]" >&2; exit 2 ;;
esac

# sqlite-utils and jq are the baselines of workloads 1 and 4.
ensure_packages sqlite-utils

build_dir="${PRODIGY_BENCH_BUILD_DIR:-build-bench}"
if [ ! -f "$build_dir/build.ninja" ]; then
  meson setup "$build_dir" --buildtype=release >&2
elif ! meson introspect "$build_dir" --buildoptions | grep -q '"name": "buildtype", "value": "release"'; then
  meson configure "$build_dir" --buildtype=release >&2
fi
# Only the benchmark and the library it links: not the tests or the CLI.
ninja -C "$build_dir" bench/prodigy-bench >&2

exec "$build_dir/bench/prodigy-bench" "$mode" "$@"
