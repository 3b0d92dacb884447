/**
 * TraceForge for VS Code: wires the language client, the Test Explorer controller, the recent
 * traces view, the status bar and the commands to the `traceforge.*` settings.
 */

import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { createFromTraceArgs, resolveHome, runCli, startArgs } from './cli';
import { startLanguageClient } from './lsp';
import { Settings, readSettings } from './settings';
import { StatusItem } from './status';
import { TraceForgeTestController } from './testing/controller';
import { ApiClient, TraceSummary } from './traces/api';
import { DOC_SCHEME, writtenTestFile } from './traces/model';
import { TraceDocuments, TracesView, openDocument } from './traces/view';

let languageClient: LanguageClient | undefined;

function settings(): Settings {
  const config = vscode.workspace.getConfiguration('traceforge');
  return readSettings((key) => config.get(key), process.env);
}

function workspaceDir(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

function home(s: Settings): string | undefined {
  return resolveHome(s.home, workspaceDir() ?? process.cwd());
}

function apiClient(s: Settings): ApiClient {
  return new ApiClient(s.apiUrl, s.apiToken);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('TraceForge');
  context.subscriptions.push(output);
  let current = settings();

  const tests = new TraceForgeTestController({
    cli: () => ({ executable: current.path, home: home(current) }),
    cwd: workspaceDir,
    output,
  });
  const traces = new TracesView(apiClient(current), current.recentTraces, output);
  const status = new StatusItem(apiClient(current), current.proxyUrl);
  traces.onUpdate = () => void status.update();
  traces.follow();
  context.subscriptions.push(
    tests,
    traces,
    status,
    vscode.workspace.registerTextDocumentContentProvider(DOC_SCHEME, new TraceDocuments(() => apiClient(current))),
  );

  /** The trace(s) a command is about: its arguments, the view's selection, else a pick. */
  const pickTraces = async (count: 1 | 2, clicked?: unknown, selected?: unknown): Promise<TraceSummary[] | undefined> => {
    const isTrace = (v: unknown): v is TraceSummary => typeof v === 'object' && v !== null && 'id' in v;
    const chosen = Array.isArray(selected) ? selected.filter(isTrace) : [];
    if (chosen.length === 0 && isTrace(clicked)) chosen.push(clicked);
    if (chosen.length === 0) chosen.push(...traces.view.selection);
    if (chosen.length >= count) return chosen.slice(0, count);
    await traces.reload();
    const items = traces.model.list().map((t) => ({
      label: t.model,
      description: `${t.id.slice(0, 8)} · ${t.timestamp}`,
      picked: chosen.some((c) => c.id === t.id),
      trace: t,
    }));
    if (items.length < count) {
      void vscode.window.showWarningMessage(`TraceForge: need ${count} trace(s); ${traces.view.message ?? 'none recorded'}`);
      return undefined;
    }
    if (count === 1) {
      const pick = await vscode.window.showQuickPick(items, { placeHolder: 'Trace to turn into a test' });
      return pick === undefined ? undefined : [pick.trace];
    }
    const picks = await vscode.window.showQuickPick(items, {
      canPickMany: true,
      placeHolder: 'Pick two traces to diff (the older is "before")',
    });
    if (picks === undefined) return undefined;
    if (picks.length !== 2) {
      void vscode.window.showWarningMessage('TraceForge: pick exactly two traces to diff.');
      return undefined;
    }
    return picks.map((p) => p.trace).sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
  };

  context.subscriptions.push(
    vscode.commands.registerCommand('traceforge.startProxy', () => {
      const terminal = vscode.window.createTerminal({
        name: 'TraceForge proxy',
        shellPath: current.path,
        shellArgs: startArgs({ home: home(current) }),
        cwd: workspaceDir(),
      });
      terminal.show();
      setTimeout(() => {
        void status.update();
        traces.follow();
      }, 3000);
    }),
    vscode.commands.registerCommand('traceforge.runAllTests', () => tests.runAll('live')),
    vscode.commands.registerCommand('traceforge.refreshTraces', async () => {
      await Promise.all([traces.reload(), status.update(), tests.refresh()]);
    }),
    vscode.commands.registerCommand('traceforge.openTrace', async (trace?: unknown) => {
      const [chosen] = (await pickTraces(1, trace)) ?? [];
      if (chosen !== undefined) await openDocument({ kind: 'trace', id: chosen.id });
    }),
    vscode.commands.registerCommand('traceforge.openTraceInWebUi', async (trace?: unknown) => {
      const [chosen] = (await pickTraces(1, trace)) ?? [];
      // The web UI (`traceforge ui --web`) has no per-trace address: copy the id to find it.
      if (chosen !== undefined) await vscode.env.clipboard.writeText(chosen.id);
      await vscode.env.openExternal(vscode.Uri.parse(current.webUrl));
      if (chosen !== undefined) {
        void vscode.window.showInformationMessage(
          `TraceForge: opened ${current.webUrl} (run \`traceforge ui --web\` if it is not up); trace id ${chosen.id.slice(0, 8)} copied, filter with it.`,
        );
      }
    }),
    vscode.commands.registerCommand('traceforge.diffTraces', async (clicked?: unknown, selected?: unknown) => {
      const pair = await pickTraces(2, clicked, selected);
      if (pair !== undefined && pair.length === 2) {
        const [before, after] = pair as [TraceSummary, TraceSummary];
        await openDocument({ kind: 'diff', id1: before.id, id2: after.id });
      }
    }),
    vscode.commands.registerCommand('traceforge.createTestFromTrace', async (trace?: unknown) => {
      const [chosen] = (await pickTraces(1, trace)) ?? [];
      if (chosen === undefined) return;
      const name = await vscode.window.showInputBox({
        prompt: 'Test name (empty: from the first user message)',
        placeHolder: 'e.g. Sky color',
      });
      if (name === undefined) return;
      const args = createFromTraceArgs({ home: home(current) }, chosen.id, name);
      try {
        // COLUMNS keeps rich from wrapping the "wrote <path>" line.
        const out = await runCli(current.path, args, {
          cwd: workspaceDir(),
          env: { ...process.env, COLUMNS: '10000', NO_COLOR: '1' },
        });
        if (out.code !== 0) {
          void vscode.window.showErrorMessage(`TraceForge: ${out.stderr.trim() || `exit status ${out.code}`}`);
          return;
        }
        const file = writtenTestFile(out.stdout);
        await tests.refresh();
        if (file !== undefined) await vscode.window.showTextDocument(vscode.Uri.file(file));
      } catch (error) {
        void vscode.window.showErrorMessage(`TraceForge: ${(error as Error).message}`);
      }
    }),
  );

  const restartLanguageServer = async (): Promise<void> => {
    const previous = languageClient;
    languageClient = undefined;
    await previous?.stop().catch(() => undefined);
    if (current.languageServer) {
      languageClient = await startLanguageClient(current.path, home(current), workspaceDir(), output);
    }
  };

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (!event.affectsConfiguration('traceforge')) return;
      const previous = current;
      current = settings();
      traces.reconfigure(apiClient(current), current.recentTraces);
      status.reconfigure(apiClient(current), current.proxyUrl);
      if (previous.path !== current.path || previous.home !== current.home) void tests.refresh();
      if (
        previous.path !== current.path ||
        previous.home !== current.home ||
        previous.languageServer !== current.languageServer
      ) {
        await restartLanguageServer();
      }
    }),
  );

  void tests.refresh();
  await restartLanguageServer();
}

export async function deactivate(): Promise<void> {
  await languageClient?.stop();
  languageClient = undefined;
}
