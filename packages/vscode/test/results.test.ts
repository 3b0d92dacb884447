import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  LineSplitter,
  OutputError,
  displayValue,
  failureMessages,
  parseListOutput,
  parseRunLine,
  RunResult,
} from '../src/testing/results';

test('parseListOutput reads tests and file errors', () => {
  const entries = parseListOutput(
    JSON.stringify([
      { name: 'Sky', file: '/w/.ai-tests/tests/sky.yaml', line: 2, tags: ['smoke', 3], source_trace: 'abc', model: 'gpt-4o' },
      { file: '/w/.ai-tests/tests/bad.yaml', error: 'assertions[0].type: unknown', line: 7 },
      { name: 'No line', file: '/w/x.yaml', tags: [], source_trace: null, model: null },
    ]),
  );
  assert.deepEqual(entries[0], {
    kind: 'test',
    name: 'Sky',
    file: '/w/.ai-tests/tests/sky.yaml',
    line: 2,
    tags: ['smoke'],
    source_trace: 'abc',
    model: 'gpt-4o',
  });
  assert.deepEqual(entries[1], { kind: 'fileError', file: '/w/.ai-tests/tests/bad.yaml', error: 'assertions[0].type: unknown', line: 7 });
  assert.equal(entries[2]?.kind === 'test' && entries[2].line, 1);
});

test('parseListOutput refuses what is not the documented shape', () => {
  assert.throws(() => parseListOutput('warning: x'), OutputError);
  assert.throws(() => parseListOutput('{"name": "a"}'), /JSON array/);
  assert.throws(() => parseListOutput('[{"name": "a"}]'), /item 0 has no "file"/);
  assert.throws(() => parseListOutput('[{"file": "/a"}]'), /neither "name" nor "error"/);
  assert.deepEqual(parseListOutput('[]'), []);
});

const failedLine = JSON.stringify({
  type: 'result',
  name: 'Sky',
  file: '/w/t/sky.yaml',
  line: 1,
  status: 'failed',
  duration_ms: 12.5,
  error: null,
  assertions: [
    { type: 'contains', passed: true, message: 'ok', expected: 'blue', actual: 'blue sky', line: 9 },
    { type: 'contains', passed: false, message: "'red' not found", expected: 'red', actual: 'The sky is blue', line: 11 },
    { type: 'latency', passed: false, message: 'too slow', expected: { max_ms: 10 }, actual: 250, line: null },
    { type: 'is_json', passed: false, message: 'not JSON', expected: null, actual: null, line: 14 },
  ],
});

test('parseRunLine reads a result line', () => {
  const parsed = parseRunLine(failedLine);
  assert.equal(parsed.type, 'result');
  if (parsed.type !== 'result') return;
  assert.equal(parsed.status, 'failed');
  assert.equal(parsed.duration_ms, 12.5);
  assert.equal(parsed.assertions.length, 4);
  assert.equal(parsed.assertions[1]?.line, 11);
  assert.equal(parsed.assertions[2]?.line, null);
});

test('parseRunLine reads the summary and keeps anything else as text', () => {
  assert.deepEqual(parseRunLine('{"type":"summary","id":"r1","mode":"replay","passed":2,"failed":1,"errors":0,"duration_ms":30}'), {
    type: 'summary',
    id: 'r1',
    mode: 'replay',
    passed: 2,
    failed: 1,
    errors: 0,
    duration_ms: 30,
  });
  assert.deepEqual(parseRunLine('Warning: no key'), { type: 'other', text: 'Warning: no key' });
  assert.deepEqual(parseRunLine('[1, 2]'), { type: 'other', text: '[1, 2]' });
  assert.deepEqual(parseRunLine('{"type":"progress"}'), { type: 'other', text: '{"type":"progress"}' });
  const odd = parseRunLine('{"type":"result","name":"a","file":"/f","status":"weird"}');
  assert.equal(odd.type === 'result' && odd.status, 'error');
});

test('failureMessages: one per failed assertion at its 0-based line, diffs when both sides exist', () => {
  const parsed = parseRunLine(failedLine) as RunResult;
  assert.deepEqual(failureMessages(parsed), [
    { message: "contains: 'red' not found", line: 10, expected: 'red', actual: 'The sky is blue' },
    { message: 'latency: too slow', line: 0, expected: '{\n  "max_ms": 10\n}', actual: '250' },
    { message: 'is_json: not JSON', line: 13 },
  ]);
});

test('failureMessages: an error result carries its error; a passed one has none', () => {
  const errored = parseRunLine(
    JSON.stringify({ type: 'result', name: 'a', file: '/f', line: 3, status: 'error', duration_ms: 0, error: 'HTTP 401', assertions: [] }),
  ) as RunResult;
  assert.deepEqual(failureMessages(errored), [{ message: 'HTTP 401', line: 2 }]);
  const bare = { ...errored, error: null };
  assert.deepEqual(failureMessages(bare), [{ message: 'test error', line: 2 }]);
  assert.deepEqual(failureMessages({ ...errored, status: 'passed' }), []);
});

test('LineSplitter joins chunks split anywhere, CRLF included', () => {
  const splitter = new LineSplitter();
  assert.deepEqual(splitter.push('{"a":'), []);
  assert.deepEqual(splitter.push('1}\r\n{"b"'), ['{"a":1}']);
  assert.deepEqual(splitter.push(':2}\nlast'), ['{"b":2}']);
  assert.deepEqual(splitter.end(), ['last']);
  assert.deepEqual(splitter.end(), []);
});

test('displayValue keeps strings and pretty-prints the rest', () => {
  assert.equal(displayValue('x'), 'x');
  assert.equal(displayValue(3), '3');
  assert.equal(displayValue([1]), '[\n  1\n]');
  assert.equal(displayValue(undefined), 'null');
});
