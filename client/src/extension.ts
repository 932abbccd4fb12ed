/**
 * The Attention Paths extension: starts the language server (dist/server.js, over IPC), registers the
 * commands, the chart webviews and the read-only `.onnx` editor. The only place besides commands.ts and
 * panels/ that uses the `vscode` API; everything about the theory happens in the server.
 */
import * as vscode from 'vscode';
import { State, TransportKind, type LanguageClient, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import {
  CLIENT_ID,
  CONFIG_GLOBS,
  Commands,
  ModelChangedNotification,
  ResultsNotification,
  TrustGrantedNotification,
  type ModelChangedParams,
  type ResultsParams,
} from '../../shared/protocol';
import { registerCommands } from './commands';
import type { ExtensionState } from './ctx';
import { OnnxEditorProvider } from './panels/onnxEditor';
import { ArraysEditorProvider } from './panels/arraysEditor';
import { ChartsPanel } from './panels/charts';
import { ProgressClient } from './progress';

let client: LanguageClient | undefined;

/**
 * Starts the language client (the server runs in its own Node process over IPC) and registers commands and
 * editors. Returns the shared state, which the in-editor tests use to send protocol requests directly.
 * A server that fails to start is reported with a "Show Output" action; the commands then fail with it.
 */
export async function activate(context: vscode.ExtensionContext): Promise<ExtensionState> {
  const output = vscode.window.createOutputChannel('Attention Paths');
  const serverModule = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module: serverModule, transport: TransportKind.ipc },
    debug: { module: serverModule, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6009'] } },
  };
  const watchers = [
    vscode.workspace.createFileSystemWatcher('**/*.{onnx,npz,npy}'),
    vscode.workspace.createFileSystemWatcher('**/*.{attention.yaml,attention.yml,attention.json}'),
    vscode.workspace.createFileSystemWatcher('**/attention-paths.{yaml,yml,json}'),
    // Data and attention-parameter files may also be JSON; the server ignores files no config reads.
    vscode.workspace.createFileSystemWatcher('**/*.json'),
  ];
  context.subscriptions.push(...watchers);
  const clientOptions: LanguageClientOptions = {
    documentSelector: [...CONFIG_GLOBS.map((pattern) => ({ scheme: 'file', pattern })), { scheme: 'file', language: 'python' }],
    synchronize: { fileEvents: watchers, configurationSection: 'attentionPaths' },
    outputChannel: output,
    // The server keeps the latest reports here, so that after a restart it restores diagnostics, charts and the
    // model view's relevance without analysing again.
    initializationOptions: { trusted: vscode.workspace.isTrusted, storageDir: (context.storageUri ?? context.globalStorageUri).fsPath },
    // Hovers and inlay-hint tooltips link to docs/theory.md through this one command; no other command runs from them.
    markdown: { isTrusted: { enabledCommands: [Commands.openTheory] } },
    middleware: {
      // LSP 3.17 commands carry no tooltip: the server puts a lens's details in `data.tooltip`.
      provideCodeLenses: async (document, token, next) => {
        const lenses = await next(document, token);
        for (const lens of lenses ?? []) {
          const tip = (lens as vscode.CodeLens & { data?: { tooltip?: unknown } }).data?.tooltip;
          if (lens.command && typeof tip === 'string') lens.command.tooltip = tip;
        }
        return lenses;
      },
    },
  };
  client = new ProgressClient(CLIENT_ID, 'Attention Paths', serverOptions, clientOptions);

  const results = new vscode.EventEmitter<ResultsParams>();
  const modelChanged = new vscode.EventEmitter<ModelChangedParams>();
  const restarted = new vscode.EventEmitter<void>();
  context.subscriptions.push(results, modelChanged, restarted);
  const state: ExtensionState = {
    context,
    client,
    output,
    onResults: results.event,
    onModelChanged: modelChanged.event,
    onServerRestarted: restarted.event,
    chartDrawings: (uri) => ChartsPanel.drawings(uri),
    chartsPanel: () => ChartsPanel.open,
  };
  let starts = 0;
  context.subscriptions.push(
    client.onDidChangeState((e) => {
      if (e.newState === State.Running && ++starts > 1) restarted.fire();
    }),
  );

  registerCommands(state);
  context.subscriptions.push(
    OnnxEditorProvider.register(state),
    ArraysEditorProvider.register(state),
    vscode.workspace.onDidGrantWorkspaceTrust(() => void client?.sendNotification(TrustGrantedNotification)),
  );

  try {
    await client.start();
  } catch (e) {
    const msg = `Attention Paths: the language server did not start: ${(e as Error).message}`;
    output.appendLine(msg);
    void vscode.window.showErrorMessage(msg, 'Show Output').then((a) => a && output.show(true));
    return state;
  }
  context.subscriptions.push(
    client.onNotification(ResultsNotification, (p: ResultsParams) => results.fire(p)),
    client.onNotification(ModelChangedNotification, (p: ModelChangedParams) => modelChanged.fire(p)),
  );
  return state;
}

/** Stops the language server (which stops its job processes). */
export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
