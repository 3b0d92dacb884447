/**
 * The Test Explorer controller: discovery through `traceforge test list --json`, runs through
 * `traceforge test run --json` (Live and Replay profiles), failures as expected/actual diffs
 * at the failing assertion's line.
 */

import * as vscode from 'vscode';
import { listArgs, runArgs, runCli, RunMode } from '../cli';
import type { FailureMessage, RunResult } from './results';
import { parseListOutput } from './results';
import { RunReporter, RunSink } from './runner';
import { FileNode, Selected, buildTree, fileId, runPaths, testId } from './tree';

/** What the controller needs from the extension. */
export interface TestContext {
  /** The traceforge executable and the resolved `--home` (absolute) or `undefined`. */
  cli(): { executable: string; home: string | undefined };
  /** Working directory of the CLI (the first workspace folder). */
  cwd(): string | undefined;
  output: vscode.OutputChannel;
}

export class TraceForgeTestController implements vscode.Disposable {
  readonly controller: vscode.TestController;
  /** Every item's file, by item id. */
  private readonly files = new Map<string, string>();
  private readonly disposables: vscode.Disposable[] = [];
  private refreshing: Promise<void> | undefined;

  constructor(private readonly context: TestContext) {
    this.controller = vscode.tests.createTestController('traceforge', 'TraceForge');
    this.controller.refreshHandler = () => this.refresh();
    this.controller.resolveHandler = async (item) => {
      if (item === undefined) {
        await this.refresh();
      }
    };
    this.controller.createRunProfile(
      'Live',
      vscode.TestRunProfileKind.Run,
      (request, token) => this.run(request, token, 'live'),
      true,
    );
    this.controller.createRunProfile(
      'Replay',
      vscode.TestRunProfileKind.Run,
      (request, token) => this.run(request, token, 'replay'),
      false,
    );
    const watcher = vscode.workspace.createFileSystemWatcher('**/.ai-tests/tests/**/*.{yaml,yml}');
    const changed = (): void => {
      void this.refresh();
    };
    this.disposables.push(
      this.controller,
      watcher,
      watcher.onDidCreate(changed),
      watcher.onDidChange(changed),
      watcher.onDidDelete(changed),
    );
  }

  dispose(): void {
    for (const d of this.disposables) {
      d.dispose();
    }
  }

