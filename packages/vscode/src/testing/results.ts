/**
 * Parsing of `traceforge test list --json` and `traceforge test run --json` output.
 *
 * Plain TypeScript. Shapes (the interface the CLI keeps):
 *
 * - `test list --json`: one JSON array of {@link ListedTest} and {@link ListedFileError}.
 * - `test run --json`: JSON lines, a {@link RunResult} per test as it finishes, then one
 *   {@link RunSummary}. Lines are 1-based in the CLI's output.
 */

/** One test found by `test list --json`. */
export interface ListedTest {
  kind: 'test';
  name: string;
  /** Absolute path of the test file. */
  file: string;
  /** 1-based line of the test's `name:` key (1 when unknown). */
  line: number;
  tags: string[];
  source_trace: string | null;
  model: string | null;
}

/** A test file that failed to load, as listed by `test list --json`. */
export interface ListedFileError {
  kind: 'fileError';
  file: string;
  error: string;
  /** 1-based line of the problem, or `null`. */
  line: number | null;
}

export type ListedEntry = ListedTest | ListedFileError;

/** One assertion's outcome in a {@link RunResult}. */
export interface AssertionResult {
  type: string;
  passed: boolean;
  message: string;
  expected: unknown;
  actual: unknown;
  /** 1-based line of the assertion in the test file, or `null`. */
  line: number | null;
}

export type TestStatus = 'passed' | 'failed' | 'error';

/** A `{"type": "result", ...}` line of `test run --json`. */
export interface RunResult {
  type: 'result';
  name: string;
  file: string;
  line: number;
  status: TestStatus;
  duration_ms: number;
  error: string | null;
  assertions: AssertionResult[];
}

/** The final `{"type": "summary", ...}` line of `test run --json`. */
export interface RunSummary {
  type: 'summary';
  id: string;
  mode: string;
  passed: number;
  failed: number;
  errors: number;
  duration_ms: number;
}

/** What one output line was: a result, the summary, or anything else (kept as text). */
export type RunLine = RunResult | RunSummary | { type: 'other'; text: string };

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown, fallback = ''): string {
  return typeof value === 'string' ? value : fallback;
}

function num(value: unknown, fallback = 0): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function lineOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 ? value : null;
}

function strOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** Thrown when CLI output is not of the documented shape. */
export class OutputError extends Error {}

/**
 * Parse the whole stdout of `test list --json`.
 *
 * @throws OutputError when it is not a JSON array, or an element is neither a test
 *   (`name`, `file`) nor a file error (`file`, `error`).
 */
export function parseListOutput(stdout: string): ListedEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(stdout);
  } catch (error) {
    throw new OutputError(`test list --json printed no JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(data)) {
    throw new OutputError('test list --json did not print a JSON array');
  }
  return data.map((item, index): ListedEntry => {
    if (!isObject(item) || typeof item.file !== 'string') {
      throw new OutputError(`test list --json: item ${index} has no "file"`);
    }
    if (typeof item.error === 'string') {
      return { kind: 'fileError', file: item.file, error: item.error, line: lineOrNull(item.line) };
    }
    if (typeof item.name !== 'string') {
      throw new OutputError(`test list --json: item ${index} has neither "name" nor "error"`);
    }
    return {
      kind: 'test',
      name: item.name,
      file: item.file,
      line: lineOrNull(item.line) ?? 1,
      tags: Array.isArray(item.tags) ? item.tags.filter((t): t is string => typeof t === 'string') : [],
      source_trace: strOrNull(item.source_trace),
      model: strOrNull(item.model),
    };
  });
}

function parseAssertion(value: unknown): AssertionResult | undefined {
  if (!isObject(value)) {
    return undefined;
  }
  return {
    type: str(value.type, 'assertion'),
    passed: value.passed === true,
    message: str(value.message),
    expected: value.expected ?? null,
    actual: value.actual ?? null,
    line: lineOrNull(value.line),
  };
}

const STATUSES: readonly string[] = ['passed', 'failed', 'error'];

/**
 * Parse one line of `test run --json`. Blank, non-JSON or unknown lines come back as
 * `{type: 'other', text}` (never an exception): a CLI warning must not break a run.
 */
export function parseRunLine(line: string): RunLine {
  const text = line.trim();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { type: 'other', text: line };
  }
  if (!isObject(data)) {
    return { type: 'other', text: line };
  }
  if (data.type === 'result' && typeof data.name === 'string' && typeof data.file === 'string') {
    const status = STATUSES.includes(str(data.status)) ? (data.status as TestStatus) : 'error';
    return {
      type: 'result',
      name: data.name,
      file: data.file,
      line: lineOrNull(data.line) ?? 1,
      status,
      duration_ms: num(data.duration_ms),
      error: strOrNull(data.error),
      assertions: Array.isArray(data.assertions)
        ? data.assertions.map(parseAssertion).filter((a): a is AssertionResult => a !== undefined)
        : [],
    };
  }
  if (data.type === 'summary') {
    return {
      type: 'summary',
      id: str(data.id),
      mode: str(data.mode),
      passed: num(data.passed),
      failed: num(data.failed),
      errors: num(data.errors),
      duration_ms: num(data.duration_ms),
    };
  }
  return { type: 'other', text: line };
}

/**
 * Splits a stream of text chunks into complete lines (`\n` or `\r\n`), holding a partial
 * last line until its end arrives or {@link LineSplitter.end} is called.
 */
export class LineSplitter {
  private pending = '';

  /** Feed a chunk; returns the lines it completed (without their terminators). */
  push(chunk: string): string[] {
    this.pending += chunk;
    const parts = this.pending.split('\n');
    this.pending = parts.pop() ?? '';
    return parts.map((part) => (part.endsWith('\r') ? part.slice(0, -1) : part));
  }

  /** The unterminated last line, if any (call once the stream ended). */
  end(): string[] {
    const rest = this.pending;
    this.pending = '';
    return rest === '' ? [] : [rest];
  }
}

/** A value of an assertion as text for a diff: strings as they are, the rest as JSON. */
export function displayValue(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value === undefined) {
    return 'null';
  }
  return JSON.stringify(value, null, 2) ?? String(value);
}

/** A failure to show on a test: a message at a 0-based line, with a diff when both sides exist. */
export interface FailureMessage {
  message: string;
  /** 0-based line in the test file. */
  line: number;
  expected?: string;
  actual?: string;
}

/**
 * The failures of a result, one per failed assertion (at the assertion's line, else the
 * test's), or one for the test's `error`; none for a passed result.
 */
export function failureMessages(result: RunResult): FailureMessage[] {
  if (result.status === 'passed') {
    return [];
  }
  const testLine = Math.max(0, result.line - 1);
  const messages: FailureMessage[] = [];
  if (result.error !== null && result.error !== '') {
    messages.push({ message: result.error, line: testLine });
  }
  for (const assertion of result.assertions) {
    if (assertion.passed) {
      continue;
    }
    const message = `${assertion.type}: ${assertion.message || 'failed'}`;
    const line = assertion.line === null ? testLine : assertion.line - 1;
    const hasDiff = assertion.expected !== null && assertion.actual !== null;
    messages.push(
      hasDiff
        ? { message, line, expected: displayValue(assertion.expected), actual: displayValue(assertion.actual) }
        : { message, line },
    );
  }
  if (messages.length === 0) {
    messages.push({ message: `test ${result.status}`, line: testLine });
  }
  return messages;
}
