# Shared by scripts/run, scripts/test and the Dockerfile: package lists,
# package installation, the build, and the first start's admin and demo
# catalog (scripts/run and scripts/cluster). Source it; it defines functions
# only.

NEXUS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# Debian packages, by purpose. The Dockerfile installs from these lists too.
NEXUS_BUILD_PACKAGES="build-essential cmake pkg-config libmicrohttpd-dev libpq-dev libhiredis-dev libjansson-dev libjwt-dev libsodium-dev libcurl4-openssl-dev"
NEXUS_RUNTIME_PACKAGES="libmicrohttpd12 libpq5 libhiredis0.14 libjansson4 libjwt0 libsodium23 libcurl4 ca-certificates curl"
NEXUS_SERVICE_PACKAGES="postgresql-15 redis-server"
NEXUS_TEST_PACKAGES="libcmocka-dev clang-format wrk bc"
# The load balancer of scripts/cluster (and of its test step).
NEXUS_CLUSTER_PACKAGES="nginx"
# What the scripts run themselves: python3 (free_port, scripts/check-layers)
# and curl (to see that a server answers).
NEXUS_SCRIPT_PACKAGES="python3 curl"
# What builds and runs the container image where no Docker engine or image
# registry is at hand (tests/scripts/image_run): a Debian base made with
# debootstrap, built and run with podman and buildah.
NEXUS_IMAGE_PACKAGES="podman buildah debootstrap"

log() { printf '[nexus] %s\n' "$*" >&2; }

# free_port: a TCP port free on every address, picked at random below the
# ephemeral range (32768 and up), where outgoing connections take their
# source ports: a server started seconds later still finds it free.
# NEXUS_PORTS=LOW-HIGH narrows the range (default 20000-31999): scripts
# that run side by side take disjoint ranges, so neither can take a port
# the other picked but has not bound yet.
free_port() {
    local port _ low=20000 high=31999
    case ${NEXUS_PORTS:-} in
    [0-9]*-[0-9]*) low=${NEXUS_PORTS%-*} high=${NEXUS_PORTS#*-} ;;
    esac
    for _ in $(seq 1000); do
        port=$((low + RANDOM % (high - low + 1)))
        python3 -c 'import socket,sys; s=socket.socket(); s.bind(("", int(sys.argv[1])))' "$port" \
            2>/dev/null && { echo "$port"; return 0; }
    done
    die "no free port between $low and $high"
}
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

# ensure_npm: an npm client, all that `npm ci` needs: the one on the PATH,
# else Debian's.
ensure_npm() {
    command -v npm >/dev/null 2>&1 && return 0
    ensure_packages nodejs npm
}

# The oldest Node.js major version that the spec linter (@redocly/cli) and
# the Node test suites (playwright-core) run on; package.json's engines say
# the same. Debian 12's nodejs is 18. Where the PATH has none that recent,
# ensure_node installs the official build of NEXUS_NODE_VERSION, which the
# npm registry carries as the package node-linux-<arch>, into
# NEXUS_NODE_PREFIX (build/node/: nothing outside the checkout), and beside
# it the npm that release bundles (NEXUS_NPM_VERSION), where the official
# archive has it: npm finds its global directory from node's own path.
NEXUS_NODE_MAJOR=20
NEXUS_NODE_VERSION=20.20.2
NEXUS_NPM_VERSION=10.8.2
NEXUS_NODE_PREFIX=$NEXUS_ROOT/build/node

# node_recent: node, npm and npx on the PATH, node NEXUS_NODE_MAJOR or later.
node_recent() {
    local major
    command -v npm >/dev/null 2>&1 || return 1
    command -v npx >/dev/null 2>&1 || return 1
    major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || return 1
    [[ $major =~ ^[0-9]+$ ]] && [ "$major" -ge "$NEXUS_NODE_MAJOR" ]
}

