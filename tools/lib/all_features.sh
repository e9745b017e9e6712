# The all-features build, sourced by tools/test.sh: every optional backend
# enabled in a second build folder, and the suites that need them. A backend
# adds its Meson option, its suites and its Debian packages to the lists
# below (and, when its server is not a Debian package, an ensure_ function).

ALL_FEATURE_OPTIONS=(-Ds3=enabled -Dpostgres=enabled -Dredis=enabled)
ALL_FEATURE_SUITES=(build s3 backup postgres coordination redis)
ALL_FEATURE_PACKAGES=(libcurl4-openssl-dev libpq-dev postgresql libhiredis-dev redis-server)

# s3rver (npm), a local S3 server for the s3 suite, in a cache outside the tree.
S3RVER_VERSION=3.7.1
S3RVER_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/prodigy-store/s3rver"
export PRODIGY_S3RVER="$S3RVER_DIR/node_modules/s3rver/bin/s3rver.js"

ensure_s3rver() {
  if ! command -v npm >/dev/null 2>&1; then
    ensure_packages nodejs npm
  fi
  if [ -f "$PRODIGY_S3RVER" ] && grep -q "\"version\": \"$S3RVER_VERSION\"" "$S3RVER_DIR/node_modules/s3rver/package.json"; then
    return 0
  fi
  echo "Installing s3rver $S3RVER_VERSION (npm) into $S3RVER_DIR" >&2
  mkdir -p "$S3RVER_DIR"
  npm install --prefix "$S3RVER_DIR" --no-audit --no-fund --loglevel=error "s3rver@$S3RVER_VERSION" >&2
}

# Builds $1 with every feature and runs the feature suites.
run_all_features() {
  local dir="$1"
  ensure_packages "${ALL_FEATURE_PACKAGES[@]}"
  ensure_s3rver
  build_project "$dir" "${ALL_FEATURE_OPTIONS[@]}"
  # A folder configured earlier keeps its old options: apply the list again.
  meson configure "$dir" "${ALL_FEATURE_OPTIONS[@]}" >/dev/null
  meson compile -C "$dir" >&2
  local args=()
  local s
  for s in "${ALL_FEATURE_SUITES[@]}"; do args+=(--suite "$s"); done
  # One throw-away PostgreSQL cluster (unix socket only) for every suite,
  # stopped when the suites end, whatever their result.
  local pg_dir rc=0
  pg_dir="$(mktemp -d /tmp/prodigy-pg.XXXXXX)"
  PRODIGY_TEST_PG_URL="$(tests/servers/postgres.sh start "$pg_dir")" || return 1
  PRODIGY_TEST_PG_URL="$PRODIGY_TEST_PG_URL" \
    meson test -C "$dir" --print-errorlogs --num-processes 2 "${args[@]}" || rc=$?
  tests/servers/postgres.sh stop "$pg_dir" || true
  return $rc
}
