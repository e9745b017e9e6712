#!/usr/bin/env bash
# Builds the benchmark program in release mode (when needed) and runs every
# workload, printing one table (docs/performance.md explains it).
#
#   tools/bench.sh quick            small sizes, well under 5 minutes on 2 cores
#   tools/bench.sh full             the sizes the targets are stated for
#   tools/bench.sh quick --only 24  only workloads 2 and 4 (1 import, 2 append,
#                                   3 concurrent, 4 queries, 5 DLQ stats, 6 open)
#   tools/bench.sh full --out FILE  also write the table to FILE
#
# Generated data lives in a temporary folder under $TMPDIR (default /tmp)
# and is deleted afterwards. The build folder is $PRODIGY_BENCH_BUILD_DIR
# (default build-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib/setup.sh

mode="${1:-quick}"
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
