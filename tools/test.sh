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

suites=(unit process legacy cli ecosystem)
$stress && suites+=(stress)
args=()
for s in "${suites[@]}"; do args+=(--suite "$s"); done

status=0
meson test -C "$build_dir" --print-errorlogs --num-processes 2 "${args[@]}" || status=$?

# meson prints no closing tally of its own: count the results it logged.
python3 - "$build_dir/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
with open(sys.argv[1]) as log:
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
