# Shared by tools/test.sh and tools/demo.sh: install what is missing, then build.
# Sourced, not run. Every package comes from Debian's archive.

PRODIGY_DEB_PACKAGES=(
  meson ninja-build pkg-config g++ python3
  libsqlite3-dev sqlite3 libsqlitecpp-dev nlohmann-json3-dev libsimdjson-dev libfmt-dev doctest-dev
  libcxxopts-dev libtomlplusplus-dev libspdlog-dev libssl-dev zlib1g-dev
  jq
  # The format check (tests/unit/formatted_test.py) pins this clang-format release.
  clang-format-14
  # C API, bindings, packaging checks (tests/ecosystem): a C compiler, Debian's
  # rustc for the Rust example, cmake for the find_package consumer, man-db and
  # groff to render the man page, zsh and fish to syntax-check completions.
  gcc rustc cmake man-db groff-base zsh fish
)

# Installs the packages of PRODIGY_DEB_PACKAGES (plus any given) that are missing.
ensure_packages() {
  local missing=()
  local pkg
  for pkg in "${PRODIGY_DEB_PACKAGES[@]}" "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "Installing missing packages: ${missing[*]}" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  $sudo apt-get update -qq >&2
  # Servers (postgresql, redis-server) must not be started as services by the
  # install: the tests start their own, on unix sockets, and stop them.
  local policy=/usr/sbin/policy-rc.d added_policy=false
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy" && added_policy=true
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || rc=$?
  if $added_policy; then $sudo rm -f "$policy"; fi
  return $rc
}

# Configures (once) and builds the project in $1 with the remaining meson options.
build_project() {
  local dir="$1"
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >&2
  fi
  meson compile -C "$dir" >&2
}

# ---- Sanitizer and fuzzing build (tools/test.sh --sanitize, tools/fuzz.sh) ----
# One clang build serves both: ASan + UBSan on every target, and the libFuzzer
# targets of tests/fuzz (coverage instrumentation costs little).
PRODIGY_SANITIZE_PACKAGES=(clang libclang-rt-14-dev)
# A sanitizer report ends the run with a failure instead of scrolling by.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"

# Configures (once) and builds $1 with clang and the sanitizers in $2
# ("address,undefined" with the fuzz targets, or "thread"); only the targets
# named after them when given.
build_sanitized() {
  local dir="$1" sanitizers="$2"
  shift 2
  local extra=(-Dfuzz=true)
  [ "$sanitizers" = thread ] && extra=(-Dfuzz=false)
  if [ ! -f "$dir/build.ninja" ]; then
    CC=clang CXX=clang++ meson setup "$dir" -Db_sanitize="$sanitizers" -Db_lundef=false \
      -Dbuildtype=debugoptimized "${extra[@]}" >&2
  fi
  meson compile -C "$dir" "$@" >&2
}
