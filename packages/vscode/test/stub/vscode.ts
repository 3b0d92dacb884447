/**
 * A tiny stand-in for the `vscode` module, aliased in by scripts/build.mjs for unit tests of
 * modules that import `vscode`. Only what those tests reach is here.
 */

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly path: string,
  ) {}

  static from(parts: { scheme: string; path: string }): Uri {
    return new Uri(parts.scheme, parts.path);
  }

  static file(path: string): Uri {
    return new Uri('file', path);
  }

  get fsPath(): string {
    return this.path;
  }

  toString(): string {
    return `${this.scheme}:${this.path}`;
  }
}

export class EventEmitter<T> {
  private listeners: Array<(value: T) => void> = [];
  readonly event = (listener: (value: T) => void): { dispose(): void } => {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  };

  fire(value: T): void {
    for (const listener of this.listeners) listener(value);
  }

  dispose(): void {
    this.listeners = [];
  }
}
