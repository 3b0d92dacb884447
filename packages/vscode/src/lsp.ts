/**
 * The language client: `traceforge lsp` over stdio for YAML test files under
 * `.ai-tests/tests/` (and under `<traceforge.home>/tests/` when the home is set).
 */

import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';
import { lspCommand } from './cli';

/** Glob patterns of the test files the server handles. */
export function testFilePatterns(home: string | undefined): string[] {
  const patterns = ['**/.ai-tests/tests/**/*.{yaml,yml}'];
  if (home !== undefined) {
    patterns.push(`${home.split('\\').join('/')}/tests/**/*.{yaml,yml}`);
  }
  return patterns;
}

/**
 * Start `traceforge lsp`; `undefined` when it cannot start (the reason goes to `output` and a
 * warning, once).
 */
export async function startLanguageClient(
  executable: string,
  home: string | undefined,
  cwd: string | undefined,
  output: vscode.OutputChannel,
): Promise<LanguageClient | undefined> {
  const { command, args, env } = lspCommand(executable, { home }, process.env);
  const serverOptions: ServerOptions = { command, args, options: { env, cwd } };
  const clientOptions: LanguageClientOptions = {
    documentSelector: testFilePatterns(home).map((pattern) => ({ scheme: 'file', language: 'yaml', pattern })),
    outputChannel: output,
  };
  const client = new LanguageClient('traceforge', 'TraceForge Language Server', serverOptions, clientOptions);
  try {
    await client.start();
    return client;
  } catch (error) {
    const message = `TraceForge: cannot start \`${executable} lsp\`: ${(error as Error).message}. Set traceforge.path, or turn off traceforge.languageServer.enabled.`;
    output.appendLine(message);
    void vscode.window.showWarningMessage(message);
    return undefined;
  }
}
