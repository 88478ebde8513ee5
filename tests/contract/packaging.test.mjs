// packaging.test.mjs -- the Docker image, docker-compose.yml and the
// scripts agree.
//
// - Every Debian package that the Dockerfile installs is one that
//   scripts/run or scripts/test installs too, and the Dockerfile installs
//   only through the package lists of scripts/lib/common.sh (no names of
//   its own), so the image is built from what the tests exercise.
// - Every script installs the Debian packages of the commands it runs
//   (python3 for free_port, curl, bc, wrk).
// - ensure_node takes no Node.js older than the suites need, and says why
//   when it cannot install one.
// - Every shared library the server binary needs directly comes from a
//   package of the runtime list (what the final image installs).
// - The Dockerfile and docker-compose.yml have the shape the README
//   promises (multi-stage, non-root, health checks, one-shot migrate,
//   api without a host port behind nginx).
// - stage_docs_assets stages exactly the files that the server reads for
//   /docs and /graphiql, from exactly pinned npm packages, and our pages
//   name no other host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { NEXUS_BIN, ROOT } from './harness.mjs';

const read = (p) => readFileSync(join(ROOT, p), 'utf8');
const common = read('scripts/lib/common.sh');

/* The NEXUS_*_PACKAGES lists, as bash sees them after sourcing common.sh. */
function packageLists() {
  const names = [...new Set([...common.matchAll(/^(NEXUS_[A-Z_]+_PACKAGES)=/gm)].map((m) => m[1]))];
  const script = `. scripts/lib/common.sh; ${names.map((n) => `printf '%s=%s\\n' ${n} "$${n}";`).join(' ')}`;
  const out = execFileSync('bash', ['-c', script], { cwd: ROOT, encoding: 'utf8' });
  const lists = {};
  for (const line of out.trim().split('\n')) {
    const i = line.indexOf('=');
    lists[line.slice(0, i)] = line.slice(i + 1).split(/\s+/).filter(Boolean);
  }
  return lists;
}

/* Shell functions of common.sh (name -> body), except ensure_packages
 * itself, whose apt-get line installs whatever it is given. */
function commonFunctions() {
  const fns = {};
  for (const m of common.matchAll(/^([a-z_]+)\(\)\s*\{\n([\s\S]*?)^\}/gm)) if (m[1] !== 'ensure_packages') fns[m[1]] = m[2];
  return fns;
}

/* Join continuation lines and drop comments. */
function shellText(text) {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n');
}

/**
 * The packages a piece of shell installs: the words given to
 * ensure_packages or `apt-get install`, with $NEXUS_*_PACKAGES expanded and
 * a local $packages variable followed to its assignments, plus what the
 * common.sh functions it calls install.
 */
