// graphiql.test.mjs -- GraphiQL at /graphiql in a real browser (Debian's
// Chromium, driven by playwright-core, which downloads no browser).
//
// Against a server of its own with the demo catalog (`nexus seed`), it
// opens /graphiql and checks that:
// - the page's default query runs as it is and shows the newest products;
// - a query set in the editor, run with Ctrl-Enter, shows one product's
//   variants as the REST API has them;
// - a staff token typed in the Headers tab reaches the server (`me`);
// - the page makes no request to another host, breaks no rule of its
//   Content-Security-Policy and logs no error.
// Screenshots go to build/test-artifacts/ (NEXUS_TEST_ARTIFACTS).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, DOCS_DIR, startServer, createUser, login, seedCatalog } from '../contract/harness.mjs';
import { launchBrowser, foreignRequests, finish } from './browser.mjs';

let server, browser, page, requests, staffToken;
let consoleErrors, pageErrors;

before(async () => {
  assert.ok(existsSync(join(DOCS_DIR, 'graphiql', 'index.html')), `no staged GraphiQL in ${DOCS_DIR}/graphiql (stage_docs_assets)`);
  server = await startServer('graphiql');
  seedCatalog(server, 30, 12);
  createUser(server, 'staff@graphiql.test', 'staff', 'graphiql-password-1');
  staffToken = (await login(server, 'staff@graphiql.test', 'graphiql-password-1')).access_token;
  browser = await launchBrowser();
  ({ page, requests, consoleErrors, pageErrors } = browser);
});

after(() => finish(browser, server));

async function rest(path, token) {
  const r = await fetch(`${server.base}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  assert.equal(r.status, 200, path);
  return r.json();
}

/* The text of one of GraphiQL's CodeMirror editors. */
const editorText = (selector) => page.$eval(`${selector} .CodeMirror`, (el) => el.CodeMirror.getValue());

/* Set the query editor's text, then wait until GraphiQL has parsed it:
 * it reads the operations of the text after a pause in typing, and a run
 * before that sends the operation name of the text before. */
async function setQuery(query, operationName) {
  await page.$eval('.graphiql-query-editor .CodeMirror', (el, q) => el.CodeMirror.setValue(q), query);
  await page.waitForFunction(
    (name) => {
      const cm = document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror;
      const ops = cm.operations;
      return Array.isArray(ops) && ops.length === 1 && (ops[0].name ? ops[0].name.value : null) === name;
    },
    operationName,
  );
}

/* Run the query through the execute button, or Ctrl-Enter in the query
 * editor, and return the result pane's JSON once it shows the answer to
 * this run (it differs from what the pane showed before). */
async function run(how) {
  const shown = await editorText('.graphiql-response').catch(() => '');
  const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/graphql' && r.request().method() === 'POST');
  if (how === 'keyboard') {
    await page.locator('.graphiql-query-editor .CodeMirror').click();
    await page.keyboard.press('Control+Enter');
  } else {
    await page.locator('.graphiql-execute-button').click();
  }
  const response = await answered;
  const body = await response.text();
  await page.waitForFunction(
    (before) => {
      const cm = document.querySelector('.graphiql-response .CodeMirror');
      const text = cm ? cm.CodeMirror.getValue().trim() : '';
      return text.startsWith('{') && text !== before.trim();
    },
    shown,
  );
  const result = JSON.parse(await editorText('.graphiql-response'));
  assert.deepEqual(result, JSON.parse(body), 'the pane shows what /graphql answered');
  return result;
}

test('/graphiql serves GraphiQL with a policy that allows only this server', async () => {
  const response = await page.goto(`${server.base}/graphiql`);
  assert.equal(response.status(), 200);
  const csp = response.headers()['content-security-policy'] || '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /connect-src 'self'/);
  assert.doesNotMatch(csp, /https?:/, 'the policy names no other host');
  await page.locator('.graphiql-query-editor .CodeMirror').waitFor();
  await page.locator('.graphiql-execute-button').waitFor();
});

test("the default query runs and shows the catalog's newest products", async () => {
  const query = await editorText('.graphiql-query-editor');
  assert.match(query, /products\(first: \$first\)/, 'the default query');
  const result = await run('button');
  await page.screenshot({ path: join(ARTIFACTS, 'graphiql-default-query.png') });
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  const newest = await rest('/api/v1/products?limit=5');
  const shown = result.data.products.edges.map((e) => e.node);
  assert.deepEqual(shown.map((n) => n.id), newest.items.map((p) => String(p.id)));
  assert.deepEqual(shown.map((n) => n.name), newest.items.map((p) => p.name));
  assert.equal(result.data.products.pageInfo.hasNextPage, true);
  assert.ok(result.data.products.totalCount >= 5);
});

test('a query set in the editor runs with Ctrl-Enter and shows a product with its variants', async () => {
  const [product] = (await rest('/api/v1/products?limit=1')).items;
  const variants = await rest(`/api/v1/products/${product.id}/variants`);
  const query = `query One($id: ID!) {\n  product(id: $id) {\n    name\n    variants { sku price }\n  }\n}\n`;
  await setQuery(query, 'One');
  await page.locator('.graphiql-editor-tools button', { hasText: 'Variables' }).click();
  await page.$eval('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror', (el, v) => el.CodeMirror.setValue(v), JSON.stringify({ id: String(product.id) }));
  const result = await run('keyboard');
  await page.screenshot({ path: join(ARTIFACTS, 'graphiql-product.png') });
  assert.deepEqual(result, {
    data: {
      product: { name: product.name, variants: variants.items.map((v) => ({ sku: v.sku, price: v.price })) },
    },
  });
});

test('a bearer token typed in the Headers tab reaches the server', async () => {
  await setQuery('{ me { email role } }', null);
  await page.locator('.graphiql-editor-tools button', { hasText: 'Headers' }).click();
  await page.$eval('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror', (el, h) => el.CodeMirror.setValue(h), JSON.stringify({ Authorization: `Bearer ${staffToken}` }));
  const result = await run('button');
  assert.deepEqual(result, { data: { me: { email: 'staff@graphiql.test', role: 'STAFF' } } });
  const sent = requests.filter((r) => r.url === `${server.base}/graphql` && r.method === 'POST').at(-1);
  assert.equal(sent.headers.authorization, `Bearer ${staffToken}`);
});

test('the page loads nothing from other hosts, breaks no policy and logs no error', () => {
  assert.deepEqual(foreignRequests(requests, server.base), [], 'requests to other hosts');
  for (const file of ['graphiql.min.js', 'graphiql.min.css', 'react.production.min.js', 'react-dom.production.min.js', 'graphiql-initializer.js'])
    assert.ok(requests.some((r) => new URL(r.url).pathname === `/graphiql/${file}`), `the page never loaded ${file}`);
  assert.deepEqual(pageErrors, [], 'script errors on the page');
  assert.deepEqual(consoleErrors, [], 'errors in the console (CSP violations included)');
});
