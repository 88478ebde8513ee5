// graphql_rest.mjs -- a reference implementation of the GraphQL schema
// (docs/schema.graphql) in JavaScript, over the REST API, for graphql-js.
//
// Every field reads what REST answers and maps it as docs/GRAPHQL.md
// ("Schema") says: camelCase names, connections from the list envelope
// and its cursors, maps as lists, enums in upper case. It is written from
// the contract, not from the C code, so the two can disagree.
//
// Cursors: REST gives only the cursor after a page. A connection's
// endCursor is that cursor; an edge's cursor is the one after a page that
// ends at that edge (the same list asked for with limit = its position + 1);
// startCursor is the first edge's. The last edge of the whole list has no
// REST cursor after it, so queries here do not ask for it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, graphql } from 'graphql';
import { ROOT } from './harness.mjs';

export const schema = buildSchema(readFileSync(join(ROOT, 'docs', 'schema.graphql'), 'utf8'));

const SORTS = {
  CREATED_AT_DESC: '-created_at',
  CREATED_AT_ASC: 'created_at',
  PRICE_ASC: 'price',
  PRICE_DESC: '-price',
  NAME_ASC: 'name',
  NAME_DESC: '-name',
};

/* graphql-js resolves every field of a level at once: at most this many
 * REST requests are in flight, so a wide query does not open hundreds of
 * connections to the test server. */
const MAX_IN_FLIGHT = 4;
let inFlight = 0;
const waiting = [];

async function limited(run) {
  if (inFlight >= MAX_IN_FLIGHT) await new Promise((resolve) => waiting.push(resolve));
  inFlight++;
  try {
    return await run();
  } finally {
    inFlight--;
    waiting.shift()?.();
  }
}

/* GET path?params from the REST API as the context's caller. Returns the
 * JSON, or null for a 404 (and a 401 when `me` asks); throws the problem's
 * detail for any other status. */
async function rest(ctx, path, params = {}, { nullOn = [404] } = {}) {
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null)).toString();
  const headers = ctx.token ? { Authorization: `Bearer ${ctx.token}` } : {};
  const { status, body } = await limited(async () => {
    const r = await fetch(`${ctx.base}${path}${qs ? `?${qs}` : ''}`, { headers });
    return { status: r.status, body: await r.text() };
  });
  if (nullOn.includes(status)) return null;
  const json = JSON.parse(body);
  if (status !== 200) throw new Error(`${path}: ${status} ${json.detail || ''}`);
  return json;
}

