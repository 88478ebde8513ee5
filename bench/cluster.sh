#!/usr/bin/env bash
# bench/cluster.sh -- the cost of scaling out, on the same data: scripts/cluster
# (a primary, a streaming replica, Redis, two instances behind nginx) and
# three ways in:
#
#   primary only   a third instance, directly, without DATABASE_READ_URL
#   replica        instance 1 of the cluster, directly (misses may go to the replica)
#   nginx          nginx balancing instances 1 and 2
#
# Each is driven with the same wrk settings for cached and uncached reads by
# id and of the first page. Uncached reads ask for keys no earlier request
# asked for (ids of a range of their own, a first page with a price bound of
# its own), so each is a miss. The ratios: "replica / primary only" is the
# cost of the replica check, "nginx / replica" the cost of the balancer hop.
# On one machine two instances share the cores: no throughput is gained.
#
# BENCH_PIN=1 gives the balancer a core of its own, as a deployment would
# (taskset): every server (the instances and their workers, PostgreSQL,
# Redis) on CPU 1, nginx and wrk (one thread) on CPU 0. The direct runs
# have the same split, wrk on CPU 0 and the instance on CPU 1, so "nginx /
# replica" differs by the hop alone.
#
#   bench/cluster.sh                       # 60,000 products, 5 s per run, 3 rounds
#   BENCH_PIN=1 bench/cluster.sh           # the balancer and wrk on a core of their own
#   BENCH_PRODUCTS=120000 BENCH_DURATION=10s BENCH_ROUNDS=5 bench/cluster.sh
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/common.sh"
. "$(dirname "$0")/../scripts/lib/services.sh"
BENCH_DURATION=${BENCH_DURATION:-5s}
PIN=${BENCH_PIN:-}
pin_servers=() # the command prefix that puts a server on CPU 1
if [ -n "$PIN" ]; then
    [ "$(nproc)" -ge 2 ] || die "BENCH_PIN needs two cores"
    pin_servers=(taskset -c 1)
    BENCH_THREADS=${BENCH_THREADS:-1} # one core: one wrk thread
    # Every wrk run (bench_wrk_values) on CPU 0.
    wrk() { taskset -c 0 wrk "$@"; }
fi
. "$(dirname "$0")/lib.sh"

PRODUCTS=${BENCH_PRODUCTS:-60000}
# shellcheck disable=SC2086 # the lists, one package a word
ensure_packages $NEXUS_BUILD_PACKAGES $NEXUS_SERVICE_PACKAGES $NEXUS_CLUSTER_PACKAGES wrk bc
cmake_build "$BUILD" Release -DNEXUS_TESTS=OFF
BENCH_TMP=$(mktemp -d /tmp/nexus-bench-cluster.XXXXXX)
chmod 755 "$BENCH_TMP"
VAR=$BENCH_TMP/var
cluster_pid=""
direct_pid=""
# shellcheck disable=SC2317 # called by the trap
teardown() {
    trap - EXIT INT TERM
    [ -n "$direct_pid" ] && kill -TERM "$direct_pid" 2>/dev/null && wait "$direct_pid" 2>/dev/null
    [ -n "$cluster_pid" ] && kill -TERM "$cluster_pid" 2>/dev/null && wait "$cluster_pid" 2>/dev/null
    rm -rf "$BENCH_TMP"
}
trap teardown EXIT
trap 'exit 130' INT TERM

export JWT_SECRET=benchmark-secret-0123456789abcdef0123 LOG_LEVEL=warn
export PER_IP_CONNECTION_LIMIT=100000 # every benchmark connection comes from loopback
export NEXUS_ADMIN_EMAIL=admin@example.com NEXUS_ADMIN_PASSWORD=bench-admin-password
NEXUS_BIN=$BUILD/nexus NEXUS_VAR=$VAR PORT=$(free_port) NEXUS_SEED_PRODUCTS=$PRODUCTS \
    "${pin_servers[@]}" "$NEXUS_ROOT/scripts/cluster" >"$BENCH_TMP/cluster.log" 2>&1 &
cluster_pid=$!
for _ in $(seq 6000); do # 600 s: the seed
    [ -f "$VAR/cluster.env" ] && break
    kill -0 "$cluster_pid" 2>/dev/null || break
    sleep 0.1
done
[ -f "$VAR/cluster.env" ] || { tail -n 30 "$BENCH_TMP/cluster.log"; die "scripts/cluster did not come up"; }
. "$VAR/cluster.env"
read -r instance1 instance2 <<<"$INSTANCE_URLS"