  /** Re-list the tests (one listing at a time; a call during one waits for it). */
  refresh(): Promise<void> {
    this.refreshing ??= this.list().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async list(): Promise<void> {
    const cwd = this.context.cwd();
    if (cwd === undefined) {
      return;
    }
    const { executable, home } = this.context.cli();
    const args = listArgs({ home });
    let nodes: FileNode[];
    try {
      const out = await runCli(executable, args, { cwd });
      if (out.code !== 0) {
        throw new Error(`traceforge ${args.join(' ')} exited with status ${out.code}: ${out.stderr.trim()}`);
      }
      nodes = buildTree(parseListOutput(out.stdout), cwd);
    } catch (error) {
      this.context.output.appendLine(`[tests] ${(error as Error).message}`);
      return;
    }
    this.sync(nodes);
  }

  private sync(nodes: FileNode[]): void {
    this.files.clear();
    const items: vscode.TestItem[] = [];
    for (const node of nodes) {
      const uri = vscode.Uri.file(node.file);
      const fileItem = this.controller.createTestItem(node.id, node.label, uri);
      this.files.set(node.id, node.file);
      fileItem.range = new vscode.Range(0, 0, 0, 0);
      if (node.error !== undefined) {
        fileItem.error = `line ${node.error.line + 1}: ${node.error.message}`;
      }
      fileItem.children.replace(
        node.tests.map((test) => {
          const item = this.controller.createTestItem(test.id, test.name, uri);
          item.range = new vscode.Range(test.line, 0, test.line, 0);
          item.tags = test.tags.map((tag) => new vscode.TestTag(tag));
          item.description = [test.model, ...test.tags.map((t) => `#${t}`)].filter(Boolean).join(' ');
          this.files.set(test.id, test.file);
          return item;
        }),
      );
      items.push(fileItem);
    }
    this.controller.items.replace(items);
  }

  /** Run every test (the "Run All Tests" command). */
  async runAll(mode: RunMode): Promise<void> {
    await this.refresh();
    const source = new vscode.CancellationTokenSource();
    try {
      await this.run(new vscode.TestRunRequest(), source.token, mode);
    } finally {
      source.dispose();
    }
  }

  private selected(items: readonly vscode.TestItem[]): Selected[] {
    return items.flatMap((item) => {
      const file = this.files.get(item.id) ?? item.uri?.fsPath;
      return file === undefined ? [] : [{ id: item.id, file }];
    });
  }

  private leaves(items: Iterable<vscode.TestItem>, excluded: ReadonlySet<string>): vscode.TestItem[] {
    const found: vscode.TestItem[] = [];
    const visit = (item: vscode.TestItem): void => {
      if (excluded.has(item.id)) {
        return;
      }
      if (item.children.size === 0) {
        if (item.id.startsWith('test:')) {
          found.push(item);
        }
        return;
      }
      item.children.forEach(visit);
    };
    for (const item of items) {
      visit(item);
    }
    return found;
  }

  private async run(request: vscode.TestRunRequest, token: vscode.CancellationToken, mode: RunMode): Promise<void> {
    const cwd = this.context.cwd();
    const run = this.controller.createTestRun(request, `TraceForge (${mode})`, true);
    const excluded = new Set((request.exclude ?? []).map((item) => item.id));
    const roots: vscode.TestItem[] = [];
    if (request.include === undefined) {
      this.controller.items.forEach((item) => roots.push(item));
    } else {
      roots.push(...request.include);
    }
    const tests = this.leaves(roots, excluded);
    const byId = new Map(tests.map((item) => [item.id, item]));
    for (const item of tests) {
      run.enqueued(item);
    }
    if (cwd === undefined) {
      run.appendOutput('Open a folder to run TraceForge tests.\r\n');
      run.end();
      return;
    }
    const { executable, home } = this.context.cli();
    const paths = runPaths(
      request.include === undefined ? undefined : this.selected(request.include),
      this.selected(request.exclude ?? []),
    );
    const args = runArgs({ home }, { mode, paths });
    run.appendOutput(`$ ${executable} ${args.join(' ')}\r\n`);
    const reporter = new RunReporter(this.sink(run, byId), byId.keys(), excluded);
    const abort = new AbortController();
    const cancel = token.onCancellationRequested(() => abort.abort());
    try {
      const out = await runCli(executable, args, {
        cwd,
        signal: abort.signal,
        onStdout: (chunk) => reporter.push(chunk),
        onStderr: (chunk) => run.appendOutput(chunk.replace(/\r?\n/g, '\r\n')),
      });
      reporter.finish(out.code, out.stderr, token.isCancellationRequested);
    } catch (error) {
      reporter.finish(null, (error as Error).message);
    } finally {
      cancel.dispose();
      run.end();
    }
  }

  private sink(run: vscode.TestRun, known: Map<string, vscode.TestItem>): RunSink {
    const item = (id: string, result: RunResult | undefined): vscode.TestItem | undefined => {
      const found = known.get(id) ?? this.find(id);
      if (found !== undefined || result === undefined) {
        return found;
      }
      // A test the listing did not have (added since): show it under its file.
      const uri = vscode.Uri.file(result.file);
      const parentId = fileId(result.file);
      let parent = this.controller.items.get(parentId);
      if (parent === undefined) {
        parent = this.controller.createTestItem(parentId, result.file, uri);
        this.controller.items.add(parent);
        this.files.set(parentId, result.file);
      }
      const created = this.controller.createTestItem(testId(result.file, result.name), result.name, uri);
      created.range = new vscode.Range(result.line - 1, 0, result.line - 1, 0);
      parent.children.add(created);
      this.files.set(created.id, result.file);
      known.set(created.id, created);
      return created;
    };
    const messages = (test: vscode.TestItem, failures: FailureMessage[]): vscode.TestMessage[] =>
      failures.map((failure) => {
        const message =
          failure.expected !== undefined && failure.actual !== undefined
            ? vscode.TestMessage.diff(failure.message, failure.expected, failure.actual)
            : new vscode.TestMessage(failure.message);
        if (test.uri !== undefined) {
          message.location = new vscode.Location(test.uri, new vscode.Position(failure.line, 0));
        }
        return message;
      });
    return {
      passed: (id, result) => {
        const test = item(id, result);
        if (test) run.passed(test, result.duration_ms);
      },
      failed: (id, failures, result) => {
        const test = item(id, result);
        if (test) run.failed(test, messages(test, failures), result.duration_ms);
      },
      errored: (id, failures, result) => {
        const test = item(id, result);
        if (test) run.errored(test, messages(test, failures), result?.duration_ms);
      },
      skipped: (id) => {
        const test = known.get(id);
        if (test) run.skipped(test);
      },
      output: (text) => run.appendOutput(text),
    };
  }

  private find(id: string): vscode.TestItem | undefined {
    let found: vscode.TestItem | undefined;
    this.controller.items.forEach((fileItem) => {
      found ??= fileItem.id === id ? fileItem : fileItem.children.get(id);
    });
    return found;
  }
}
