/**
 * The "Recent Traces" list and the status-bar text, as plain data.
 *
 * Plain TypeScript; the tree view and status bar render what these return.
 */

import type { TraceSummary } from './api';

/** The newest traces, newest first, at most `limit`, each id once. */
export class RecentTraces {
  private items: TraceSummary[] = [];

  constructor(private limit: number) {}

  /** Replace the list (a fresh `GET /api/traces` page). */
  reset(traces: readonly TraceSummary[]): void {
    this.items = [];
    for (const trace of traces) {
      if (!this.items.some((t) => t.id === trace.id)) {
        this.items.push(trace);
      }
    }
    this.sort();
    this.items = this.items.slice(0, this.limit);
  }

  /** Add a trace announced by `/api/events`; returns `false` when it was already listed. */
  add(trace: TraceSummary): boolean {
    if (this.items.some((t) => t.id === trace.id)) {
      return false;
    }
    this.items.push(trace);
    this.sort();
    this.items = this.items.slice(0, this.limit);
    return true;
  }

  /** Change how many are kept (the setting changed). */
  setLimit(limit: number): void {
    this.limit = limit;
    this.items = this.items.slice(0, limit);
  }

  /** The traces, newest first. */
  list(): readonly TraceSummary[] {
    return this.items;
  }

  /** How many listed traces are at or after `since`. */
  countSince(since: Date): number {
    return this.items.filter((t) => Date.parse(t.timestamp) >= since.getTime()).length;
  }

  private sort(): void {
    this.items.sort((a, b) => Date.parse(b.timestamp) - Date.parse(a.timestamp) || (a.id < b.id ? -1 : 1));
  }
}

/** How long ago `timestamp` was, shortly: `now`, `42s`, `5m`, `3h`, `2d`. */
export function age(timestamp: string, now: Date): string {
  const seconds = Math.floor((now.getTime() - Date.parse(timestamp)) / 1000);
  if (!Number.isFinite(seconds)) {
    return '';
  }
  if (seconds < 5) {
    return 'now';
  }
  if (seconds < 60) {
    return `${seconds}s`;
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)}m`;
  }
  if (seconds < 86_400) {
    return `${Math.floor(seconds / 3600)}h`;
  }
  return `${Math.floor(seconds / 86_400)}d`;
}

/** What the tree shows for one trace. */
export interface TraceRow {
  label: string;
  description: string;
  tooltip: string;
  /** A codicon id: `pass` for a success, `error` otherwise. */
  icon: 'pass' | 'error';
}

/** The row of a trace: model as label; short id, status, latency and age as description. */
export function traceRow(trace: TraceSummary, now: Date): TraceRow {
  const ok = trace.status === 'success';
  const latency = `${Math.round(trace.latency_ms)} ms`;
  const status = ok ? String(trace.status_code) : `${trace.status} ${trace.status_code}`;
  const cost = trace.cost_usd === null ? '' : ` · $${trace.cost_usd.toFixed(4)}`;
  return {
    label: trace.model || '(no model)',
    description: `${trace.id.slice(0, 8)} · ${status} · ${latency} · ${age(trace.timestamp, now)}`,
    tooltip: [
      `${trace.id}`,
      `${trace.provider} ${trace.endpoint}`,
      `${trace.timestamp}`,
      `status ${trace.status} (${trace.status_code})${trace.streaming ? ', streamed' : ''}`,
      `${latency}, ${trace.total_tokens} tokens${cost}`,
    ].join('\n'),
    icon: ok ? 'pass' : 'error',
  };
}

/** Status-bar text and tooltip from what is known of the proxy and the API. */
export function statusText(
  proxy: boolean | undefined,
  tracesToday: number | undefined,
  proxyUrl: string,
): { text: string; tooltip: string } {
  const state = proxy === undefined ? 'checking' : proxy ? 'up' : 'down';
  const icon = proxy === true ? '$(pulse)' : '$(circle-slash)';
  const today = tracesToday === undefined ? '' : ` · ${tracesToday} today`;
  const tooltip = [
    `TraceForge proxy ${state} at ${proxyUrl}`,
    tracesToday === undefined ? 'traces today: unknown (REST API not reachable)' : `${tracesToday} traces today`,
    proxy === false ? 'Click to start the proxy' : 'Click to show recent traces',
  ].join('\n');
  return { text: `${icon} TraceForge ${state}${today}`, tooltip };
}

/** Pretty JSON for a virtual document. */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** URI scheme of the extension's read-only JSON documents. */
export const DOC_SCHEME = 'traceforge';

/** What a virtual document shows. */
export type DocTarget = { kind: 'trace'; id: string } | { kind: 'diff'; id1: string; id2: string };

const HEX = /^[0-9a-fA-F]{1,64}$/;

/** The path of a virtual document: `/trace/<id>.json` or `/diff/<id1>..<id2>.json`. */
export function docPath(target: DocTarget): string {
  return target.kind === 'trace' ? `/trace/${target.id}.json` : `/diff/${target.id1}..${target.id2}.json`;
}

/** The target of a virtual document path, or `undefined` for anything else (ids must be hex). */
export function parseDocPath(docPathText: string): DocTarget | undefined {
  const trace = /^\/trace\/([^/]+)\.json$/.exec(docPathText);
  if (trace !== null && HEX.test(trace[1] ?? '')) {
    return { kind: 'trace', id: trace[1] as string };
  }
  const diff = /^\/diff\/([^/.]+)\.\.([^/.]+)\.json$/.exec(docPathText);
  if (diff !== null && HEX.test(diff[1] ?? '') && HEX.test(diff[2] ?? '')) {
    return { kind: 'diff', id1: diff[1] as string, id2: diff[2] as string };
  }
  return undefined;
}

/** The test file path in `create-from-trace` output (`wrote <path> from trace ...`). */
export function writtenTestFile(stdout: string): string | undefined {
  const match = /wrote\s+(.+?)\s+from trace\s/.exec(stdout);
  return match === null ? undefined : match[1];
}