function installedBy(text, lists, fns, seen = new Set()) {
  const src = shellText(text);
  const out = new Set();
  const literal = [];
  const expand = (word) => {
    const w = word.replace(/^["']|["']$/g, '');
    let m;
    if ((m = /^\$\{?(NEXUS_[A-Z_]+_PACKAGES)\}?$/.exec(w))) {
      assert.ok(lists[m[1]], `${m[1]} is not defined in scripts/lib/common.sh`);
      lists[m[1]].forEach((p) => out.add(p));
    } else if ((m = /^\$\{?([a-z_]+)\}?$/.exec(w))) {
      for (const a of src.matchAll(new RegExp(`(?:^|[\\s;&|])${m[1]}="([^"]*)"`, 'g')))
        a[1].split(/\s+/).filter(Boolean).filter((x) => x !== `$${m[1]}`).forEach(expand);
    } else if (/^[a-z0-9][a-z0-9.+-]+$/.test(w)) {
      out.add(w);
      literal.push(w);
    }
  };
  for (const m of src.matchAll(/(?:ensure_packages|apt-get\s+install)\s+([^;&|\n)]*)/g))
    m[1].split(/\s+/).filter((w) => w && !w.startsWith('-')).forEach(expand);
  for (const [name, body] of Object.entries(fns)) {
    if (seen.has(name) || !new RegExp(`(^|[\\s;&|(])${name}(\\s|$|;)`, 'm').test(src)) continue;
    seen.add(name);
    installedBy(body, lists, fns, seen).packages.forEach((p) => out.add(p));
  }
  return { packages: out, literal };
}

/* The Dockerfile's stages: [{ from, as, text }], a FROM's ${ARG} read as
 * that argument's default (the ARGs before the first FROM). */
function dockerStages() {
  const stages = [];
  const args = {};
  for (const line of read('Dockerfile').replace(/\\\n/g, ' ').split('\n')) {
    const arg = /^ARG\s+(\w+)=(\S+)$/.exec(line);
    if (arg && !stages.length) args[arg[1]] = arg[2];
    const m = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (m) stages.push({ from: m[1].replace(/^\$\{(\w+)\}$/, (all, name) => args[name] ?? all), as: m[2], text: '' });
    else if (stages.length) stages[stages.length - 1].text += `${line}\n`;
  }
  return stages;
}

const runLines = (stage) =>
  stage.text
    .split('\n')
    .filter((l) => /^RUN\s/.test(l))
    .map((l) => l.slice(4))
    .join('\n');

test('every package the Dockerfile installs is one the scripts install', () => {
  const lists = packageLists();
  const fns = commonFunctions();
  const scripts = new Set();
  for (const s of ['scripts/run', 'scripts/test']) installedBy(read(s), lists, fns).packages.forEach((p) => scripts.add(p));
  assert.ok(scripts.has('cmake') && scripts.has('postgresql-15'), `cannot read the scripts' packages: ${[...scripts]}`);

  const stages = dockerStages();
  assert.equal(stages.length, 2, 'a build stage and a runtime stage');
  const docker = new Set();
  for (const stage of stages) {
    const { packages, literal } = installedBy(runLines(stage), lists, fns);
    assert.deepEqual(literal, [], `the ${stage.as} stage names packages outside scripts/lib/common.sh`);
    packages.forEach((p) => docker.add(p));
  }
  assert.ok(docker.size > 0, 'found no package in the Dockerfile');
  const extra = [...docker].filter((p) => !scripts.has(p));
  assert.deepEqual(extra, [], 'installed by the Dockerfile but by neither scripts/run nor scripts/test');

  const [build, runtime] = stages;
  const runtimeSet = installedBy(runLines(runtime), lists, fns).packages;
  assert.deepEqual([...runtimeSet].sort(), [...lists.NEXUS_RUNTIME_PACKAGES].sort(), 'the runtime stage installs the runtime list only');
  for (const p of lists.NEXUS_BUILD_PACKAGES) assert.ok(installedBy(runLines(build), lists, fns).packages.has(p), `the build stage lacks ${p}`);
});

/* The commands of Debian packages that the scripts themselves run, and those packages. */
const SCRIPT_COMMANDS = { python3: 'python3', curl: 'curl', bc: 'bc', wrk: 'wrk' };

/**
 * The SCRIPT_COMMANDS a piece of shell runs: in its own text, in the files
 * it sources (but common.sh), and in the common.sh functions it calls.
 */
function commandsRun(path, fns) {
  let text = shellText(read(path));
  for (const m of text.matchAll(/^\s*\.\s+"(?:\$\(dirname "\$0"\)|\$\{?\w+\}?)\/([^"]+)"/gm)) {
    if (m[1].endsWith('lib/common.sh')) continue;
    const sourced = [join(path, '..', m[1]), m[1]].find((p) => existsSync(join(ROOT, p)));
    assert.ok(sourced, `${path} sources ${m[1]}, which is not found`);
    text += `\n${shellText(read(sourced))}`;
  }
  // (a command or a function is called as a word, alone or in $(...))
  const used = new Set();
  const scan = (src, seen) => {
    for (const cmd of Object.keys(SCRIPT_COMMANDS))
      if (new RegExp(`(^|[\\s;&|(\`])${cmd}(\\s|\\)|$)`, 'm').test(src)) used.add(cmd);
    for (const [name, body] of Object.entries(fns)) {
      if (seen.has(name) || !new RegExp(`(^|[\\s;&|(])${name}(\\s|\\)|$|;)`, 'm').test(src)) continue;
      seen.add(name);
      scan(shellText(body), seen);
    }
  };
  scan(text, new Set());
  return used;
}

