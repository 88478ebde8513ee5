// docs.test.mjs -- Swagger UI at /docs in a real browser (Debian's
// Chromium, driven by playwright-core, which downloads no browser).
//
// Against a server of its own (see tests/contract/harness.mjs) it opens
// /docs and checks that:
// - every operation of openapi.yaml is listed, and nothing else;
// - "Try it out" -> "Execute" on GET /api/v1/products shows a 200, and on
//   a PNG file of /docs shows the image;
// - "Authorize" with a staff bearer token, then POST /api/v1/categories with
//   an edited body, shows a 201 (and the request carried the token);
// - "Authorize" offers the METRICS_TOKEN too: with /metrics open to no
//   address, its Execute shows a 404, and once authorized sends the token
//   and shows a 200;
// - with that token, POST /api/v1/products with variants, attributes and
//   images shows a 201, and GET /api/v1/products/{id}/variants lists them;
// - a variant PATCH with the other fields as the page leaves them shows a
//   200 (no example precondition or idempotency key is sent, and none is
//   sent anywhere unless typed in);
// - attribute and option filters typed as one object go out as query
//   parameters of their own; an NDJSON import's example goes out as lines;
// - GET /api/v1/users/me/logins lists the caller's login,
//   and POST /api/v1/auth/password-reset answers 202 with no body;
// - the page makes no request to another host, breaks no rule of its
//   Content-Security-Policy and throws no script error.
// Screenshots go to build/test-artifacts/ (NEXUS_TEST_ARTIFACTS).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, DOCS_DIR, startServer, createUser, login } from '../contract/harness.mjs';
import { loadSpec, operations } from '../contract/spec.mjs';
import { launchBrowser, foreignRequests, finish } from './browser.mjs';

const spec = loadSpec();
const METRICS_TOKEN = 'browser-metrics-token-0123456789';
let server, browser, page, requests, staffToken;
let consoleErrors, pageErrors;
let tee; /* the product with variants made through the page */

before(async () => {
  assert.ok(existsSync(join(DOCS_DIR, 'index.html')), `no staged docs in ${DOCS_DIR} (stage_docs_assets)`);
  // /metrics for no address: only the METRICS_TOKEN bearer opens it
  server = await startServer('browser', { env: { METRICS_ALLOW: 'none', METRICS_TOKEN } });
  createUser(server, 'staff@browser.test', 'staff', 'browser-password-1');
  staffToken = (await login(server, 'staff@browser.test', 'browser-password-1')).access_token;
  browser = await launchBrowser();
  ({ page, requests, consoleErrors, pageErrors } = browser);
});

after(() => finish(browser, server));

/* The live response body shown in an operation block. */
async function responseBody(block) {
  return block.locator('.live-responses-table .response-col_description pre').first().innerText();
}

/* The operation block of Swagger UI for operationId, expanded. */
async function openOperation(operationId) {
  const o = operations(spec).find((x) => x.id === operationId);
  assert.ok(o, operationId);
  const block = page.locator(`#operations-${o.op.tags[0]}-${operationId}`);
  await block.locator('.opblock-summary').first().click();
  await block.locator('button.try-out__btn').click();
  return block;
}

/* "Authorize" in the dialog's form of the security scheme named scheme
 * (it has one form per scheme), with value. */
async function authorize(scheme, value) {
  await page.locator('.auth-wrapper button.authorize').click();
  const modal = page.locator('.modal-ux');
  const form = modal.locator('.auth-container').filter({ has: page.locator('h4', { hasText: scheme }) });
  await form.locator('input').fill(value);
  await form.locator('.auth-btn-wrapper button.authorize').click();
  await form.locator('button.btn-done').click();
  await modal.waitFor({ state: 'detached' });
}

/* Execute and return the status code shown in the live response. */
async function execute(block) {
  await block.locator('button.execute').click();
  const status = block.locator('.live-responses-table .response .response-col_status').first();
  await status.waitFor();
  return (await status.innerText()).trim();
}

