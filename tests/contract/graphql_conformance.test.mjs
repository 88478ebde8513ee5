// graphql_conformance.test.mjs -- Nexus's POST /graphql answers as the
// `graphql` npm package (graphql-js, the reference implementation) does
// over the same schema and the same data.
//
// The reference is graphql-js's own graphql() over docs/schema.graphql
// (buildSchema), with resolvers that read the REST API as the same caller
// (graphql_rest.mjs). Against a server with the demo catalog (`nexus
// seed`), each query below runs through both, and:
// - a query that runs (the reference has `data`): Nexus answers 200 with
//   the same `data`, the same members in the same order, and its errors
//   have the reference's `path`s and `locations`; their messages are not
//   compared (REST's problem details and Nexus's field errors word the
//   same fault differently);
// - a request error (the reference has no `data`: a syntax error, a
//   validation rule, a variable that does not fit): Nexus answers 400
//   without `data`, with the reference's error messages and locations (as
//   sets: the order in which rules report is not part of the specification).
// Anonymous queries are also sent as GET /graphql (the cached path), twice,
// and must give the same answers.
//
// What is not compared: graphql-js's suggestions in messages ("Did you
// mean ...?"), which Nexus does not make, and how an invalid variable's
// value is printed in its message (graphql-js's inspect(), Nexus's JSON).
//
// A deliberate difference: a mutation. graphql-js 16 validates it and
// fails when executing it ("Schema is not configured to execute mutation
// operation.", with `data: null`); Nexus refuses it as a request error
// (400) naming the operation type, before anything runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopServer, createUser, login, logTail, seedCatalog } from './harness.mjs';
import { referenceAnswer } from './graphql_rest.mjs';

let server;
const as = {}; // caller name -> token (anonymous: undefined)
const seen = {}; // facts of the seeded catalog the queries use

