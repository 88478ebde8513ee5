// contract.test.mjs -- the server does what openapi.yaml says.
//
// 1. The route table (src/api/routes.c) and the spec's paths and methods
//    are the same set, with the same access levels (x-required-role).
// 2. A dedicated request set, replayed against a real server on a fresh
//    database, produces every status that the spec documents for every
//    operation (except 500, which only an internal failure produces), and
//    every response is checked against the spec: an undocumented status, a
//    missing documented header (X-Request-Id, ETag, Location, Retry-After,
//    WWW-Authenticate, ...) or a body that does not match its schema fails.
//    The last phase drops the server's database to see the 503s.
// 3. /docs and /graphiql with no DOCS_DIR answer 404 and the server still starts.
//
// Run by scripts/test (node --test) after the release build; see
// harness.mjs for what it needs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, startServer, stopServer, createUser, login, adminSql, logTail } from './harness.mjs';
import { send, raw } from './http.mjs';
import { ContractChecker, loadSpec, operations } from './spec.mjs';

const spec = loadSpec();
const checker = new ContractChecker(spec);
const BODY_MAX_KIB = 4;
const PASSWORD = 'contract-password-1';
const PER_CLIENT = 20;
let server;

before(async () => {
  server = await startServer('contract', {
    // Loopback is a trusted proxy, so X-Forwarded-For gives the 429 probes
    // client addresses of their own.
    env: {
      BODY_MAX_KIB: String(BODY_MAX_KIB),
      LOGIN_MAX_FAILURES_PER_EMAIL: '3',
      LOGIN_MAX_FAILURES_PER_CLIENT: String(PER_CLIENT),
      TRUSTED_PROXIES: '127.0.0.1,::1',
      // Requests held on a lock of the test's wait however slow the
      // machine is.
      DB_STATEMENT_TIMEOUT_MS: '600000',
    },
  });
});

after(async () => {
  if (!server) return;
  const exit = await stopServer(server);
  assert.equal(exit?.code, 0, `server exit ${JSON.stringify(exit)}\n${logTail(server)}`);
});

/* Send one request of the set, check it against the spec and the status
 * this request must give; returns the response with .json parsed. */
async function call(t, opId, method, path, opts = {}, expect) {
  const res = opts.raw
    ? await raw(server.port, opts.raw)
    : await send(server.base, path, { ...opts, method });
  const problems = checker.check(opId, method, path, res);
  if (expect !== undefined && res.status !== expect) problems.unshift(`status ${res.status}, expected ${expect}`);
  try {
    res.json = JSON.parse(res.body.toString('utf8'));
  } catch {
    res.json = undefined;
  }
  await t.test(`${method} ${path.split('?')[0]} -> ${expect ?? res.status}${opts.label ? ` (${opts.label})` : ''}`, () => {
    assert.deepEqual(problems, [], `${method} ${path}: ${res.status} ${res.body.toString('utf8').slice(0, 400)}`);
  });
  return res;
}

