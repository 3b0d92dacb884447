/**
 * The "Recent Traces" tree view (live from `/api/events`) and the read-only JSON documents of
 * traces and diffs (`traceforge:/trace/<id>.json`, `traceforge:/diff/<a>..<b>.json`).
 */

import * as vscode from 'vscode';
import { ApiClient, TraceSummary, followEvents } from './api';
import { DOC_SCHEME, DocTarget, RecentTraces, docPath, formatJson, parseDocPath, traceRow } from './model';

export class TracesView implements vscode.TreeDataProvider<TraceSummary>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TraceSummary | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly model: RecentTraces;
  readonly view: vscode.TreeView<TraceSummary>;
  private following: AbortController | undefined;
  /** Called after the list changed (the status bar recounts). */
  onUpdate: (() => void) | undefined;

  constructor(
    private client: ApiClient,
    private limit: number,
    private readonly output: vscode.OutputChannel,
  ) {
    this.model = new RecentTraces(limit);
    this.view = vscode.window.createTreeView('traceforge.traces', {
      treeDataProvider: this,
      canSelectMany: true,
    });
  }

  getTreeItem(trace: TraceSummary): vscode.TreeItem {
    const row = traceRow(trace, new Date());
    const item = new vscode.TreeItem(row.label, vscode.TreeItemCollapsibleState.None);
    item.id = trace.id;
    item.description = row.description;
    item.tooltip = row.tooltip;
    item.iconPath = new vscode.ThemeIcon(
      row.icon,
      new vscode.ThemeColor(row.icon === 'pass' ? 'testing.iconPassed' : 'testing.iconFailed'),
    );
    item.contextValue = 'trace';
    item.command = { command: 'traceforge.openTrace', title: 'Open Trace as JSON', arguments: [trace] };
    return item;
  }

  getChildren(element?: TraceSummary): TraceSummary[] {
    return element === undefined ? [...this.model.list()] : [];
  }

  /** Point at another API or list size (settings changed): reload and re-follow. */
  reconfigure(client: ApiClient, limit: number): void {
    this.client = client;
    this.limit = limit;
    this.model.setLimit(limit);
    this.follow();
  }

  /** Reload the newest traces; an unreachable API is shown as the view's message. */
  async reload(): Promise<void> {
    try {
      this.model.reset(await this.client.recentTraces(this.limit));
      this.view.message = this.model.list().length === 0 ? 'No traces yet.' : undefined;
    } catch (error) {
      this.view.message = (error as Error).message;
    }
    this.changed.fire(undefined);
    this.onUpdate?.();
  }

  /** (Re)start following `/api/events`; each (re)connection reloads the list. */
  follow(): void {
    this.following?.abort();
    const abort = new AbortController();
    this.following = abort;
    void this.reload();
    void followEvents(
      this.client,
      {
        onTrace: (summary) => {
          if (this.model.add(summary)) {
            this.view.message = undefined;
            this.changed.fire(undefined);
            this.onUpdate?.();
          }
        },
        onConnection: (connected) => {
          this.output.appendLine(`[traces] live events ${connected ? 'connected' : 'disconnected'}`);
          if (connected) {
            void this.reload();
          }
        },
      },
      abort.signal,
    );
  }

  dispose(): void {
    this.following?.abort();
    this.view.dispose();
    this.changed.dispose();
  }
}

/** Serves `traceforge:` documents: traces and diffs as formatted JSON from the API. */
export class TraceDocuments implements vscode.TextDocumentContentProvider {
  constructor(private readonly client: () => ApiClient) {}

  /** The URI of `target`'s document. */
  static uri(target: DocTarget): vscode.Uri {
    return vscode.Uri.from({ scheme: DOC_SCHEME, path: docPath(target) });
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const target = parseDocPath(uri.path);
    if (target === undefined) {
      return formatJson({ error: `not a TraceForge document: ${uri.toString()}` });
    }
    try {
      const client = this.client();
      const value = target.kind === 'trace' ? await client.trace(target.id) : await client.diff(target.id1, target.id2);
      return formatJson(value);
    } catch (error) {
      return formatJson({ error: (error as Error).message });
    }
  }
}

/** Open `target` as a read-only JSON document. */
export async function openDocument(target: DocTarget): Promise<void> {
  const document = await vscode.workspace.openTextDocument(TraceDocuments.uri(target));
  await vscode.languages.setTextDocumentLanguage(document, 'json');
  await vscode.window.showTextDocument(document, { preview: true });
}
