#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, in build-sanitize/) and
# runs each for SECONDS (default 60), one after the other, with 0 crashes,
# hangs or leaks expected. Seeds come from tests/data, tests/fuzz/seeds and
# the shared real Prodigy data when present (../shared/data/prodigy-real).
# Usage: tools/fuzz.sh [SECONDS] [TARGET...]
#   PRODIGY_FUZZ_CORPUS=DIR keeps the grown corpora in DIR between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib/setup.sh

seconds="${1:-60}"
shift || true
case "$seconds" in
  ''|*[!0-9]*) echo "usage: tools/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(event_scan extractors legacy_scan time encode config discovery)

ensure_packages "${PRODIGY_SANITIZE_PACKAGES[@]}"
build_dir="${PRODIGY_SANITIZE_BUILD_DIR:-build-sanitize}"
build_sanitized "$build_dir" address,undefined $(printf 'tests/fuzz/fuzz_%s ' "${targets[@]}")

corpus_root="${PRODIGY_FUZZ_CORPUS:-}"
scratch="$(mktemp -d /tmp/prodigy-fuzz-XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
[ -z "$corpus_root" ] && corpus_root="$scratch/corpus"
shared="${PRODIGY_SHARED_DATA:-$(pwd)/../shared/data/prodigy-real}"

# Seeds for each target (written fresh each run; the corpus directory only grows).
python3 tools/lib/fuzz_seeds.py "$corpus_root" tests/data tests/fuzz/seeds "$shared"

failed=0
total_execs=0
for t in "${targets[@]}"; do
  exe="$build_dir/tests/fuzz/fuzz_$t"
  mkdir -p "$corpus_root/$t" "$scratch/artifacts/$t"
  log="$scratch/$t.log"
  status=0
  # -rss_limit_mb bounds memory; -timeout turns a hang into a finding.
  "$exe" "$corpus_root/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$scratch/artifacts/$t/" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs="${execs:-0}"
  total_execs=$((total_execs + execs))
  if [ $status -ne 0 ]; then
    failed=$((failed + 1))
    echo "fuzz $t: FAILED after $execs executions (exit $status); input kept in tests/fuzz/findings/$t/" >&2
    mkdir -p "tests/fuzz/findings/$t"
    cp "$scratch/artifacts/$t/"* "tests/fuzz/findings/$t/" 2>/dev/null || true
    tail -40 "$log" >&2
  else
    echo "fuzz $t: ok, $execs executions in ${seconds}s, corpus $(ls "$corpus_root/$t" | wc -l) inputs"
  fi
done
echo "fuzz: $total_execs executions in total, $failed target(s) failed"
[ $failed -eq 0 ]
