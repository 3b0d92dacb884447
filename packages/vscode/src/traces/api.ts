/**
 * The REST API of `traceforge start` (see packages/web-api/README.md): URLs, a small JSON
 * client and the live `/api/events` feed.
 *
 * Plain node (global `fetch`), no `vscode` import. Every request carries
 * `Authorization: Bearer <token>` when a token is set.
 */

import { SseParser } from './sse';

/** A trace summary as the API sends it (`TraceSummary`). */
export interface TraceSummary {
  id: string;
  timestamp: string;
  provider: string;
  model: string;
  endpoint: string;
  status: string;
  status_code: number;
  streaming: boolean;
  latency_ms: number;
  first_chunk_latency_ms: number | null;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  cost_usd: number | null;
}

/** `GET /api/traces` answer. */
export interface TracePage {
  traces: TraceSummary[];
  total: number;
  limit: number;
  offset: number;
  next_cursor: string | null;
}

/** `GET /api/traces?limit=N[&since=ISO]`: newest first. */
export function tracesUrl(base: string, options: { limit?: number; since?: Date } = {}): string {
  const url = new URL('/api/traces', base);
  if (options.limit !== undefined) {
    url.searchParams.set('limit', String(options.limit));
  }
  if (options.since !== undefined) {
    url.searchParams.set('since', options.since.toISOString());
  }
  return url.toString();
}

/** `GET /api/traces/{id}`: the whole trace. */
export function traceUrl(base: string, id: string): string {
  return new URL(`/api/traces/${encodeURIComponent(id)}`, base).toString();
}

/** `GET /api/traces/diff?id1=&id2=`: the TraceDiff of two traces (`id1` before, `id2` after). */
export function diffUrl(base: string, id1: string, id2: string): string {
  const url = new URL('/api/traces/diff', base);
  url.searchParams.set('id1', id1);
  url.searchParams.set('id2', id2);
  return url.toString();
}

/** `GET /api/events`: server-sent `trace` events. */
export function eventsUrl(base: string): string {
  return new URL('/api/events', base).toString();
}

/** The proxy's `GET /healthz`. */
export function healthUrl(proxyBase: string): string {
  return new URL('/healthz', proxyBase).toString();
}

/** Local midnight of `now`'s day: "today" for the status bar. */
export function startOfDay(now: Date): Date {
  return new Date(now.getFullYear(), now.getMonth(), now.getDate());
}

/** Request headers: JSON, plus the bearer token when there is one. */
export function headers(token: string | undefined, accept = 'application/json'): Record<string, string> {
  return token === undefined ? { Accept: accept } : { Accept: accept, Authorization: `Bearer ${token}` };
}

/** A failed API call: the HTTP status (0: no answer) and the API's `error` text when it sent one. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** The subset of `fetch` the client uses (a test passes its own). */
export type Fetch = (url: string, init?: RequestInit) => Promise<Response>;

/** A JSON client of one API base URL. */
export class ApiClient {
  constructor(
    readonly base: string,
    readonly token: string | undefined,
    private readonly fetcher: Fetch = (url, init) => fetch(url, init),
    private readonly timeoutMs = 10_000,
  ) {}

  /**
   * GET `url` and decode its JSON.
   *
   * @throws ApiError with status 0 when the API does not answer (not running), else with the
   *   HTTP status and the body's `error` message.
   */
  async getJson<T>(url: string): Promise<T> {
    let response: Response;
    try {
      response = await this.fetcher(url, {
        headers: headers(this.token),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new ApiError(
        `TraceForge API not reachable at ${this.base} (is \`traceforge start\` running?): ${(error as Error).message}`,
        0,
      );
    }
    const text = await response.text();
    if (!response.ok) {
      let message = text;
      try {
        const body = JSON.parse(text) as { error?: unknown };
        if (typeof body.error === 'string') {
          message = body.error;
        }
      } catch {
        // not JSON: keep the text
      }
      throw new ApiError(`${response.status}: ${message || response.statusText}`, response.status);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(`the API answered ${url} with something that is not JSON`, response.status);
    }
  }

  /** The `limit` newest trace summaries. */
  async recentTraces(limit: number): Promise<TraceSummary[]> {
    return (await this.getJson<TracePage>(tracesUrl(this.base, { limit }))).traces;
  }

  /** How many traces were recorded since `since`. */
  async countSince(since: Date): Promise<number> {
    return (await this.getJson<TracePage>(tracesUrl(this.base, { limit: 1, since }))).total;
  }

  /** The whole trace `id` (full id or unique prefix). */
  async trace(id: string): Promise<unknown> {
    return this.getJson<unknown>(traceUrl(this.base, id));
  }

  /** The TraceDiff of `id1` (before) and `id2` (after). */
  async diff(id1: string, id2: string): Promise<unknown> {
    return this.getJson<unknown>(diffUrl(this.base, id1, id2));
  }
}

/** Whether the proxy at `proxyBase` answers `/healthz` with 200 (any failure: `false`). */
export async function proxyUp(
  proxyBase: string,
  fetcher: Fetch = (url, init) => fetch(url, init),
  timeoutMs = 2_000,
): Promise<boolean> {
  try {
    const response = await fetcher(healthUrl(proxyBase), { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** Callbacks of {@link followEvents}. */
export interface EventHandlers {
  /** A `trace` event's summary. */
  onTrace: (summary: TraceSummary) => void;
  /** Connected (`true`) or lost (`false`); after a loss the caller should reload the list. */
  onConnection?: (connected: boolean) => void;
}

/**
 * Follow `GET /api/events` until `signal` aborts, reconnecting after the server's `retry`
 * delay (default 3 s) whenever the stream ends or fails. Never throws.
 */
export async function followEvents(
  client: { base: string; token: string | undefined },
  handlers: EventHandlers,
  signal: AbortSignal,
  fetcher: Fetch = (url, init) => fetch(url, init),
): Promise<void> {
  let retryMs = 3_000;
  while (!signal.aborted) {
    const parser = new SseParser();
    try {
      const response = await fetcher(eventsUrl(client.base), {
        headers: headers(client.token, 'text/event-stream'),
        signal,
      });
      if (response.ok && response.body !== null) {
        handlers.onConnection?.(true);
        const decoder = new TextDecoder();
        const reader = response.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) {
            break;
          }
          for (const event of parser.push(decoder.decode(value, { stream: true }))) {
            if (event.event !== 'trace') {
              continue;
            }
            try {
              handlers.onTrace(JSON.parse(event.data) as TraceSummary);
            } catch {
              // a malformed event is skipped
            }
          }
        }
      } else {
        await response.arrayBuffer().catch(() => undefined);
      }
    } catch {
      // not running, or aborted: retried below unless aborted
    }
    retryMs = parser.retryMs ?? retryMs;
    if (signal.aborted) {
      break;
    }
    handlers.onConnection?.(false);
    await sleep(retryMs, signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
