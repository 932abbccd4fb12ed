/**
 * The theory charts in one webview panel that follows the active config: U₁ heatmap with path labels, head
 * relevance bars, the accuracy with each head removed (predicted, and measured on the model for model configs, with
 * how far to trust the prediction), the overlap of the kernel's principal components with the labels (Fig. 2c),
 * every head's attention maps and, after a width sweep, accuracy and ε_g against N. The page builds the Vega-Lite
 * specs with the same builders as the CLI (shared/charts.ts), coloured from the editor theme.
 *
 * Honest state: the last result stays drawn under a banner that says when it is not current — "Analysing…" while a
 * new result is computed, "Out of date (config changed)" when the config has errors or its analysis was cancelled,
 * "Failed: <reason>" when the analysis of the current text failed. Charts can be exported as SVG or PNG.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isConfigFileName, ReportRequest, type AnalysisReport, type AnalysisState, type ReportResult, type SweepReport } from '../../../shared/protocol';
import type { ChartsView, ExtensionState } from '../ctx';
import type { ChartsState, FromPage, RenderInfo, ToPage } from '../webview/messages';
import { pageHtml, webviewOptions } from './html';

/** The banner for a config's analysis state; `hasResult`: whether a (previous) result is drawn under it. */
export function chartsState(state: AnalysisState | 'unknown', error: string | undefined, hasResult: boolean): ChartsState {
  const below = hasResult ? ' The charts below are from the last result.' : '';
  switch (state) {
    case 'done':
      return { kind: 'current', text: '' };
    case 'queued':
    case 'running':
      return { kind: 'analysing', text: `Analysing…${below}` };
    case 'error':
      return { kind: 'failed', text: `Failed: ${error ?? 'see the output'}.${below}` };
    case 'invalid':
      return { kind: 'stale', text: `Out of date (config changed): fix the config's errors to analyse it again.${below}` };
    case 'cancelled':
      return { kind: 'stale', text: `Out of date (config changed): the analysis was cancelled.${below}` };
    case 'restricted':
      return { kind: 'stale', text: `Out of date: nothing is analysed in Restricted Mode.${below}` };
    default:
      return {
        kind: hasResult ? 'stale' : 'none',
        text: hasResult ? `Out of date: not analysed since it changed.${below}` : 'Not analysed yet: run "Attention Paths: Analyze Model or Config".',
      };
  }
}

export class ChartsPanel implements ChartsView {
  static readonly viewType = 'attentionPaths.charts';
  private static current: ChartsPanel | undefined;

  private ready = false;
  private content: ToPage | undefined;
  /** How many times the page has drawn (the in-editor tests watch redraws, e.g. after a restart). */
  private drawCount = 0;
  private renderWaiters: Array<(r: RenderInfo | Error) => void> = [];
  private exportWaiters = new Map<number, (data: string) => void>();
  private nextExport = 1;
  /** The last result of each config drawn here, shown under the banner while the config is not current. */
  private readonly results = new Map<string, { report: AnalysisReport; sweep?: SweepReport }>();
  private uri: vscode.Uri;
  private readonly panel: vscode.WebviewPanel;
  /** The banner shown over the charts now ('' when they are current). */
  banner = '';
  /** What the page drew last. */
  lastRender: RenderInfo | undefined;

  /** The open charts panel, if any. */
  static get open(): ChartsPanel | undefined {
    return ChartsPanel.current;
  }

  /** How many times the panel has drawn the charts of `uri`, and its last drawing; undefined when it does not show `uri`. */
  static drawings(uri: vscode.Uri): { count: number; info?: RenderInfo } | undefined {
    const p = ChartsPanel.current;
    return p && p.uri.toString() === uri.toString() ? { count: p.drawCount, ...(p.lastRender ? { info: p.lastRender } : {}) } : undefined;
  }

  /**
   * Shows the charts of `uri` in the one charts panel (created, or revealed and switched to this config).
   * @returns what the page drew, once it has drawn (rejects when drawing failed or took over 60 s)
   */
  static show(state: ExtensionState, uri: vscode.Uri, report: AnalysisReport, sweep?: SweepReport): Promise<RenderInfo> {
    let p = ChartsPanel.current;
    if (!p) p = ChartsPanel.current = new ChartsPanel(state, uri);
    else p.panel.reveal(undefined, true);
    p.uri = uri;
    p.results.set(uri.toString(), { report, sweep });
    const rendered = p.nextRender();
    p.post({ type: 'charts', title: path.basename(uri.path), report, sweep, state: { kind: 'current', text: '' } });
    return rendered;
  }

  private constructor(
    private readonly state: ExtensionState,
    uri: vscode.Uri,
  ) {
    this.uri = uri;
    this.panel = vscode.window.createWebviewPanel(
      ChartsPanel.viewType,
      'Theory charts',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      webviewOptions(state.context.extensionUri),
    );
    this.panel.webview.html = pageHtml(this.panel.webview, state.context.extensionUri, 'Theory charts', 'charts');
    const subs: vscode.Disposable[] = [
      this.panel.webview.onDidReceiveMessage((m: FromPage) => this.onMessage(m)),
      state.onResults((r) => {
        if (r.uri !== this.uri.toString()) return;
        if (r.state === 'done') void this.follow(this.uri);
        else this.showState(chartsState(r.state, r.error, this.results.has(r.uri)));
      }),
      // One panel that follows the active config.
      vscode.window.onDidChangeActiveTextEditor((e) => {
        const doc = e?.document.uri;
        if (doc && doc.scheme === 'file' && isConfigFileName(doc.path) && doc.toString() !== this.uri.toString()) void this.follow(doc);
      }),
      // After a server restart the panel asks again (the server restores the report, or analyses the config anew).
      state.onServerRestarted(() => void this.follow(this.uri, true)),
    ];
    this.panel.onDidDispose(() => {
      ChartsPanel.current = undefined;
      subs.forEach((s) => s.dispose());
      this.settle(new Error('the charts panel was closed'));
    });
  }

