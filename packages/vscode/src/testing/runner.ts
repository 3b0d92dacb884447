/**
 * Turning the JSON lines of `traceforge test run --json` into Test Explorer states.
 *
 * Plain TypeScript: a {@link RunReporter} is fed stdout chunks and calls a {@link RunSink}
 * (the controller's adapter over `vscode.TestRun`; a recording object in tests).
 */

import { FailureMessage, LineSplitter, RunSummary, failureMessages, parseRunLine } from './results';
import type { RunResult } from './results';
import { resultTestId } from './tree';

/** Where a run's outcomes go, by test id. */
export interface RunSink {
  passed(id: string, result: RunResult): void;
  failed(id: string, messages: FailureMessage[], result: RunResult): void;
  errored(id: string, messages: FailureMessage[], result: RunResult | undefined): void;
  skipped(id: string): void;
  /** Text for the run's output (CLI warnings, the summary), lines ending in `\r\n`. */
  output(text: string): void;
}

/** A summary line as one line of text. */
export function summaryText(summary: RunSummary): string {
  const seconds = (summary.duration_ms / 1000).toFixed(1);
  return `${summary.passed} passed, ${summary.failed} failed, ${summary.errors} errors in ${seconds}s (${summary.mode}, run ${summary.id})`;
}

export class RunReporter {
  private readonly splitter = new LineSplitter();
  private readonly pending: Set<string>;
  private readonly reported = new Set<string>();
  /** The summary line, once it arrived. */
  summary: RunSummary | undefined;

  /**
   * @param sink receives every outcome.
   * @param expected ids of the tests the run was asked for (enqueued); those without a result
   *   at the end are settled by {@link RunReporter.finish}.
   * @param excluded ids whose results are dropped (excluded by the user, run only because
   *   their file was).
   */
  constructor(
    private readonly sink: RunSink,
    expected: Iterable<string>,
    private readonly excluded: ReadonlySet<string> = new Set(),
  ) {
    this.pending = new Set(expected);
  }

  /** Feed a chunk of the CLI's stdout. */
  push(chunk: string): void {
    for (const line of this.splitter.push(chunk)) {
      this.line(line);
    }
  }

  private line(text: string): void {
    const parsed = parseRunLine(text);
    if (parsed.type === 'other') {
      if (parsed.text.trim() !== '') {
        this.sink.output(`${parsed.text}\r\n`);
      }
      return;
    }
    if (parsed.type === 'summary') {
      this.summary = parsed;
      this.sink.output(`${summaryText(parsed)}\r\n`);
      return;
    }
    const id = resultTestId(parsed);
    if (this.excluded.has(id)) {
      return;
    }
    this.pending.delete(id);
    this.reported.add(id);
    if (parsed.status === 'passed') {
      this.sink.passed(id, parsed);
    } else if (parsed.status === 'failed') {
      this.sink.failed(id, failureMessages(parsed), parsed);
    } else {
      this.sink.errored(id, failureMessages(parsed), parsed);
    }
  }

  /**
   * The process ended: flush the last line, then settle every expected test without a result:
   * errored with the CLI's stderr when the run failed before any result (exit status 2 or
   * no status: bad input, or the CLI could not start), else skipped (cancelled).
   */
  finish(code: number | null, stderr: string, cancelled = false): void {
    for (const line of this.splitter.end()) {
      this.line(line);
    }
    const problem = stderr.trim();
    const failedEarly = !cancelled && this.reported.size === 0 && (code === null || code >= 2);
    for (const id of this.pending) {
      if (failedEarly) {
        this.sink.errored(id, [{ message: problem || `traceforge exited with status ${code}`, line: 0 }], undefined);
      } else {
        this.sink.skipped(id);
      }
    }
    this.pending.clear();
  }
}