before(async () => {
  server = await startServer('graphql_conformance');
  seedCatalog(server, 40, 12);
  createUser(server, 'staff@conformance.test', 'staff', 'conformance-password-1');
  createUser(server, 'customer@conformance.test', 'customer', 'conformance-password-1');
  as.staff = (await login(server, 'staff@conformance.test', 'conformance-password-1')).access_token;
  as.customer = (await login(server, 'customer@conformance.test', 'conformance-password-1')).access_token;
  const get = async (path, token) => {
    const r = await fetch(`${server.base}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    assert.equal(r.status, 200, path);
    return r.json();
  };
  const everything = (await get('/api/v1/products?limit=100&include_inactive=true', as.staff)).items;
  const inactive = everything.find((p) => !p.is_active);
  assert.ok(inactive, 'the demo catalog has an inactive product');
  const newest = (await get('/api/v1/products?limit=3')).items;
  seen.product = newest[0];
  seen.inactive = inactive;
  seen.after3 = (await get('/api/v1/products?limit=3')).next_cursor;
  seen.afterPrice2 = (await get('/api/v1/products?limit=2&sort=-price')).next_cursor;
  const roots = (await get('/api/v1/categories?parent=null')).items;
  seen.root = roots[0];
  seen.section = (await get(`/api/v1/categories?parent=${roots[0].id}&sort=name`)).items[0];
});

after(async () => {
  if (!server) return;
  const exit = await stopServer(server);
  assert.equal(exit?.code, 0, `server exit ${JSON.stringify(exit)}\n${logTail(server)}`);
});

/* One request to Nexus: POST, or GET with the request in the query string. */
async function nexus(request, token, method = 'POST') {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  let url = `${server.base}/graphql`;
  let body;
  if (method === 'GET') {
    const qs = new URLSearchParams({ query: request.query });
    if (request.variables) qs.set('variables', JSON.stringify(request.variables));
    if (typeof request.operationName === 'string') qs.set('operationName', request.operationName);
    url += `?${qs}`;
  } else {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(request);
  }
  const r = await fetch(url, { method, headers, body });
  const text = await r.text();
  assert.match(r.headers.get('content-type') || '', /^application\/json/, `${method} /graphql answers JSON: ${text.slice(0, 300)}`);
  return { status: r.status, body: JSON.parse(text) };
}

const where = (e) => JSON.stringify({ locations: e.locations, path: e.path });

/* What is compared of a request error's message: graphql-js's suggestions
 * ("Did you mean "name"?") are left out, as Nexus makes none; the value of
 * an invalid variable, which graphql-js prints with its own inspect()
 * ({ colour: "red" }) and Nexus as JSON ({"colour":"red"}), is left out. */
const normalise = (message) =>
  message.replace(/ Did you mean .*\?$/, '').replace(/(got invalid value )(.*?)((?: at "[^"]*")?; )/, '$1<value>$3');
const messages = (errors) => errors.map((e) => JSON.stringify({ message: normalise(e.message), locations: e.locations })).sort();

/* Compare Nexus's answer with the reference's, as the header says. */
function compare(got, want, label) {
  if (!('data' in want)) {
    assert.equal(got.status, 400, `${label}: a request error is a 400: ${JSON.stringify(got.body)}`);
    assert.equal('data' in got.body, false, `${label}: a request error has no data`);
    assert.deepEqual(messages(got.body.errors), messages(want.errors), `${label}: the errors`);
    return;
  }
  assert.equal(got.status, 200, `${label}: ${JSON.stringify(got.body).slice(0, 500)}`);
  assert.deepEqual(got.body.data, want.data, `${label}: data`);
  assert.equal(JSON.stringify(got.body.data), JSON.stringify(want.data), `${label}: the members' order`);
  const wantErrors = (want.errors || []).map(where).sort();
  assert.deepEqual((got.body.errors || []).map(where).sort(), wantErrors, `${label}: the errors' paths and locations`);
  for (const e of got.body.errors || []) assert.equal(typeof e.message, 'string');
}

/* A query of the list below: through graphql-js over REST and through
 * Nexus, as `caller`, then compared. */
async function conforms(c) {
  const request = { query: c.query, variables: c.variables, operationName: c.operationName };
  const want = JSON.parse(JSON.stringify(await referenceAnswer(server.base, as[c.caller], request)));
  assert.ok(want.data !== undefined || want.errors, 'the reference answered');
  if (c.expect === 'data') assert.equal(want.errors, undefined, `the reference failed: ${JSON.stringify(want.errors)}`);
  if (c.expect === 'fieldError') assert.ok(want.data !== undefined && want.errors?.length, `the reference ran without a field error: ${JSON.stringify(want)}`);
  if (c.expect === 'requestError') assert.equal(want.data, undefined, `the reference ran: ${JSON.stringify(want)}`);
  compare(await nexus(request, as[c.caller]), want, 'POST');
  if (!c.caller)
    for (const pass of ['GET', 'GET again (cached)']) compare(await nexus(request, undefined, 'GET'), want, pass);
}

const PRODUCT_FIELDS = `id sku name slug description price currency stock inStock isActive createdAt updatedAt
  priceRange { min max } options { name values } variantCount
  attributes { key value type } images { url alt }`;
const VARIANT_FIELDS = 'id productId sku price currency stock inStock options { name value } isActive position createdAt updatedAt';
const CATEGORY_FIELDS = 'id name slug description parentId createdAt updatedAt';

/* The queries: [name, () => case]; a case is { query, variables?,
 * operationName?, caller? ('staff', 'customer'; anonymous without),
 * expect: 'data' | 'fieldError' | 'requestError' }. Functions, because
 * they name what before() found in the catalog. */
const cases = [
  // ---- root fields and nesting ------------------------------------------
  ['products: the first page, with totalCount', () => ({ expect: 'data', query: '{ products { totalCount edges { node { id name } } } }' })],
  ['products: cursors and pageInfo', () => ({ expect: 'data', query: '{ products(first: 3) { edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }' })],
  ['products: the next page after a REST cursor', () => ({ expect: 'data', query: 'query Next($after: String) { products(first: 3, after: $after) { edges { node { id name } } pageInfo { hasNextPage endCursor } } }', variables: { after: seen.after3 } })],
  ['products: sorted by price, descending, second page', () => ({ expect: 'data', query: `{ products(sort: PRICE_DESC, first: 2, after: "${seen.afterPrice2}") { edges { node { id price priceRange { min max } } } pageInfo { endCursor } } }` })],
  ['products: sorted by price, ascending', () => ({ expect: 'data', query: '{ products(sort: PRICE_ASC, first: 5) { edges { node { id price currency } } } }' })],
  ['products: sorted by name, descending', () => ({ expect: 'data', query: '{ products(sort: NAME_DESC, first: 7) { edges { node { name } } } }' })],
  ['products: oldest first', () => ({ expect: 'data', query: '{ products(sort: CREATED_AT_ASC, first: 4) { edges { node { id createdAt } } pageInfo { hasNextPage } } }' })],
  ['products: every product field, with variants and category', () => ({ expect: 'data', query: `{ products(first: 4) { edges { node { ${PRODUCT_FIELDS} category { ${CATEGORY_FIELDS} } variants { ${VARIANT_FIELDS} } } } } }` })],
  ['product by id: every field', () => ({ expect: 'data', query: `{ product(id: ${seen.product.id}) { ${PRODUCT_FIELDS} variants { ${VARIANT_FIELDS} } category { ${CATEGORY_FIELDS} parent { id name } } } }` })],
  ['product by slug', () => ({ expect: 'data', query: `{ product(slug: "${seen.product.slug}") { id name slug } }` })],
  ['product: none with that id', () => ({ expect: 'data', query: '{ product(id: "999999") { id } }' })],
  ['product: an inactive one, anonymously', () => ({ expect: 'data', query: `{ product(id: ${seen.inactive.id}) { id isActive } }` })],
  ['product: an inactive one, as staff, with its variants', () => ({ caller: 'staff', expect: 'data', query: `{ product(id: ${seen.inactive.id}) { id isActive variantCount variants { sku isActive } } }` })],
  ['product: a staff view of the newest product, inactive variants included', () => ({ caller: 'staff', expect: 'data', query: `{ product(id: ${seen.product.id}) { variantCount variants { id position isActive } } }` })],
  ['products: includeInactive as staff', () => ({ caller: 'staff', expect: 'data', query: '{ products(first: 50, filter: { includeInactive: true }) { totalCount edges { node { id isActive } } } }' })],
  ['products: includeInactive ignored for a customer', () => ({ caller: 'customer', expect: 'data', query: '{ products(first: 50, filter: { includeInactive: true }) { totalCount edges { node { id isActive } } } }' })],
  ['category by slug: parent, children and products', () => ({ expect: 'data', query: `{ category(slug: "${seen.section.slug}") { ${CATEGORY_FIELDS} parent { slug } children { slug parentId } products(first: 3) { totalCount edges { node { name category { slug } } } pageInfo { hasNextPage } } } }` })],
  ['category by id: two levels of children', () => ({ expect: 'data', query: `{ category(id: ${seen.root.id}) { name children { name children { name slug parent { slug } } } } }` })],
  ['category: none with that slug', () => ({ expect: 'data', query: '{ category(slug: "no-such-category") { id } }' })],
  ['categories: all, by name', () => ({ expect: 'data', query: `{ categories { ${CATEGORY_FIELDS} } }` })],
  ['categories: the roots', () => ({ expect: 'data', query: '{ categories(parent: null) { id slug children { slug } } }' })],
  ['categories: the children of a slug', () => ({ expect: 'data', query: `{ categories(parent: "${seen.root.slug}") { slug parent { slug } products(first: 2, sort: NAME_ASC) { edges { node { name } } } } }` })],
  ['aliases: Category.products twice with different arguments, and its totalCount twice', () => ({ expect: 'data', query: '{ categories { slug a: products(first: 2) { n: totalCount edges { node { name } } pageInfo { hasNextPage endCursor } } b: products(first: 3, sort: PRICE_DESC, filter: { inStock: true }) { totalCount edges { node { price } } } products(sort: NAME_ASC, first: 1) { m: totalCount pageInfo { hasNextPage } } } }' })],
  ['aliases: pages of a product\'s category under different arguments, variants and categories under aliases', () => ({ expect: 'data', query: `{ products(first: 3) { edges { node { name v: variants { sku } variants { price isActive } c: category { slug top: products(first: 1, sort: NAME_DESC) { edges { node { name } } } products(first: 2, sort: PRICE_ASC) { edges { node { name w: variants { sku } } } } } category { id name parent { slug kids: children { slug } children { id } } } } } } }` })],
  ['categories: products of many categories, with variants', () => ({ expect: 'data', query: '{ categories { slug products(first: 2) { totalCount edges { node { sku variants { sku } } } } } }' })],
  ['facets: everything', () => ({ expect: 'data', query: '{ facets { total categories { id slug name count } price { min max buckets { min max count } } inStock { inStock outOfStock } attributes { key values { value count } } options { name values { value count } } } }' })],
  ['facets: a category, price buckets', () => ({ expect: 'data', query: `{ facets(filter: { category: "${seen.section.slug}" }, priceBuckets: ["0", "100", "1000"]) { total categories { slug count } price { min max buckets { min max count } } } }` })],
  ['facets: one bucket boundary given as a single value (list coercion)', () => ({ expect: 'data', query: '{ facets(priceBuckets: "500") { price { buckets { min max count } } } }' })],
  ['facets: out of stock, as staff with inactive ones', () => ({ caller: 'staff', expect: 'data', query: '{ facets(filter: { inStock: false, includeInactive: true }) { total inStock { inStock outOfStock } options { name } } }' })],
  ['me: anonymous', () => ({ expect: 'data', query: '{ me { id email } }' })],
  ['me: staff', () => ({ caller: 'staff', expect: 'data', query: '{ me { id email name role isActive emailVerified createdAt updatedAt } }' })],
  ['me: customer, next to the catalog', () => ({ caller: 'customer', expect: 'data', query: '{ me { email role } products(first: 1) { edges { node { id } } } }' })],
  // ---- filters ---------------------------------------------------------------
  ['filter: a category and its descendants', () => ({ expect: 'data', query: `{ products(first: 30, filter: { category: "${seen.root.slug}" }) { totalCount edges { node { category { slug } } } } }` })],
  ['filter: search words', () => ({ expect: 'data', query: '{ products(filter: { q: "watch" }) { totalCount edges { node { name } } } }' })],
  ['filter: a price range', () => ({ expect: 'data', query: '{ products(first: 30, sort: PRICE_ASC, filter: { minPrice: "100", maxPrice: "2000.50" }) { totalCount edges { node { price } } } }' })],
  ['filter: out of stock', () => ({ expect: 'data', query: '{ products(filter: { inStock: false }) { totalCount edges { node { stock inStock } } } }' })],
  ['filter: a currency', () => ({ expect: 'data', query: '{ products(filter: { currency: "eur" }) { totalCount edges { node { currency } } } }' })],
  ['filter: attribute values and a numeric range', () => ({ expect: 'data', query: '{ products(filter: { attributes: [{ key: "color", values: ["black", "navy"] }, { key: "weight_g", min: 200, max: 2000 }] }) { totalCount edges { node { attributes { key value type } } } } }' })],
  ['filter: a numeric range written with exponents', () => ({ expect: 'data', query: '{ products(filter: { attributes: [{ key: "weight_g", min: 1e-7, max: 25E2 }] }) { totalCount edges { node { id } } } }' })],
  ['filter: a numeric range from Float variables', () => ({ expect: 'data', query: 'query($min: Float, $max: Float) { products(filter: { attributes: [{ key: "weight_g", min: $min, max: $max }] }) { totalCount edges { node { id } } } }', variables: { min: 0.0000001, max: 1e21 } })],
  ['filter: variant options, in stock, as a variable', () => ({ expect: 'data', query: 'query($f: ProductFilter) { products(filter: $f) { totalCount edges { node { options { name values } } } } }', variables: { f: { inStock: true, options: [{ name: 'Size', values: ['XL', 'xxl'] }] } } })],
  // ---- the language: fragments, aliases, variables, directives ---------------
  ['named fragments, nested and reused', () => ({ expect: 'data', query: `query { a: product(id: ${seen.product.id}) { ...Card variants { ...V } } b: products(first: 2) { edges { node { ...Card } } } }
      fragment Card on Product { id name ...Price category { ...Cat } }
      fragment Price on Product { price priceRange { min } }
      fragment Cat on Category { slug }
      fragment V on Variant { sku options { name value } }` })],
  ['inline fragments, with and without a type condition', () => ({ expect: 'data', query: `{ product(id: ${seen.product.id}) { ... on Product { name } ... { slug } ... @include(if: false) { sku } } }` })],
  ['aliases: the same field with different arguments', () => ({ expect: 'data', query: '{ cheap: products(sort: PRICE_ASC, first: 2) { edges { node { price } } } dear: products(sort: PRICE_DESC, first: 2) { edges { node { cost: price label: name } } } count: products { n: totalCount } }' })],
  ['variables: defaults used', () => ({ expect: 'data', query: 'query Page($first: Int = 2, $sort: ProductSort = PRICE_DESC) { products(first: $first, sort: $sort) { edges { node { id price } } } }' })],
  ['variables: defaults overridden, an ID given as a number', () => ({ expect: 'data', query: 'query Page($first: Int = 2, $sort: ProductSort = PRICE_DESC, $id: ID!) { products(first: $first, sort: $sort) { edges { node { id } } } product(id: $id) { name } }', variables: { first: 4, sort: 'NAME_ASC', id: seen.product.id } })],
  ['directives: @include and @skip from variables', () => ({ expect: 'data', query: 'query($full: Boolean!, $brief: Boolean = true) { products(first: 2) { edges { node { id name @skip(if: $brief) variants @include(if: $full) { sku } category @include(if: $full) @skip(if: $brief) { slug } } } } }', variables: { full: true } })],
  ['directives: a skipped root field and fragment', () => ({ expect: 'data', query: `query($no: Boolean = false) { product(id: ${seen.product.id}) @skip(if: true) { id } facets @include(if: $no) { total } products(first: 1) { ...F @include(if: $no) totalCount } } fragment F on ProductConnection { edges { cursor } }` })],
  ['__typename at every level', () => ({ expect: 'data', query: `{ __typename product(id: ${seen.product.id}) { __typename variants { __typename } images { __typename } } products(first: 1) { __typename edges { __typename node { __typename } } pageInfo { __typename } } facets { __typename price { __typename } } }` })],
  ['operationName picks one operation', () => ({ expect: 'data', operationName: 'Two', query: 'query One { me { id } } query Two { products(first: 1) { edges { node { id } } } }' })],
  ['introspection: a type and the schema roots', () => ({ expect: 'data', query: '{ __schema { queryType { name } mutationType { name } } __type(name: "ProductFilter") { kind name inputFields { name defaultValue type { kind name ofType { kind name } } } } }' })],
  // ---- field errors: the field, or its nearest nullable parent, is null ------
  ['field error: first out of range on a root connection', () => ({ expect: 'fieldError', query: '{ products(first: 0) { totalCount } }' })],
  ['field error: a bad price under a nullable category', () => ({ expect: 'fieldError', query: `{ category(slug: "${seen.section.slug}") { slug products(filter: { minPrice: "abc" }) { totalCount } } product(id: ${seen.product.id}) { id } }` })],
  ['field error: a tampered cursor', () => ({ expect: 'fieldError', query: `{ category(id: ${seen.root.id}) { products(after: "not-a-cursor") { totalCount } } }` })],
  ['field error: a REST cursor of another sort', () => ({ expect: 'fieldError', query: `query($after: String) { category(id: ${seen.root.id}) { name products(sort: PRICE_ASC, after: $after) { edges { node { id } } } } }`, variables: { after: seen.after3 } })],
  ['field error: both id and slug', () => ({ expect: 'fieldError', query: `{ product(id: ${seen.product.id}, slug: "${seen.product.slug}") { id } }` })],
  // ---- request errors --------------------------------------------------------
  ['request error: unknown field', () => ({ expect: 'requestError', query: '{ products { edges { node { id nope } } } }' })],
  ['request error: unknown argument and unknown type', () => ({ expect: 'requestError', query: 'query($x: NoSuchType) { products(last: 3) { totalCount } }' })],
  ['request error: a leaf with a selection, an object without one', () => ({ expect: 'requestError', query: `{ products { totalCount { x } } product(id: ${seen.product.id}) }` })],
  ['request error: a literal of the wrong type', () => ({ expect: 'requestError', query: '{ products(first: "ten", sort: PRICE) { totalCount } }' })],
  ['request error: a variable of the wrong type', () => ({ expect: 'requestError', query: 'query($n: Int) { products(first: $n) { totalCount } }', variables: { n: 'ten' } })],
  ['request error: a required variable missing', () => ({ expect: 'requestError', query: 'query($id: ID!) { product(id: $id) { id } }' })],
  ['request error: an input object variable with an unknown field', () => ({ expect: 'requestError', query: 'query($f: ProductFilter) { products(filter: $f) { totalCount } }', variables: { f: { colour: 'red' } } })],
  ['request error: a required field missing deep in a variable', () => ({ expect: 'requestError', query: 'query($f: ProductFilter) { products(filter: $f) { totalCount } }', variables: { f: { attributes: [{ key: 'color' }, { values: ['x'] }] } } })],
  ['request error: a variable used where its type does not fit', () => ({ expect: 'requestError', query: 'query($s: String) { products(sort: $s) { totalCount } }' })],
  ['request error: undefined and unused variables', () => ({ expect: 'requestError', query: 'query($unused: Int) { products(first: $missing) { totalCount } }' })],
  ['request error: unknown, unused and misplaced fragments', () => ({ expect: 'requestError', query: '{ products { ...Nope ...Cat } } fragment Cat on Category { name } fragment Idle on Product { id }' })],
  ['request error: a fragment cycle', () => ({ expect: 'requestError', query: '{ categories { ...A } } fragment A on Category { children { ...B } } fragment B on Category { parent { ...A } }' })],
  ['request error: conflicting fields under one response name', () => ({ expect: 'requestError', query: '{ products { edges { node { x: name x: slug } } } }' })],
  ['request error: a syntax error', () => ({ expect: 'requestError', query: '{ products { edges { node { id } }' })],
  ['request error: an unterminated string', () => ({ expect: 'requestError', query: '{ product(slug: "abc) { id } }' })],
  ['request error: two anonymous operations', () => ({ expect: 'requestError', query: '{ me { id } } { products { totalCount } }' })],
  ['request error: an empty operationName names none, even of one operation', () => ({ expect: 'requestError', operationName: '', query: 'query One { products(first: 1) { edges { node { id } } } }' })],
  ['request error: an operationName that names none', () => ({ expect: 'requestError', operationName: 'Three', query: 'query One { me { id } } query Two { me { email } }' })],
  ['request error: a directive in the wrong place, and repeated', () => ({ expect: 'requestError', query: 'query @skip(if: true) { products @include(if: true) @include(if: false) { totalCount } }' })],
  ['request error: two operations and two fragments of one name', () => ({ expect: 'requestError', query: 'query A { categories { ...F } } query A { categories { ...F } } fragment F on Category { id } fragment F on Category { name }', operationName: 'A' })],
  ['request error: a variable defined twice', () => ({ expect: 'requestError', query: 'query($x: Int, $x: Int) { products(first: $x) { totalCount } }' })],
  ['request error: an input field given twice', () => ({ expect: 'requestError', query: '{ products(filter: {q: "a", q: "b"}) { totalCount } }' })],
  ['request error: type conditions on unknown and leaf types', () => ({ expect: 'requestError', query: '{ products { ... on Nope { totalCount } ...F } } fragment F on Int { id }' })],
  ['request error: type-system definitions are not executable', () => ({ expect: 'requestError', query: 'type Foo { a: Int } schema { query: Query } directive @d on FIELD { categories { id } }' })],
  ['request error: a null for a non-null variable', () => ({ expect: 'requestError', query: 'query($n: Int!) { products(first: $n) { totalCount } }', variables: { n: null } })],
  ['request error: a variable in a default value', () => ({ expect: 'requestError', query: 'query($a: Int = $b) { products(first: $a) { totalCount } }' })],
  ['request error: an unexpected character', () => ({ expect: 'requestError', query: '{ products { totalCount ? } }' })],
  ['request error: a single quote', () => ({ expect: 'requestError', query: "{ product(slug: 'x') { id } }" })],
  ['request error: two dots', () => ({ expect: 'requestError', query: '{ products { .. } }' })],
  ['request error: a digit after 0', () => ({ expect: 'requestError', query: '{ product(id: 01) { id } }' })],
  ['request error: a number followed by a letter', () => ({ expect: 'requestError', query: '{ products(first: 12a) { totalCount } }' })],
  ['request error: a bad escape', () => ({ expect: 'requestError', query: '{ product(slug: "a\\x") { id } }' })],
  ['request error: a lone surrogate escape', () => ({ expect: 'requestError', query: '{ product(slug: "a\\uD83D") { id } }' })],
  ['data: first: null is its default', () => ({ expect: 'data', query: '{ products(first: null) { edges { node { id } } } }' })],
  ['field error: a defaulted variable\'s null in a non-null list item', () => ({ expect: 'fieldError', query: 'query($v: String = "x") { products(filter: {attributes: [{key: "brand", values: [$v]}]}) { totalCount } }', variables: { v: null } })],
  ['field error: a defaulted variable\'s null for a non-null argument', () => ({ expect: 'fieldError', query: 'query($n: String = "Query") { __type(name: $n) { name } }', variables: { n: null } })],
];

test('at least 40 queries are compared', () => assert.ok(cases.length >= 40, `${cases.length} cases`));

for (const [name, make] of cases) test(name, () => conforms(make()));

test('a mutation is refused before anything runs (a deliberate difference)', async () => {
  const query = 'mutation M { products { totalCount } }';
  const want = JSON.parse(JSON.stringify(await referenceAnswer(server.base, undefined, { query })));
  assert.deepEqual(want, { data: null, errors: [{ message: 'Schema is not configured to execute mutation operation.', locations: [{ line: 1, column: 1 }] }] });
  const got = await nexus({ query });
  assert.equal(got.status, 400);
  assert.equal('data' in got.body, false);
  assert.equal(got.body.errors.length, 1);
  assert.match(got.body.errors[0].message, /mutation/i);
  assert.deepEqual(got.body.errors[0].locations, [{ line: 1, column: 1 }]);
});
