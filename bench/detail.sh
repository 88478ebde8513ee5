#!/usr/bin/env bash
# bench/detail.sh -- GET of one product with 10 variants, 8 attributes and
# 4 images, uncached, against pgbench running the same SQL.
#
#   bench/detail.sh                        # among 10,000 seeded products
#   BENCH_PRODUCTS=100000 bench/detail.sh
#
# Starts nexus without Redis (every read goes to PostgreSQL), creates the
# product through the API, and takes the statement the handler runs from
# PostgreSQL's own log (log_statement=all for one request), so that
# pgbench (-M prepared, as many connections as wrk) runs exactly that
# text. Then pgbench runs other shapes of the same read, for comparison:
# the two statements the item took before (the product, then its
# variants), and the variants aggregated into one JSON column.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/common.sh"
. "$(dirname "$0")/../scripts/lib/services.sh"
. "$(dirname "$0")/lib.sh"

PRODUCTS=${BENCH_PRODUCTS:-10000}
bench_setup
bench_uncached_catalog "$PRODUCTS"
api=http://127.0.0.1:$BENCH_PORT/api/v1

printf 'bench-staff-password\n' | "$BUILD/nexus" user create --email staff@example.com \
    --role staff >/dev/null
token=$(curl -sf "$api/auth/login" -H 'Content-Type: application/json' \
    -d '{"email":"staff@example.com","password":"bench-staff-password"}' |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/')

# 10 variants (5 sizes x 2 colours), 8 attributes, 4 images.
variants=""
n=0
for color in Black Red; do
    for size in XS S M L XL; do
        n=$((n + 1))
        variants+="${variants:+,}{\"sku\":\"DETAIL-$size-$color\",\"price\":\"$((20 + n)).90\","
        variants+="\"stock\":$((n * 3)),\"options\":{\"Size\":\"$size\",\"Color\":\"$color\"}}"
    done
done
images=""
for i in 1 2 3 4; do
    images+="${images:+,}{\"url\":\"https://cdn.example.com/products/detail/$i.jpg\","
    images+="\"alt\":\"Trail jacket, view $i\"}"
done
body=$(
    cat <<JSON
{"name":"Trail Jacket Pro","description":"A light waterproof shell for hiking and running, with taped seams, a hood that fits over a helmet and two zipped pockets.",
 "currency":"EUR","variants":[$variants],
 "attributes":{"brand":"Northline","material":"nylon","weight_g":340,"waterproof":true,
  "season":"all","fit":"regular","care":"machine wash 30","origin":"Portugal"},
 "images":[$images]}
JSON
)
id=$(curl -sf "$api/products" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "$body" | sed -E 's/^\{"id":([0-9]+).*/\1/')
[ -n "$id" ] || die "the product was not created"
bytes=$(curl -sf "$api/products/$id" | wc -c)

# The statement of one anonymous GET, as PostgreSQL logged it.
psql_bench -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
curl -sf "$api/products/$id" >/dev/null
sleep 0.5
psql_bench -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null
statements=$(grep -E 'LOG: +execute [^:]+: SELECT' "$BENCH_TMP/pg.log" |
    grep -c 'WHERE p.id = \$1' || true)
sql=$(grep -E 'LOG: +execute [^:]+: SELECT .*WHERE p.id = \$1' "$BENCH_TMP/pg.log" | tail -1 |
    sed -E 's/.*LOG: +execute [^:]+: //')
[ -n "$sql" ] || die "the handler's statement is not in the log"
# pgbench reads ':name' as a variable: the time format's colons become chr(58).
pgsql() {
    sed -e "s/HH24:MI:SS/HH24' || chr(58) || 'MI' || chr(58) || 'SS/g" \
        -e 's/\$1/:id/g' -e 's/\$2::boolean/false/g' <<<"$1"
}
printf '\\set id %s\n%s;\n' "$id" "$(pgsql "$sql")" >"$BENCH_TMP/item.sql"

# The same read in two statements (the product, then its variants), as it
# was before, and with the variants aggregated into one JSON column.
ts() { printf "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')" "$1"; }
product_columns="p.id, p.sku, p.name, p.slug, p.description, p.price_cents, p.currency, p.stock,
 p.is_active, p.category_id, c.name, c.slug, $(ts p.created_at), $(ts p.updated_at), lower(p.name),
 p.attributes, p.images, p.price_max_cents, p.variant_count, p.variant_active_count,
 p.variant_options"
variant_columns="v.id, v.product_id, v.sku, v.price_cents, p.currency, v.stock, v.options,
 v.is_active, v.position, $(ts v.created_at), $(ts v.updated_at)"
two=$(
    cat <<SQL
SELECT $product_columns FROM products p LEFT JOIN categories c ON c.id = p.category_id WHERE p.id = \$1 AND p.deleted_at IS NULL;
SELECT $variant_columns FROM product_variants v JOIN products p ON p.id = v.product_id WHERE v.product_id = \$1 AND v.deleted_at IS NULL AND (v.is_active OR \$2::boolean) ORDER BY v.position, v.id;
SQL
)
aggregated=$(
    cat <<SQL
SELECT $product_columns, v.items FROM products p LEFT JOIN categories c ON c.id = p.category_id LEFT JOIN LATERAL (SELECT json_agg(json_build_array(v.id, v.sku, v.price_cents, v.stock, v.options, v.is_active, v.position, $(ts v.created_at), $(ts v.updated_at)) ORDER BY v.position, v.id) AS items FROM product_variants v WHERE v.product_id = p.id AND v.deleted_at IS NULL AND (v.is_active OR \$2::boolean)) v ON true WHERE p.id = \$1 AND p.deleted_at IS NULL;
SQL
)
printf '\\set id %s\n%s\n' "$id" "$(pgsql "$(tr '\n' ' ' <<<"$two" | sed 's/; /;\n/g')")" \
    >"$BENCH_TMP/two.sql"
printf '\\set id %s\n%s\n' "$id" "$(pgsql "$(tr '\n' ' ' <<<"$aggregated")")" \
    >"$BENCH_TMP/aggregated.sql"

pgbench_tps() {
    "$PG_BIN/pgbench" -h "$BENCH_TMP/sock" -U postgres -n -M prepared -c "$BENCH_CONNECTIONS" \
        -j "$BENCH_THREADS" -T "${BENCH_DURATION%s}" -f "$1" postgres 2>/dev/null |
        awk '/^tps/ {print $3; exit}'
}
row() { printf '| %-52s | %10s |\n' "$1" "$2"; }

echo "## Product detail, uncached: one product with 10 variants, 8 attributes, 4 images"
echo "($PRODUCTS products, $(nproc) cores, $BENCH_CONNECTIONS connections, $BENCH_DURATION each;"
echo "body $bytes bytes; statements per GET: $statements)"
echo
printf '| %-52s | %10s |\n' scenario "req/s"
printf '|%s|%s|\n' "$(printf -- '-%.0s' {1..54})" "------------"
read -r rps _ <<<"$(bench_wrk_values "/api/v1/products/$id")"
row "GET /products/$id (wrk)" "$rps"
tps=$(pgbench_tps "$BENCH_TMP/item.sql")
row "pgbench: the handler's statement" "$tps"
row "ratio GET / pgbench" "$(echo "scale=3; $rps / $tps" | bc -l)"
row "pgbench: product, then variants (2 statements)" "$(pgbench_tps "$BENCH_TMP/two.sql")"
row "pgbench: variants aggregated to one JSON column" "$(pgbench_tps "$BENCH_TMP/aggregated.sql")"
echo
echo "The handler's statement:"
echo
echo "    $sql"
