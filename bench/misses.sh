#!/usr/bin/env bash
# bench/misses.sh -- what a cache miss costs, and uncached reads against
# pgbench running the statements the handler runs.
#
#   bench/misses.sh                          # 100,000 products, 3 rounds of 5 s runs
#   BENCH_PRODUCTS=1000000 bench/misses.sh
#
# Two servers on one seeded catalog: one with Redis and CACHE_TTL=1, one
# without Redis. Misses: every request asks for a key no request asked
# for in the last second (ids walked in order, each thread its own; the
# first page with a price bound of its own above every price, so the same
# rows), and both servers get the same requests: "miss / no Redis" is the
# cost of the lookup and the store.
#
# pgbench: the statements of one request, taken from PostgreSQL's log
# (log_statement=all for that request), run with the same parameters
# (by id: a random id per transaction) at as many connections as wrk,
# each the way the server runs it: by id prepared; a list without a
# value filter prepared with a generic plan; a filtered list (and its
# deep page) planned for its values on every request (-M extended).
#
# The runs take turns in each of BENCH_ROUNDS rounds; medians reported.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/common.sh"
. "$(dirname "$0")/../scripts/lib/services.sh"
BENCH_DURATION=${BENCH_DURATION:-5s}
. "$(dirname "$0")/lib.sh"

PRODUCTS=${BENCH_PRODUCTS:-100000}
ROUNDS=${BENCH_ROUNDS:-3}
bench_setup
"$BUILD/nexus" seed --products "$PRODUCTS" --categories 52 >&2
CACHE_TTL=1 bench_start_server
bench_start_uncached
cached_port=$BENCH_PORT

