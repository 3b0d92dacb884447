import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  commandLine,
  createFromTraceArgs,
  listArgs,
  lspCommand,
  resolveHome,
  runArgs,
  runCli,
  startArgs,
} from '../src/cli';
import { DEFAULT_API_URL, DEFAULT_PROXY_URL, DEFAULT_WEB_URL, baseUrl, readSettings } from '../src/settings';

test('readSettings applies defaults for missing, empty and mistyped values', () => {
  const s = readSettings(() => undefined);
  assert.deepEqual(s, {
    path: 'traceforge',
    home: undefined,
    apiUrl: 'http://127.0.0.1:3001',
    apiToken: undefined,
    proxyUrl: 'http://127.0.0.1:8787',
    webUrl: 'http://127.0.0.1:8000',
    recentTraces: 50,
    languageServer: true,
  });
  const values: Record<string, unknown> = {
    path: ' /opt/tf/bin/traceforge ',
    home: 'custom-home',
    apiUrl: 'http://localhost:9000/',
    apiToken: '',
    proxyUrl: 'ftp://nope',
    webUrl: 42,
    recentTraces: 5000,
    'languageServer.enabled': false,
  };
  const t = readSettings((key) => values[key], { TRACEFORGE_API_TOKEN: 's3cret' });
  assert.equal(t.path, '/opt/tf/bin/traceforge');
  assert.equal(t.home, 'custom-home');
  assert.equal(t.apiUrl, 'http://localhost:9000');
  assert.equal(t.apiToken, 's3cret');
  assert.equal(t.proxyUrl, DEFAULT_PROXY_URL);
  assert.equal(t.webUrl, DEFAULT_WEB_URL);
  assert.equal(t.recentTraces, 1000);
  assert.equal(t.languageServer, false);
  assert.equal(readSettings((k) => (k === 'apiToken' ? 'mine' : undefined), { TRACEFORGE_API_TOKEN: 'env' }).apiToken, 'mine');
  assert.equal(baseUrl('not a url', 'x'), 'x');
});

test('package.json declares the same defaults as settings.ts', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
    contributes: { configuration: { properties: Record<string, { default: unknown }> } };
  };
  const props = pkg.contributes.configuration.properties;
  assert.equal(props['traceforge.apiUrl']?.default, DEFAULT_API_URL);
  assert.equal(props['traceforge.proxyUrl']?.default, DEFAULT_PROXY_URL);
  assert.equal(props['traceforge.webUrl']?.default, DEFAULT_WEB_URL);
  assert.equal(props['traceforge.path']?.default, 'traceforge');
  assert.equal(props['traceforge.recentTraces']?.default, readSettings(() => undefined).recentTraces);
});

test('command lines', () => {
  assert.deepEqual(listArgs({ home: undefined }), ['test', 'list', '--json']);
  assert.deepEqual(listArgs({ home: '/h' }, { tags: ['a', 'b'], paths: ['x.yaml'] }), [
    'test', 'list', '--json', '--home', '/h', '--tag', 'a', '--tag', 'b', 'x.yaml',
  ]);
  assert.deepEqual(runArgs({ home: undefined }, { mode: 'live' }), ['test', 'run', '--json']);
  assert.deepEqual(runArgs({ home: '/h' }, { mode: 'replay', paths: ['/t/a.yaml'] }), [
    'test', 'run', '--json', '--replay', '--home', '/h', '/t/a.yaml',
  ]);
  assert.deepEqual(runArgs({ home: undefined }, { mode: 'direct' }), ['test', 'run', '--json', '--direct']);
  assert.deepEqual(startArgs({ home: '/h' }), ['start', '--home', '/h']);
  assert.deepEqual(createFromTraceArgs({ home: undefined }, 'abc', '  '), ['test', 'create-from-trace', 'abc']);
  assert.deepEqual(createFromTraceArgs({ home: '/h' }, 'abc', 'Sky color'), [
    'test', 'create-from-trace', 'abc', '--name', 'Sky color', '--home', '/h',
  ]);
  const lsp = lspCommand('tf', { home: '/h' }, { PATH: '/bin' });
  assert.deepEqual(lsp, { command: 'tf', args: ['lsp'], env: { PATH: '/bin', TRACEFORGE_HOME: '/h' } });
  assert.deepEqual(lspCommand('tf', { home: undefined }, { PATH: '/bin' }).env, { PATH: '/bin' });
  assert.equal(commandLine('traceforge', ['test', 'run', "it's here.yaml"]), `traceforge test run 'it'\\''s here.yaml'`);
  assert.equal(resolveHome('rel', '/w'), '/w/rel');
  assert.equal(resolveHome('/abs', '/w'), '/abs');
  assert.equal(resolveHome(undefined, '/w'), undefined);
});

test('runCli streams stdout and reports the exit status', async () => {
  const chunks: string[] = [];
  const out = await runCli(
    process.execPath,
    ['-e', 'process.stdout.write("a\\n"); process.stderr.write("oops"); process.exit(3)'],
    { onStdout: (c) => chunks.push(c) },
  );
  assert.deepEqual(out, { code: 3, stdout: 'a\n', stderr: 'oops' });
  assert.equal(chunks.join(''), 'a\n');
});

test('runCli names a missing executable and the setting to fix', async () => {
  await assert.rejects(runCli('/nonexistent/traceforge', ['test']), /cannot run \/nonexistent\/traceforge: .*traceforge\.path/);
});

test('runCli kills the process when aborted', async () => {
  const abort = new AbortController();
  const pending = runCli(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { signal: abort.signal });
  setTimeout(() => abort.abort(), 50);
  const out = await pending;
  assert.equal(out.code, null);
});