# install_node PREFIX ARCH: node-linux-ARCH into PREFIX afresh, with npm in
# its lib/node_modules and PREFIX/bin the link to its bin.
install_node() {
    local prefix=$1 arch=$2
    rm -rf "$prefix"
    mkdir -p "$prefix" || return 1
    npm install --prefix "$prefix" --save-exact --ignore-scripts --no-audit --no-fund \
        "node-linux-$arch@$NEXUS_NODE_VERSION" || return 1
    npm install --global --prefix "$prefix/node_modules/node-linux-$arch" --ignore-scripts \
        --no-audit --no-fund "npm@$NEXUS_NPM_VERSION" || return 1
    ln -s "node_modules/node-linux-$arch/bin" "$prefix/bin"
}

# ensure_node: Node.js NEXUS_NODE_MAJOR or later, with npm and npx, first on
# the PATH (exported): the one already there, else the one NEXUS_NODE_PREFIX
# holds, else Debian's, else the one it installs into NEXUS_NODE_PREFIX from
# the npm registry (with whichever npm there is, Debian's at least).
ensure_node() {
    local prefix=$NEXUS_NODE_PREFIX arch older
    node_recent && return 0
    export PATH="$prefix/bin:$PATH"
    node_recent && return 0
    ensure_npm
    node_recent && return 0
    older=$(node --version 2>/dev/null || echo "no node")
    case $(uname -m) in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) die "Node.js $NEXUS_NODE_MAJOR or later is needed (this machine has $older): install it and put it first on the PATH" ;;
    esac
    log "Node.js $NEXUS_NODE_MAJOR or later is needed (this machine has $older): installing Node.js $NEXUS_NODE_VERSION from the npm registry into $prefix"
    install_node "$prefix" "$arch" >&2 ||
        die "cannot install Node.js $NEXUS_NODE_VERSION: install Node.js $NEXUS_NODE_MAJOR or later and put it first on the PATH"
    hash -r # the npm just run was found before this one was there
    node_recent || die "the Node.js installed into $prefix does not run: install Node.js $NEXUS_NODE_MAJOR or later and put it first on the PATH"
}

# cmake_build DIR BUILD_TYPE [extra cmake args...]
cmake_build() {
    local dir=$1 type=$2
    shift 2
    cmake -S "$NEXUS_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null \
        || die "cmake configure failed ($dir)"
    cmake --build "$dir" -j"$(nproc)" >&2 || die "build failed ($dir)"
}

# ---- the first start of scripts/run and scripts/cluster

# create_admin NEXUS: the development admin NEXUS_ADMIN_EMAIL, with the
# password NEXUS_ADMIN_PASSWORD, unless the account exists (it keeps its
# own password then). Prints its login for the banner: the password only
# when this run set it.
create_admin() {
    local out
    out=$("$1" user create --email "$NEXUS_ADMIN_EMAIL" --role admin --name Administrator \
        --password-env NEXUS_ADMIN_PASSWORD --if-missing) || return 1
    printf '%s\n' "$out" >&2
    case $out in
    "created user "*) echo "$NEXUS_ADMIN_EMAIL / $NEXUS_ADMIN_PASSWORD" ;;
    *) echo "$NEXUS_ADMIN_EMAIL (its password was set when the account was created)" ;;
    esac
}

# seed_demo NEXUS: a demo catalog of NEXUS_SEED_PRODUCTS products (default
# 1000) into an empty catalog (the seed does nothing once there are
# products); 0 seeds none, where `nexus seed` would refuse it.
seed_demo() {
    local products=${NEXUS_SEED_PRODUCTS:-1000}
    if [ "$products" = 0 ]; then
        log "NEXUS_SEED_PRODUCTS=0: no demo catalog"
        return 0
    fi
    "$1" seed --products "$products" --categories 52
}

