/**
 * The status-bar item: proxy up or down (its `/healthz`) and how many traces were recorded
 * today (the REST API), polled every 10 s and recounted when a trace arrives.
 */

import * as vscode from 'vscode';
import { ApiClient, proxyUp, startOfDay } from './traces/api';
import { statusText } from './traces/model';

const POLL_MS = 10_000;

export class StatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
  private readonly timer: ReturnType<typeof setInterval>;
  private proxy: boolean | undefined;
  private today: number | undefined;

  constructor(
    private client: ApiClient,
    private proxyUrl: string,
  ) {
    this.render();
    this.item.show();
    this.timer = setInterval(() => void this.update(), POLL_MS);
    void this.update();
  }

  /** Point at other addresses (settings changed). */
  reconfigure(client: ApiClient, proxyUrl: string): void {
    this.client = client;
    this.proxyUrl = proxyUrl;
    void this.update();
  }

  /** Check the proxy and recount today's traces now. */
  async update(): Promise<void> {
    const [up, today] = await Promise.all([
      proxyUp(this.proxyUrl),
      this.client.countSince(startOfDay(new Date())).catch(() => undefined),
    ]);
    this.proxy = up;
    this.today = today;
    this.render();
  }

  private render(): void {
    const { text, tooltip } = statusText(this.proxy, this.today, this.proxyUrl);
    this.item.text = text;
    this.item.tooltip = tooltip;
    this.item.command = this.proxy === false ? 'traceforge.startProxy' : 'traceforge.traces.focus';
  }

  dispose(): void {
    clearInterval(this.timer);
    this.item.dispose();
  }
}
