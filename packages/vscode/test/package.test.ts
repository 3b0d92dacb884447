import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const read = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));

interface Schema {
  $schema: string;
  type: string;
  required: string[];
  properties: Record<string, unknown>;
  $defs: Record<string, { properties: { type: { enum: string[] } } }>;
}

test('the committed test-file schema is JSON with the expected top-level keys', () => {
  const schema = read('schemas/test-file.schema.json') as Schema;
  assert.match(schema.$schema, /json-schema\.org/);
  assert.equal(schema.type, 'object');
  assert.deepEqual(schema.required, ['name', 'request']);
  for (const key of ['name', 'request', 'assertions', 'description', 'tags', 'source_trace']) {
    assert.ok(key in schema.properties, `schema lacks properties.${key}`);
  }
  assert.ok(Object.keys(schema.$defs).length >= 17);
});

test('every assertion snippet uses an assertion type the schema knows', () => {
  const schema = read('schemas/test-file.schema.json') as Schema;
  const types = new Set(Object.values(schema.$defs).flatMap((d) => d.properties?.type?.enum ?? []));
  const snippets = read('snippets/traceforge-tests.json') as Record<string, { prefix: string; body: string[] }>;
  let assertionSnippets = 0;
  for (const [name, snippet] of Object.entries(snippets)) {
    for (const line of snippet.body) {
      const match = /^\s*- type: ([a-z_]+)$/.exec(line);
      if (match) {
        assert.ok(types.has(match[1] as string), `snippet ${name} uses unknown type ${match[1]}`);
        assertionSnippets += 1;
      }
    }
  }
  assert.ok(assertionSnippets >= 17, `only ${assertionSnippets} assertion snippets`);
});

test('package.json contributes what the extension registers', () => {
  const pkg = read('package.json') as {
    main: string;
    publisher: string;
    license: string;
    contributes: {
      commands: Array<{ command: string }>;
      yamlValidation: Array<{ fileMatch: string[]; url: string }>;
      snippets: Array<{ path: string }>;
      views: Record<string, Array<{ id: string }>>;
    };
  };
  assert.equal(pkg.main, './dist/extension.js');
  assert.equal(pkg.publisher, 'traceforge');
  assert.equal(pkg.license, 'MIT');
  const source = readFileSync('src/extension.ts', 'utf8');
  const registered = [...source.matchAll(/registerCommand\('([^']+)'/g)].map((m) => m[1]).sort();
  assert.deepEqual(pkg.contributes.commands.map((c) => c.command).sort(), registered);
  for (const command of ['traceforge.startProxy', 'traceforge.createTestFromTrace', 'traceforge.runAllTests', 'traceforge.diffTraces']) {
    assert.ok(registered.includes(command), command);
  }
  const validation = pkg.contributes.yamlValidation[0];
  assert.ok(validation?.fileMatch.includes('.ai-tests/tests/**/*.yaml'));
  assert.equal(validation?.url, './schemas/test-file.schema.json');
  read(validation.url);
  assert.equal(pkg.contributes.views.traceforge?.[0]?.id, 'traceforge.traces');
});