# The primary-only instance: the cluster's database, Redis and settings, no replica.
direct_port=$(free_port)
DATABASE_URL="postgresql:///nexus?host=$VAR/run&user=postgres" REDIS_URL="unix://$VAR/redis/redis.sock" \
    DATABASE_READ_URL="" BIND_ADDR=127.0.0.1 PORT=$direct_port \
    "${pin_servers[@]}" "$BUILD/nexus" serve 2>"$BENCH_TMP/direct.log" &
direct_pid=$!
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$direct_port/readyz" >/dev/null && break; sleep 0.1; done

# cpus PID: the CPUs PID may run on; server_threads PID: its HTTP server
# threads (libmicrohttpd names them MHD-...; THREADS follows the affinity).
cpus() { awk '$1 == "Cpus_allowed_list:" { print $2 }' "/proc/$1/status"; }
server_threads() { cat "/proc/$1"/task/*/comm | grep -c '^MHD-' || true; }
# expect_cpu CPU NAME PID...: each PID on CPU alone, or die.
expect_cpu() {
    local cpu=$1 name=$2 pid
    shift 2
    for pid in "$@"; do
        [ "$(cpus "$pid")" = "$cpu" ] || die "$name (pid $pid) may run on CPUs $(cpus "$pid"), not $cpu alone"
    done
}
pin_note="wrk on the same $(nproc) cores"
if [ -n "$PIN" ]; then
    # nginx, started on CPU 1 with the rest of the cluster, moves to CPU 0:
    # the master and its workers, every thread of each.
    nginx_master=$(cat "$VAR/nginx/nginx.pid")
    read -r -a nginx_pids <<<"$nginx_master $(pgrep -d ' ' -P "$nginx_master")"
    for pid in "${nginx_pids[@]}"; do taskset -a -p -c 0 "$pid" >/dev/null; done
    expect_cpu 0 nginx "${nginx_pids[@]}"
    read -r -a cluster_nexus <<<"$(pgrep -d ' ' -x -P "$cluster_pid" nexus)"
    expect_cpu 1 "a nexus process" "${cluster_nexus[@]}" "$direct_pid"
    expect_cpu 1 PostgreSQL "$(head -n 1 "$VAR/pg/postmaster.pid")" "$(head -n 1 "$VAR/replica/postmaster.pid")"
    expect_cpu 1 Redis "$(cat "$VAR/redis/redis.pid")"
    serving=0 threads=0
    for pid in "${cluster_nexus[@]}" "$direct_pid"; do
        n=$(server_threads "$pid")
        [ "$n" -gt 0 ] && serving=$((serving + 1)) threads=$((threads + n))
    done
    pin_note="pinned: wrk ($BENCH_THREADS thread) and nginx ($((${#nginx_pids[@]} - 1)) worker) on CPU 0;"
    pin_note+=" $serving instances ($threads server threads in all), $((${#cluster_nexus[@]} + 1 - serving)) workers,"
    pin_note+=" PostgreSQL primary and replica, Redis on CPU 1"
fi

# One catalog write, so Redis holds a WAL position the replica can be checked against.
token=$(curl -sf -H 'Content-Type: application/json' \
    -d "{\"email\":\"$NEXUS_ADMIN_EMAIL\",\"password\":\"$NEXUS_ADMIN_PASSWORD\"}" \
    "$API_URL/api/v1/auth/login" | sed -n 's/.*"access_token": *"\([^"]*\)".*/\1/p')
curl -sf -o /dev/null -X PATCH -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"stock": 17}' "$API_URL/api/v1/products/1" || die "the priming write failed"

# metric NAME: summed over both cluster instances and the direct one.
metric() {
    local base
    for base in "$instance1" "$instance2" "http://127.0.0.1:$direct_port"; do
        curl -sf "$base/metrics"
    done | awk -v m="$1" 'index($0, m " ") == 1 { s += $NF } END { printf "%d\n", s }'
}

