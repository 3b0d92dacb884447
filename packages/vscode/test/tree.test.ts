import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTree, fileId, resultTestId, runPaths, testId } from '../src/testing/tree';
import type { ListedEntry } from '../src/testing/results';

const t = (name: string, file: string, line = 1): ListedEntry => ({
  kind: 'test',
  name,
  file,
  line,
  tags: ['smoke'],
  source_trace: null,
  model: 'gpt-4o',
});

test('buildTree groups by file, sorted by path, with 0-based lines and labels relative to the root', () => {
  const tree = buildTree(
    [
      t('Zed', '/w/.ai-tests/tests/z.yaml', 2),
      t('Second', '/w/.ai-tests/tests/sub/a.yaml', 9),
      t('First', '/w/.ai-tests/tests/sub/a.yaml', 1),
      t('First', '/w/.ai-tests/tests/sub/a.yaml', 4),
      { kind: 'fileError', file: '/w/.ai-tests/tests/bad.yaml', error: 'bad YAML', line: null },
      t('Outside', '/elsewhere/o.yaml'),
    ],
    '/w',
  );
  assert.deepEqual(
    tree.map((f) => [f.label, f.tests.map((x) => `${x.name}@${x.line}`), f.error?.message]),
    [
      ['o.yaml', ['Outside@0'], undefined],
      ['.ai-tests/tests/bad.yaml', [], 'bad YAML'],
      ['.ai-tests/tests/sub/a.yaml', ['First@0', 'Second@8'], undefined],
      ['.ai-tests/tests/z.yaml', ['Zed@1'], undefined],
    ],
  );
  assert.equal(tree[1]?.error?.line, 0);
  assert.equal(tree[2]?.id, fileId('/w/.ai-tests/tests/sub/a.yaml'));
  assert.equal(tree[2]?.tests[0]?.id, testId('/w/.ai-tests/tests/sub/a.yaml', 'First'));
});

test('result ids match tree ids', () => {
  const [file] = buildTree([t('A', '/f.yaml')]);
  const id = resultTestId({ type: 'result', name: 'A', file: '/f.yaml', line: 1, status: 'passed', duration_ms: 0, error: null, assertions: [] });
  assert.equal(id, file?.tests[0]?.id);
});

test('runPaths: no selection runs everything; selections become unique sorted files', () => {
  assert.deepEqual(runPaths(undefined), []);
  assert.deepEqual(
    runPaths([
      { id: testId('/b.yaml', 'B'), file: '/b.yaml' },
      { id: fileId('/a.yaml'), file: '/a.yaml' },
      { id: testId('/b.yaml', 'B2'), file: '/b.yaml' },
    ]),
    ['/a.yaml', '/b.yaml'],
  );
  assert.deepEqual(
    runPaths(
      [{ id: fileId('/a.yaml'), file: '/a.yaml' }, { id: fileId('/b.yaml'), file: '/b.yaml' }],
      [{ id: fileId('/b.yaml'), file: '/b.yaml' }, { id: testId('/a.yaml', 'A'), file: '/a.yaml' }],
    ),
    ['/a.yaml'],
  );
});
