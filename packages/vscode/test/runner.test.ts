import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunReporter, RunSink, summaryText } from '../src/testing/runner';
import { testId } from '../src/testing/tree';

function recorder(): { sink: RunSink; events: string[]; output: string[] } {
  const events: string[] = [];
  const output: string[] = [];
  return {
    events,
    output,
    sink: {
      passed: (id, r) => events.push(`passed ${id} ${r.duration_ms}`),
      failed: (id, m) => events.push(`failed ${id} ${m.map((x) => `${x.line}:${x.expected ?? '-'}/${x.actual ?? '-'}`).join(',')}`),
      errored: (id, m) => events.push(`errored ${id} ${m.map((x) => x.message).join(',')}`),
      skipped: (id) => events.push(`skipped ${id}`),
      output: (text) => output.push(text),
    },
  };
}

const a = testId('/t/a.yaml', 'A');
const b = testId('/t/b.yaml', 'B');
const c = testId('/t/c.yaml', 'C');

function result(file: string, name: string, status: string, extra: object = {}): string {
  return `${JSON.stringify({ type: 'result', name, file, line: 1, status, duration_ms: 5, error: null, assertions: [], ...extra })}\n`;
}

test('results stream in as lines complete; unreported tests are skipped', () => {
  const { sink, events, output } = recorder();
  const reporter = new RunReporter(sink, [a, b, c]);
  const first = result('/t/a.yaml', 'A', 'passed');
  reporter.push(first.slice(0, 10));
  assert.deepEqual(events, []);
  reporter.push(first.slice(10) + 'a warning\n');
  assert.deepEqual(events, [`passed ${a} 5`]);
  reporter.push(
    result('/t/b.yaml', 'B', 'failed', {
      assertions: [{ type: 'contains', passed: false, message: 'no', expected: 'x', actual: 'y', line: 4 }],
    }),
  );
  reporter.push('{"type":"summary","id":"r","mode":"proxy","passed":1,"failed":1,"errors":0,"duration_ms":1500}');
  reporter.finish(1, '', true);
  assert.deepEqual(events, [`passed ${a} 5`, `failed ${b} 3:x/y`, `skipped ${c}`]);
  assert.deepEqual(output, ['a warning\r\n', '1 passed, 1 failed, 0 errors in 1.5s (proxy, run r)\r\n']);
  assert.equal(reporter.summary?.passed, 1);
});

test('a run that fails before any result errors every test with stderr', () => {
  const { sink, events } = recorder();
  const reporter = new RunReporter(sink, [a, b]);
  reporter.finish(2, 'Error: no such path\n');
  assert.deepEqual(events, [`errored ${a} Error: no such path`, `errored ${b} Error: no such path`]);
});

test('excluded tests are dropped; tests not asked for are still reported', () => {
  const { sink, events } = recorder();
  const reporter = new RunReporter(sink, [a], new Set([b]));
  reporter.push(result('/t/b.yaml', 'B', 'passed'));
  reporter.push(result('/t/c.yaml', 'C', 'error', { error: 'bad file' }));
  reporter.push(result('/t/a.yaml', 'A', 'passed'));
  reporter.finish(2, '');
  assert.deepEqual(events, [`errored ${c} bad file`, `passed ${a} 5`]);
});

test('summaryText', () => {
  assert.equal(
    summaryText({ type: 'summary', id: 'x', mode: 'replay', passed: 3, failed: 0, errors: 1, duration_ms: 250 }),
    '3 passed, 0 failed, 1 errors in 0.3s (replay, run x)',
  );
});
