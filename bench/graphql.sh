#!/usr/bin/env bash
# bench/graphql.sh -- the first page of products through GraphQL against
# the same page through REST, with the same fields: uncached (a server
# without Redis) and cached (GET /graphql, an anonymous query, against the
# cached REST list).
#
#   bench/graphql.sh                     # 100,000 products
#   BENCH_PRODUCTS=1000000 bench/graphql.sh
#
# Same machine, same loopback, same wrk settings for every scenario.
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

# run NAME PATH [PORT]: one wrk scenario; its line printed, its req/s in RPS.
run() {
    local line
    line=$(BENCH_PORT=${3:-$BENCH_PORT} bench_wrk "$1" "$2")
    echo "$line"
    RPS=$(awk -F'|' '{gsub(/ /, "", $3); print $3}' <<<"$line")
}

echo "## GraphQL vs REST, first page of products: $PRODUCTS products ($(nproc) cores, $BENCH_CONNECTIONS connections, $BENCH_DURATION each)"
echo
bench_header
run "REST, uncached" "$REST" "$UNCACHED_PORT"
rest_uncached=$RPS
run "GET /graphql, uncached" "$GQL" "$UNCACHED_PORT"
gql_uncached=$RPS
run "REST, cached" "$REST"
rest_cached=$RPS
run "GET /graphql, cached" "$GQL"
gql_cached=$RPS
echo
printf 'uncached: GraphQL/REST = %.2f (target 0.8)\n' "$(echo "$gql_uncached / $rest_uncached" | bc -l)"
printf 'cached:   GraphQL/REST = %.2f (target 0.8)\n' "$(echo "$gql_cached / $rest_cached" | bc -l)"
