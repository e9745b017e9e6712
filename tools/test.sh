#!/usr/bin/env bash
# Installs what is missing, builds, runs every test suite and ends with the line
# "N passed, N failed". Usage: tools/test.sh [--stress]
#   --stress   also run the long stress suite (minutes; CI can afford it).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib/setup.sh

stress=false
for arg in "$@"; do
  case "$arg" in
    --stress) stress=true ;;
    *) echo "usage: tools/test.sh [--stress]" >&2; exit 2 ;;
  esac
done

ensure_packages
build_dir="${PRODIGY_BUILD_DIR:-build}"
build_project "$build_dir"
meson configure "$build_dir" -Dstress="$stress" >/dev/null

suites=(unit process legacy cli)
$stress && suites+=(stress)
args=()
for s in "${suites[@]}"; do args+=(--suite "$s"); done

status=0
meson test -C "$build_dir" --print-errorlogs --num-processes 2 "${args[@]}" || status=$?
testlogs=("$build_dir/meson-logs/testlog.json")

# ---- All-features build: every optional engine and service, tested against
# real servers that the test scripts start and stop (tests/servers/).
# One list of options and one of suites; each optional part adds itself here.
all_dir="${PRODIGY_ALL_BUILD_DIR:-build-all}"
all_options=(-Dpostgres=enabled)
all_suites=(build postgres)
build_project "$all_dir" "${all_options[@]}"
meson configure "$all_dir" "${all_options[@]}" >/dev/null
all_args=()
for s in "${all_suites[@]}"; do all_args+=(--suite "$s"); done
# One PostgreSQL cluster for every suite (unix socket only), stopped on exit.
pg_dir="$(mktemp -d /tmp/prodigy-pg.XXXXXX)"
trap 'tests/servers/postgres.sh stop "$pg_dir"' EXIT
PRODIGY_TEST_PG_URL="$(tests/servers/postgres.sh start "$pg_dir")"
export PRODIGY_TEST_PG_URL
meson test -C "$all_dir" --print-errorlogs --num-processes 2 "${all_args[@]}" || status=$?
testlogs+=("$all_dir/meson-logs/testlog.json")
# ---- end of the all-features build

# meson prints no closing tally of its own: count the results it logged.
python3 - "${testlogs[@]}" <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path) as log:
        for line in log:
            result = json.loads(line)["result"]
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
tail = f", {skipped} skipped" if skipped else ""
print(f"{passed} passed, {failed} failed{tail}")
sys.exit(1 if failed or passed == 0 else 0)
PY
exit $status
