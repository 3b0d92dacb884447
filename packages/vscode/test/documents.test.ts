import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as vscode from 'vscode';
import { ApiClient, Fetch } from '../src/traces/api';
import { TraceDocuments } from '../src/traces/view';

test('trace and diff documents are the API answers as formatted JSON; errors become JSON too', async () => {
  const urls: string[] = [];
  const fetcher: Fetch = async (url) => {
    urls.push(url);
    if (url.endsWith('/api/traces/dead')) return new Response('{"error":"no trace dead"}', { status: 404 });
    return Response.json(url.includes('diff') ? { similarity: 0.5 } : { id: 'abc', model: 'gpt-4o' });
  };
  const documents = new TraceDocuments(() => new ApiClient('http://h:1', undefined, fetcher));
  const traceUri = TraceDocuments.uri({ kind: 'trace', id: 'abc' }) as unknown as vscode.Uri;
  assert.equal(traceUri.toString(), 'traceforge:/trace/abc.json');
  assert.equal(await documents.provideTextDocumentContent(traceUri), '{\n  "id": "abc",\n  "model": "gpt-4o"\n}\n');
  const diffUri = TraceDocuments.uri({ kind: 'diff', id1: 'aa', id2: 'bb' }) as unknown as vscode.Uri;
  assert.equal(await documents.provideTextDocumentContent(diffUri), '{\n  "similarity": 0.5\n}\n');
  assert.deepEqual(urls, ['http://h:1/api/traces/abc', 'http://h:1/api/traces/diff?id1=aa&id2=bb']);
  const missing = TraceDocuments.uri({ kind: 'trace', id: 'dead' }) as unknown as vscode.Uri;
  assert.deepEqual(JSON.parse(await documents.provideTextDocumentContent(missing)), { error: '404: no trace dead' });
  const bogus = { scheme: 'traceforge', path: '/etc/passwd', toString: () => 'traceforge:/etc/passwd' } as unknown as vscode.Uri;
  assert.match(await documents.provideTextDocumentContent(bogus), /not a TraceForge document/);
  assert.equal(urls.length, 3);
});