# A wrk script: each thread walks keys of its own from FIRST upwards.
#   by id:      /api/v1/products/FIRST+thread+n*threads
#   first page: /api/v1/products?max_price=FIRST+thread+n*threads
uncached_lua() { # KIND FIRST
    cat <<LUA
local threads, counter, kind, first = {}, 0, "$1", $2
local nthreads = $BENCH_THREADS
function setup(thread) thread:set("tid", #threads); table.insert(threads, thread) end
function request()
  local key = first + tid + counter * nthreads
  counter = counter + 1
  if kind == "id" then return wrk.format(nil, "/api/v1/products/" .. key) end
  return wrk.format(nil, "/api/v1/products?max_price=" .. key .. ".00")
end
LUA
}

rps() { # URL PATH [LUA]
    local url=$1 path=$2 script=${3:-}
    local port=${url##*:}
    BENCH_PORT=$port bench_wrk_values "$path" "$script" | awk '{ print $1 }'
}

ratio() { echo "scale=3; $1 / $2" | bc -l | sed 's/^\./0./'; }

# Every run asks for keys of its own (slot): a twelfth of the ids, or a
# price bound above every seeded price. Three rounds, the targets taking
# turns in each (a busy machine slows them alike), after one warm-up run
# per target (the replica's buffers start cold); the median is reported.
ROUNDS=${BENCH_ROUNDS:-3}
id_span=$((PRODUCTS / (4 * ROUNDS)))
targets=(primary replica nginx)
declare -A url=([primary]="http://127.0.0.1:$direct_port" [replica]=$instance1 [nginx]=$API_URL)
slot=0
uncached_run() { # KIND TARGET: REPLY, req/s of one uncached run on keys of a new slot
    local first
    if [ "$1" = id ]; then first=$((1 + slot * id_span)); else first=$(((slot + 1) * 10000000)); fi
    slot=$((slot + 1))
    uncached_lua "$1" "$first" >"$BENCH_TMP/uncached.lua"
    REPLY=$(rps "${url[$2]}" / "$BENCH_TMP/uncached.lua")
}

echo "## Scaled out vs one instance: $PRODUCTS products ($(nproc) cores, $BENCH_CONNECTIONS connections, $BENCH_DURATION each, median of $ROUNDS)"
echo
echo "$pin_note"
echo
printf '| %-24s | %13s | %13s | %13s | %17s | %15s |\n' scenario "primary only" "replica" "nginx, 2 inst." \
    "replica / primary" "nginx / replica"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..26})" --------------- --------------- \
    --------------- ------------------- -----------------
declare -A runs result
for target in "${targets[@]}"; do
    for path in /api/v1/products/4242 /api/v1/products; do
        curl -sf -o /dev/null "${url[$target]}$path" # fill the cache
    done
    BENCH_DURATION=3s uncached_run id "$target"
    BENCH_DURATION=3s uncached_run page "$target"
done
misses_before=$(metric nexus_cache_misses_total)
hits_before=$(metric nexus_cache_hits_total)
replica_before=$(metric 'nexus_db_reads_total{target="replica"}')
primary_before=$(metric 'nexus_db_reads_total{target="primary"}')
for _ in $(seq "$ROUNDS"); do
    for target in "${targets[@]}"; do
        uncached_run id "$target"
        runs[uncached-id-$target]+=" $REPLY"
        uncached_run page "$target"
        runs[uncached-page-$target]+=" $REPLY"
    done
done
misses=$(($(metric nexus_cache_misses_total) - misses_before))
hits=$(($(metric nexus_cache_hits_total) - hits_before))
replica_reads=$(($(metric 'nexus_db_reads_total{target="replica"}') - replica_before))
primary_reads=$(($(metric 'nexus_db_reads_total{target="primary"}') - primary_before))
for _ in $(seq "$ROUNDS"); do
    for target in "${targets[@]}"; do
        runs[cached-id-$target]+=" $(rps "${url[$target]}" /api/v1/products/4242)"
        runs[cached-page-$target]+=" $(rps "${url[$target]}" /api/v1/products)"
    done
done
for key in "${!runs[@]}"; do
    result[$key]=$(bench_median "${runs[$key]}")
done

row() { # NAME KEY
    local p=${result[$2-primary]} r=${result[$2-replica]} n=${result[$2-nginx]}
    printf '| %-24s | %13s | %13s | %13s | %17s | %15s |\n' "$1" "$p" "$r" "$n" "$(ratio "$r" "$p")" "$(ratio "$n" "$r")"
}
row "by id, cached" cached-id
row "first page, cached" cached-page
row "by id, uncached" uncached-id
row "first page, uncached" uncached-page
echo
echo "uncached runs: $misses cache misses, $hits hits; of the reads that reached PostgreSQL," \
    "$replica_reads on the replica and $primary_reads on the primary (the primary-only instance's included)"
