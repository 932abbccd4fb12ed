/**
 * A read-only custom editor for `.npz` and `.npy` files: keys, dtype, shape, min/max/mean, the label balance of
 * label-like arrays and a preview (the language server reads the file off its main thread; data/summary.ts). It
 * reloads when the file changes on disk.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { InspectArraysRequest } from '../../../shared/protocol';
import type { ExtensionState } from '../ctx';
import type { FromPage, ToPage } from '../webview/messages';
import { pageHtml, webviewOptions } from './html';

export class ArraysEditorProvider implements vscode.CustomReadonlyEditorProvider {
  static readonly viewType = 'attentionPaths.arrays';

  /** Registers the editor for `*.npz` and `*.npy` (package.json `customEditors`). */
  static register(state: ExtensionState): vscode.Disposable {
    return vscode.window.registerCustomEditorProvider(ArraysEditorProvider.viewType, new ArraysEditorProvider(state), {
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
    panel.webview.html = pageHtml(panel.webview, this.state.context.extensionUri, title, 'arrays');
    let ready = false;
    let content: ToPage | undefined;
    const post = (c: ToPage) => {
      content = c;
      if (ready) void panel.webview.postMessage(c);
    };
    const load = async () => {
      try {
        const arrays = await this.state.client.sendRequest(InspectArraysRequest, { uri: uri.toString() });
        post({ type: 'arrays', title, arrays });
      } catch (e) {
        this.state.output.appendLine(`${uri.fsPath}: ${(e as Error).message}`);
        post({ type: 'error', message: (e as Error).message });
      }
    };
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.joinPath(uri, '..'), path.basename(uri.path)));
    const subs = [
      watcher,
      watcher.onDidChange(() => void load()),
      watcher.onDidCreate(() => void load()),
      panel.webview.onDidReceiveMessage((m: FromPage) => {
        if (m.type === 'ready') {
          ready = true;
          if (content) void panel.webview.postMessage(content);
        } else if (m.type === 'renderError') this.state.output.appendLine(`${uri.fsPath}: the array view failed: ${m.message}`);
      }),
    ];
    panel.onDidDispose(() => subs.forEach((s) => s.dispose()));
    void load();
  }
}
