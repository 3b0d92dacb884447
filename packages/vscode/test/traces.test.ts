import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiClient, ApiError, Fetch, TraceSummary, diffUrl, followEvents, proxyUp, startOfDay, traceUrl, tracesUrl } from '../src/traces/api';
import { RecentTraces, age, docPath, parseDocPath, statusText, traceRow, writtenTestFile } from '../src/traces/model';
import { SseParser } from '../src/traces/sse';

function summary(id: string, timestamp: string, extra: Partial<TraceSummary> = {}): TraceSummary {
  return {
    id,
    timestamp,
    provider: 'openai',
    model: 'gpt-4o',
    endpoint: '/v1/chat/completions',
    status: 'success',
    status_code: 200,
    streaming: true,
    latency_ms: 812.4,
    first_chunk_latency_ms: 100,
    prompt_tokens: 10,
    completion_tokens: 20,
    total_tokens: 30,
    cost_usd: 0.00042,
    ...extra,
  };
}

test('SseParser: events split anywhere, comments, multi-line data, CRLF, retry', () => {
  const parser = new SseParser();
  const text = ': connected\r\nretry: 3000\r\n\r\nevent: trace\ndata: {"id":\ndata: "a"}\n\n: keep-alive\n\ndata: plain\r\rid: 7\nevent: trace\ndata:x\n\n';
  const events = [];
  for (const ch of text) events.push(...parser.push(ch));
  assert.deepEqual(events, [
    { event: 'trace', data: '{"id":\n"a"}', id: undefined },
    { event: 'message', data: 'plain', id: undefined },
    { event: 'trace', data: 'x', id: '7' },
  ]);
  assert.equal(parser.retryMs, 3000);
});

test('API URLs', () => {
  assert.equal(tracesUrl('http://127.0.0.1:3001', { limit: 5 }), 'http://127.0.0.1:3001/api/traces?limit=5');
  assert.equal(
    tracesUrl('http://h:1', { limit: 1, since: new Date(Date.UTC(2025, 0, 2, 3)) }),
    'http://h:1/api/traces?limit=1&since=2025-01-02T03%3A00%3A00.000Z',
  );
  assert.equal(traceUrl('http://h:1', 'ab/../x'), 'http://h:1/api/traces/ab%2F..%2Fx');
  assert.equal(diffUrl('http://h:1', 'aa', 'bb'), 'http://h:1/api/traces/diff?id1=aa&id2=bb');
  const day = startOfDay(new Date(2025, 5, 7, 15, 30));
  assert.deepEqual([day.getHours(), day.getMinutes(), day.getDate()], [0, 0, 7]);
});

test('ApiClient sends the token, decodes JSON and reports API errors', async () => {
  const seen: Array<{ url: string; auth: string | undefined }> = [];
  const fetcher: Fetch = async (url, init) => {
    seen.push({ url, auth: (init?.headers as Record<string, string>).Authorization });
    if (url.includes('/api/traces/diff')) return new Response('{"error":"no such trace: bb"}', { status: 404 });
    return Response.json({ traces: [summary('a1', '2025-01-01T00:00:00Z')], total: 7, limit: 1, offset: 0, next_cursor: null });
  };
  const client = new ApiClient('http://h:1', 'tok', fetcher);
  assert.equal((await client.recentTraces(1))[0]?.id, 'a1');
  assert.equal(await client.countSince(new Date(0)), 7);
  await assert.rejects(client.diff('aa', 'bb'), (e: unknown) => e instanceof ApiError && e.status === 404 && e.message === '404: no such trace: bb');
  assert.equal(seen[0]?.auth, 'Bearer tok');
  const down = new ApiClient('http://h:1', undefined, async () => {
    throw new TypeError('fetch failed');
  });
  await assert.rejects(down.trace('a'), (e: unknown) => e instanceof ApiError && e.status === 0 && /traceforge start/.test(e.message));
});

test('proxyUp is true only for a 200 from /healthz', async () => {
  const urls: string[] = [];
  assert.equal(await proxyUp('http://p:1', async (url) => (urls.push(url), new Response('{}'))), true);
  assert.equal(urls[0], 'http://p:1/healthz');
  assert.equal(await proxyUp('http://p:1', async () => new Response('', { status: 503 })), false);
  assert.equal(await proxyUp('http://p:1', async () => { throw new Error('ECONNREFUSED'); }), false);
});

