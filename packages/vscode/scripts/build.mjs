// Bundles the extension with esbuild: `node scripts/build.mjs [--production] [--tests]`.
//
// - default / --production: src/extension.ts -> dist/extension.js (CommonJS, `vscode` external,
//   every other dependency bundled, so the .vsix ships no node_modules); --production minifies.
// - --tests: each test/*.test.ts -> out/test/*.test.js for `node --test`, with `vscode` aliased
//   to the stub in test/stub/vscode.ts.
import { build } from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const production = process.argv.includes('--production');
const tests = process.argv.includes('--tests');

const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node18', logLevel: 'warning' };

if (tests) {
  rmSync('out/test', { recursive: true, force: true });
  const entryPoints = readdirSync('test')
    .filter((name) => name.endsWith('.test.ts'))
    .map((name) => join('test', name));
  await build({
    ...common,
    entryPoints,
    outdir: 'out/test',
    sourcemap: 'inline',
    alias: { vscode: './test/stub/vscode.ts' },
    // The stub has only what the tests reach; the rest of the API is never called there.
    logOverride: { 'import-is-undefined': 'silent' },
  });
} else {
  await build({
    ...common,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    external: ['vscode'],
    minify: production,
    sourcemap: !production,
  });
}
