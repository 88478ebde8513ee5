// image_check.mjs API_URL MAIL_DIR -- smoke tests of the container image,
// run by tests/scripts/image_run against `nexus serve` and `nexus worker`
// inside it: readiness, the /docs assets the image carries, a product
// created by staff and read back by id and in a list (cached and not), and
// a job done by the worker (the verification email of a registration, as a
// file in MAIL_DIR). Prints TAP-like lines; exits non-zero on a failure.
// Waits are for conditions, with generous deadlines.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [api, mailDir] = process.argv.slice(2);
let failures = 0;

function check(ok, what, detail = '') {
  console.log(`${ok ? 'ok' : 'not ok'} - ${what}${ok || !detail ? '' : `: ${detail}`}`);
  if (!ok) failures += 1;
}

async function call(path, opts = {}) {
  const headers = { ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}) };
  if (opts.json) headers['Content-Type'] = 'application/json';
  const r = await fetch(api + path, {
    method: opts.method || 'GET',
    headers,
    body: opts.json ? JSON.stringify(opts.json) : undefined,
  });
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: r.status, type: r.headers.get('content-type') || '', text, json };
}

/** Calls fn every 100 ms until it returns a truthy value or ms pass. */
async function until(ms, fn) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) return null;
    await new Promise((r) => setTimeout(r, 100));
  }
}

// The server in the image starts: /readyz with PostgreSQL and Redis up.
const ready = await until(120000, async () => {
  const r = await call('/readyz');
  return r.status === 200 && r.json;
});
check(ready?.status === 'ready', '/readyz answers ready', JSON.stringify(ready));
if (!ready) process.exit(1);
check(ready.checks?.database === 'ok' && ready.checks?.redis === 'ok', '/readyz: database and Redis ok', JSON.stringify(ready));
check((await call('/healthz')).status === 200, '/healthz answers 200');

// The image carries the Swagger UI assets (DOCS_DIR) and the spec.
const docs = await call('/docs');
check(docs.status === 200 && docs.type.startsWith('text/html') && /swagger-ui/.test(docs.text), '/docs is served from the image', `${docs.status} ${docs.type}`);
const bundle = await call('/docs/swagger-ui-bundle.js');
check(bundle.status === 200 && bundle.text.length > 100000, '/docs assets are in the image', `${bundle.status} ${bundle.text.length} bytes`);
check((await call('/openapi.yaml')).status === 200, '/openapi.yaml is served');

// Staff create a product; anyone reads it back by id and in a list.
const login = await call('/api/v1/auth/login', {
  method: 'POST',
  json: { email: process.env.NEXUS_ADMIN_EMAIL, password: process.env.NEXUS_ADMIN_PASSWORD },
});
check(login.status === 200 && login.json?.access_token, 'the admin made by `nexus user create` in the image logs in', `${login.status} ${login.text}`);
const token = login.json?.access_token;
const sku = `IMAGE-${process.pid}`;
const created = await call('/api/v1/products', {
  method: 'POST',
  token,
  json: { sku, name: `Image Teapot ${process.pid}`, price: '12.50', stock: 7 },
});
check(created.status === 201 && created.json?.id, 'staff create a product (201)', `${created.status} ${created.text}`);
const id = created.json?.id;
for (const pass of ['uncached', 'cached']) {
  const item = await call(`/api/v1/products/${id}`);
  check(item.status === 200 && item.json?.sku === sku && item.json?.price === '12.50', `the product read back by id (${pass})`, `${item.status} ${item.text}`);
  const list = await call(`/api/v1/products?q=image+teapot+${process.pid}`);
  check(list.status === 200 && list.json?.items?.length === 1 && list.json.items[0].id === id, `the product found in a list (${pass})`, `${list.status} ${list.text}`);
}
const page = await call('/api/v1/products?limit=5');
check(page.status === 200 && Array.isArray(page.json?.items) && page.json.items.some((p) => p.id === id), 'the first page of products lists it', `${page.status} ${page.text}`);
const bad = await call('/api/v1/products?limit=oops');
check(bad.status === 400 && bad.type.startsWith('application/problem+json'), 'a bad parameter is a 400 problem+json', `${bad.status} ${bad.type}`);

// The worker in the image sends the verification email of a registration.
const email = `image-${process.pid}@example.com`;
const reg = await call('/api/v1/auth/register', {
  method: 'POST',
  json: { email, password: 'image-user-password', name: 'Image User' },
});
check(reg.status === 201, 'a visitor registers (201)', `${reg.status} ${reg.text}`);
const mail = await until(60000, () =>
  readdirSync(mailDir)
    .filter((f) => f.endsWith('.eml'))
    .map((f) => readFileSync(join(mailDir, f), 'utf8'))
    .find((text) => text.includes(email)),
);
check(Boolean(mail), 'the worker in the image wrote the verification email', `no mail to ${email} in ${mailDir} after 60 s`);

console.log(failures === 0 ? 'image check: ok' : `image check: FAILED (${failures})`);
process.exit(failures === 0 ? 0 : 1);