max_id=$(psql_bench -c "SELECT max(id) FROM products")
listing="category=dept-1&min_price=1.00&max_price=1000.00&sort=price"
depth=$(psql_bench -c "SELECT least(100000, count(*) - 20) FROM products p
                       JOIN categories c ON c.id = p.category_id
                       WHERE p.is_active AND p.deleted_at IS NULL
                       AND p.price_cents BETWEEN 100 AND 100000
                       AND c.slug LIKE 'dept-1-%'")
cursor=$(BENCH_PORT=$UNCACHED_PORT bench_cursor_at \
    "http://127.0.0.1:$UNCACHED_PORT/api/v1/products?$listing" "$depth")

# capture NAME PATH: the statements of one GET of PATH on the server
# without Redis, as a pgbench script NAME.sql (parameter N of statement K
# becomes the variable qK_N) and its variables, one NAME=VALUE a line,
# in NAME.vars.
capture() {
    local name=$BENCH_TMP/$1 from
    psql_bench -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
    from=$(($(wc -l <"$BENCH_TMP/pg.log") + 1))
    curl -sf -o /dev/null "http://127.0.0.1:$UNCACHED_PORT$2"
    sleep 0.5
    psql_bench -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null
    : >"$name.vars"
    tail -n +"$from" "$BENCH_TMP/pg.log" |
        awk -v SQL="$name.sql" -v VARS="$name.vars" -f "$(dirname "$0")/statements.awk"
    [ -s "$name.sql" ] || die "no statement of $2 in the log"
}

capture by_id "/api/v1/products/4242"
# A random id per transaction, as wrk asks for random ids.
{
    printf '\\set id random(1, %s)\n' "$max_id"
    sed 's/:q1_1\b/:id/' "$BENCH_TMP/by_id.sql"
} >"$BENCH_TMP/by_id_random.sql"
mv "$BENCH_TMP/by_id_random.sql" "$BENCH_TMP/by_id.sql"
capture first "/api/v1/products"
capture filtered "/api/v1/products?$listing"
capture deep "/api/v1/products?$listing&cursor=$cursor"

# pgbench_tps NAME MODE PLAN_CACHE_MODE
pgbench_tps() {
    local vars=() line
    while IFS= read -r line; do
        vars+=(-D "$line")
    done <"$BENCH_TMP/$1.vars"
    PGOPTIONS="-c plan_cache_mode=$3" "$PG_BIN/pgbench" -h "$BENCH_TMP/sock" -U postgres -n \
        -M "$2" -c "$BENCH_CONNECTIONS" -j "$BENCH_THREADS" -T "${BENCH_DURATION%s}" \
        "${vars[@]}" -f "$BENCH_TMP/$1.sql" postgres 2>/dev/null | awk '/^tps/ {print $3; exit}'
}

# A wrk script walking keys of its own: each thread from FIRST + its
# number, in steps of the thread count; by id modulo the largest id.
walk_lua() { # KIND FIRST
    cat <<LUA
local threads, counter, kind, first = {}, 0, "$1", $2
function setup(thread) thread:set("tid", #threads); table.insert(threads, thread) end
function request()
  local key = first + tid + counter * $BENCH_THREADS
  counter = counter + 1
  if kind == "id" then return wrk.format(nil, "/api/v1/products/" .. (1 + key % $max_id)) end
  return wrk.format(nil, "/api/v1/products?max_price=" .. key .. ".00")
end
LUA
}
walk_lua id 0 >"$BENCH_TMP/walk-id.lua"
walk_lua page 10000000 >"$BENCH_TMP/walk-page.lua"
rps() { BENCH_PORT=$1 bench_wrk_values "$2" "${3:-}" | awk '{ print $1 }'; }

declare -A runs
misses_before=$(curl -sf "http://127.0.0.1:$cached_port/metrics" |
    awk '$1 == "nexus_cache_misses_total" {print $2 + 0}')
for _ in $(seq "$ROUNDS"); do
    for kind in id page; do
        runs[nocache-$kind]+=" $(rps "$UNCACHED_PORT" / "$BENCH_TMP/walk-$kind.lua")"
        runs[miss-$kind]+=" $(rps "$cached_port" / "$BENCH_TMP/walk-$kind.lua")"
    done
    runs[nocache-first]+=" $(rps "$UNCACHED_PORT" /api/v1/products)"
    runs[nocache-filtered]+=" $(rps "$UNCACHED_PORT" "/api/v1/products?$listing")"
    runs[nocache-deep]+=" $(rps "$UNCACHED_PORT" "/api/v1/products?$listing&cursor=$cursor")"
    runs[pgbench-id]+=" $(pgbench_tps by_id prepared auto)"
    runs[pgbench-first]+=" $(pgbench_tps first prepared force_generic_plan)"
    runs[pgbench-filtered]+=" $(pgbench_tps filtered extended auto)"
    runs[pgbench-deep]+=" $(pgbench_tps deep extended auto)"
done
read -r hits misses < <(curl -sf "http://127.0.0.1:$cached_port/metrics" |
    awk '$1 == "nexus_cache_hits_total" {h = $2} $1 == "nexus_cache_misses_total" {m = $2}
         END {print h + 0, m + 0}')
misses=$((misses - misses_before))

median() { bench_median "${runs[$1]}"; }
ratio() { if [ -n "$1" ] && [ -n "$2" ]; then echo "scale=2; $1 / $2" | bc -l | sed 's/^\./0./'; fi; }

echo "## Cache misses and uncached reads: $PRODUCTS products ($(nproc) cores, $BENCH_CONNECTIONS connections, $BENCH_DURATION each, median of $ROUNDS rounds)"
echo
printf '| %-30s | %12s | %12s | %15s | %12s | %16s |\n' read "no Redis" "miss" \
    "miss / no Redis" "pgbench tps" "no Redis / pgbench"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..32})" -------------- -------------- \
    ----------------- -------------- ------------------
value() { if [ -n "${runs[$1]:-}" ]; then median "$1"; fi; }
row() { # NAME KEY
    local n m p
    n=$(value "nocache-$2")
    m=$(value "miss-$2")
    p=$(value "pgbench-$2")
    printf '| %-30s | %12s | %12s | %15s | %12s | %16s |\n' "$1" "$n" "${m:--}" \
        "$(ratio "$m" "$n")" "${p:--}" "$(ratio "$n" "$p")"
}
row "product by id" id
row "first page, own price bound" page
row "first page" first
row "filtered page (category, price)" filtered
row "row $depth of it via cursor" deep
echo
echo "Miss runs: $misses misses, $hits hits on the server with Redis (all its runs)."
echo "Each round's req/s and tps:"
for key in $(printf '%s\n' "${!runs[@]}" | sort); do echo "    $key:${runs[$key]}"; done
echo
echo "The statements (pgbench scripts):"
for name in by_id first filtered deep; do
    echo
    echo "    # $name: $(tr '\n' ' ' <"$BENCH_TMP/$name.vars")"
    sed 's/^/    /' "$BENCH_TMP/$name.sql"
done
