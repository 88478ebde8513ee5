// cluster_check.mjs -- run against scripts/cluster (its cluster.env given
// as the first argument): read-after-write across instances through nginx,
// the share of uncached reads the replica serves, and the replica stopped
// and restarted in the middle of reads. Exits non-zero on a stale or
// failed read. Waits are for conditions, with generous deadlines.
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const env = Object.fromEntries(
  readFileSync(process.argv[2], 'utf8')
    .split('\n')
    .filter((l) => l.includes('='))
    .map((l) => {
      const at = l.indexOf('=');
      return [l.slice(0, at), l.slice(at + 1).replace(/^"|"$/g, '')];
    }),
);
const WRITES = Number(process.env.CLUSTER_WRITES || 2000);
const api = env.API_URL;
const [writer, other] = env.INSTANCE_URLS.split(' ');
const pgCluster = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/pg-cluster');
let failures = 0;
const t0 = Date.now();

async function call(base, path, opts = {}) {
  const headers = { ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}) };
  if (opts.json) headers['Content-Type'] = 'application/json';
  const r = await fetch(base + path, {
    method: opts.method || 'GET',
    headers,
    body: opts.json ? JSON.stringify(opts.json) : undefined,
  });
  const text = await r.text();
  return { status: r.status, text, json: text.startsWith('{') ? JSON.parse(text) : null };
}

async function expectOk(base, path, opts) {
  const r = await call(base, path, opts);
  if (r.status !== 200 && r.status !== 201) throw new Error(`${path}: ${r.status} ${r.text}`);
  return r.json;
}

/** Reads by target, summed over both instances (their /metrics). */
async function readsByTarget() {
  const total = { primary: 0, replica: 0 };
  for (const base of [writer, other]) {
    const text = (await call(base, '/metrics')).text;
    for (const target of Object.keys(total)) {
      const m = text.match(new RegExp(`^nexus_db_reads_total\\{target="${target}"\\} (\\d+)`, 'm'));
      total[target] += m ? Number(m[1]) : 0;
    }
  }
  return total;
}

let serial = 0;
/** A read through the balancer that misses the cache (a new key). */
async function uncachedRead() {
  serial += 1;
  const r = await call(api, `/api/v1/products?limit=5&max_price=${100000 + serial}.00`);
  if (r.status !== 200) {
    failures += 1;
    console.log(`failed read: ${r.status} ${r.text}`);
  }
}

function pgClusterRun(...args) {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [pgCluster, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg-cluster ${args[0]}: ${code}`))));
  });
}

/** Uncached reads until promise settles, then 50 more. */
async function readWhile(promise) {
  let done = false;
  const settled = promise.finally(() => (done = true));
  while (!done) await uncachedRead();
  await settled;
  for (let i = 0; i < 50; i++) await uncachedRead();
}

/** Uncached reads until the replica answers some (60 s at most). */
async function untilReplicaUsed() {
  const before = (await readsByTarget()).replica;
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    for (let i = 0; i < 20; i++) await uncachedRead();
    if ((await readsByTarget()).replica > before) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const login = await expectOk(writer, '/api/v1/auth/login', {
  method: 'POST',
  json: { email: process.env.NEXUS_ADMIN_EMAIL, password: process.env.NEXUS_ADMIN_PASSWORD },
});
const token = login.access_token;
const sku = `CLUSTER-${process.pid}`;
const product = await expectOk(writer, '/api/v1/products', {
  method: 'POST',
  token,
  json: { sku, name: `Cluster Kettle ${process.pid}`, price: '1.00', stock: 3 },
});

// 1. Writes through one instance, reads through the balancer (both instances).
let stale = 0;
for (let n = 1; n <= WRITES; n++) {
  const price = `${n}.00`;
  await expectOk(writer, `/api/v1/products/${product.id}`, { method: 'PATCH', token, json: { price } });
  const item = await expectOk(api, `/api/v1/products/${product.id}`);
  const list = await expectOk(api, `/api/v1/products?q=cluster+kettle+${process.pid}`);
  stale += (item.price !== price) + (list.items[0]?.price !== price);
}
console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] read-after-write: ${WRITES} writes on one instance, ${2 * WRITES} reads through nginx: ${stale} stale`);

// 2. A read-heavy load (one write per 100 reads): the share of misses on the replica.
const before = await readsByTarget();
for (let i = 0; i < 2000; i++) {
  if (i % 100 === 99)
    await expectOk(writer, `/api/v1/products/${product.id}`, { method: 'PATCH', token, json: { stock: i } });
  await uncachedRead();
}
const after = await readsByTarget();
const replica = after.replica - before.replica;
const primary = after.primary - before.primary;
console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] read-heavy load: ${replica} of ${replica + primary} uncached reads served by the replica ` +
  `(${((100 * replica) / Math.max(1, replica + primary)).toFixed(1)} %)`);

// 3. The replica stops in the middle of reads, and comes back.
const failedBefore = failures;
await readWhile(pgClusterRun('stop', env.REPLICA_DATA));
await readWhile(pgClusterRun('replica', env.PRIMARY_SOCKDIR, env.REPLICA_DATA, env.REPLICA_SOCKDIR, env.REPLICA_LOG, env.REPLICA_OPTIONS));
const usedAgain = await untilReplicaUsed();
console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] replica stopped and restarted during reads: ${failures - failedBefore} failed reads; used again: ${usedAgain}`);

const ok = stale === 0 && failures === 0 && usedAgain;
console.log(ok ? 'cluster check: ok' : 'cluster check: FAILED');
process.exit(ok ? 0 : 1);
