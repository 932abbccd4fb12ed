/**
 * A read-only custom editor for `.onnx` files: the model's header, its attention blocks (as the server's
 * ONNX reader detects them) and their heads, with relevance bars when an analysis of the model exists, and
 * links to the charts. Without an analysis it says how to get one: a button that analyses a config naming the
 * model, or — when labelled data sits beside the model — one that creates such a config and analyses it. The file is read by the language server (off its main thread); it reloads when the
 * file changes on disk.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Commands, InspectModelRequest } from '../../../shared/protocol';
import type { ExtensionState } from '../ctx';
import type { FromPage, ToPage } from '../webview/messages';
import { pageHtml, webviewOptions } from './html';

export class OnnxEditorProvider implements vscode.CustomReadonlyEditorProvider {
  static readonly viewType = 'attentionPaths.onnxModel';

  /** Registers the editor for `*.onnx` (package.json `customEditors`, view type `attentionPaths.onnxModel`). */
  static register(state: ExtensionState): vscode.Disposable {
    return vscode.window.registerCustomEditorProvider(OnnxEditorProvider.viewType, new OnnxEditorProvider(state), {
      supportsMultipleEditorsPerDocument: true,
    });
  }

  private constructor(private readonly state: ExtensionState) {}

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): void {
    const { uri } = document;
    const title = path.basename(uri.path);
    panel.webview.options = webviewOptions(this.state.context.extensionUri);
    panel.webview.html = pageHtml(panel.webview, this.state.context.extensionUri, title, 'model');
    let ready = false;
    let content: ToPage | undefined;
    const post = (c: ToPage) => {
      content = c;
      if (ready) void panel.webview.postMessage(c);
    };
    const load = async () => {
      try {
        const model = await this.state.client.sendRequest(InspectModelRequest, { uri: uri.toString() });
        post({ type: 'model', title, model });
      } catch (e) {
        this.state.output.appendLine(`${uri.fsPath}: ${(e as Error).message}`);
        post({ type: 'error', message: (e as Error).message });
      }
    };
    const subs = [
      panel.webview.onDidReceiveMessage((m: FromPage) => {
        if (m.type === 'ready') {
          ready = true;
          if (content) void panel.webview.postMessage(content);
        } else if (m.type === 'command') {
          if (m.command === 'createModelConfig') void vscode.commands.executeCommand(Commands.createModelConfig, uri);
          else
            void vscode.commands.executeCommand(
              m.command === 'showCharts' ? Commands.showCharts : Commands.analyze,
              m.path ? vscode.Uri.file(m.path) : undefined,
            );
        } else if (m.type === 'renderError') {
          this.state.output.appendLine(`${uri.fsPath}: the model view failed: ${m.message}`);
        }
      }),
      this.state.onModelChanged((c) => {
        if (c.uri === uri.toString()) void load();
      }),
      // After a server restart: ask again (the server restores the analyses it had, so the relevance bars return).
      this.state.onServerRestarted(() => void load()),
      // A config's analysis finished or failed: it may be this model's (relevance bars, the note and its buttons).
      this.state.onResults((r) => {
        if (r.state === 'done' || r.state === 'error') void load();
      }),
    ];
    panel.onDidDispose(() => subs.forEach((s) => s.dispose()));
    void load();
  }
}