test('/docs lists every operation of openapi.yaml', async () => {
  const response = await page.goto(`${server.base}/docs`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-security-policy'] || '', /default-src 'self'/);
  await page.locator('.opblock').first().waitFor();
  await page.locator('.info .title').waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'docs.png') });
  await page.locator('.opblock-tag-section').first().scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(ARTIFACTS, 'docs-operations.png') });
  const rendered = await page.$$eval('.opblock', (blocks) =>
    blocks.map((b) => {
      const method = b.querySelector('.opblock-summary-method')?.textContent.trim();
      const path = b.querySelector('.opblock-summary-path')?.getAttribute('data-path');
      return `${method} ${path}`;
    }),
  );
  const expected = operations(spec).map((o) => `${o.method} ${o.path}`);
  assert.deepEqual([...rendered].sort(), [...expected].sort());
  assert.equal(await page.locator('.info .title').first().innerText().then((s) => s.includes(spec.info.title)), true);
});

test('Try it out on GET /api/v1/products shows a 200', async () => {
  const block = await openOperation('listProducts');
  assert.equal(await execute(block), '200');
  const body = await block.locator('.live-responses-table .response-col_description pre').first().innerText();
  assert.match(body, /"items"/);
});

test('Authorize with a staff token, then POST /api/v1/categories shows a 201', async () => {
  await authorize('bearerAuth', staffToken);

  const block = await openOperation('createCategory');
  const name = `Browser Category ${Date.now()}`;
  await block.locator('textarea.body-param__text').fill(JSON.stringify({ name, description: 'made by the browser test' }));
  assert.equal(await execute(block), '201');
  const body = await block.locator('.live-responses-table .response-col_description pre').first().innerText();
  assert.ok(body.includes(name), body);
  await block.locator('.live-responses-table').first().scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(ARTIFACTS, 'docs-create-category.png') });

  const post = requests.find((r) => r.method === 'POST' && r.url === `${server.base}/api/v1/categories`);
  assert.ok(post, 'the browser sent no POST /api/v1/categories');
  assert.equal(post.headers.authorization, `Bearer ${staffToken}`);
});

test('Try it out on an image file shows the image', async () => {
  const block = await openOperation('getDocsFile');
  await block.locator('select').first().selectOption('favicon-32x32.png');
  const before = consoleErrors.length;
  assert.equal(await execute(block), '200');
  const image = block.locator('.live-responses-table .response-col_description img').first();
  await image.waitFor();
  await page.waitForFunction((img) => img.complete, await image.elementHandle());
  assert.ok((await image.evaluate((img) => img.naturalWidth)) > 0, 'the image was not shown');
  assert.deepEqual(consoleErrors.slice(before), [], 'console errors while showing the image');
});

test('the page loads nothing from other hosts and breaks no policy', () => {
  assert.deepEqual(foreignRequests(requests, server.base), [], 'requests to other hosts');
  assert.ok(requests.some((r) => r.url === `${server.base}/openapi.yaml`), 'the page never loaded /openapi.yaml');
  assert.ok(requests.length >= 7, `only ${requests.length} requests recorded`);
  assert.deepEqual(pageErrors, [], 'script errors on the page');
  assert.deepEqual(consoleErrors.filter((m) => /Content Security Policy|Refused to/i.test(m)), [], 'CSP violations');
});

test('a product with variants, attributes and images is created, and its variants listed', async () => {
  const create = await openOperation('createProduct');
  const sku = `BR-TEE-${Date.now()}`;
  const product = {
    name: `Browser Tee ${Date.now()}`,
    attributes: { brand: 'Acme', weight_g: 180 },
    images: [{ url: 'https://images.example.com/tee/front.jpg', alt: 'Front' }],
    variants: [
      { sku: `${sku}-M`, price: '19.00', stock: 3, options: { Size: 'M' } },
      { sku: `${sku}-L`, price: '21.00', stock: 0, options: { Size: 'L' } },
    ],
  };
  await create.locator('textarea.body-param__text').fill(JSON.stringify(product));
  assert.equal(await execute(create), '201');
  const created = JSON.parse(await responseBody(create));
  assert.equal(created.variant_count, 2);
  assert.deepEqual(created.price_range, { min: '19.00', max: '21.00' });
  assert.deepEqual(created.attributes, product.attributes);

  const list = await openOperation('listVariants');
  await list.locator('tr[data-param-name="id"] input').fill(String(created.id));
  assert.equal(await execute(list), '200');
  const variants = JSON.parse(await responseBody(list));
  assert.deepEqual(variants.items.map((v) => v.sku), [`${sku}-M`, `${sku}-L`]);
  await list.locator('.live-responses-table').first().scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(ARTIFACTS, 'docs-variants.png') });
  tee = { product: created, variants: variants.items };
});