/* Every page of a REST list. */
async function all(ctx, path, params) {
  const items = [];
  let cursor;
  do {
    const page = await rest(ctx, path, { ...params, limit: 100, cursor });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

/* A Float as REST's attr.<key>.min reads it: plain decimal, the digits of
 * its shortest spelling (1e-7 is "0.0000001", 1e21 twenty-two digits). */
function plainDecimal(n) {
  const m = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(String(n));
  if (!m) return String(n);
  const [, sign, whole, frac = '', exp] = m;
  const digits = whole + frac;
  const point = whole.length + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/* ProductFilter -> the product list's query parameters. */
function filterParams(filter = {}) {
  const p = {
    category: filter.category,
    q: filter.q,
    min_price: filter.minPrice,
    max_price: filter.maxPrice,
    in_stock: filter.inStock === undefined || filter.inStock === null ? undefined : String(filter.inStock),
    currency: filter.currency,
    sku: filter.sku,
    include_inactive: filter.includeInactive ? 'true' : undefined,
  };
  for (const a of filter.attributes || []) {
    if (a.values) p[`attr.${a.key}`] = a.values.join(',');
    if (a.min !== undefined && a.min !== null) p[`attr.${a.key}.min`] = plainDecimal(a.min);
    if (a.max !== undefined && a.max !== null) p[`attr.${a.key}.max`] = plainDecimal(a.max);
  }
  for (const o of filter.options || []) p[`option.${o.name}`] = o.values.join(',');
  return p;
}

/* A ProductConnection over GET /products with these arguments. */
async function connection(ctx, args, extra = {}) {
  const params = { ...filterParams(args.filter), ...extra, sort: SORTS[args.sort], cursor: args.after ?? undefined };
  const page = await rest(ctx, '/api/v1/products', { ...params, limit: args.first ?? 20 });
  const cursorAfter = async (i) => (await rest(ctx, '/api/v1/products', { ...params, limit: i + 1 })).next_cursor;
  const edges = page.items.map((node, i) => ({ node, cursor: () => cursorAfter(i) }));
  return {
    edges,
    pageInfo: {
      hasNextPage: page.next_cursor !== null,
      hasPreviousPage: false,
      startCursor: () => (edges.length ? cursorAfter(0) : null),
      endCursor: page.next_cursor,
    },
    totalCount: async () => (await rest(ctx, '/api/v1/products', { ...params, limit: 1, include_total: 'true' })).total,
  };
}

const exactlyOne = ({ id, slug }) => {
  if ((id === undefined || id === null) === (slug === undefined || slug === null)) throw new Error('give exactly one of id and slug');
};

const byKey = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const attributeType = (v) => (typeof v === 'number' ? 'NUMBER' : typeof v === 'boolean' ? 'BOOLEAN' : 'STRING');
const category = (ctx, key) => rest(ctx, `/api/v1/categories/${encodeURIComponent(key)}`);

const resolvers = {
  Query: {
    async product(_, args, ctx) {
      exactlyOne(args);
      if (args.id !== undefined && args.id !== null) return /^[1-9][0-9]*$/.test(args.id) ? rest(ctx, `/api/v1/products/${args.id}`) : null;
      // REST finds products by id only: look the slug up in the whole list.
      const hit = (await all(ctx, '/api/v1/products', { include_inactive: 'true' })).find((p) => p.slug === args.slug);
      return hit ? rest(ctx, `/api/v1/products/${hit.id}`) : null;
    },
    products: (_, args, ctx) => connection(ctx, args),
    category(_, args, ctx) {
      exactlyOne(args);
      return category(ctx, args.id ?? args.slug);
    },
    categories: (_, args, ctx) =>
      all(ctx, '/api/v1/categories', { sort: 'name', parent: 'parent' in args ? (args.parent ?? 'null') : undefined }),
    async facets(_, args, ctx) {
      const f = await rest(ctx, '/api/v1/products/facets', {
        ...filterParams(args.filter),
        price_buckets: args.priceBuckets ? args.priceBuckets.join(',') : undefined,
      });
      return {
        total: f.total,
        categories: f.categories,
        price: { min: f.price.min, max: f.price.max, buckets: f.price.buckets || [] },
        inStock: { inStock: f.in_stock.true, outOfStock: f.in_stock.false },
        attributes: Object.entries(f.attributes).map(([key, values]) => ({ key, values })),
        options: Object.entries(f.options).map(([name, values]) => ({ name, values })),
      };
    },
    async me(_, __, ctx) {
      const u = await rest(ctx, '/api/v1/users/me', {}, { nullOn: [401] });
      return u && { ...u, role: u.role.toUpperCase() };
    },
  },
  Product: {
    category: (p, _, ctx) => (p.category ? category(ctx, p.category.id) : null),
    variants: async (p, _, ctx) => p.variants ?? (await rest(ctx, `/api/v1/products/${p.id}/variants`)).items,
    attributes: (p) =>
      Object.entries(p.attributes)
        .sort(([a], [b]) => byKey(a, b))
        .map(([key, v]) => ({ key, value: String(v), type: attributeType(v) })),
  },
  Variant: {
    options: (v) =>
      Object.entries(v.options)
        .sort(([a], [b]) => byKey(a, b))
        .map(([name, value]) => ({ name, value })),
  },
  Category: {
    parent: (c, _, ctx) => (c.parent_id === null ? null : category(ctx, c.parent_id)),
    children: (c, _, ctx) => all(ctx, '/api/v1/categories', { sort: 'name', parent: c.id }),
    products: (c, args, ctx) => connection(ctx, { ...args, filter: { ...args.filter, category: String(c.id) } }),
  },
};

for (const [type, fields] of Object.entries(resolvers))
  for (const [name, resolve] of Object.entries(fields)) schema.getType(type).getFields()[name].resolve = resolve;

const snake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/* Other fields: the source's member of the same name or its snake_case
 * (inStock -> in_stock), called when it is a function (lazy values). */
function fieldResolver(source, args, ctx, info) {
  const v = info.fieldName in source ? source[info.fieldName] : source[snake(info.fieldName)];
  return typeof v === 'function' ? v(args, ctx, info) : v;
}

/** Run a request through graphql-js over REST at base, as the caller of token. */
export function referenceAnswer(base, token, { query, variables, operationName }) {
  return graphql({
    schema,
    source: query,
    variableValues: variables,
    operationName,
    contextValue: { base, token },
    fieldResolver,
  });
}
