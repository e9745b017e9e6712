#!/usr/bin/env bash
# Installs what is missing, builds, then runs the main job on the bundled sample
# legacy repository (tests/data/sample-repo) in a temporary storage root:
# dry run, migration, info, queries, and the sqlite3 one-liner.
# Nothing outside a temporary folder is read or written (HOME points into it).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib/setup.sh

ensure_packages
work="$(mktemp -d /tmp/prodigy-demo.XXXXXX)"
trap 'rm -rf "$work"' EXIT
echo "Building prodigy-store (meson, ninja)..."
if ! build_project build >"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  echo "The build failed; its log is above." >&2
  exit 1
fi
bin="$PWD/build/tools/cli/prodigy-store"
export HOME="$work/home"
export PRODIGY_STORAGE_DIR="$work/store"
mkdir -p "$HOME"
cp -a tests/data/sample-repo "$work/my-project"
cd "$work/my-project"

prodigy-store() { "$bin" "$@"; }
run() {
  printf '\n$ %s\n' "$*"
  "$@"
}

echo "Sample legacy repository: $work/my-project (Prodigy 0.1.x .prodigy/ folder)"
echo "Storage root: $PRODIGY_STORAGE_DIR"
run find .prodigy -type f

run prodigy-store migrate --dry-run
echo "(the dry run wrote nothing: $(ls "$PRODIGY_STORAGE_DIR" 2>/dev/null | wc -l) entries in the storage root)"

run prodigy-store migrate
run prodigy-store info
run find .prodigy -type f   # what was not imported stays: config.yml, workflow.yml

run prodigy-store events ls
job="$(prodigy-store --json events ls | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["job_id"])')"
run prodigy-store events stats "$job"
run prodigy-store events show "$job" --type AgentCompleted --limit 3
run prodigy-store dlq ls
run prodigy-store state history "$(prodigy-store --json state ls 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin)["jobs"]; print(d[0]["job_id"] if d else "")' || true)" || true
run prodigy-store sessions ls
run prodigy-store checkpoints ls
run sqlite3 "$(prodigy-store path)" "SELECT event_name, count(*) FROM events GROUP BY 1 ORDER BY 2 DESC"
run prodigy-store check
mkdir -p "$work/restored"
run prodigy-store export --legacy "$work/restored"
echo
echo "Demo complete."
