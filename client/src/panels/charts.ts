/**
 * The theory charts of a config in a webview: U₁ heatmap with path labels, head relevance bars (with the
 * predicted effect of silencing each head in the tooltips), the accuracy with each head removed (predicted, and
 * measured on the model for model configs), the overlap of the kernel's principal components with the labels
 * (finite width versus GP, the paper's Fig. 2c) and, after a width sweep, accuracy and ε_g against N. The page builds the Vega-Lite specs with the same builders as the
 * CLI (server/src/report/charts.ts), coloured from the editor theme. One panel per config; it redraws when
 * the server reports a new result for that config.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ReportRequest, type AnalysisReport, type ReportResult, type SweepReport } from '../../../server/src/protocol';
import type { ExtensionState } from '../ctx';
import type { FromPage, ToPage } from '../webview/messages';
import { pageHtml, webviewOptions } from './html';

/** What the page reported after drawing. */
export interface RenderInfo {
  charts: number;
  /** SVG mark groups over all charts. */
  marks: number;
  /** Per chart id (u1-heatmap, head-scores, head-removal, pc-overlap, sweep): mark groups and the items in them. */
  perChart: Record<string, { groups: number; items: number }>;
}

export class ChartsPanel {
  static readonly viewType = 'attentionPaths.charts';
  private static readonly panels = new Map<string, ChartsPanel>();

  private ready = false;
  private content: ToPage;
  /** What the page drew last, and how many times it has drawn (the in-editor tests watch redraws, e.g. after a restart). */
  private drawn = { count: 0, info: undefined as RenderInfo | undefined };

  /** How many times the panel of `uri` has drawn its charts, and the last drawing; undefined when no panel is open. */
  static drawings(uri: vscode.Uri): { count: number; info?: RenderInfo } | undefined {
    const p = ChartsPanel.panels.get(uri.toString());
    return p && { ...p.drawn };
  }
  private renderWaiters: Array<(r: RenderInfo | Error) => void> = [];

  /**
   * Shows (or updates and reveals) the charts panel of `uri`.
   * @returns what the page drew, once it has drawn (rejects when drawing failed or took over 60 s)
   */
  static show(state: ExtensionState, uri: vscode.Uri, report: AnalysisReport, sweep?: SweepReport): Promise<RenderInfo> {
    const key = uri.toString();
    let p = ChartsPanel.panels.get(key);
    const content: ToPage = { type: 'charts', title: path.basename(uri.path), report, sweep };
    if (p) {
      p.panel.reveal(undefined, true);
      p.post(content);
    } else {
      p = new ChartsPanel(state, uri, content);
      ChartsPanel.panels.set(key, p);
    }
    return p.nextRender();
  }

  private readonly panel: vscode.WebviewPanel;

  private constructor(
    private readonly state: ExtensionState,
    private readonly uri: vscode.Uri,
    initial: ToPage,
  ) {
    this.content = initial;
    const title = `Theory charts: ${path.basename(uri.path)}`;
    this.panel = vscode.window.createWebviewPanel(ChartsPanel.viewType, title, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, webviewOptions(state.context.extensionUri));
    this.panel.webview.html = pageHtml(this.panel.webview, state.context.extensionUri, title, 'charts');
    const subs: vscode.Disposable[] = [
      this.panel.webview.onDidReceiveMessage((m: FromPage) => this.onMessage(m)),
      state.onResults((r) => {
        if (r.uri === uri.toString() && r.state === 'done') void this.reload();
      }),
      // After a server restart the panel asks again (the server restores the report, or analyses the config anew).
      state.onServerRestarted(() => void this.reload()),
    ];
    this.panel.onDidDispose(() => {
      ChartsPanel.panels.delete(uri.toString());
      subs.forEach((s) => s.dispose());
      this.settle(new Error('the charts panel was closed'));
    });
  }

  private nextRender(): Promise<RenderInfo> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the charts were not drawn within 60 s')), 60_000);
      this.renderWaiters.push((r) => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      });
    });
  }

  private settle(r: RenderInfo | Error): void {
    const waiters = this.renderWaiters;
    this.renderWaiters = [];
    waiters.forEach((w) => w(r));
  }

  private post(content: ToPage): void {
    this.content = content;
    if (this.ready) void this.panel.webview.postMessage(content);
  }

  /** A new result arrived for this config: redraw with it, keeping the sweep if the report has none. */
  private async reload(): Promise<void> {
    let r: ReportResult;
    try {
      r = await this.state.client.sendRequest<ReportResult>(ReportRequest, { uri: this.uri.toString() });
    } catch (e) {
      this.state.output.appendLine(`charts of ${this.uri.fsPath}: ${(e as Error).message}`);
      return;
    }
    if (r.report) this.post({ type: 'charts', title: path.basename(this.uri.path), report: r.report, sweep: r.sweep });
  }

  private onMessage(m: FromPage): void {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        void this.panel.webview.postMessage(this.content);
        break;
      case 'rendered':
        this.state.output.appendLine(`charts of ${this.uri.fsPath}: ${m.charts} chart(s), ${m.marks} mark group(s) drawn`);
        this.drawn = { count: this.drawn.count + 1, info: { charts: m.charts, marks: m.marks, perChart: m.perChart } };
        this.settle(this.drawn.info!);
        break;
      case 'renderError':
        this.state.output.appendLine(`charts of ${this.uri.fsPath} could not be drawn: ${m.message}`);
        this.settle(new Error(m.message));
        break;
      case 'command':
        break;
    }
  }
}
