#!/usr/bin/env bash
# Installs what is missing, builds, runs every test suite and ends with the line
# "N passed, N failed". Usage: tools/test.sh [--stress] [--sanitize[=address]]
#   --stress            also run the long stress suite (minutes; CI can afford it).
#   --sanitize          also run every suite under ASan + UBSan (clang, build-sanitize/)
#                       and the threaded tests under TSan (build-tsan/); docs/reliability.md.
#   --sanitize=address  only the ASan + UBSan part (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib/setup.sh
source tools/lib/all_features.sh

stress=false
sanitize=""
for arg in "$@"; do
  case "$arg" in
    --stress) stress=true ;;
    --sanitize) sanitize=all ;;
    --sanitize=address) sanitize=address ;;
    *) echo "usage: tools/test.sh [--stress] [--sanitize[=address]]" >&2; exit 2 ;;
  esac
done

ensure_packages
build_dir="${PRODIGY_BUILD_DIR:-build}"
build_project "$build_dir"
meson configure "$build_dir" -Dstress="$stress" >/dev/null

suites=(unit process legacy cli backup fault soak ecosystem coordination)
$stress && suites+=(stress)
args=()
for s in "${suites[@]}"; do args+=(--suite "$s"); done

status=0
meson test -C "$build_dir" --print-errorlogs --num-processes 2 "${args[@]}" || status=$?
logs=("$build_dir/meson-logs/testlog.json")

# The second build with every optional backend (tools/lib/all_features.sh).
# PRODIGY_SKIP_ALL_FEATURES=1 leaves it out of a quick local run; CI runs it.
if [ "${PRODIGY_SKIP_ALL_FEATURES:-0}" != 1 ]; then
  all_dir="${PRODIGY_ALL_BUILD_DIR:-build-all}"
  run_all_features "$all_dir" || status=$?
  logs+=("$all_dir/meson-logs/testlog.json")
fi

# ---- Sanitizers and fuzz smoke (docs/reliability.md) ---------------------------
# One clang build (ASan + UBSan, libFuzzer targets) in build-sanitize/: every
# fuzz target runs briefly on every test run; --sanitize also runs the suites
# in it, and the threaded tests in a TSan build. Results join the tally below.
ensure_packages "${PRODIGY_SANITIZE_PACKAGES[@]}"
san_dir="${PRODIGY_SANITIZE_BUILD_DIR:-build-sanitize}"
fuzz_targets=(event_scan extractors legacy_scan time encode config discovery)
if [ -n "$sanitize" ]; then
  build_sanitized "$san_dir" address,undefined
else
  build_sanitized "$san_dir" address,undefined $(printf 'tests/fuzz/fuzz_%s ' "${fuzz_targets[@]}")
fi
fuzz_log="$san_dir/meson-logs/fuzzlog.json"
: >"$fuzz_log"
for t in "${fuzz_targets[@]}"; do
  if tools/fuzz.sh "${PRODIGY_FUZZ_SMOKE_SECONDS:-10}" "$t"; then r=OK; else r=FAIL; status=1; fi
  echo "{\"name\": \"fuzz_$t\", \"result\": \"$r\"}" >>"$fuzz_log"
done
logs+=("$fuzz_log")
if [ -n "$sanitize" ]; then
  # Hosts built without sanitizers (Python, rustc, the install consumers)
  # cannot load the sanitized library: suite foreign_host stays out.
  meson test -C "$san_dir" --print-errorlogs --num-processes 2 "${args[@]}" --no-suite foreign_host || status=$?
  logs+=("$san_dir/meson-logs/testlog.json")
fi
if [ "$sanitize" = all ]; then
  tsan_dir="${PRODIGY_TSAN_BUILD_DIR:-build-tsan}"
  # Only what the threaded tests need (one GlobalStorage shared between threads,
  # the store's mirror thread, the importer's read-ahead and hashing threads).
  build_sanitized "$tsan_dir" thread tests/unit/unit_storage tests/unit/unit_mirror tests/legacy/legacy_bulk_import
  meson test -C "$tsan_dir" --print-errorlogs --no-rebuild storage mirror bulk_import || status=$?
  logs+=("$tsan_dir/meson-logs/testlog.json")
fi
# ---- end of sanitizers and fuzz smoke -----------------------------------------

# meson prints no closing tally of its own: count the results it logged.
python3 - "${logs[@]}" <<'PY'
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