test('every script installs the packages of the commands it runs', () => {
  const lists = packageLists();
  const fns = commonFunctions();
  assert.ok(commandsRun('scripts/soak', fns).has('python3'), 'cannot follow free_port to its python3');
  for (const script of ['scripts/run', 'scripts/test', 'scripts/cluster', 'scripts/soak']) {
    const installed = installedBy(read(script), lists, fns).packages;
    const missing = [...commandsRun(script, fns)].map((cmd) => SCRIPT_COMMANDS[cmd]).filter((p) => !installed.has(p));
    assert.deepEqual(missing, [], `${script} runs commands of packages it does not install`);
  }
});

test('ensure_node takes no Node.js older than 20, and says why when it cannot install one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nexus-node-'));
  try {
    // Debian 12's node, version 18 (npm and npx run on it as on any).
    const node = `#!/bin/sh\ncase "$*" in\n--version) echo v18.20.4; exit 0 ;;\n*process.versions.node*) echo 18; exit 0 ;;\nesac\nexec '${process.execPath}' "$@"\n`;
    writeFileSync(join(dir, 'node'), node, { mode: 0o755 });
    // A registry that refuses every connection, and no cached package.
    const env = { ...process.env, PATH: `${dir}:${process.env.PATH}`, npm_config_registry: 'http://127.0.0.1:9/' };
    Object.assign(env, { npm_config_cache: join(dir, 'cache'), npm_config_fetch_retries: '0' });
    const script = '. scripts/lib/common.sh; NEXUS_NODE_PREFIX=$1/prefix; ensure_node';
    const run = spawnSync('bash', ['-c', script, 'ensure_node', dir], { cwd: ROOT, env, encoding: 'utf8', timeout: 120000 });
    assert.equal(run.status, 1, `ensure_node accepted Node.js 18: ${run.stderr}`);
    assert.match(run.stderr, /Node\.js 20 or later is needed \(this machine has v18\.20\.4\)/);
    assert.match(run.stderr, /error: cannot install Node\.js [0-9.]+: install Node\.js 20 or later and put it first on the PATH/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/* The Debian package that installed path (dpkg may know it with or
 * without the /usr prefix: Debian 12 merges /lib into /usr/lib). */
function packageOwning(path) {
  const candidates = [path, path.replace(/^\/usr\//, '/'), path.startsWith('/usr/') ? path : `/usr${path}`];
  for (const p of [...new Set(candidates)]) {
    try {
      return execFileSync('dpkg', ['-S', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .split('\n')[0]
        .split(':')[0]
        .trim();
    } catch {
      /* not under this name */
    }
  }
  return null;
}

test('the runtime list provides every library the server links directly', (t) => {
  if (!existsSync(NEXUS_BIN)) return t.skip(`no server binary at ${NEXUS_BIN}`);
  const lists = packageLists();
  const needed = execFileSync('readelf', ['-d', NEXUS_BIN], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /\(NEEDED\).*\[(.+)\]/.exec(l)?.[1])
    .filter(Boolean);
  const paths = {};
  for (const l of execFileSync('ldd', [NEXUS_BIN], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*(\S+) => (\S+)/.exec(l);
    if (m) paths[m[1]] = m[2];
  }
  // In every Debian image, slim ones included.
  const base = new Set(['libc6', 'libgcc-s1']);
  const missing = [];
  for (const lib of needed) {
    if (/^lib(asan|ubsan)\./.test(lib)) continue; // a sanitizer build
    assert.ok(paths[lib], `ldd does not resolve ${lib}`);
    const owner = packageOwning(paths[lib]);
    assert.ok(owner, `no package owns ${paths[lib]}`);
    if (!base.has(owner) && !lists.NEXUS_RUNTIME_PACKAGES.includes(owner)) missing.push(`${lib} (${owner})`);
  }
  assert.deepEqual(missing, [], 'libraries whose package NEXUS_RUNTIME_PACKAGES lacks');
});

test('the Dockerfile builds on bookworm and runs on bookworm-slim as a non-root user', () => {
  const stages = dockerStages();
  // Build arguments, so the image builds on a local base where no registry is reachable.
  assert.match(read('Dockerfile'), /^FROM \$\{BASE\} AS build$/m);
  assert.match(read('Dockerfile'), /^FROM \$\{RUNTIME_BASE\} AS runtime$/m);
  assert.equal(stages[0].from, 'debian:bookworm');
  assert.equal(stages[1].from, 'debian:bookworm-slim');
  const runtime = stages[1].text;
  assert.match(stages[0].text, /^COPY scripts\/lib\/common\.sh scripts\/lib\/common\.sh$/m, 'the build stage uses the project scripts');
  assert.match(stages[0].text, /cmake_build /, 'the build stage builds with cmake_build');
  assert.match(runtime, /^USER (?!root\b|0\b)\S+$/m);
  assert.match(runtime, /^HEALTHCHECK .*\/healthz/m);
  assert.match(runtime, /^ENTRYPOINT \["nexus"\]$/m);
  assert.match(runtime, /^CMD \["serve"\]$/m);
  assert.match(runtime, /^ENV [^\n]*DOCS_DIR=/m, 'the image serves /docs');
  assert.match(runtime, /COPY --from=build \S+\/nexus /);
  const ignore = read('.dockerignore');
  for (const p of ['.git', 'build/', 'var/', 'node_modules/']) assert.ok(ignore.split('\n').includes(p), `.dockerignore lacks ${p}`);
});

// An IPv4 address or a.b.c.d/n as [32-bit number, prefix length].
const v4Range = (text) => {
  const [addr, prefix = '32'] = text.split('/');
  const n = addr.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  return [n, Number(prefix)];
};
const v4Contains = (range, addr) => {
  const [base, prefix] = v4Range(range);
  const size = 2 ** (32 - prefix);
  return Math.floor(v4Range(addr)[0] / size) === Math.floor(base / size);
};

test('docker-compose.yml: the api trusts X-Forwarded-For from the addresses nginx can have, not the gateway', () => {
  const compose = YAML.parse(read('docker-compose.yml'), { merge: true });
  const [net] = compose.networks?.default?.ipam?.config ?? [];
  assert.ok(net?.subnet && net.ip_range && net.gateway, 'the compose network has a fixed subnet, ip_range and gateway');
  const trusted = String(compose.services.api.environment.TRUSTED_PROXIES).split(',').map((t) => t.trim());
  assert.deepEqual(trusted, [net.ip_range], 'TRUSTED_PROXIES is the range container addresses come from');
  assert.ok(v4Contains(net.subnet, net.ip_range.split('/')[0]), 'the ip_range lies in the subnet');
  assert.ok(!v4Contains(net.ip_range, net.gateway), 'the gateway is not trusted');
  assert.equal(compose.services.nginx.networks, undefined, 'nginx is on the default network');
});

test('docker-compose.yml: migrate once, api scalable behind nginx, health checks and ordering', () => {
  const compose = YAML.parse(read('docker-compose.yml'), { merge: true });
  const s = compose.services;
  for (const name of ['postgres', 'redis', 'migrate', 'api', 'worker', 'nginx']) assert.ok(s[name], `no ${name} service`);
  assert.equal(s.postgres.image, 'postgres:15');
  assert.equal(s.redis.image, 'redis:7');
  for (const name of ['migrate', 'api', 'worker']) {
    assert.equal(s[name].image, s.api.image, `${name} runs the nexus image`);
    assert.equal(s[name].build?.context, '.', `${name} builds the Dockerfile`);
  }
  assert.deepEqual(s.migrate.command, ['migrate']);
  assert.deepEqual(s.api.command, ['serve']);
  assert.deepEqual(s.worker.command, ['worker']);
  assert.equal(s.api.ports, undefined, 'api publishes no host port, so it can be scaled');
  assert.ok(s.nginx.ports?.length, 'nginx publishes the port');
  assert.ok(s.nginx.volumes.some((v) => v.startsWith('./docker/nginx.conf:')), 'nginx uses docker/nginx.conf');
  for (const name of ['postgres', 'redis', 'api', 'worker', 'nginx'])
    assert.ok(s[name].healthcheck?.test && !s[name].healthcheck.disable, `${name} has a health check`);
  const dep = (svc, on) => s[svc].depends_on?.[on]?.condition;
  assert.equal(dep('migrate', 'postgres'), 'service_healthy');
  assert.equal(dep('api', 'migrate'), 'service_completed_successfully');
  assert.equal(dep('api', 'postgres'), 'service_healthy');
  assert.equal(dep('api', 'redis'), 'service_healthy');
  assert.equal(dep('worker', 'migrate'), 'service_completed_successfully');
  assert.equal(dep('nginx', 'api'), 'service_healthy');
  const nginx = read('docker/nginx.conf');
  assert.match(nginx, /^\s*server api:8080\b/m, 'nginx balances over the api service');
  assert.match(nginx, /^\s*resolver 127\.0\.0\.11\b/m, "nginx resolves through Docker's DNS");
  assert.match(nginx, /^\s*client_max_body_size 0;/m, 'nginx leaves body sizes to the API (imports up to IMPORT_MAX_BYTES)');
  assert.match(nginx, /^\s*proxy_request_buffering off;/m, 'uploads stream through nginx');
});

test('docker-compose.yml: a streaming replica made with pg_basebackup -R, and two api replicas reading from it', () => {
  const compose = YAML.parse(read('docker-compose.yml'), { merge: true });
  const s = compose.services;
  const replica = s['postgres-replica'];
  assert.ok(replica, 'no postgres-replica service');
  assert.equal(replica.image, s.postgres.image, 'the replica runs the primary\'s PostgreSQL');
  assert.equal(replica.depends_on?.postgres?.condition, 'service_healthy');
  assert.ok(replica.healthcheck?.test, 'the replica has a health check');
  const script = replica.volumes.find((v) => v.startsWith('./docker/postgres-replica.sh:'));
  assert.ok(script && replica.entrypoint.includes(script.split(':')[1]), 'the replica starts through docker/postgres-replica.sh');
  assert.match(read('docker/postgres-replica.sh'), /pg_basebackup -h postgres -U replicator -D "\$PGDATA" -R /);
  assert.ok(s.postgres.volumes.some((v) => /^\.\/docker\/postgres-primary-init\.sh:\/docker-entrypoint-initdb\.d\//.test(v)), 'the primary makes the replication role');
  assert.match(read('docker/postgres-primary-init.sh'), /REPLICATION LOGIN/);
  assert.equal(replica.environment.PGPASSWORD, s.postgres.environment.POSTGRES_REPLICATION_PASSWORD);
  for (const name of ['migrate', 'api', 'worker'])
    assert.equal(s[name].environment.DATABASE_READ_URL, 'postgresql://nexus:nexus@postgres-replica:5432/nexus');
  assert.equal(s.api.deploy?.replicas, 2, 'two api replicas behind nginx');
  // The api neither starts nor stays ready on the replica's health.
  assert.equal(s.api.depends_on?.['postgres-replica']?.condition, 'service_started');
  assert.ok(compose.volumes && 'pgreplica' in compose.volumes, 'the replica has a volume of its own');
});

test('docker-compose.yml: JWT_SECRET has no default, and .env stays out of git and the image', () => {
  const compose = YAML.parse(read('docker-compose.yml'), { merge: true });
  const secret = compose['x-nexus-environment'].JWT_SECRET;
  assert.match(secret, /^\$\{JWT_SECRET:\?[^}]+\}$/, 'compose refuses to start without JWT_SECRET');
  for (const name of ['migrate', 'api', 'worker']) assert.equal(compose.services[name].environment.JWT_SECRET, secret);
  assert.ok(read('.dockerignore').split('\n').includes('.env'), '.dockerignore lacks .env');
  assert.ok(read('.gitignore').split('\n').includes('/.env'), '.gitignore lacks /.env');
});

test('containers listen on every interface: neither the Dockerfile nor compose sets BIND_ADDR', () => {
  assert.doesNotMatch(read('Dockerfile'), /BIND_ADDR/);
  const compose = YAML.parse(read('docker-compose.yml'), { merge: true });
  for (const name of ['migrate', 'api', 'worker']) assert.equal(compose.services[name].environment.BIND_ADDR, undefined);
  assert.match(read('scripts/run'), /^export BIND_ADDR=\$\{BIND_ADDR:-127\.0\.0\.1\}$/m, 'scripts/run binds to loopback unless told');
});

/* The file names of a C table of api/assets files ({"name", TYPE, ...}). */
const servedFiles = (source) => [...read(source).matchAll(/^\s*\{"([^"]+)", ASSET_/gm)].map((m) => m[1]);

test('stage_docs_assets stages exactly the files the server reads for /docs and /graphiql', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nexus-docs-'));
  try {
    execFileSync('bash', ['-c', '. scripts/lib/common.sh; stage_docs_assets "$1"', 'stage', dir], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    const staged = (sub) => readdirSync(join(dir, sub), { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort();
    assert.deepEqual(staged('.'), servedFiles('src/api/docs.c').sort(), 'DOCS_DIR');
    assert.deepEqual(staged('graphiql'), servedFiles('src/api/graphiql.c').sort(), 'DOCS_DIR/graphiql');
    // Our pages name only this server: no scheme, no protocol-relative URL,
    // and every placeholder replaced.
    for (const page of ['index.html', 'graphiql/index.html', 'graphiql/graphiql-initializer.js', 'swagger-initializer.js']) {
      const text = readFileSync(join(dir, page), 'utf8');
      assert.doesNotMatch(text.replace(/<!--[\s\S]*?-->/g, ''), /(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i, `${page} names another host`);
      assert.doesNotMatch(text, /@[A-Z_]+_VERSION@/, `${page} keeps a placeholder`);
    }
    const pkg = JSON.parse(read('package.json'));
    const graphiql = readFileSync(join(dir, 'graphiql/index.html'), 'utf8');
    assert.ok(graphiql.includes(`graphiql.min.js?v=${pkg.dependencies.graphiql}`), 'the GraphiQL page links the pinned version');
    assert.ok(graphiql.includes(`react-dom.production.min.js?v=${pkg.dependencies['react-dom']}`), 'the GraphiQL page links the pinned React');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the browser pages come from exactly pinned npm packages, locked alike', () => {
  const pkg = JSON.parse(read('package.json'));
  const lock = JSON.parse(read('package-lock.json'));
  for (const name of ['swagger-ui-dist', 'graphiql', 'react', 'react-dom']) {
    const pinned = pkg.dependencies[name];
    assert.match(pinned ?? '', /^\d+\.\d+\.\d+$/, `${name} is pinned to one version in dependencies`);
    assert.equal(lock.packages[''].dependencies[name], pinned, `package-lock.json's root asks for ${name} ${pinned}`);
    assert.equal(lock.packages[`node_modules/${name}`]?.version, pinned, `package-lock.json locks ${name} ${pinned}`);
  }
  // GraphiQL's single-file browser build runs on React 18's; 4.x has none.
  assert.match(pkg.dependencies.graphiql, /^3\./);
  assert.equal(pkg.dependencies.react, pkg.dependencies['react-dom']);
  assert.match(pkg.dependencies.react, /^18\./);
});
