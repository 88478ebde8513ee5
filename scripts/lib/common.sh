# Shared by scripts/run, scripts/test and the Dockerfile: package lists,
# package installation, and the build. Source it; it defines functions only.

NEXUS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# Debian packages, by purpose. The Dockerfile installs from these lists too.
NEXUS_BUILD_PACKAGES="build-essential cmake pkg-config libmicrohttpd-dev libpq-dev libhiredis-dev libjansson-dev libjwt-dev libsodium-dev libcurl4-openssl-dev"
NEXUS_RUNTIME_PACKAGES="libmicrohttpd12 libpq5 libhiredis0.14 libjansson4 libjwt0 libsodium23 libcurl4 ca-certificates curl"
NEXUS_SERVICE_PACKAGES="postgresql-15 redis-server"
NEXUS_TEST_PACKAGES="libcmocka-dev clang-format"

log() { printf '[nexus] %s\n' "$*" >&2; }
die() { printf '[nexus] error: %s\n' "$*" >&2; exit 1; }

package_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Install the named Debian packages that are missing; apt-get update only
# when something is missing.
ensure_packages() {
    local missing=()
    for p in "$@"; do
        package_installed "$p" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing packages (run as root to install): ${missing[*]}"
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
        || die "apt-get install failed: ${missing[*]}"
}

# Node.js and npm, for the spec linter and the browser tests: Debian's
# packages unless a node is already on the PATH.
ensure_node() {
    command -v npx >/dev/null 2>&1 && return 0
    ensure_packages nodejs npm
}

# cmake_build DIR BUILD_TYPE [extra cmake args...]
cmake_build() {
    local dir=$1 type=$2
    shift 2
    cmake -S "$NEXUS_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null \
        || die "cmake configure failed ($dir)"
    cmake --build "$dir" -j"$(nproc)" >&2 || die "build failed ($dir)"
}
