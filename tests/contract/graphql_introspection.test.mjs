// graphql_introspection.test.mjs -- the executor's answer to graphql-js
// 16's introspection query (written by the unit test test_graphql_exec as
// graphql-introspection.json in its build directory) is a schema that the
// graphql package accepts and prints as docs/schema.graphql.
//
// The file is read next to NEXUS_BIN (scripts/test runs ctest on that
// build first), or from NEXUS_GRAPHQL_INTROSPECTION.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildClientSchema, printSchema, validateSchema, getIntrospectionQuery, parse } from 'graphql';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function introspectionFile() {
    if (process.env.NEXUS_GRAPHQL_INTROSPECTION) return process.env.NEXUS_GRAPHQL_INTROSPECTION;
    assert.ok(process.env.NEXUS_BIN, 'NEXUS_BIN or NEXUS_GRAPHQL_INTROSPECTION must be set');
    return join(dirname(process.env.NEXUS_BIN), 'graphql-introspection.json');
}

test('the introspection answer builds a valid schema that prints as docs/schema.graphql', () => {
    const answer = JSON.parse(readFileSync(introspectionFile(), 'utf8'));
    assert.equal(answer.errors, undefined);
    const schema = buildClientSchema(answer.data);
    assert.deepEqual(validateSchema(schema).map((e) => e.message), []);
    const sdl = readFileSync(join(ROOT, 'docs', 'schema.graphql'), 'utf8');
    assert.equal(printSchema(schema), sdl.replace(/\n$/, ''));
});

test('the unit test sends the query graphql-js 16 builds', () => {
    // The options GraphiQL and code generators use; the test's copy of the
    // query must ask for the same fields.
    const query = getIntrospectionQuery({
        descriptions: true,
        specifiedByUrl: true,
        directiveIsRepeatable: true,
        schemaDescription: true,
        inputValueDeprecation: true,
        oneOf: true,
    });
    const header = readFileSync(join(ROOT, 'tests', 'common', 'gql_introspection_query.h'), 'utf8');
    const lines = [...header.matchAll(/^\s*(?:static const char \*const introspection_query = )?"(.*)\\n"/gm)];
    const ours = lines.map((m) => m[1].replace(/\\"/g, '"')).join('\n');
    const normal = (text) => JSON.stringify(parse(text, { noLocation: true }));
    assert.equal(normal(ours), normal(query));
});
