#!/usr/bin/env bash
# bench/explain.sh -- the plans PostgreSQL chooses for every list query
# shape, taken from the server's real statements with auto_explain.
#
#   BENCH_PRODUCTS=1000000 bench/explain.sh > plans.txt
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/common.sh"
. "$(dirname "$0")/../scripts/lib/services.sh"
. "$(dirname "$0")/lib.sh"

PRODUCTS=${BENCH_PRODUCTS:-100000}
BENCH_PG_OPTIONS="-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0 -c auto_explain.log_analyze=on -c auto_explain.log_timing=off"
bench_setup
unset REDIS_URL
"$BUILD/nexus" seed --products "$PRODUCTS" --categories 52 >&2
bench_start_server
api=http://127.0.0.1:$BENCH_PORT/api/v1
q=$(psql -h "$BENCH_TMP/sock" -U postgres -XAtq -c "$BENCH_SEARCH_SQL")
next() { curl -sf "$1" | sed -n 's/.*"next_cursor":"\([^"]*\)".*/\1/p' || true; }

# shape: a title and a request; prints the plans of the statements it ran
shape() {
    local title=$1 url=$2
    curl -sf "$url" >/dev/null # warm, and let the log settle
    sleep 0.2
    local before
    before=$(wc -c <"$BENCH_TMP/pg.log")
    curl -sf "$url" >/dev/null
    sleep 0.3
    printf '### %s\n\n`GET %s`\n\n```\n' "$title" "${url#http://127.0.0.1:$BENCH_PORT}"
    # each plan: a "... plan:" line, then its lines indented by a tab
    tail -c +$((before + 1)) "$BENCH_TMP/pg.log" | awk '
        / plan:$/ { inplan = 1; if (n++) print ""; next }
        /^\t/ && inplan { if ($0 !~ /^\tQuery Text:/) print substr($0, 2); next }
        { inplan = 0 }'
    printf '```\n\n'
}

listing="category=dept-1&min_price=1.00&max_price=1000.00&sort=price"
echo "## Query plans: $PRODUCTS products"
echo
shape "First page, default sort (-created_at)" "$api/products"
shape "Next page through a cursor" "$api/products?cursor=$(next "$api/products")"
shape "sort=price" "$api/products?sort=price"
shape "sort=-name" "$api/products?sort=-name"
shape "Category (with descendants) + price range, sort=price" "$api/products?$listing"
shape "The same listing, next page" "$api/products?$listing&cursor=$(next "$api/products?$listing")"
shape "in_stock + currency" "$api/products?in_stock=true&currency=EUR"
shape "Search, rare words (q=$q)" "$api/products?q=$q"
shape "Search, common word (q=wireless)" "$api/products?q=wireless"
shape "Search, two-character word in 1% of products (q=ng)" "$api/products?q=ng"
shape "Search, rare two-character word (q=tv)" "$api/products?q=tv"
shape "Search, common one-character word, total (q=e&include_total=true)" \
    "$api/products?q=e&include_total=true"
shape "Search, two-character word, total (q=ng&include_total=true)" \
    "$api/products?q=ng&include_total=true"
shape "Category list" "$api/categories"
shape "Product by id" "$api/products/4242"