# ---- npm packages and the browser pages: Swagger UI at /docs, GraphiQL at /graphiql
# package.json pins them and package-lock.json locks them; node_modules/ is
# never committed. The browser tests drive Debian's Chromium (playwright-core
# downloads no browser).
NEXUS_BROWSER_PACKAGES="chromium"
# The swagger-ui-dist files that src/api/docs.c serves beside web/docs/.
NEXUS_DOCS_DIST_FILES="swagger-ui.css index.css swagger-ui-bundle.js swagger-ui-standalone-preset.js favicon-32x32.png favicon-16x16.png"
# The files (under node_modules/) that src/api/graphiql.c serves beside
# web/graphiql/, by their base names: GraphiQL 3's single-file browser
# build, which finds React and ReactDOM as globals, and React 18's builds
# that provide them. Later GraphiQL versions ship no such build.
NEXUS_GRAPHIQL_DIST_FILES="graphiql/graphiql.min.js graphiql/graphiql.min.css react/umd/react.production.min.js react-dom/umd/react-dom.production.min.js"

# ensure_npm_packages [npm ci args...]: node_modules/ as package-lock.json
# says, through `npm ci` when it is missing or older than package.json or
# the lock file. Install scripts are not run: none is needed (the one in
# swagger-ui-dist's dependency would only report usage to its vendor).
ensure_npm_packages() {
    local stamp=$NEXUS_ROOT/node_modules/.package-lock.json
    if [ -f "$stamp" ] && [ ! "$NEXUS_ROOT/package-lock.json" -nt "$stamp" ] &&
        [ ! "$NEXUS_ROOT/package.json" -nt "$stamp" ]; then
        return 0
    fi
    ensure_npm
    log "installing npm packages (npm ci)"
    (cd "$NEXUS_ROOT" && npm ci --ignore-scripts --no-audit --no-fund "$@" >&2) ||
        die "npm ci failed"
}

# npm_version PACKAGE: the version of an installed npm package.
npm_version() {
    local json=$NEXUS_ROOT/node_modules/$1/package.json version
    [ -f "$json" ] || die "$1 is missing: run ensure_npm_packages"
    version=$(sed -n 's/^ *"version": *"\([0-9A-Za-z.+-]*\)".*/\1/p' "$json" | head -n 1)
    [ -n "$version" ] || die "cannot read the $1 version"
    echo "$version"
}

# stage_docs_assets DIR: the files that `nexus serve` reads from DOCS_DIR,
# into DIR: the Swagger UI page and its initializer from web/docs/ (the
# page with the swagger-ui-dist version in its asset URLs), the rest from
# swagger-ui-dist; into DIR/graphiql/ the GraphiQL page and its
# initializer from web/graphiql/ (likewise with the graphiql and react
# versions), the rest from NEXUS_GRAPHIQL_DIST_FILES.
stage_docs_assets() {
    local dir=$1 nm=$NEXUS_ROOT/node_modules web=$NEXUS_ROOT/web swagger graphiql react f
    swagger=$(npm_version swagger-ui-dist) || exit 1
    graphiql=$(npm_version graphiql) || exit 1
    react=$(npm_version react) || exit 1
    mkdir -p "$dir/graphiql" || die "cannot create $dir/graphiql"
    for f in $NEXUS_DOCS_DIST_FILES; do
        cp "$nm/swagger-ui-dist/$f" "$dir/$f" || die "cannot copy $f"
    done
    cp "$web/docs/swagger-initializer.js" "$dir/" || die "cannot copy the initializer"
    sed "s/@SWAGGER_UI_VERSION@/$swagger/g" "$web/docs/index.html" >"$dir/index.html" ||
        die "cannot write $dir/index.html"
    for f in $NEXUS_GRAPHIQL_DIST_FILES; do
        cp "$nm/$f" "$dir/graphiql/${f##*/}" || die "cannot copy $f"
    done
    cp "$web/graphiql/graphiql-initializer.js" "$dir/graphiql/" ||
        die "cannot copy the GraphiQL initializer"
    sed -e "s/@GRAPHIQL_VERSION@/$graphiql/g" -e "s/@REACT_VERSION@/$react/g" \
        "$web/graphiql/index.html" >"$dir/graphiql/index.html" ||
        die "cannot write $dir/graphiql/index.html"
}
