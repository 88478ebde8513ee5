// harness.mjs -- start and stop the real server for the Node tests (the
// contract test here and the browser test in tests/browser/).
//
// Like the C harness (tests/integration/support/harness.c): a free port on
// 127.0.0.1, a database of its own on the test PostgreSQL
// (NEXUS_TEST_DATABASE_URL, as scripts/test exports it), a Redis key prefix
// of its own on the test Redis (NEXUS_TEST_REDIS_URL, optional), the server
// log under build/test-logs/, and the database dropped again at the end.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const NEXUS_BIN = process.env.NEXUS_BIN || join(ROOT, 'build', 'test-release', 'nexus');
export const DOCS_DIR = process.env.NEXUS_TEST_DOCS_DIR || join(ROOT, 'build', 'test-docs');
export const ARTIFACTS = process.env.NEXUS_TEST_ARTIFACTS || join(ROOT, 'build', 'test-artifacts');
const LOGS = join(ROOT, 'build', 'test-logs');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function adminConninfo() {
  const url = process.env.NEXUS_TEST_DATABASE_URL;
  if (!url) throw new Error('NEXUS_TEST_DATABASE_URL is not set: run the tests with scripts/test');
  return url;
}

/** Run one SQL statement on the maintenance database with psql. */
export function adminSql(sql) {
  const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', adminConninfo(), '-c', sql], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`psql: ${sql}: ${r.stderr || r.error}`);
}

function portIsFree(port) {
  return new Promise((resolveFree) => {
    const s = createServer();
    s.once('error', () => resolveFree(false));
    s.listen(port, () => s.close(() => resolveFree(true)));
  });
}

// A port picked at random below the ephemeral range (32768 and up), where
// outgoing connections take their source ports: the server, which listens
// only after it has migrated, still finds it free. NEXUS_PORTS=LOW-HIGH
// narrows the range, as for the scripts' free_port: suites that run side
// by side take disjoint ranges.
export async function freePort() {
  const range = /^(\d+)-(\d+)$/.exec(process.env.NEXUS_PORTS || '');
  const [low, high] = range ? [Number(range[1]), Number(range[2])] : [20000, 31999];
  for (let i = 0; i < 1000; i++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await portIsFree(port)) return port;
  }
  throw new Error(`no free port between ${low} and ${high}`);
}

/** The environment of a nexus process: ours without NEXUS_* and the
 * server settings the harness chooses. */
function childEnv(server, extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('NEXUS_') || ['DATABASE_URL', 'REDIS_URL', 'PORT', 'DOCS_DIR'].includes(k)) continue;
    env[k] = v;
  }
  Object.assign(env, {
    DATABASE_URL: server.databaseUrl,
    PORT: String(server.port),
    THREADS: '2',
    AUTO_MIGRATE: '1',
    JWT_SECRET: 'node-test-secret-0123456789abcdef0123456789',
    LOG_LEVEL: 'info',
    SHUTDOWN_GRACE: '5',
    REDIS_PREFIX: server.redisPrefix,
  });
  if (server.docsDir) env.DOCS_DIR = server.docsDir;
  if (process.env.NEXUS_TEST_REDIS_URL) env.REDIS_URL = process.env.NEXUS_TEST_REDIS_URL;
  return Object.assign(env, extra || {});
}

/**
 * Start `nexus serve` on a fresh database named nx_<name>.
 * options.env: more environment; options.docsDir: DOCS_DIR (default the
 * staged build/test-docs; null for none).
 */
export async function startServer(name, options = {}) {
  if (!existsSync(NEXUS_BIN)) throw new Error(`no server binary at ${NEXUS_BIN} (set NEXUS_BIN)`);
  const dbname = `nx_node_${name}`;
  adminSql(`DROP DATABASE IF EXISTS "${dbname}" WITH (FORCE)`);
  adminSql(`CREATE DATABASE "${dbname}" TEMPLATE template0`);
  const server = {
    name,
    dbname,
    databaseUrl: `${adminConninfo()} dbname=${dbname}`,
    redisPrefix: `node_${name}_${process.pid}_${Date.now()}`,
    docsDir: options.docsDir === undefined ? DOCS_DIR : options.docsDir,
    env: options.env,
  };
  mkdirSync(LOGS, { recursive: true });
  server.logPath = join(LOGS, `node-${name}.log`);
  // Another process may take the port between the check and the server's
  // bind: the server then exits saying so, and starts again on another.
  for (let attempt = 0; attempt < 5; attempt++) {
    server.port = await freePort();
    server.base = `http://127.0.0.1:${server.port}`;
    if (await spawnAndWait(server, options)) return server;
  }
  throw new Error(`no port for nexus after 5 tries:\n${logTail(server)}`);
}

// Start server.child on server.port; true once /healthz answers, false if
// it exited because the port was taken.
async function spawnAndWait(server, options) {
  const log = openSync(server.logPath, 'w');
  server.child = spawn(NEXUS_BIN, ['serve'], {
    env: childEnv(server, options.env),
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  server.exited = new Promise((r) => server.child.once('exit', (code, signal) => r({ code, signal })));
  let exit = null;
  server.exited.then((e) => (exit = e));
  for (let i = 0; i < 300; i++) {
    if (exit && readFileSync(server.logPath, 'utf8').includes('cannot listen on ')) return false;
    if (exit) throw new Error(`nexus exited during start-up (${JSON.stringify(exit)}):\n${logTail(server)}`);
    try {
      // Its own start-up line first: another server that holds the port
      // (this one then exits) would answer /healthz too.
      const listening = readFileSync(server.logPath, 'utf8').includes(`, port ${server.port} with `);
      if (listening && (await fetch(`${server.base}/healthz`)).status === 200) return true;
    } catch {
      /* not listening yet */
    }
    await sleep(100);
  }
  await stopServer(server);
  throw new Error(`nexus did not answer /healthz within 30 s:\n${logTail(server)}`);
}

export function logTail(server, lines = 30) {
  try {
    return readFileSync(server.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** SIGTERM, wait (SIGKILL after 30 s), drop the database. Returns the exit. */
export async function stopServer(server) {
  let exit = null;
  if (server.child && server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill('SIGTERM');
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 30000);
    exit = await server.exited;
    clearTimeout(timer);
  }
  adminSql(`DROP DATABASE IF EXISTS "${server.dbname}" WITH (FORCE)`);
  return exit;
}

/** `nexus user create` against the server's database; the password on stdin. */
export function createUser(server, email, role, password) {
  const r = spawnSync(NEXUS_BIN, ['user', 'create', '--email', email, '--role', role], {
    env: childEnv(server),
    input: `${password}\n`,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`nexus user create ${email}: ${r.stdout}${r.stderr}`);
  const m = /with id (\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : null;
}

/** Log in and return the token pair. */
export async function login(server, email, password) {
  const r = await fetch(`${server.base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (r.status !== 200) throw new Error(`login ${email}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** `nexus seed`: the deterministic demo catalog, into the server's (empty) database. */
export function seedCatalog(server, products, categories) {
  const r = spawnSync(NEXUS_BIN, ['seed', '--products', String(products), '--categories', String(categories)], {
    env: childEnv(server),
    encoding: 'utf8',
  });
  if (r.status !== 0 || !/^seeded /m.test(r.stdout)) throw new Error(`nexus seed: ${r.stdout}${r.stderr}`);
}
