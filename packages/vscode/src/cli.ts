/**
 * Command lines of the `traceforge` CLI the extension runs, and a runner for them.
 *
 * Plain node (no `vscode` import). Each builder returns the argument vector after the
 * executable (`settings.path`); nothing goes through a shell, so no quoting is needed except
 * for display ({@link commandLine}).
 */

import { spawn } from 'node:child_process';
import * as path from 'node:path';

/** How `traceforge test run` reaches the providers. */
export type RunMode = 'live' | 'replay' | 'direct';

/** What the command builders need from the settings. */
export interface CliSettings {
  /** `--home` value, or `undefined` for the CLI's default ($TRACEFORGE_HOME, else ./.ai-tests). */
  home: string | undefined;
}

/** `home` made absolute against `cwd` (the workspace folder); `undefined` stays `undefined`. */
export function resolveHome(home: string | undefined, cwd: string): string | undefined {
  if (home === undefined || home === '') {
    return undefined;
  }
  return path.resolve(cwd, home);
}

function homeArgs(settings: CliSettings): string[] {
  return settings.home === undefined ? [] : ['--home', settings.home];
}

function tagArgs(tags: readonly string[] | undefined): string[] {
  return (tags ?? []).flatMap((tag) => ['--tag', tag]);
}

/** `traceforge test list --json [--home H] [--tag T]... [paths...]`. */
export function listArgs(
  settings: CliSettings,
  options: { paths?: readonly string[]; tags?: readonly string[] } = {},
): string[] {
  return ['test', 'list', '--json', ...homeArgs(settings), ...tagArgs(options.tags), ...(options.paths ?? [])];
}

/**
 * `traceforge test run --json [--replay | --direct] [--home H] [--tag T]... [paths...]`.
 * No paths: every test of the home.
 */
export function runArgs(
  settings: CliSettings,
  options: { mode: RunMode; paths?: readonly string[]; tags?: readonly string[] },
): string[] {
  const mode = options.mode === 'replay' ? ['--replay'] : options.mode === 'direct' ? ['--direct'] : [];
  return [
    'test',
    'run',
    '--json',
    ...mode,
    ...homeArgs(settings),
    ...tagArgs(options.tags),
    ...(options.paths ?? []),
  ];
}

/** `traceforge start [--home H]`: the capture proxy and the REST API, until Ctrl-C. */
export function startArgs(settings: CliSettings): string[] {
  return ['start', ...homeArgs(settings)];
}

/** `traceforge test create-from-trace ID [--name N] [--home H]`. */
export function createFromTraceArgs(settings: CliSettings, traceId: string, name?: string): string[] {
  const nameArgs = name === undefined || name.trim() === '' ? [] : ['--name', name.trim()];
  return ['test', 'create-from-trace', traceId, ...nameArgs, ...homeArgs(settings)];
}

/**
 * `traceforge lsp` and its environment: the home travels as `TRACEFORGE_HOME` (every command
 * reads it) rather than as a flag.
 */
export function lspCommand(
  executable: string,
  settings: CliSettings,
  env: NodeJS.ProcessEnv,
): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
  const merged = { ...env };
  if (settings.home !== undefined) {
    merged.TRACEFORGE_HOME = settings.home;
  }
  return { command: executable, args: ['lsp'], env: merged };
}

/** One POSIX-shell word: bare when safe, else single-quoted. */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) {
    return word;
  }
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The command as a shell line, for logs and messages. */
export function commandLine(executable: string, args: readonly string[]): string {
  return [executable, ...args].map(shellQuote).join(' ');
}

/** What a finished CLI process produced. */
export interface CliOutput {
  /** Exit status; `null` when killed by a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link runCli}. */
export interface RunCliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Called with each chunk of stdout as it arrives (e.g. a line splitter). */
  onStdout?: (chunk: string) => void;
  /** Called with each chunk of stderr as it arrives. */
  onStderr?: (chunk: string) => void;
  /** Aborting kills the process (SIGTERM). */
  signal?: AbortSignal;
}

/**
 * Run `executable args` without a shell and collect its output.
 *
 * @throws Error when the process cannot start (e.g. `ENOENT`: the executable is not found);
 *   the message names the executable and suggests the `traceforge.path` setting.
 */
export function runCli(executable: string, args: readonly string[], options: RunCliOptions = {}): Promise<CliOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(executable, [...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: options.signal,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      options.onStdout?.(chunk);
    });
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      options.onStderr?.(chunk);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.name === 'AbortError') {
        return; // 'close' follows with the signal
      }
      const hint = error.code === 'ENOENT' ? ' (set traceforge.path to the traceforge executable)' : '';
      reject(new Error(`cannot run ${executable}: ${error.message}${hint}`));
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
