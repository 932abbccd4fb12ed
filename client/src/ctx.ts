/**
 * What the extension's parts share (the extension context, the language client, the output channel and the
 * events the server sends). Its own module so that commands.ts and panels/ depend on it, not on extension.ts,
 * which imports them: no import circle.
 */
import type * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { ModelChangedParams, ResultsParams } from '../../shared/protocol';
import type { RenderInfo } from './webview/messages';

/** What commands and panels share: the client, the output channel and the events the server sends. */
export interface ExtensionState {
  context: vscode.ExtensionContext;
  client: LanguageClient;
  output: vscode.OutputChannel;
  onResults: vscode.Event<ResultsParams>;
  onModelChanged: vscode.Event<ModelChangedParams>;
  /** The server is running again after a restart (crash or command): views re-request what they show. */
  onServerRestarted: vscode.Event<void>;
  /** How often the charts panel of a config has drawn, and its last drawing (for the in-editor tests); undefined without a panel. */
  chartDrawings(uri: vscode.Uri): { count: number; info?: RenderInfo } | undefined;
  /** The open charts panel (for the in-editor tests, which bundle their own copy of the client's modules). */
  chartsPanel(): ChartsView | undefined;
}

/** What the in-editor tests read of the open charts panel (panels/charts.ts `ChartsPanel` implements it). */
export interface ChartsView {
  /** The banner over the charts ('' when they are current). */
  readonly banner: string;
  /** The page's report of its last drawing. */
  readonly lastRender: RenderInfo | undefined;
}
