// spec.mjs -- openapi.yaml as the contract tests read it: its operations,
// and a checker that validates one HTTP response against the operation it
// answers (status documented, documented headers present and valid, body
// of a documented media type that matches its JSON Schema).
//
// The spec is OpenAPI 3.1, whose schemas are JSON Schema 2020-12 (type
// arrays such as [integer, "null"], const, examples): they are compiled by
// Ajv's 2020-12 validator, with the spec's components.schemas registered as
// one schema document so that every $ref resolves inside it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { ROOT } from './harness.mjs';

const Ajv2020 = Ajv2020Module.default || Ajv2020Module;
const addFormats = addFormatsModule.default || addFormatsModule;

export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

export function loadSpec() {
  return YAML.parse(readFileSync(join(ROOT, 'openapi.yaml'), 'utf8'));
}

/** Every operation: { id, method (upper case), path (template), op }. */
export function operations(spec) {
  const ops = [];
  for (const [path, item] of Object.entries(spec.paths || {}))
    for (const m of METHODS)
      if (item[m]) ops.push({ id: item[m].operationId, method: m.toUpperCase(), path, op: item[m] });
  return ops;
}

/** Follow local $refs ('#/components/...') until a real object. */
export function deref(spec, obj) {
  let o = obj;
  for (let i = 0; o && o.$ref && i < 16; i++) {
    if (!o.$ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${o.$ref}`);
    o = o.$ref
      .slice(2)
      .split('/')
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((node, key) => (node == null ? undefined : node[key]), spec);
  }
  if (!o) throw new Error(`unresolvable $ref ${obj.$ref}`);
  return o;
}

const SPEC_ID = 'urn:nexus:openapi';

/* Point '#/components/schemas/X' at the registered document's $defs. */
function rewriteRefs(node, prefix) {
  if (Array.isArray(node)) return node.map((n) => rewriteRefs(n, prefix));
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/'))
      out[k] = `${prefix}#/$defs/${v.slice('#/components/schemas/'.length)}`;
    else out[k] = rewriteRefs(v, prefix);
  }
  return out;
}

export function makeAjv(spec) {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats(ajv);
  // OpenAPI's own formats.
  ajv.addFormat('int32', {
    type: 'number',
    validate: (n) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31,
  });
  ajv.addFormat('int64', { type: 'number', validate: (n) => Number.isInteger(n) });
  ajv.addSchema({ $id: SPEC_ID, $defs: rewriteRefs(spec.components?.schemas || {}, '') });
  return ajv;
}

const essence = (ct) => (ct || '').split(';')[0].trim().toLowerCase();
const isJson = (mt) => mt === 'application/json' || mt.endsWith('+json');

/* Headers that the spec describes as present only in some set-ups, or
 * only on some answers (a replay). */
const CONDITIONAL_HEADERS = new Set(['x-cache', 'idempotent-replayed']);

/**
 * Checks responses against the spec. check() returns a list of problems
 * (empty when the response conforms) and records which documented
 * statuses each operation has shown.
 */
export class ContractChecker {
  constructor(spec) {
    this.spec = spec;
    this.ajv = makeAjv(spec);
    this.ops = new Map(operations(spec).map((o) => [o.id, o]));
    this.seen = new Map(); // operationId -> Set of statuses
    this.validators = new Map();
  }

  validator(schema) {
    const key = JSON.stringify(schema);
    if (!this.validators.has(key))
      this.validators.set(key, this.ajv.compile(rewriteRefs(schema, SPEC_ID)));
    return this.validators.get(key);
  }

  validateValue(schema, value, where, problems) {
    const v = this.validator(schema);
    if (!v(value))
      problems.push(`${where}: ${this.ajv.errorsText(v.errors, { dataVar: where })}`);
  }

  /** res: { status, headers: {lower-case name: value}, body: Buffer } */
  check(opId, method, path, res) {
    const problems = [];
    const o = this.ops.get(opId);
    if (!o) return [`no operation ${opId} in the spec`];
    if (o.method !== method) problems.push(`${opId} is ${o.method}, the request was ${method}`);
    const templ = new RegExp(`^${o.path.replace(/\{[^}]+\}/g, '[^/]+')}(\\?.*)?$`);
    if (!templ.test(path)) problems.push(`${path} does not match ${o.path}`);
    const status = String(res.status);
    if (!this.seen.has(opId)) this.seen.set(opId, new Set());
    this.seen.get(opId).add(status);
    const documented = o.op.responses?.[status];
    if (!documented) return [...problems, `status ${status} is not documented for ${opId}`];
    const resp = deref(this.spec, documented);
    const headers = {};
    for (const [name, h] of Object.entries(resp.headers || {})) headers[name.toLowerCase()] = deref(this.spec, h);

    for (const [name, h] of Object.entries(headers)) {
      const value = res.headers[name];
      if (value === undefined) {
        if (!CONDITIONAL_HEADERS.has(name)) problems.push(`documented header ${name} is missing`);
        continue;
      }
      if (!h.schema) continue;
      const schema = deref(this.spec, h.schema);
      const typed = schema.type === 'integer' && /^-?\d+$/.test(value) ? Number(value) : value;
      this.validateValue(h.schema, typed, `header ${name}`, problems);
    }

    // What the API's conventions require, documented and sent.
    const must = ['x-request-id'];
    if (status === '201') must.push('location');
    if (status === '401') must.push('www-authenticate');
    if (status === '405') must.push('allow');
    if (status === '429' || status === '503') must.push('retry-after');
    for (const name of must) {
      if (!headers[name]) problems.push(`the spec does not document ${name} on ${status} of ${opId}`);
      if (res.headers[name] === undefined && headers[name] === undefined)
        problems.push(`header ${name} is missing`);
    }
    if (status === '401' && !/^Bearer\b/.test(res.headers['www-authenticate'] || ''))
      problems.push(`WWW-Authenticate is not a Bearer challenge: ${res.headers['www-authenticate']}`);

    const content = resp.content;
    if (!content || Object.keys(content).length === 0) {
      if (res.body.length) problems.push(`status ${status} is documented without a body, got ${res.body.length} bytes`);
      return problems;
    }
    const mt = essence(res.headers['content-type']);
    const key = Object.keys(content).find((k) => essence(k) === mt);
    if (!key) {
      problems.push(`Content-Type ${res.headers['content-type']} is not documented (${Object.keys(content).join(', ')})`);
      return problems;
    }
    const schema = content[key].schema;
    if (!schema) return problems;
    if (isJson(mt)) {
      let body;
      try {
        body = JSON.parse(res.body.toString('utf8'));
      } catch (e) {
        problems.push(`body is not JSON: ${e.message}`);
        return problems;
      }
      this.validateValue(schema, body, 'body', problems);
      if (mt === 'application/problem+json' && body && typeof body === 'object') {
        if (body.status !== res.status) problems.push(`problem status ${body.status} is not ${res.status}`);
        if (body.request_id !== res.headers['x-request-id'])
          problems.push(`problem request_id ${body.request_id} is not X-Request-Id ${res.headers['x-request-id']}`);
      }
    } else {
      const s = deref(this.spec, schema);
      if (s.type !== 'string') problems.push(`a ${mt} body is documented as ${s.type}, not a string`);
      if (res.body.length === 0 && res.status === 200) problems.push('the body is empty');
    }
    return problems;
  }

  /** Documented statuses that no checked response has shown, by operation. */
  unexercised(skip) {
    const missing = [];
    for (const o of this.ops.values())
      for (const status of Object.keys(o.op.responses || {}))
        if (!skip(o.id, status) && !this.seen.get(o.id)?.has(status)) missing.push(`${o.method} ${o.path} ${status}`);
    return missing;
  }
}