test('a variant PATCH with the defaults of Try it out shows a 200', async () => {
  assert.ok(tee, 'the product of the test before was not created');
  const patch = await openOperation('updateVariant');
  await patch.locator('tr[data-param-name="id"] input').fill(String(tee.product.id));
  await patch.locator('tr[data-param-name="vid"] input').fill(String(tee.variants[0].id));
  await patch.locator('textarea.body-param__text').fill(JSON.stringify({ stock: 7 }));
  assert.equal(await execute(patch), '200');
  assert.equal(JSON.parse(await responseBody(patch)).stock, 7);
});

test('attribute and option filters given as one object go out as their own parameters', async () => {
  assert.ok(tee, 'the product of the test before was not created');
  const facets = await openOperation('productFacets');
  const filters = facets.locator('tr[data-param-name="filters"] textarea');
  // an escaped comma (the one value "no,such") reaches the server as typed
  await filters.fill(JSON.stringify({ 'attr.brand': 'acme,no\\,such', 'option.Size': 'M' }));
  assert.equal(await execute(facets), '200');
  const sent = requests.filter((r) => r.url.startsWith(`${server.base}/api/v1/products/facets?`)).pop();
  const query = new URL(sent.url).searchParams;
  assert.equal(query.get('attr.brand'), 'acme,no\\,such');
  assert.equal(query.get('option.Size'), 'M');
  assert.equal(query.has('filters'), false, sent.url);
  assert.equal(JSON.parse(await responseBody(facets)).total, 1);
});

test('the NDJSON example of an import is shown and sent as lines', async () => {
  const upload = await openOperation('createImport');
  await upload.locator('.opblock-section-request-body select').first().selectOption('application/x-ndjson');
  const shown = await upload.locator('textarea.body-param__text').inputValue();
  assert.match(shown, /^\{"sku"/, shown.slice(0, 80));
  assert.ok(shown.includes('}\n{'), 'the example is not one object per line');
  assert.equal(await execute(upload), '202');
  const sent = requests.filter((r) => r.method === 'POST' && r.url.startsWith(`${server.base}/api/v1/imports`)).pop();
  assert.equal(sent.body, shown);
  assert.equal(sent.headers['content-type'], 'application/x-ndjson');
});

test('Authorize offers the metrics token, and GET /metrics then sends it and shows a 200', async () => {
  const metrics = await openOperation('getMetrics');
  /* the status of the answer to this Execute (the block may still show the last one) */
  const executeMetrics = async () => {
    const answer = page.waitForResponse((r) => r.url() === `${server.base}/metrics`);
    await metrics.locator('button.execute').click();
    return (await answer).status();
  };
  assert.equal(await executeMetrics(), 404);
  await authorize('metricsToken', METRICS_TOKEN);
  assert.equal(await executeMetrics(), 200);
  await metrics.locator('.live-responses-table .response .response-col_status', { hasText: '200' }).waitFor();
  const sent = requests.filter((r) => r.url === `${server.base}/metrics`);
  assert.deepEqual(sent.map((r) => r.headers.authorization), [undefined, `Bearer ${METRICS_TOKEN}`]);
});

test('the authorized caller lists its logins, and a password reset request shows a 202', async () => {
  const logins = await openOperation('listMyLogins');
  assert.equal(await execute(logins), '200');
  const body = JSON.parse(await responseBody(logins));
  assert.ok(body.items.some((l) => l.current === true), JSON.stringify(body));

  const reset = await openOperation('requestPasswordReset');
  await reset.locator('textarea.body-param__text').fill(JSON.stringify({ email: 'staff@browser.test' }));
  assert.equal(await execute(reset), '202');
  await reset.locator('.live-responses-table').first().scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(ARTIFACTS, 'docs-password-reset.png') });
});

test('Try it out sends no precondition and no idempotency key it was not given', () => {
  const api = requests.filter((r) => r.url.startsWith(`${server.base}/api/`));
  assert.ok(api.length >= 8, `only ${api.length} API requests recorded`);
  for (const r of api)
    for (const name of ['if-match', 'if-none-match', 'idempotency-key'])
      assert.equal(r.headers[name], undefined, `${r.method} ${r.url} carried ${name}`);
});
