#!/usr/bin/env bash
# bench/graphql.sh -- the first page of products through GraphQL against
# the same page through REST, with the same fields: uncached (a server
# without Redis) and cached (GET /graphql, an anonymous query, against the
# cached REST list).
#
#   bench/graphql.sh                     # 100,000 products
#   BENCH_PRODUCTS=1000000 bench/graphql.sh
#   BENCH_ROUNDS=5 bench/graphql.sh      # rounds (3)
#
# Same machine, same loopback, same wrk settings for every scenario. Each
# scenario runs BENCH_ROUNDS times, REST and GraphQL taking turns (REST
# first in odd rounds, GraphQL first in even ones), so that a machine
# whose pace moves during the run slows both alike; every run is printed,
# then each side's median req/s and the ratio of the medians.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/common.sh"
. "$(dirname "$0")/../scripts/lib/services.sh"
. "$(dirname "$0")/lib.sh"

PRODUCTS=${BENCH_PRODUCTS:-100000}
bench_setup
"$BUILD/nexus" seed --products "$PRODUCTS" --categories 52 >&2
bench_start_server
bench_start_uncached

# Every member of a REST list item, in the schema's names.
QUERY='{ products(first: 20) { edges { node { id sku name slug description price currency
  stock inStock isActive category { id name slug } createdAt updatedAt priceRange { min max }
  options { name values } variantCount attributes { key value type } images { url alt } } }
  pageInfo { hasNextPage endCursor } } }'
GQL="/graphql?query=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$QUERY")"
REST=/api/v1/products

# Both answer the same products.
rest_ids=$(curl -sf "http://127.0.0.1:$BENCH_PORT$REST" | python3 -c \
    'import json, sys; print([i["id"] for i in json.load(sys.stdin)["items"]])')
gql_ids=$(curl -sf "http://127.0.0.1:$BENCH_PORT$GQL" | python3 -c \
    'import json, sys; print([int(e["node"]["id"]) for e in json.load(sys.stdin)["data"]["products"]["edges"]])')
[ "$rest_ids" = "$gql_ids" ] || die "GraphQL and REST list other products: $gql_ids / $rest_ids"
for path in "$REST" "$GQL"; do # prime the cache, and check it serves them
    curl -sf "http://127.0.0.1:$BENCH_PORT$path" >/dev/null
    curl -sf -D "$BENCH_TMP/headers" "http://127.0.0.1:$BENCH_PORT$path" -o /dev/null
    grep -qi '^X-Cache: HIT' "$BENCH_TMP/headers" || die "$path was not served from the cache"
done

ROUNDS=${BENCH_ROUNDS:-3}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS is a positive integer"

# run NAME PATH [PORT]: one wrk scenario; its line printed, its req/s in RPS.
run() {
    local line
    line=$(BENCH_PORT=${3:-$BENCH_PORT} bench_wrk "$1" "$2")
    echo "$line"
    RPS=$(awk -F'|' '{gsub(/ /, "", $3); print $3}' <<<"$line")
}

echo "## GraphQL vs REST, first page of products: $PRODUCTS products ($(nproc) cores, $BENCH_CONNECTIONS connections, $BENCH_DURATION each, $ROUNDS rounds)"
echo
bench_header
declare -A RUNS=()
for round in $(seq "$ROUNDS"); do
    order="rest gql"
    [ $((round % 2)) -eq 0 ] && order="gql rest"
    for mode in uncached cached; do
        port=$BENCH_PORT
        [ "$mode" = uncached ] && port=$UNCACHED_PORT
        for side in $order; do
            if [ "$side" = rest ]; then
                run "REST, $mode ($round)" "$REST" "$port"
            else
                run "GET /graphql, $mode ($round)" "$GQL" "$port"
            fi
            RUNS[$mode-$side]+=" $RPS"
        done
    done
done
echo
echo "Median of $ROUNDS rounds:"
echo
printf '| %-10s | %12s | %12s | %13s |\n' scenario "REST req/s" "GraphQL req/s" "GraphQL/REST"
printf '|%s|%s|%s|%s|\n' ------------ -------------- --------------- ---------------
for mode in uncached cached; do
    rest=$(bench_median "${RUNS[$mode-rest]}")
    gql=$(bench_median "${RUNS[$mode-gql]}")
    printf '| %-10s | %12s | %13s | %13.2f |\n' "$mode" "$rest" "$gql" "$(echo "$gql / $rest" | bc -l)"
done
echo
echo "runs (req/s): REST uncached${RUNS[uncached-rest]}; GraphQL uncached${RUNS[uncached-gql]};" \
    "REST cached${RUNS[cached-rest]}; GraphQL cached${RUNS[cached-gql]} (target: GraphQL/REST at least 0.8)"