/* One value from SQL on the server's own database. */
function serverSql(sql) {
  const r = spawnSync('psql', ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', server.databaseUrl, '-c', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql: ${sql}: ${r.stderr || r.error}`);
  return r.stdout.trim();
}

/* Poll sql until it answers want; fails after about 30 s. */
async function waitSql(sql, want) {
  for (let i = 0; i < 300; i++) {
    if (serverSql(sql) === want) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`gave up waiting for ${want} from: ${sql}`);
}

/* A POST on a new connection of its own: a request held on a lock holds
 * its server thread, and a pooled connection that thread accepted earlier
 * would wait behind it; a new connection goes to a thread that is free. */
function rawPost(path, headers, body) {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/* A session of our own that holds a lock on table until release() is
 * called, so that a request that needs the table waits in the middle. */
async function holdTable(table) {
  const psql = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', server.databaseUrl], { stdio: ['pipe', 'ignore', 'inherit'] });
  const done = new Promise((r) => psql.once('exit', r));
  psql.stdin.write(`BEGIN;\nLOCK TABLE ${table} IN EXCLUSIVE MODE;\n`);
  await waitSql(`SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = '${table}' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND l.mode = 'ExclusiveLock' AND l.granted`, '1');
  return {
    waiting: () => waitSql(`SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = '${table}' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND NOT l.granted`, '1'),
    release: async () => {
      psql.stdin.end('ROLLBACK;\n');
      await done;
    },
  };
}

/* A keyed POST repeated while the first still runs (held on a lock of ours
 * on table) is a 409 on the key; once the first is done (status), a
 * replay. */
async function keyInUse(t, op, path, { token, json, table, status }) {
  const key = `${op}-busy`;
  const headers = { 'Idempotency-Key': key, ...(json ? { 'Content-Type': 'application/json' } : {}) };
  const held = await holdTable(table);
  const first = send(server.base, path, { method: 'POST', token, json, headers: { 'Idempotency-Key': key } });
  await held.waiting();
  const raw = rawPost(path, { ...headers, ...(token ? { Authorization: `Bearer ${token}` } : {}) }, json ? JSON.stringify(json) : '');
  const busy = await call(t, op, 'POST', path, { raw, label: 'key in use' }, 409);
  assert.equal(busy.json.errors[0].field, 'Idempotency-Key');
  await held.release();
  assert.equal((await first).status, status);
  const again = await call(t, op, 'POST', path, { token, json, headers: { 'Idempotency-Key': key }, label: 'replay' }, status);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  return key;
}

/* A request whose framing the server refuses before routing: two Hosts. */
const badFraming = (method, path) =>
  `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: example.org\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`;

const BOGUS_TOKEN = 'not.a.valid-token';
const tooLarge = () => JSON.stringify({ name: 'x'.repeat(BODY_MAX_KIB * 1024 + 100) });

test('the checker rejects what the spec does not allow', () => {
  const c = new ContractChecker(spec);
  const category = {
    id: 2,
    name: 'Headphones',
    slug: 'headphones',
    description: '',
    parent_id: null,
    created_at: '2026-01-01T12:00:00.123456Z',
    updated_at: '2026-01-01T12:00:00.123456Z',
  };
  const ok = (body, extra = {}) => ({
    status: 200,
    headers: { 'x-request-id': 'abc', 'content-type': 'application/json', etag: '"0123456789abcdef"', ...extra },
    body: Buffer.from(JSON.stringify(body)),
  });
  const path = '/api/v1/categories/2';
  assert.deepEqual(c.check('getCategory', 'GET', path, ok(category)), []);
  assert.deepEqual(c.check('getCategory', 'GET', path, ok({ ...category, parent_id: 1 })), [], '[integer, null]');
  assert.equal(c.check('getCategory', 'GET', path, ok({ ...category, parent_id: '1' })).length, 1);
  assert.equal(c.check('getCategory', 'GET', path, ok({ ...category, secret: 1 })).length, 1, 'unknown member');
  assert.equal(c.check('getCategory', 'GET', path, ok({ ...category, created_at: 'yesterday' })).length, 1);
  const noId = ok(category);
  delete noId.headers['x-request-id'];
  assert.match(c.check('getCategory', 'GET', path, noId).join(), /x-request-id is missing/);
  assert.match(c.check('getCategory', 'GET', path, { ...ok(category), status: 418 }).join(), /not documented/);
  assert.match(c.check('getCategory', 'GET', path, ok(category, { 'content-type': 'text/plain' })).join(), /Content-Type/);
  const unauthorized = {
    status: 401,
    headers: { 'x-request-id': 'abc', 'content-type': 'application/problem+json' },
    body: Buffer.from(JSON.stringify({ type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'no', request_id: 'abc' })),
  };
  assert.match(c.check('getCategory', 'GET', path, unauthorized).join(), /www-authenticate/i);
});

test('the route table and the spec list the same operations, with the same access', () => {
  const source = readFileSync(join(ROOT, 'src', 'api', 'routes.c'), 'utf8');
  const rows = [...source.matchAll(/\{\s*HTTP_([A-Z]+)\s*,\s*"([^"]+)"\s*,\s*(\w+)\s*,\s*ACCESS_([A-Z]+)\s*,/g)];
  assert.ok(rows.length > 10, 'cannot read the route rows of src/api/routes.c');
  const routed = new Map(rows.map((m) => [`${m[1]} ${m[2]}`, m[4].toLowerCase()]));
  const specced = new Map(operations(spec).map((o) => [`${o.method} ${o.path}`, o.op['x-required-role']]));
  const notInSpec = [...routed.keys()].filter((k) => !specced.has(k));
  const notRouted = [...specced.keys()].filter((k) => !routed.has(k));
  assert.deepEqual(notInSpec, [], 'routes that openapi.yaml does not describe');
  assert.deepEqual(notRouted, [], 'operations of openapi.yaml that no route serves');
  const wrongRole = [...routed].filter(([k, role]) => specced.get(k) !== role).map(([k, role]) => `${k}: route ${role}, spec ${specced.get(k)}`);
  assert.deepEqual(wrongRole, [], 'x-required-role differs from the route access level');
});

test('without DOCS_DIR the server starts and /docs and /graphiql are documented 404s', async (t) => {
  const bare = await startServer('contract_nodocs', { docsDir: null });
  try {
    for (const [op, path] of [
      ['getDocs', '/docs'],
      ['getDocsFile', '/docs/swagger-ui.css'],
      ['getGraphiql', '/graphiql'],
      ['getGraphiqlFile', '/graphiql/graphiql.min.js'],
    ]) {
      const r = await send(bare.base, path);
      const problems = checker.check(op, 'GET', path, r);
      await t.test(`GET ${path} -> 404`, () => {
        assert.equal(r.status, 404);
        assert.deepEqual(problems, []);
      });
    }
    assert.match(logTail(bare, 200), /DOCS_DIR is not set/);
  } finally {
    const exit = await stopServer(bare);
    assert.equal(exit?.code, 0, `server exit ${JSON.stringify(exit)}`);
  }
});

const JS = 'application/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/* A page served from a fixed file list (/docs, /graphiql): the page, each
 * of its files with its type and cache policy, 304s, and the 404s of names
 * that are not in the list. */
async function browserPage(t, { path, pageOp, fileOp, initializer, types }) {
  const page = await call(t, pageOp, 'GET', path, {}, 200);
  assert.match(page.headers['content-type'], /^text\/html; charset=utf-8$/);
  assert.match(page.headers['content-security-policy'], /default-src 'self'/);
  assert.equal(page.headers['cache-control'], 'no-cache');
  await call(t, pageOp, 'GET', path, { headers: { 'If-None-Match': page.headers.etag } }, 304);
  await call(t, pageOp, 'GET', path, { raw: badFraming('GET', path) }, 400);
  await call(t, pageOp, 'GET', path, { token: BOGUS_TOKEN }, 401);
  const files = spec.paths[`${path}/{file}`].get.parameters.find((p) => p.name === 'file').schema.enum;
  assert.deepEqual([...files].sort(), Object.keys(types).sort(), `the documented file list of ${path}`);
  for (const [file, type] of Object.entries(types)) {
    const r = await call(t, fileOp, 'GET', `${path}/${file}`, {}, 200);
    assert.equal(r.headers['content-type'], type, file);
    assert.equal(r.headers['cache-control'], file === initializer ? 'no-cache' : 'public, max-age=86400');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
  }
  const versioned = Object.keys(types).find((f) => f !== initializer);
  const first = await send(server.base, `${path}/${versioned}?v=1.2.3`);
  assert.equal(first.status, 200, 'the version query is ignored');
  await call(t, fileOp, 'GET', `${path}/${versioned}`, { headers: { 'If-None-Match': first.headers.etag } }, 304);
  await call(t, fileOp, 'GET', `${path}/${versioned}`, { raw: badFraming('GET', `${path}/${versioned}`) }, 400);
  await call(t, fileOp, 'GET', `${path}/${versioned}`, { token: BOGUS_TOKEN }, 401);
  await call(t, fileOp, 'GET', `${path}/unknown.js`, {}, 404);
  await call(t, fileOp, 'GET', `${path}/index.html`, { label: `the page is only at ${path}` }, 404);
  // Decoded by libmicrohttpd to "<path>/..": a {file} that is not listed.
  await call(t, fileOp, 'GET', `${path}/%2e%2e`, {}, 404);
}

test('every operation answers as documented, with every documented status', async (t) => {
  const base = server.base;
  // ---- accounts ---------------------------------------------------------
  createUser(server, 'admin@contract.test', 'admin', PASSWORD);
  createUser(server, 'staff@contract.test', 'staff', PASSWORD);
  createUser(server, 'resetter@contract.test', 'customer', PASSWORD);
  const admin = (await login(server, 'admin@contract.test', PASSWORD)).access_token;
  const staff = (await login(server, 'staff@contract.test', PASSWORD)).access_token;
  assert.ok(admin && staff && base);

  // ---- operations -------------------------------------------------------
  for (const [op, path] of [
    ['getHealthz', '/healthz'],
    ['getReadyz', '/readyz'],
    ['getMetrics', '/metrics'],
    ['getOpenapiYaml', '/openapi.yaml'],
  ]) {
    await call(t, op, 'GET', path, {}, 200);
    await call(t, op, 'GET', path, { raw: badFraming('GET', path) }, 400);
    await call(t, op, 'GET', path, { token: BOGUS_TOKEN }, 401);
  }
  // The document is revalidated by its ETag.
  const spec = await call(t, 'getOpenapiYaml', 'GET', '/openapi.yaml', {}, 200);
  await call(t, 'getOpenapiYaml', 'GET', '/openapi.yaml', { headers: { 'If-None-Match': spec.headers.etag } }, 304);
  // A client outside METRICS_ALLOW (loopback is a trusted proxy here, so
  // X-Forwarded-For names the client) gets the 404 of an unknown path.
  await call(t, 'getMetrics', 'GET', '/metrics', { headers: { 'X-Forwarded-For': '203.0.113.9' } }, 404);

  // ---- docs and GraphiQL -------------------------------------------------------
  await browserPage(t, {
    path: '/docs',
    pageOp: 'getDocs',
    fileOp: 'getDocsFile',
    initializer: 'swagger-initializer.js',
    types: {
      'swagger-initializer.js': JS,
      'swagger-ui.css': CSS,
      'index.css': CSS,
      'swagger-ui-bundle.js': JS,
      'swagger-ui-standalone-preset.js': JS,
      'favicon-32x32.png': 'image/png',
      'favicon-16x16.png': 'image/png',
    },
  });
  await browserPage(t, {
    path: '/graphiql',
    pageOp: 'getGraphiql',
    fileOp: 'getGraphiqlFile',
    initializer: 'graphiql-initializer.js',
    types: {
      'graphiql-initializer.js': JS,
      'graphiql.min.css': CSS,
      'graphiql.min.js': JS,
      'react.production.min.js': JS,
      'react-dom.production.min.js': JS,
    },
  });

  // ---- auth -------------------------------------------------------------------
  const reg = '/api/v1/auth/register';
  const customerReg = await call(t, 'register', 'POST', reg, { json: { email: 'Customer@Contract.test', password: PASSWORD, name: 'Customer' } }, 201);
  const victimReg = await call(t, 'register', 'POST', reg, { json: { email: 'victim@contract.test', password: PASSWORD, name: 'Victim' } }, 201);
  await call(t, 'register', 'POST', reg, { json: { email: 'customer@contract.test', password: PASSWORD, name: 'Again' } }, 409);
  await call(t, 'register', 'POST', reg, { body: '{"email": ', contentType: 'application/json' }, 400);
  await call(t, 'register', 'POST', reg, { token: BOGUS_TOKEN, json: { email: 'x@contract.test', password: PASSWORD, name: 'X' } }, 401);
  await call(t, 'register', 'POST', reg, { body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'register', 'POST', reg, { body: 'email=x', contentType: 'text/plain' }, 415);
  await call(t, 'register', 'POST', reg, { json: { email: 'y@contract.test', password: PASSWORD, name: 'Y', role: 'admin' } }, 422);
  // Failed registrations (a 409) count against their client.
  const registrar = { 'X-Forwarded-For': '198.51.100.7' };
  for (let i = 0; i < PER_CLIENT; i++)
    await call(t, 'register', 'POST', reg, { headers: registrar, json: { email: 'customer@contract.test', password: PASSWORD, name: 'Again' }, label: `registration ${i + 1}` }, 409);
  await call(t, 'register', 'POST', reg, { headers: registrar, json: { email: 'z@contract.test', password: PASSWORD, name: 'Z' } }, 429);

  const lg = '/api/v1/auth/login';
  const pair = (await call(t, 'login', 'POST', lg, { json: { email: 'customer@contract.test', password: PASSWORD } }, 200)).json;
  await call(t, 'login', 'POST', lg, { body: '[1,', contentType: 'application/json' }, 400);
  await call(t, 'login', 'POST', lg, { json: { email: 'customer@contract.test', password: 'wrong-password' } }, 401);
  await call(t, 'login', 'POST', lg, { body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'login', 'POST', lg, { body: '{}', contentType: 'text/plain' }, 415);
  await call(t, 'login', 'POST', lg, { json: { email: 'customer@contract.test' } }, 422);
  // keyed: the tokens come back the same (kept sealed), a duplicate meanwhile is a 409
  await keyInUse(t, 'login', lg, { json: { email: 'customer@contract.test', password: PASSWORD }, table: 'refresh_tokens', status: 200 });
  let throttled = null;
  for (let i = 0; i < 6 && !throttled; i++) {
    const r = await call(t, 'login', 'POST', lg, { json: { email: 'throttled@contract.test', password: 'wrong-password' }, label: `failure ${i + 1}` });
    if (r.status === 429) throttled = r;
  }
  assert.ok(throttled, 'repeated failed logins never got a 429');

  const rf = '/api/v1/auth/refresh';
  const second = (await call(t, 'refresh', 'POST', rf, { json: { refresh_token: pair.refresh_token } }, 200)).json;
  await call(t, 'refresh', 'POST', rf, { json: { refresh_token: 'no-such-refresh-token' } }, 401);
  await call(t, 'refresh', 'POST', rf, { body: '{"refresh_token": "a", "refresh_token": "b"}', contentType: 'application/json' }, 400);
  await call(t, 'refresh', 'POST', rf, { body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'refresh', 'POST', rf, { body: '{}', contentType: 'application/x-www-form-urlencoded' }, 415);
  await call(t, 'refresh', 'POST', rf, { json: {} }, 422);
  const spare = await login(server, 'customer@contract.test', PASSWORD);
  await keyInUse(t, 'refresh', rf, { json: { refresh_token: spare.refresh_token }, table: 'refresh_tokens', status: 200 });

  const lo = '/api/v1/auth/logout';
  await call(t, 'logout', 'POST', lo, { json: { refresh_token: second.refresh_token } }, 204);
  await call(t, 'logout', 'POST', lo, { body: 'nope', contentType: 'application/json' }, 400);
  await call(t, 'logout', 'POST', lo, { token: BOGUS_TOKEN, json: { refresh_token: 'x' } }, 401);
  await call(t, 'logout', 'POST', lo, { body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'logout', 'POST', lo, { body: '{}', contentType: 'text/plain' }, 415);
  await call(t, 'logout', 'POST', lo, { json: {} }, 422);
  // A duplicate while the first logout with its key still runs (held on a
  // lock of ours) is a 409 on the key; once it is done, a replay.
  const third = await login(server, 'customer@contract.test', PASSWORD);
  const keyed = { headers: { 'Idempotency-Key': 'logout-1' }, json: { refresh_token: third.refresh_token } };
  const held = await holdTable('refresh_tokens');
  const first = send(base, lo, { ...keyed, method: 'POST' });
  await held.waiting();
  const busy = await call(t, 'logout', 'POST', lo, { raw: rawPost(lo, { 'Content-Type': 'application/json', 'Idempotency-Key': 'logout-1' }, JSON.stringify(keyed.json)), label: 'key in use' }, 409);
  assert.equal(busy.json.errors[0].field, 'Idempotency-Key');
  await held.release();
  assert.equal((await first).status, 204);
  const again = await call(t, 'logout', 'POST', lo, { ...keyed, label: 'replay' }, 204);
  assert.equal(again.headers['idempotent-replayed'], 'true');
  await call(t, 'logout', 'POST', lo, { headers: { 'Idempotency-Key': 'caf\u00e9' }, json: { refresh_token: 'x' }, label: 'bad key' }, 400);
  // The logout ended the customer's first login: log in again.
  const customerToken = (await login(server, 'customer@contract.test', PASSWORD)).access_token;

  // ---- users ------------------------------------------------------------------
  const me = '/api/v1/users/me';
  // An account's answers, refusals included, stay out of every cache.
  const meGot = await call(t, 'getCurrentUser', 'GET', me, { token: customerToken }, 200);
  const meSame = await call(t, 'getCurrentUser', 'GET', me, { token: customerToken, headers: { 'If-None-Match': meGot.headers.etag } }, 304);
  const meStale = await call(t, 'updateCurrentUser', 'PATCH', me, { token: customerToken, headers: { 'If-Match': '"stale"' }, json: { name: 'Not Applied' }, label: 'stale If-Match' }, 412);
  await call(t, 'getCurrentUser', 'GET', me, { raw: badFraming('GET', me) }, 400);
  const meAnon = await call(t, 'getCurrentUser', 'GET', me, {}, 401);
  const meRenamed = await call(t, 'updateCurrentUser', 'PATCH', me, { token: customerToken, json: { name: 'Customer Renamed' } }, 200);
  for (const r of [meGot, meSame, meStale, meAnon, meRenamed]) assert.equal(r.headers['cache-control'], 'no-store');
  await call(t, 'updateCurrentUser', 'PATCH', me, { token: customerToken, body: '"name"', contentType: 'application/json' }, 400);
  await call(t, 'updateCurrentUser', 'PATCH', me, { json: { name: 'Nobody' } }, 401);
  await call(t, 'updateCurrentUser', 'PATCH', me, { token: customerToken, body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'updateCurrentUser', 'PATCH', me, { token: customerToken, body: '{}', contentType: 'text/plain' }, 415);
  await call(t, 'updateCurrentUser', 'PATCH', me, { token: customerToken, json: { role: 'admin' } }, 422);
  // A second login of the customer, listed and then ended from the first.
  const logins = `${me}/logins`;
  await login(server, 'customer@contract.test', PASSWORD);
  const listed = (await call(t, 'listMyLogins', 'GET', logins, { token: customerToken }, 200)).json;
  await call(t, 'listMyLogins', 'GET', logins, { raw: badFraming('GET', logins) }, 400);
  await call(t, 'listMyLogins', 'GET', logins, {}, 401);
  const ended = `${logins}/${listed.items.find((l) => !l.current).id}`;
  await call(t, 'endMyLogin', 'DELETE', ended, { token: customerToken }, 204);
  await call(t, 'endMyLogin', 'DELETE', ended, { token: customerToken }, 404);
  await call(t, 'endMyLogin', 'DELETE', ended, { raw: badFraming('DELETE', ended) }, 400);
  await call(t, 'endMyLogin', 'DELETE', ended, {}, 401);

  // ---- account recovery and verification ---------------------------------------
  // No worker runs here: the link tokens are stored as the worker would
  // store them (the SHA-256 of the token's text).
  const linkToken = (email, kind) => {
    const token = randomBytes(32).toString('base64url');
    const hash = createHash('sha256').update(token).digest('hex');
    const sql = `INSERT INTO account_tokens (token_hash, kind, user_id, expires_at) SELECT '\\x${hash}'::bytea, '${kind}', id, now() + interval '1 hour' FROM users WHERE email = '${email}'`;
    const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', server.databaseUrl, '-c', sql], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return token;
  };
  const pr = '/api/v1/auth/password-reset';
  await call(t, 'requestPasswordReset', 'POST', pr, { json: { email: 'Victim@Contract.test' } }, 202);
  await call(t, 'requestPasswordReset', 'POST', pr, { body: '{"email":', contentType: 'application/json' }, 400);
  await call(t, 'requestPasswordReset', 'POST', pr, { body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'requestPasswordReset', 'POST', pr, { body: '{}', contentType: 'text/plain' }, 415);
  // a token, when sent, must be valid, even on a public route
  await call(t, 'requestPasswordReset', 'POST', pr, { token: BOGUS_TOKEN, json: { email: 'a@contract.test' } }, 401);
  // any address is answered alike; only a body without a string email is refused
  await call(t, 'requestPasswordReset', 'POST', pr, { json: { email: 'not an address' } }, 202);
  await call(t, 'requestPasswordReset', 'POST', pr, { json: { email: '  ' } }, 202);
  await call(t, 'requestPasswordReset', 'POST', pr, { json: { email: 'x'.repeat(300) } }, 202);
  await call(t, 'requestPasswordReset', 'POST', pr, { json: { email: 5 } }, 422);
  await keyInUse(t, 'requestPasswordReset', pr, { json: { email: 'busy@contract.test' }, table: 'jobs', status: 202 });
  // Every request counts: one address soon meets its limit.
  const flood = { method: 'POST', json: { email: 'flood@contract.test' } };
  for (let i = 0; i < 20 && (await send(server.base, pr, flood)).status === 202; i++);
  await call(t, 'requestPasswordReset', 'POST', pr, { json: flood.json }, 429);
  const prc = `${pr}/confirm`;
  await call(t, 'confirmPasswordReset', 'POST', prc, { json: { token: linkToken('resetter@contract.test', 'password_reset'), password: 'contract-password-9' } }, 204);
  await call(t, 'confirmPasswordReset', 'POST', prc, { body: '[]', contentType: 'application/json' }, 400);
  await call(t, 'confirmPasswordReset', 'POST', prc, { body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'confirmPasswordReset', 'POST', prc, { body: '{}', contentType: 'text/plain' }, 415);
  await call(t, 'confirmPasswordReset', 'POST', prc, { token: BOGUS_TOKEN, json: { token: 'A'.repeat(43), password: 'contract-password-9' } }, 401);
  await call(t, 'confirmPasswordReset', 'POST', prc, { json: { token: 'truncated', password: 'contract-password-9' } }, 422);
  await keyInUse(t, 'confirmPasswordReset', prc, { json: { token: linkToken('resetter@contract.test', 'password_reset'), password: 'contract-password-9' }, table: 'account_tokens', status: 204 });
  const ve = '/api/v1/auth/verify-email';
  await call(t, 'verifyEmail', 'POST', ve, { json: { token: linkToken('resetter@contract.test', 'email_verify') } }, 204);
  await call(t, 'verifyEmail', 'POST', ve, { body: 'nope', contentType: 'application/json' }, 400);
  await call(t, 'verifyEmail', 'POST', ve, { body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'verifyEmail', 'POST', ve, { body: '{}', contentType: 'text/plain' }, 415);
  await call(t, 'verifyEmail', 'POST', ve, { token: BOGUS_TOKEN, json: { token: 'A'.repeat(43) } }, 401);
  await call(t, 'verifyEmail', 'POST', ve, { json: { token: 'A'.repeat(43) } }, 422);
  await keyInUse(t, 'verifyEmail', ve, { json: { token: linkToken('resetter@contract.test', 'email_verify') }, table: 'account_tokens', status: 204 });
  const vr = `${ve}/resend`;
  await call(t, 'resendVerificationEmail', 'POST', vr, { token: customerToken }, 202);
  await call(t, 'resendVerificationEmail', 'POST', vr, { raw: badFraming('POST', vr) }, 400);
  await call(t, 'resendVerificationEmail', 'POST', vr, {}, 401);
  await call(t, 'resendVerificationEmail', 'POST', vr, { token: customerToken, body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'resendVerificationEmail', 'POST', vr, { token: customerToken, body: '{}', contentType: 'text/plain' }, 415);
  await call(t, 'resendVerificationEmail', 'POST', vr, { token: customerToken, json: { email: 'x@contract.test' } }, 422);
  const resendKey = await keyInUse(t, 'resendVerificationEmail', vr, { token: customerToken, table: 'jobs', status: 202 });
  // the key again with another query: another request
  await call(t, 'resendVerificationEmail', 'POST', `${vr}?again=1`, { token: customerToken, headers: { 'Idempotency-Key': resendKey } }, 422);
  const resend = { method: 'POST', token: customerToken };
  for (let i = 0; i < 20 && (await send(server.base, vr, resend)).status === 202; i++);
  await call(t, 'resendVerificationEmail', 'POST', vr, { token: customerToken }, 429);
  // Wrong current passwords count as failed logins of the user's email.
  const changer = { 'X-Forwarded-For': '198.51.100.8' };
  const change = (current) => ({ token: customerToken, headers: changer, json: { current_password: current, password: 'contract-password-2' } });
  for (let i = 0; i < 3; i++)
    await call(t, 'updateCurrentUser', 'PATCH', me, { ...change('wrong-password'), label: `wrong current_password ${i + 1}` }, 422);
  await call(t, 'updateCurrentUser', 'PATCH', me, change(PASSWORD), 429);

  const users = '/api/v1/users';
  await call(t, 'listUsers', 'GET', `${users}?limit=2&sort=email&include_total=true`, { token: admin }, 200);
  await call(t, 'listUsers', 'GET', `${users}?limit=0`, { token: admin }, 400);
  await call(t, 'listUsers', 'GET', users, {}, 401);
  await call(t, 'listUsers', 'GET', users, { token: staff }, 403);
  const victim = `${users}/${victimReg.json.id}`;
  const userGot = await call(t, 'getUser', 'GET', `${users}/${customerReg.json.id}`, { token: admin }, 200);
  await call(t, 'getUser', 'GET', `${users}/${customerReg.json.id}`, { token: admin, headers: { 'If-None-Match': userGot.headers.etag } }, 304);
  await call(t, 'getUser', 'GET', victim, { raw: badFraming('GET', victim) }, 400);
  await call(t, 'getUser', 'GET', victim, {}, 401);
  await call(t, 'getUser', 'GET', victim, { token: customerToken }, 403);
  await call(t, 'getUser', 'GET', `${users}/999999`, { token: admin }, 404);
  await call(t, 'updateUser', 'PATCH', victim, { token: admin, json: { name: 'Victim Renamed' } }, 200);
  await call(t, 'updateUser', 'PATCH', victim, { token: admin, body: '{', contentType: 'application/json' }, 400);
  await call(t, 'updateUser', 'PATCH', victim, { json: { name: 'x' } }, 401);
  await call(t, 'updateUser', 'PATCH', victim, { token: staff, json: { name: 'x' } }, 403);
  await call(t, 'updateUser', 'PATCH', `${users}/999999`, { token: admin, json: { name: 'x' } }, 404);
  await call(t, 'updateUser', 'PATCH', victim, { token: admin, body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'updateUser', 'PATCH', victim, { token: admin, body: '{}', contentType: 'text/plain' }, 415);
  await call(t, 'updateUser', 'PATCH', victim, { token: admin, json: { email: 'new@contract.test' } }, 422);
  await call(t, 'deactivateUser', 'DELETE', victim, { raw: badFraming('DELETE', victim) }, 400);
  await call(t, 'deactivateUser', 'DELETE', victim, {}, 401);
  await call(t, 'deactivateUser', 'DELETE', victim, { token: customerToken }, 403);
  await call(t, 'deactivateUser', 'DELETE', `${users}/999999`, { token: admin }, 404);
  await call(t, 'deactivateUser', 'DELETE', victim, { token: admin, headers: { 'If-Match': '"stale"' }, label: 'stale If-Match' }, 412);
  await call(t, 'updateUser', 'PATCH', victim, { token: admin, headers: { 'If-Match': '"stale"' }, json: { name: 'Not Applied' }, label: 'stale If-Match' }, 412);
  await call(t, 'deactivateUser', 'DELETE', victim, { token: admin }, 204);
  // the only active admin keeps the role
  const adminId = JSON.parse((await send(server.base, '/api/v1/users/me', { token: admin })).body).id;
  const self = `${users}/${adminId}`;
  await call(t, 'updateUser', 'PATCH', self, { token: admin, json: { role: 'staff' } }, 409);
  await call(t, 'deactivateUser', 'DELETE', self, { token: admin }, 409);

  // ---- categories -----------------------------------------------------------
  const cats = '/api/v1/categories';
  const audio = (await call(t, 'createCategory', 'POST', cats, { token: staff, json: { name: 'Audio', description: 'Sound' } }, 201)).json;
  const phones = (await call(t, 'createCategory', 'POST', cats, { token: staff, json: { name: 'Headphones', parent_id: audio.id } }, 201)).json;
  await call(t, 'createCategory', 'POST', cats, { token: staff, json: { name: 'Audio again', slug: 'audio' } }, 409);
  await call(t, 'createCategory', 'POST', cats, { token: staff, body: '{"name":}', contentType: 'application/json' }, 400);
  await call(t, 'createCategory', 'POST', cats, { json: { name: 'x' } }, 401);
  await call(t, 'createCategory', 'POST', cats, { token: customerToken, json: { name: 'x' } }, 403);
  await call(t, 'createCategory', 'POST', cats, { token: staff, body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'createCategory', 'POST', cats, { token: staff, body: '{}', contentType: 'text/plain' }, 415);
  await call(t, 'createCategory', 'POST', cats, { token: staff, json: { name: '' } }, 422);

  await call(t, 'listCategories', 'GET', `${cats}?include_total=true`, {}, 200);
  await call(t, 'listCategories', 'GET', `${cats}?parent=${audio.slug}&sort=created_at`, {}, 200);
  await call(t, 'listCategories', 'GET', `${cats}?limit=abc`, {}, 400);
  await call(t, 'listCategories', 'GET', cats, { token: BOGUS_TOKEN }, 401);

  const audioGot = await call(t, 'getCategory', 'GET', `${cats}/${audio.id}`, {}, 200);
  await call(t, 'getCategory', 'GET', `${cats}/${audio.id}`, { headers: { 'If-None-Match': audioGot.headers.etag } }, 304);
  await call(t, 'getCategory', 'GET', `${cats}/${phones.slug}`, {}, 200);
  await call(t, 'getCategory', 'GET', `${cats}/${audio.id}`, { raw: badFraming('GET', `${cats}/${audio.id}`) }, 400);
  await call(t, 'getCategory', 'GET', `${cats}/${audio.id}`, { token: BOGUS_TOKEN }, 401);
  await call(t, 'getCategory', 'GET', `${cats}/no-such-category`, {}, 404);

  const phonesPath = `${cats}/${phones.id}`;
  await call(t, 'updateCategory', 'PATCH', phonesPath, { token: staff, json: { description: 'Over-ear and in-ear' } }, 200);
  await call(t, 'updateCategory', 'PATCH', phonesPath, { token: staff, headers: { 'If-Match': '"stale"' }, json: { description: 'Not applied' }, label: 'stale If-Match' }, 412);
  await call(t, 'updateCategory', 'PATCH', phonesPath, { token: staff, body: '{"a":1,}', contentType: 'application/json' }, 400);
  await call(t, 'updateCategory', 'PATCH', phonesPath, { json: { name: 'x' } }, 401);
  await call(t, 'updateCategory', 'PATCH', phonesPath, { token: customerToken, json: { name: 'x' } }, 403);
  await call(t, 'updateCategory', 'PATCH', `${cats}/999999`, { token: staff, json: { name: 'x' } }, 404);
  await call(t, 'updateCategory', 'PATCH', phonesPath, { token: staff, json: { slug: audio.slug } }, 409);
  await call(t, 'updateCategory', 'PATCH', phonesPath, { token: staff, body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'updateCategory', 'PATCH', phonesPath, { token: staff, body: '{}', contentType: 'text/plain' }, 415);
  await call(t, 'updateCategory', 'PATCH', `${cats}/${audio.id}`, { token: staff, json: { parent_id: phones.id }, label: 'a cycle' }, 422);

  const temp = (await call(t, 'createCategory', 'POST', cats, { token: staff, json: { name: 'Temporary' } }, 201)).json;
  const tempPath = `${cats}/${temp.id}`;
  await call(t, 'deleteCategory', 'DELETE', tempPath, { raw: badFraming('DELETE', tempPath) }, 400);
  await call(t, 'deleteCategory', 'DELETE', tempPath, {}, 401);
  await call(t, 'deleteCategory', 'DELETE', tempPath, { token: customerToken }, 403);
  await call(t, 'deleteCategory', 'DELETE', `${cats}/${audio.id}`, { token: staff, label: 'it has a child' }, 409);
  await call(t, 'deleteCategory', 'DELETE', tempPath, { token: staff, headers: { 'If-Match': '"stale"' }, label: 'stale If-Match' }, 412);
  await call(t, 'deleteCategory', 'DELETE', tempPath, { token: staff }, 204);
  await call(t, 'deleteCategory', 'DELETE', tempPath, { token: staff }, 404);

  // ---- products ---------------------------------------------------------------
  const prods = '/api/v1/products';
  const item = { sku: 'WH-1000', name: 'Wireless Headphones', price: '199.9', stock: 12, category_id: phones.id };
  const p1 = await call(t, 'createProduct', 'POST', prods, { token: staff, json: item }, 201);
  const p2 = await call(t, 'createProduct', 'POST', prods, { token: staff, json: { ...item, sku: 'WH-2000', name: 'Wired Headphones', price: '49', currency: 'eur', is_active: false } }, 201);
  await call(t, 'createProduct', 'POST', prods, { token: staff, json: { ...item, name: 'Copy' } }, 409);
  await call(t, 'createProduct', 'POST', prods, { token: staff, body: '{"sku": "A", "sku": "B"}', contentType: 'application/json' }, 400);
  await call(t, 'createProduct', 'POST', prods, { json: item }, 401);
  await call(t, 'createProduct', 'POST', prods, { token: customerToken, json: item }, 403);
  await call(t, 'createProduct', 'POST', prods, { token: staff, body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'createProduct', 'POST', prods, { token: staff, body: '{}', contentType: 'text/plain' }, 415);
  await call(t, 'createProduct', 'POST', prods, { token: staff, json: { ...item, sku: 'WH-3000', category_id: 999999 } }, 422);

  const keyedItem = { token: staff, headers: { 'Idempotency-Key': 'create-wh-5000' }, json: { ...item, sku: 'WH-5000' } };
  const created = await call(t, 'createProduct', 'POST', prods, keyedItem, 201);
  const replay = await call(t, 'createProduct', 'POST', prods, { ...keyedItem, label: 'replay' }, 201);
  assert.equal(replay.headers['idempotent-replayed'], 'true');
  assert.equal(replay.headers.location, created.headers.location);
  assert.equal(replay.headers.etag, created.headers.etag);
  assert.deepEqual(replay.json, created.json);
  const reused = await call(t, 'createProduct', 'POST', prods, { ...keyedItem, json: { ...item, sku: 'WH-5001' }, label: 'key reused' }, 422);
  assert.equal(reused.json.errors[0].field, 'Idempotency-Key');

  await call(t, 'listProducts', 'GET', `${prods}?include_total=true`, {}, 200);
  await call(t, 'listProducts', 'GET', `${prods}?category=${audio.slug}&q=wire%20head&max_price=250&in_stock=true&sort=price&limit=1`, {}, 200);
  await call(t, 'listProducts', 'GET', `${prods}?include_inactive=true&sort=-name`, { token: staff }, 200);
  await call(t, 'listProducts', 'GET', `${prods}?sort=colour`, {}, 400);
  await call(t, 'listProducts', 'GET', `${prods}?attr.brand=acme,zelkal&attr.weight_g.min=1&attr.weight_g.max=900&option.Size=M&option.Color=red&in_stock=true&sort=price`, {}, 200);
  await call(t, 'listProducts', 'GET', `${prods}?attr.Brand=x`, { label: 'attribute key in upper case' }, 400);
  await call(t, 'listProducts', 'GET', `${prods}?attr.brand.avg=1`, { label: 'unknown attribute suffix' }, 400);
  const facets = await call(t, 'productFacets', 'GET', `${prods}/facets?price_buckets=0,50,100`, {}, 200);
  assert.equal(facets.json.price.buckets.length, 3);
  await call(t, 'productFacets', 'GET', `${prods}/facets?category=${audio.slug}&attr.brand=acme&option.Size=M&in_stock=true`, {}, 200);
  await call(t, 'productFacets', 'GET', `${prods}/facets?price_buckets=50,10`, { label: 'buckets not ascending' }, 400);
  await call(t, 'productFacets', 'GET', `${prods}/facets`, { token: BOGUS_TOKEN }, 401);
  await call(t, 'listProducts', 'GET', prods, { token: BOGUS_TOKEN }, 401);

  // ---- graphql ------------------------------------------------------------------
  const gq = '{ products(first: 2) { totalCount edges { cursor node { name price variants { sku } } } } }';
  const gqGet = (query, vars) => `/graphql?query=${encodeURIComponent(query)}${vars ? `&variables=${encodeURIComponent(vars)}` : ''}`;
  const gOk = await call(t, 'graphqlGet', 'GET', gqGet(gq), {}, 200);
  assert.equal(gOk.json.data.products.edges.length, 2);
  await call(t, 'graphqlGet', 'GET', gqGet('{ products(first: 0) { totalCount } }'), { label: 'a field error' }, 200);
  await call(t, 'graphqlGet', 'GET', gqGet('query($n: Int) { products(first: $n) { totalCount } }', '{"n": "2"}'), { label: 'a variable of the wrong type' }, 400);
  await call(t, 'graphqlGet', 'GET', '/graphql', { label: 'no query' }, 400);
  await call(t, 'graphqlGet', 'GET', gqGet(gq), { token: BOGUS_TOKEN }, 401);
  await call(t, 'graphqlPost', 'POST', '/graphql', { json: { query: 'query P($id: ID!) { product(id: $id) { name } me { email } }', variables: { id: String(p1.json.id) } } }, 200);
  await call(t, 'graphqlPost', 'POST', '/graphql', { json: { query: 'mutation { product(id: 1) { id } }' }, label: 'a mutation' }, 400);
  await call(t, 'graphqlPost', 'POST', '/graphql', { body: '[1]', contentType: 'application/json', label: 'not an object' }, 400);
  await call(t, 'graphqlPost', 'POST', '/graphql', { token: BOGUS_TOKEN, json: { query: gq } }, 401);
  // refused before GraphQL reads it: a problem+json like on every route
  const badKey = await call(t, 'graphqlPost', 'POST', '/graphql', { json: { query: gq }, headers: { 'Idempotency-Key': 'x'.repeat(256) }, label: 'a malformed Idempotency-Key' }, 400);
  assert.match(badKey.headers['content-type'], /^application\/problem\+json/);
  // Over 1 MiB, as on every route: refused on the declared length, before the body.
  await call(t, 'graphqlPost', 'POST', '/graphql', { raw: 'POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1048577\r\nConnection: close\r\n\r\n{}' }, 413);
  await call(t, 'graphqlPost', 'POST', '/graphql', { body: gq, contentType: 'application/graphql' }, 415);

  const p1Path = `${prods}/${p1.json.id}`;
  const p2Path = `${prods}/${p2.json.id}`;
  const got = await call(t, 'getProduct', 'GET', p1Path, {}, 200);
  await call(t, 'getProduct', 'GET', p1Path, { headers: { 'If-None-Match': got.headers.etag } }, 304);
  await call(t, 'getProduct', 'GET', p1Path, { raw: badFraming('GET', p1Path) }, 400);
  await call(t, 'getProduct', 'GET', p1Path, { token: BOGUS_TOKEN }, 401);
  await call(t, 'getProduct', 'GET', `${prods}/999999`, {}, 404);

  const replaced = await call(t, 'replaceProduct', 'PUT', p1Path, { token: staff, headers: { 'If-Match': got.headers.etag }, json: { ...item, price: '189.00' } }, 200);
  await call(t, 'replaceProduct', 'PUT', p1Path, { token: staff, headers: { 'If-Match': got.headers.etag }, json: item, label: 'stale If-Match' }, 412);
  await call(t, 'replaceProduct', 'PUT', p2Path, { token: staff, json: { ...item, name: 'Taken sku' } }, 409);
  await call(t, 'replaceProduct', 'PUT', p1Path, { token: staff, body: '{"sku"', contentType: 'application/json' }, 400);
  await call(t, 'replaceProduct', 'PUT', p1Path, { json: item }, 401);
  await call(t, 'replaceProduct', 'PUT', p1Path, { token: customerToken, json: item }, 403);
  await call(t, 'replaceProduct', 'PUT', `${prods}/999999`, { token: staff, json: item }, 404);
  await call(t, 'replaceProduct', 'PUT', p1Path, { token: staff, body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'replaceProduct', 'PUT', p1Path, { token: staff, body: '{}', contentType: 'text/plain' }, 415);
  await call(t, 'replaceProduct', 'PUT', p1Path, { token: staff, json: { ...item, price: 189 } }, 422);

  const patched = await call(t, 'updateProduct', 'PATCH', p1Path, { token: staff, headers: { 'If-Match': replaced.headers.etag }, json: { stock: 3 } }, 200);
  await call(t, 'updateProduct', 'PATCH', p1Path, { token: staff, headers: { 'If-Match': replaced.headers.etag }, json: { stock: 4 }, label: 'stale If-Match' }, 412);
  await call(t, 'updateProduct', 'PATCH', p2Path, { token: staff, json: { sku: item.sku } }, 409);
  await call(t, 'updateProduct', 'PATCH', p1Path, { token: staff, body: '', contentType: 'application/json' }, 400);
  await call(t, 'updateProduct', 'PATCH', p1Path, { json: { stock: 1 } }, 401);
  await call(t, 'updateProduct', 'PATCH', p1Path, { token: customerToken, json: { stock: 1 } }, 403);
  await call(t, 'updateProduct', 'PATCH', `${prods}/999999`, { token: staff, json: { stock: 1 } }, 404);
  await call(t, 'updateProduct', 'PATCH', p1Path, { token: staff, body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'updateProduct', 'PATCH', p1Path, { token: staff, body: '{}', contentType: 'text/plain' }, 415);
  await call(t, 'updateProduct', 'PATCH', p1Path, { token: staff, json: { stock: '5' } }, 422);

  await call(t, 'deleteProduct', 'DELETE', p2Path, { raw: badFraming('DELETE', p2Path) }, 400);
  await call(t, 'deleteProduct', 'DELETE', p2Path, {}, 401);
  await call(t, 'deleteProduct', 'DELETE', p2Path, { token: customerToken }, 403);
  await call(t, 'deleteProduct', 'DELETE', p1Path, { token: staff, headers: { 'If-Match': replaced.headers.etag }, label: 'stale If-Match' }, 412);
  await call(t, 'deleteProduct', 'DELETE', p1Path, { token: staff, headers: { 'If-Match': patched.headers.etag } }, 204);
  await call(t, 'deleteProduct', 'DELETE', p1Path, { token: staff }, 404);

  // ---- variants ----------------------------------------------------------------
  const tee = await call(t, 'createProduct', 'POST', prods, { token: staff, json: { name: 'Cotton Tee', variants: [
    { sku: 'TEE-RED-M', price: '19.00', stock: 12, options: { Size: 'M', Color: 'Red' } },
    { sku: 'TEE-RED-L', price: '21.00', stock: 5, options: { Size: 'L', Color: 'Red' }, is_active: false },
  ] } }, 201);
  assert.equal(tee.json.variants.length, 2);
  await call(t, 'createProduct', 'POST', prods, { token: staff, json: { name: 'Both', sku: 'BOTH-1', variants: [] }, label: 'variants and sku' }, 422);
  const vars = `${prods}/${tee.json.id}/variants`;
  const [teeM, teeL] = tee.json.variants.map((v) => `${vars}/${v.id}`);
  await call(t, 'listVariants', 'GET', vars, {}, 200);
  await call(t, 'listVariants', 'GET', vars, { token: staff }, 200);
  await call(t, 'listVariants', 'GET', vars, { raw: badFraming('GET', vars) }, 400);
  await call(t, 'listVariants', 'GET', vars, { token: BOGUS_TOKEN }, 401);
  await call(t, 'listVariants', 'GET', `${prods}/999999/variants`, {}, 404);

  const xlBody = { sku: 'TEE-RED-XL', price: '23.00', stock: 2, options: { Size: 'XL', Color: 'Red' } };
  const xl = await call(t, 'createVariant', 'POST', vars, { token: staff, json: xlBody }, 201);
  await call(t, 'createVariant', 'POST', vars, { token: staff, json: { ...xlBody, sku: 'TEE-RED-XL2', options: { size: 'xl', color: 'RED' } } }, 409);
  await call(t, 'createVariant', 'POST', vars, { token: staff, body: '{"sku": "A", "sku": "B"}', contentType: 'application/json' }, 400);
  await call(t, 'createVariant', 'POST', vars, { json: xlBody }, 401);
  await call(t, 'createVariant', 'POST', vars, { token: customerToken, json: xlBody }, 403);
  await call(t, 'createVariant', 'POST', `${prods}/999999/variants`, { token: staff, json: xlBody }, 404);
  await call(t, 'createVariant', 'POST', vars, { token: staff, body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'createVariant', 'POST', vars, { token: staff, body: '{}', contentType: 'text/plain' }, 415);
  await call(t, 'createVariant', 'POST', vars, { token: staff, json: { ...xlBody, sku: 'TEE-S', options: { Size: 'S' } } }, 422);

  const xlPath = xl.headers.location;
  const xlGot = await call(t, 'getVariant', 'GET', xlPath, {}, 200);
  await call(t, 'getVariant', 'GET', xlPath, { headers: { 'If-None-Match': xlGot.headers.etag } }, 304);
  await call(t, 'getVariant', 'GET', xlPath, { raw: badFraming('GET', xlPath) }, 400);
  await call(t, 'getVariant', 'GET', xlPath, { token: BOGUS_TOKEN }, 401);
  await call(t, 'getVariant', 'GET', teeL, { label: 'inactive, for the public' }, 404);
  await call(t, 'getVariant', 'GET', teeL, { token: staff }, 200);

  const xlPatched = await call(t, 'updateVariant', 'PATCH', xlPath, { token: staff, headers: { 'If-Match': xlGot.headers.etag }, json: { stock: 1 } }, 200);
  await call(t, 'updateVariant', 'PATCH', xlPath, { token: staff, headers: { 'If-Match': xlGot.headers.etag }, json: { stock: 4 }, label: 'stale If-Match' }, 412);
  await call(t, 'updateVariant', 'PATCH', xlPath, { token: staff, json: { sku: 'TEE-RED-M' } }, 409);
  await call(t, 'updateVariant', 'PATCH', xlPath, { token: staff, body: '', contentType: 'application/json' }, 400);
  await call(t, 'updateVariant', 'PATCH', xlPath, { json: { stock: 1 } }, 401);
  await call(t, 'updateVariant', 'PATCH', xlPath, { token: customerToken, json: { stock: 1 } }, 403);
  await call(t, 'updateVariant', 'PATCH', `${vars}/999999`, { token: staff, json: { stock: 1 } }, 404);
  await call(t, 'updateVariant', 'PATCH', xlPath, { token: staff, body: tooLarge(), contentType: 'application/json' }, 413);
  await call(t, 'updateVariant', 'PATCH', xlPath, { token: staff, body: '{}', contentType: 'text/plain' }, 415);
  await call(t, 'updateVariant', 'PATCH', xlPath, { token: staff, json: { price: 23 } }, 422);
  const teeNow = await call(t, 'getProduct', 'GET', `${prods}/${tee.json.id}`, {}, 200);
  assert.equal(teeNow.json.variant_count, 2);
  assert.equal(teeNow.json.stock, 13);
  assert.deepEqual(teeNow.json.price_range, { min: '19.00', max: '23.00' });
  await call(t, 'updateProduct', 'PATCH', `${prods}/${tee.json.id}`, { token: staff, json: { stock: 1 }, label: 'stock of a product with variants' }, 422);

  await call(t, 'deleteVariant', 'DELETE', xlPath, { raw: badFraming('DELETE', xlPath) }, 400);
  await call(t, 'deleteVariant', 'DELETE', xlPath, {}, 401);
  await call(t, 'deleteVariant', 'DELETE', xlPath, { token: customerToken }, 403);
  await call(t, 'deleteVariant', 'DELETE', xlPath, { token: staff, headers: { 'If-Match': xlGot.headers.etag }, label: 'stale If-Match' }, 412);
  await call(t, 'deleteVariant', 'DELETE', xlPath, { token: staff, headers: { 'If-Match': xlPatched.headers.etag } }, 204);
  await call(t, 'deleteVariant', 'DELETE', xlPath, { token: staff }, 404);
  await call(t, 'deleteVariant', 'DELETE', teeL, { token: staff }, 204);
  await call(t, 'deleteVariant', 'DELETE', teeM, { token: staff, label: 'the last live variant' }, 409);

  // ---- attributes, images and fields= ------------------------------------------
  const rich = {
    ...item, sku: 'WH-6000',
    attributes: { brand: 'Acme', weight_g: 250, wireless: true },
    images: [{ url: 'https://images.example.com/wh-6000/front.jpg', alt: 'Front' }, { url: 'https://images.example.com/wh-6000/side.jpg' }],
  };
  const p6 = await call(t, 'createProduct', 'POST', prods, { token: staff, json: rich }, 201);
  assert.deepEqual(p6.json.attributes, rich.attributes);
  assert.deepEqual(p6.json.images, [{ url: rich.images[0].url, alt: 'Front' }, { url: rich.images[1].url, alt: '' }]);
  const badAttr = await call(t, 'createProduct', 'POST', prods, { token: staff, json: { ...rich, sku: 'WH-6001', attributes: { weight_g: null } } }, 422);
  assert.equal(badAttr.json.errors[0].field, 'attributes.weight_g');
  const p6Path = `${prods}/${p6.json.id}`;
  const badImage = await call(t, 'updateProduct', 'PATCH', p6Path, { token: staff, json: { images: [{ url: 'ftp://x.example/a.jpg' }] } }, 422);
  assert.equal(badImage.json.errors[0].field, 'images[0].url');
  const repictured = await call(t, 'updateProduct', 'PATCH', p6Path, { token: staff, json: { images: [] } }, 200);
  assert.notEqual(repictured.headers.etag, p6.headers.etag);
  assert.deepEqual(repictured.json.attributes, rich.attributes);
  const partial = await call(t, 'getProduct', 'GET', `${p6Path}?fields=name,price`, {}, 200);
  assert.deepEqual(Object.keys(partial.json), ['id', 'name', 'price']);
  assert.notEqual(partial.headers.etag, repictured.headers.etag);
  await call(t, 'getProduct', 'GET', `${p6Path}?fields=price,name`, { headers: { 'If-None-Match': partial.headers.etag } }, 304);
  await call(t, 'getProduct', 'GET', `${p6Path}?fields=colour`, {}, 400);
  const cards = await call(t, 'listProducts', 'GET', `${prods}?fields=name,images&limit=2&include_total=true`, {}, 200);
  assert.deepEqual(Object.keys(cards.json), ['items', 'next_cursor', 'total']);
  for (const p of cards.json.items) assert.deepEqual(Object.keys(p), ['id', 'name', 'images']);
  await call(t, 'listProducts', 'GET', `${prods}?fields=`, {}, 400);
  const catPartial = await call(t, 'getCategory', 'GET', `${cats}/${audio.slug}?fields=slug`, {}, 200);
  assert.deepEqual(catPartial.json, { id: audio.id, slug: audio.slug });
  await call(t, 'getCategory', 'GET', `${cats}/${audio.slug}?fields=price`, {}, 400);
  const catList = await call(t, 'listCategories', 'GET', `${cats}?fields=name,parent_id`, {}, 200);
  for (const c of catList.json.items) assert.deepEqual(Object.keys(c), ['id', 'name', 'parent_id']);
  await call(t, 'listCategories', 'GET', `${cats}?fields=name,name`, {}, 400);

  // ---- imports ------------------------------------------------------------------
  const imps = '/api/v1/imports';
  const csv = 'sku,name,price,stock,category\nIMP-1,"Imported, quoted",5,1,audio\nIMP-2,Bad,-1,1,\n';
  const imp = await call(t, 'createImport', 'POST', imps, { token: staff, body: csv, contentType: 'text/csv' }, 202);
  await call(t, 'createImport', 'POST', `${imps}?mode=merge`, { token: staff, body: csv, contentType: 'text/csv' }, 400);
  await call(t, 'createImport', 'POST', imps, { body: csv, contentType: 'text/csv' }, 401);
  await call(t, 'createImport', 'POST', imps, { token: customerToken, body: csv, contentType: 'text/csv' }, 403);
  await call(t, 'createImport', 'POST', imps, { raw: `POST ${imps} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${staff}\r\nContent-Type: text/csv\r\nContent-Length: 999999999999\r\nConnection: close\r\n\r\n` }, 413);
  await call(t, 'createImport', 'POST', imps, { token: staff, body: '{}', contentType: 'application/json' }, 415);
  // An Idempotency-Key: a duplicate while the first is held on a lock of
  // ours is a 409; then a replay; another body with the key a 422.
  const keyedImport = { token: staff, body: 'sku,name,price,stock\nIMP-3,Keyed,1,1\n', contentType: 'text/csv', headers: { 'Idempotency-Key': 'import-1' } };
  const jobsHeld = await holdTable('jobs');
  const firstImport = send(base, imps, { ...keyedImport, method: 'POST' });
  await jobsHeld.waiting();
  await call(t, 'createImport', 'POST', imps, { raw: rawPost(imps, { Authorization: `Bearer ${staff}`, 'Content-Type': 'text/csv', 'Idempotency-Key': 'import-1' }, keyedImport.body), label: 'key in use' }, 409);
  await jobsHeld.release();
  assert.equal((await firstImport).status, 202);
  const importReplay = await call(t, 'createImport', 'POST', imps, { ...keyedImport, label: 'replay' }, 202);
  assert.equal(importReplay.headers['idempotent-replayed'], 'true');
  await call(t, 'createImport', 'POST', imps, { ...keyedImport, body: 'sku\n', label: 'key reused' }, 422);

  const impPath = imp.headers.location;
  await call(t, 'getImport', 'GET', impPath, { token: staff }, 200);
  await call(t, 'getImport', 'GET', impPath, { raw: badFraming('GET', impPath) }, 400);
  await call(t, 'getImport', 'GET', impPath, {}, 401);
  await call(t, 'getImport', 'GET', impPath, { token: customerToken }, 403);
  await call(t, 'getImport', 'GET', `${imps}/999999`, { token: staff }, 404);
  // No worker runs here: the error a worker would record for IMP-2.
  serverSql(`INSERT INTO import_errors (import_id, n, line, field, message) VALUES (${imp.json.id}, 1, 3, 'price', 'must be a decimal from 0 to 99999999.99 with at most two decimals')`);
  const errs = await call(t, 'listImportErrors', 'GET', `${impPath}/errors`, { token: staff }, 200);
  assert.match(errs.headers['content-type'], /^application\/x-ndjson/);
  await call(t, 'listImportErrors', 'GET', `${impPath}/errors`, { raw: badFraming('GET', `${impPath}/errors`) }, 400);
  await call(t, 'listImportErrors', 'GET', `${impPath}/errors`, {}, 401);
  await call(t, 'listImportErrors', 'GET', `${impPath}/errors`, { token: customerToken }, 403);
  await call(t, 'listImportErrors', 'GET', `${imps}/999999/errors`, { token: staff }, 404);

  const importPage = await call(t, 'listImports', 'GET', `${imps}?limit=1&include_total=true`, { token: staff }, 200);
  assert.ok(importPage.json.total >= 2 && importPage.json.items.length === 1 && importPage.json.next_cursor);
  await call(t, 'listImports', 'GET', `${imps}?sort=created_at&cursor=${importPage.json.next_cursor}`, { token: staff, label: 'cursor of another sort' }, 400);
  await call(t, 'listImports', 'GET', imps, { raw: badFraming('GET', imps) }, 400);
  await call(t, 'listImports', 'GET', imps, {}, 401);
  await call(t, 'listImports', 'GET', imps, { token: customerToken }, 403);

  // ---- exports ------------------------------------------------------------------
  const exp = '/api/v1/exports/products';
  const ndjson = await call(t, 'exportProducts', 'GET', exp, { token: staff }, 200);
  assert.match(ndjson.headers['content-type'], /^application\/x-ndjson$/);
  assert.equal(ndjson.headers['transfer-encoding'], 'chunked');
  // each line is a POST body: a sku, or the product's variants
  for (const line of ndjson.body.toString('utf8').trimEnd().split('\n')) {
    const row = JSON.parse(line);
    assert.ok(row.sku ? !row.variants : row.variants.length > 0 && row.variants.every((v) => v.sku));
  }
  const csvExport = await call(t, 'exportProducts', 'GET', `${exp}?format=csv&include_inactive=false&currency=usd`, { token: staff }, 200);
  assert.match(csvExport.headers['content-type'], /^text\/csv; charset=utf-8$/);
  assert.match(csvExport.body.toString('utf8'), /^sku,name,slug,description,price,currency,stock,category,is_active(,attr\.[a-z][a-z0-9_]*)*\r\n/);
  await call(t, 'exportProducts', 'GET', `${exp}?format=xml`, { token: staff }, 400);
  await call(t, 'exportProducts', 'GET', `${exp}?format=csv&attr.brand=acme&option.Size=M`, { token: staff, label: 'attribute and option filters' }, 200);
  await call(t, 'exportProducts', 'GET', `${exp}?option.=M`, { token: staff, label: 'empty option name' }, 400);
  await call(t, 'exportProducts', 'GET', `${exp}?min_price=abc`, { token: staff }, 400);
  // More attribute keys than an import reads as attr.<key> columns (1,000):
  // 21 products of 50 keys each, which only this request finds.
  for (let p = 0; p < 21; p++) {
    const attributes = Object.fromEntries(Array.from({ length: 50 }, (_, k) => [`zk${p * 50 + k}`, k]));
    const made = await send(base, prods, { method: 'POST', token: staff, json: { sku: `ZKEYS-${p}`, name: `Zmanykeys ${p}`, price: '1.00', currency: 'EUR', stock: 1, attributes } });
    assert.equal(made.status, 201);
  }
  await call(t, 'exportProducts', 'GET', `${exp}?format=csv&q=zmanykeys`, { token: staff, label: 'more keys than an import reads' }, 422);
  await call(t, 'exportProducts', 'GET', exp, { raw: badFraming('GET', exp) }, 400);
  await call(t, 'exportProducts', 'GET', exp, {}, 401);
  await call(t, 'exportProducts', 'GET', exp, { token: customerToken }, 403);

  // ---- PostgreSQL gone: 503 with Retry-After --------------------------------
  // Dropping the database ends the server's connections and makes every
  // reconnection fail. The query strings and ids are new, so no cached
  // answer can stand in for the database.
  adminSql(`DROP DATABASE IF EXISTS "${server.dbname}" WITH (FORCE)`);
  const gone = [
    ['getReadyz', 'GET', '/readyz', {}],
    ['register', 'POST', reg, { json: { email: 'late@contract.test', password: PASSWORD, name: 'Late' } }],
    ['login', 'POST', lg, { json: { email: 'staff@contract.test', password: PASSWORD } }],
    ['refresh', 'POST', rf, { json: { refresh_token: second.refresh_token } }],
    ['logout', 'POST', lo, { json: { refresh_token: second.refresh_token } }],
    ['getCurrentUser', 'GET', me, { token: customerToken }],
    ['updateCurrentUser', 'PATCH', me, { token: customerToken, json: { name: 'x' } }],
    ['listMyLogins', 'GET', logins, { token: customerToken }],
    ['endMyLogin', 'DELETE', ended, { token: customerToken }],
    ['requestPasswordReset', 'POST', pr, { json: { email: 'late@contract.test' } }],
    ['confirmPasswordReset', 'POST', prc, { json: { token: 'A'.repeat(43), password: 'contract-password-9' } }],
    ['verifyEmail', 'POST', ve, { json: { token: 'A'.repeat(43) } }],
    ['resendVerificationEmail', 'POST', vr, { token: customerToken }],
    ['listUsers', 'GET', `${users}?limit=3`, { token: admin }],
    ['getUser', 'GET', victim, { token: admin }],
    ['updateUser', 'PATCH', victim, { token: admin, json: { name: 'x' } }],
    ['deactivateUser', 'DELETE', victim, { token: admin }],
    ['listCategories', 'GET', `${cats}?limit=7`, {}],
    ['createCategory', 'POST', cats, { token: staff, json: { name: 'Late' } }],
    ['getCategory', 'GET', `${cats}/888888`, {}],
    ['updateCategory', 'PATCH', phonesPath, { token: staff, json: { name: 'x' } }],
    ['deleteCategory', 'DELETE', phonesPath, { token: staff }],
    ['listProducts', 'GET', `${prods}?limit=7`, {}],
    ['productFacets', 'GET', `${prods}/facets?in_stock=false&price_buckets=1`, {}],
    ['createProduct', 'POST', prods, { token: staff, json: { ...item, sku: 'LATE-1' } }],
    ['getProduct', 'GET', `${prods}/888888`, {}],
    ['replaceProduct', 'PUT', p2Path, { token: staff, json: item }],
    ['updateProduct', 'PATCH', p2Path, { token: staff, json: { stock: 1 } }],
    ['deleteProduct', 'DELETE', p2Path, { token: staff }],
    ['listVariants', 'GET', vars, {}],
    ['createVariant', 'POST', vars, { token: staff, json: xlBody }],
    ['getVariant', 'GET', teeM, {}],
    ['updateVariant', 'PATCH', teeM, { token: staff, json: { stock: 1 } }],
    ['deleteVariant', 'DELETE', teeM, { token: staff }],
    ['createImport', 'POST', imps, { token: staff, body: csv, contentType: 'text/csv' }],
    ['getImport', 'GET', `${imps}/888888`, { token: staff }],
    ['listImportErrors', 'GET', `${imps}/888888/errors`, { token: staff }],
    ['listImports', 'GET', `${imps}?limit=3`, { token: staff }],
    ['exportProducts', 'GET', `${exp}?format=csv`, { token: staff }],
    // A token cannot be checked without the database (anonymous GraphQL
    // requests answer 200 with field errors instead).
    ['graphqlGet', 'GET', '/graphql?query=%7B__typename%7D', { token: staff }],
    ['graphqlPost', 'POST', '/graphql', { token: staff, json: { query: '{ me { email } }' } }],
  ];
  for (const [op, method, path, opts] of gone) await call(t, op, method, path, { ...opts, label: 'no database' }, 503);
  // Probes that do not touch the database still answer.
  await call(t, 'getHealthz', 'GET', '/healthz', { label: 'no database' }, 200);
  await call(t, 'getDocs', 'GET', '/docs', { label: 'no database' }, 200);
  await call(t, 'getGraphiql', 'GET', '/graphiql', { label: 'no database' }, 200);

  // ---- request size: every operation, before anything else is checked ----------
  for (const o of operations(loadSpec())) {
    const path = o.path.replace(/\{[^}]+\}/g, '1');
    await call(t, o.id, o.method, `${path}?pad=${'x'.repeat(21000)}`, { label: 'long target' }, 414);
    await call(t, o.id, o.method, path, { headers: { 'X-Pad': 'y'.repeat(31000) }, label: 'large headers' }, 431);
  }

  // ---- coverage ---------------------------------------------------------------
  await t.test('every documented status of every operation was produced', () => {
    // Only an unexpected internal failure gives a 500: no request can ask for one.
    const missing = checker.unexercised((op, status) => status === '500');
    assert.deepEqual(missing, [], 'documented statuses that the request set never produced');
  });
});

test('paths around /docs and /graphiql that are not files are 404 problems', async () => {
  const docs = ['/docs/', '/docs/%2e%2e/openapi.yaml', '/docs/../openapi.yaml', '/docs/./swagger-ui.css', '/docs/swagger-ui.css/'];
  const graphiql = ['/graphiql/', '/graphiql/%2e%2e/openapi.yaml', '/graphiql/../docs/index.html', '/graphiql/./graphiql.min.js', '/graphiql/graphiql.min.js/', '/graphiql/graphiql/index.html'];
  for (const path of [...docs, ...graphiql]) {
    const r = await raw(server.port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 404, path);
    assert.match(r.headers['content-type'], /^application\/problem\+json/, path);
    assert.equal(JSON.parse(r.body.toString('utf8')).status, 404, path);
  }
});
