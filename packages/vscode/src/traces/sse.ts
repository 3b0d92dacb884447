/**
 * A server-sent events parser (the `text/event-stream` format of `GET /api/events`).
 *
 * Plain TypeScript, fed text chunks split anywhere; follows the WHATWG rules that matter here:
 * `\n`, `\r\n` or `\r` line ends, `:` comments ignored, `data:` lines joined with `\n`, one
 * optional space after the colon dropped, an event dispatched at a blank line (and only when
 * it has data), `retry:` remembered.
 */

/** One dispatched event. `event` is `'message'` when the stream named none. */
export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

export class SseParser {
  private buffer = '';
  private eventType = '';
  private data: string[] = [];
  private lastId: string | undefined;
  /** The reconnection delay the server asked for (`retry:`), ms, if any. */
  retryMs: number | undefined;

  /** Feed a chunk; returns the events it completed, in order. */
  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const events: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (match === null) {
        break;
      }
      // A lone '\r' at the very end may be the first half of '\r\n': wait for more.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) {
        break;
      }
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event !== undefined) {
        events.push(event);
      }
    }
    return events;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') {
      const data = this.data;
      const type = this.eventType;
      this.data = [];
      this.eventType = '';
      if (data.length === 0) {
        return undefined;
      }
      return { event: type === '' ? 'message' : type, data: data.join('\n'), id: this.lastId };
    }
    if (line.startsWith(':')) {
      return undefined;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) {
      value = value.slice(1);
    }
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.lastId = value;
        }
        break;
      case 'retry':
        if (/^\d+$/.test(value)) {
          this.retryMs = Number(value);
        }
        break;
      default:
        break;
    }
    return undefined;
  }
}
