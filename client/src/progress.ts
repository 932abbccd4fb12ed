/**
 * The language server's own work-done progress (automatic analyses started by an edit, opening a config, or a
 * restart) with a Cancel button. vscode-languageclient shows server-created progress in the status bar, where
 * VS Code draws no Cancel; this handler of `window/workDoneProgress/create` shows it there too, and — when the work
 * is still running after a second — as a notification with Cancel, which sends `window/workDoneProgress/cancel`
 * (the server then kills the analysis's process). Short analyses never pop up a notification.
 */
import * as vscode from 'vscode';
import {
  WorkDoneProgress,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressCreateRequest,
  LanguageClient,
  type ProgressToken,
  type WorkDoneProgressBegin,
  type WorkDoneProgressReport,
} from 'vscode-languageclient/node';

/** How long a cancellable progress stays in the status bar before it becomes a notification with Cancel. */
const NOTIFY_AFTER_MS = 1000;

/** Shows one server-created progress token until its `end` (or until the server goes away). */
function follow(client: LanguageClient, token: ProgressToken): void {
  let ended = false;
  let title = 'Attention Paths';
  let cancellable = false;
  let message: string | undefined;
  let percent = 0;
  let endWaiter: (() => void) | undefined;
  const listeners: Array<(m: string | undefined, increment: number) => void> = [];
  const end = new Promise<void>((r) => (endWaiter = r));
  const sub = client.onProgress(WorkDoneProgress.type, token, (v) => {
    if (v.kind === 'end') {
      ended = true;
      sub.dispose();
      endWaiter?.();
      return;
    }
    const p = v as WorkDoneProgressBegin | WorkDoneProgressReport;
    if (v.kind === 'begin') {
      title = (v as WorkDoneProgressBegin).title;
      cancellable = !!(v as WorkDoneProgressBegin).cancellable;
      show(vscode.ProgressLocation.Window);
      if (cancellable) setTimeout(() => !ended && show(vscode.ProgressLocation.Notification), NOTIFY_AFTER_MS);
    }
    const next = p.percentage ?? percent;
    const inc = Math.max(0, next - percent);
    percent = Math.max(percent, next);
    message = p.message ?? message;
    for (const l of listeners) l(message, inc);
  });
  const stopped = client.onDidChangeState(() => endWaiter?.()); // a restart ends every old progress
  void end.then(() => stopped.dispose());

  function show(location: vscode.ProgressLocation): void {
    void vscode.window.withProgress({ location, title, cancellable: cancellable && location === vscode.ProgressLocation.Notification }, (progress, cancel) => {
      progress.report({ message, increment: percent });
      const listener = (m: string | undefined, increment: number) => progress.report({ message: m, increment });
      listeners.push(listener);
      cancel.onCancellationRequested(() => void client.sendNotification(WorkDoneProgressCancelNotification.type, { token }));
      return end.then(() => listeners.splice(listeners.indexOf(listener), 1));
    });
  }
}

/**
 * The language client whose handler of `window/workDoneProgress/create` is this module's: the library installs its
 * own (status bar only) each time the client starts, through `onRequest`, which this class redirects — so every
 * start and restart gets the same behaviour, with no race against the server's first progress.
 */
export class ProgressClient extends LanguageClient {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override onRequest(type: any, handler: any): vscode.Disposable {
    const method = typeof type === 'string' ? type : (type as { method: string }).method;
    if (method === WorkDoneProgressCreateRequest.method) {
      return super.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
        follow(this, token);
        return null;
      });
    }
    return super.onRequest(type, handler);
  }
}