  /**
   * Shows `uri`'s latest report (or its last one here, under the banner of its state).
   * @param afterRestart the server has just restarted: while it does not know the config yet (it restores its
   *   report or analyses it anew, and then sends the result) the drawing stays as it is, without a banner that
   *   would claim the config changed
   */
  private async follow(uri: vscode.Uri, afterRestart = false): Promise<void> {
    this.uri = uri;
    const key = uri.toString();
    let r: ReportResult;
    try {
      r = await this.state.client.sendRequest(ReportRequest, { uri: key });
    } catch (e) {
      // The server is restarting or gone: keep what is drawn (the restart event asks again).
      this.state.output.appendLine(`charts of ${uri.fsPath}: ${(e as Error).message}`);
      return;
    }
    if (this.uri.toString() !== key) return; // moved on meanwhile
    if (afterRestart && r.state === 'unknown') return;
    if (r.report) this.results.set(key, { report: r.report, sweep: r.sweep });
    const shown = this.results.get(key);
    const state = r.report ? chartsState('done', undefined, true) : chartsState(r.state, r.error, !!shown);
    this.post({ type: 'charts', title: path.basename(uri.path), report: shown?.report, sweep: r.sweep ?? shown?.sweep, state });
  }

  private showState(s: ChartsState): void {
    this.banner = s.kind === 'current' ? '' : s.text;
    const title = path.basename(this.uri.path);
    if (this.content?.type === 'charts') this.content = { ...this.content, state: s };
    if (this.ready) void this.panel.webview.postMessage({ type: 'state', title, state: s } satisfies ToPage);
  }

  /**
   * A chart's bytes as the page renders them: SVG text, or a PNG (decoded from its data URL).
   * @param id the chart's id (u1-heatmap, head-scores, head-removal, pc-overlap, attention-maps, sweep)
   */
  async exportChart(id: string, format: 'svg' | 'png'): Promise<Uint8Array> {
    const request = this.nextExport++;
    const data = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the chart ${id} was not exported within 30 s`)), 30_000);
      this.exportWaiters.set(request, (d) => {
        clearTimeout(timer);
        resolve(d);
      });
      void this.panel.webview.postMessage({ type: 'export', id, format, request } satisfies ToPage);
    });
    return decodeExport(data, format);
  }

  /** Saves an export the user asked for in the page, where they choose. */
  private async saveExport(id: string, format: 'svg' | 'png', data: string): Promise<void> {
    const base = this.uri.path.replace(/\.(attention\.)?(ya?ml|json)$/i, '');
    const target = await vscode.window.showSaveDialog({
      title: `Attention Paths: save the ${id} chart`,
      defaultUri: this.uri.with({ path: `${base}.${id}.${format}` }),
      filters: format === 'svg' ? { 'SVG image': ['svg'] } : { 'PNG image': ['png'] },
    });
    if (!target) return;
    try {
      await vscode.workspace.fs.writeFile(target, decodeExport(data, format));
      this.state.output.appendLine(`chart ${id} of ${this.uri.fsPath} saved to ${target.fsPath}`);
      void vscode.window.showInformationMessage(`Attention Paths: chart saved to ${path.basename(target.path)}`);
    } catch (e) {
      void vscode.window.showErrorMessage(`Attention Paths: the chart could not be saved: ${(e as Error).message}`);
    }
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

  /** Resolves with the next drawing (for tests that change the config and wait for the page). */
  waitForRender(): Promise<RenderInfo> {
    return this.nextRender();
  }

  private settle(r: RenderInfo | Error): void {
    const waiters = this.renderWaiters;
    this.renderWaiters = [];
    waiters.forEach((w) => w(r));
  }

  private post(content: ToPage): void {
    this.content = content;
    if (content.type === 'charts') this.banner = content.state.kind === 'current' ? '' : content.state.text;
    this.panel.title = `Theory charts: ${path.basename(this.uri.path)}`;
    if (this.ready) void this.panel.webview.postMessage(content);
  }

  private onMessage(m: FromPage): void {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        if (this.content) void this.panel.webview.postMessage(this.content);
        break;
      case 'rendered':
        this.state.output.appendLine(
          `charts of ${this.uri.fsPath}: ${m.charts} chart(s), ${m.marks} mark group(s) drawn at ${m.width} px${m.banner ? ` under "${m.banner}"` : ''}`,
        );
        this.lastRender = { charts: m.charts, marks: m.marks, perChart: m.perChart, banner: m.banner, width: m.width, config: this.uri.toString() };
        this.drawCount++;
        this.settle(this.lastRender);
        break;
      case 'renderError':
        this.state.output.appendLine(`charts of ${this.uri.fsPath} could not be drawn: ${m.message}`);
        this.settle(new Error(m.message));
        break;
      case 'exported': {
        const waiter = this.exportWaiters.get(m.request);
        this.exportWaiters.delete(m.request);
        if (waiter) waiter(m.data);
        else if (m.request === 0) void this.saveExport(m.id, m.format, m.data);
        break;
      }
      case 'command':
        break;
    }
  }
}

/** The bytes of an export message: SVG text as UTF-8, a PNG from its base64 data URL. @throws Error for a failed export */
function decodeExport(data: string, format: 'svg' | 'png'): Uint8Array {
  if (data.startsWith('error: ')) throw new Error(data.slice(7));
  if (format === 'svg') return new TextEncoder().encode(data);
  const comma = data.indexOf(',');
  return Uint8Array.from(Buffer.from(data.slice(comma + 1), 'base64'));
}