test('followEvents hands each trace event over, reconnects after a drop, stops on abort', async () => {
  const abort = new AbortController();
  const received: string[] = [];
  const connections: boolean[] = [];
  let calls = 0;
  const fetcher: Fetch = async (_url, init) => {
    calls += 1;
    assert.equal((init?.headers as Record<string, string>).Accept, 'text/event-stream');
    const body = calls === 1
      ? `: connected\nretry: 10\n\nevent: trace\ndata: ${JSON.stringify(summary('t1', '2025-01-01T00:00:00Z'))}\n\nevent: trace\ndata: not json\n\n`
      : `event: trace\ndata: ${JSON.stringify(summary('t2', '2025-01-01T00:00:01Z'))}\n\n`;
    return new Response(body, { headers: { 'Content-Type': 'text/event-stream' } });
  };
  await followEvents(
    { base: 'http://h:1', token: undefined },
    {
      onTrace: (s) => {
        received.push(s.id);
        if (s.id === 't2') abort.abort();
      },
      onConnection: (c) => connections.push(c),
    },
    abort.signal,
    fetcher,
  );
  assert.deepEqual(received, ['t1', 't2']);
  assert.deepEqual(connections, [true, false, true]);
});

test('RecentTraces keeps the newest, each id once', () => {
  const recent = new RecentTraces(2);
  recent.reset([summary('a', '2025-01-01T00:00:01Z'), summary('b', '2025-01-01T00:00:03Z'), summary('c', '2025-01-01T00:00:02Z')]);
  assert.deepEqual(recent.list().map((t) => t.id), ['b', 'c']);
  assert.equal(recent.add(summary('d', '2025-01-01T00:00:04Z')), true);
  assert.equal(recent.add(summary('d', '2025-01-01T00:00:04Z')), false);
  assert.deepEqual(recent.list().map((t) => t.id), ['d', 'b']);
  assert.equal(recent.countSince(new Date('2025-01-01T00:00:04Z')), 1);
  recent.setLimit(1);
  assert.deepEqual(recent.list().map((t) => t.id), ['d']);
});

test('rows, ages and the status text', () => {
  const now = new Date('2025-01-01T01:00:00Z');
  assert.deepEqual(
    ['2025-01-01T00:59:58Z', '2025-01-01T00:59:00Z', '2025-01-01T00:10:00Z', '2024-12-31T20:00:00Z', '2024-12-29T00:00:00Z'].map((t) => age(t, now)),
    ['now', '1m', '50m', '5h', '3d'],
  );
  const ok = traceRow(summary('0123456789abcdef', '2025-01-01T00:59:00Z'), now);
  assert.equal(ok.label, 'gpt-4o');
  assert.equal(ok.description, '01234567 · 200 · 812 ms · 1m');
  assert.equal(ok.icon, 'pass');
  assert.match(ok.tooltip, /30 tokens · \$0\.0004/);
  const bad = traceRow(summary('ff', '2025-01-01T00:59:00Z', { status: 'upstream_error', status_code: 429, cost_usd: null }), now);
  assert.equal(bad.icon, 'error');
  assert.match(bad.description, /upstream_error 429/);
  assert.deepEqual(statusText(true, 12, 'http://p'), {
    text: '$(pulse) TraceForge up · 12 today',
    tooltip: 'TraceForge proxy up at http://p\n12 traces today\nClick to show recent traces',
  });
  assert.equal(statusText(false, undefined, 'http://p').text, '$(circle-slash) TraceForge down');
  assert.match(statusText(false, undefined, 'http://p').tooltip, /Click to start the proxy/);
  assert.equal(statusText(undefined, undefined, 'http://p').text, '$(circle-slash) TraceForge checking');
});

test('virtual document paths round-trip and refuse anything but hex ids', () => {
  assert.equal(docPath({ kind: 'trace', id: 'abc123' }), '/trace/abc123.json');
  assert.deepEqual(parseDocPath('/trace/abc123.json'), { kind: 'trace', id: 'abc123' });
  assert.deepEqual(parseDocPath(docPath({ kind: 'diff', id1: 'aa', id2: 'bb' })), { kind: 'diff', id1: 'aa', id2: 'bb' });
  assert.equal(parseDocPath('/trace/../x.json'), undefined);
  assert.equal(parseDocPath('/trace/zz.json'), undefined);
  assert.equal(parseDocPath('/other/aa.json'), undefined);
});

test('writtenTestFile finds the path create-from-trace printed', () => {
  assert.equal(
    writtenTestFile('wrote /w/.ai-tests/tests/sky-color.yaml from trace 3f9a1c2e; run it: traceforge test run /w/.ai-tests/tests/sky-color.yaml\n'),
    '/w/.ai-tests/tests/sky-color.yaml',
  );
  assert.equal(writtenTestFile('nothing'), undefined);
});
