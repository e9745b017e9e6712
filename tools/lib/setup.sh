# Shared by tools/test.sh and tools/demo.sh: install what is missing, then build.
# Sourced, not run. Every package comes from Debian's archive.

PRODIGY_DEB_PACKAGES=(
  meson ninja-build pkg-config g++ python3
  libsqlite3-dev sqlite3 libsqlitecpp-dev nlohmann-json3-dev libsimdjson-dev libfmt-dev doctest-dev
  libcxxopts-dev libtomlplusplus-dev libspdlog-dev libssl-dev zlib1g-dev
  jq
  # PostgreSQL engine (-Dpostgres=enabled) and the server its tests start.
  postgresql libpq-dev
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
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
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
