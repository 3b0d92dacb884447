/**
 * The extension's settings (`traceforge.*`), their defaults and how they are read.
 *
 * Plain TypeScript (no `vscode` import) so node's test runner can check it: the extension
 * passes `workspace.getConfiguration('traceforge').get` as the getter.
 */

/** Default port of the capture proxy (`traceforge start`, config `proxy.port`). */
export const DEFAULT_PROXY_URL = 'http://127.0.0.1:8787';
/** Default address of the REST API (`traceforge start --api-port`, default 3001). */
export const DEFAULT_API_URL = 'http://127.0.0.1:3001';
/** Default address of the web UI (`traceforge ui --web --port`, default 8000). */
export const DEFAULT_WEB_URL = 'http://127.0.0.1:8000';
/** Environment variable holding the REST API's bearer token (as `traceforge start` reads it). */
export const API_TOKEN_ENV = 'TRACEFORGE_API_TOKEN';

/** Every setting the extension reads, with defaults applied and values checked. */
export interface Settings {
  /** The traceforge executable: a name on PATH or an absolute path. */
  path: string;
  /** `--home` passed to every command, or `undefined` for the CLI's own default. */
  home: string | undefined;
  /** REST API base URL, without a trailing slash. */
  apiUrl: string;
  /** Bearer token for the API, or `undefined` for none. */
  apiToken: string | undefined;
  /** Capture proxy base URL, without a trailing slash. */
  proxyUrl: string;
  /** Web UI base URL, without a trailing slash. */
  webUrl: string;
  /** How many traces the tree view lists (1-1000). */
  recentTraces: number;
  /** Whether `traceforge lsp` is started. */
  languageServer: boolean;
}

/** `get(key)` of one setting under `traceforge.` (e.g. `'path'`, `'languageServer.enabled'`). */
export type SettingGetter = (key: string) => unknown;

function text(value: unknown): string | undefined {
  if (typeof value !== 'string') {
    return undefined;
  }
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** `url` without trailing slashes; `fallback` when `url` is not an http(s) URL. */
export function baseUrl(url: unknown, fallback: string): string {
  const value = text(url);
  if (value === undefined) {
    return fallback;
  }
  try {
    const parsed = new URL(value);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      return fallback;
    }
  } catch {
    return fallback;
  }
  return value.replace(/\/+$/, '');
}

/**
 * Read every setting through `get`, falling back to the defaults for missing, empty or
 * mistyped values. The API token falls back to `env.TRACEFORGE_API_TOKEN`.
 */
export function readSettings(get: SettingGetter, env: NodeJS.ProcessEnv = {}): Settings {
  const recent = get('recentTraces');
  return {
    path: text(get('path')) ?? 'traceforge',
    home: text(get('home')),
    apiUrl: baseUrl(get('apiUrl'), DEFAULT_API_URL),
    apiToken: text(get('apiToken')) ?? text(env[API_TOKEN_ENV]),
    proxyUrl: baseUrl(get('proxyUrl'), DEFAULT_PROXY_URL),
    webUrl: baseUrl(get('webUrl'), DEFAULT_WEB_URL),
    recentTraces:
      typeof recent === 'number' && Number.isFinite(recent)
        ? Math.min(1000, Math.max(1, Math.floor(recent)))
        : 50,
    languageServer: get('languageServer.enabled') !== false,
  };
}
