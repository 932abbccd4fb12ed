/**
 * The HTML shell of every webview: a strict content security policy (nothing remote; scripts only with
 * this page's nonce; styles and fonts only from the extension's media folder), the bundled page script
 * media/webview.js and the stylesheet media/webview.css, which takes its colours from VS Code's theme
 * variables.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

/** Webview options: scripts on, and local files only from media/. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions & vscode.WebviewPanelOptions {
  return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media')], retainContextWhenHidden: false };
}

/**
 * The page. `img-src data:` lets vega-embed show nothing remote but inline images; there is no
 * 'unsafe-eval': charts use vega's expression interpreter instead of compiled expressions.
 * @param kind which view the page script builds ('charts', 'model' or 'arrays'), set as a body attribute
 */
export function pageHtml(webview: vscode.Webview, extensionUri: vscode.Uri, title: string, kind: 'charts' | 'model' | 'arrays'): string {
  const nonce = randomBytes(16).toString('base64');
  const media = (f: string) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', f)).toString();
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${media('webview.css')}" nonce="${nonce}">
<title>${esc(title)}</title>
</head>
<body data-view="${kind}">
<main id="root"><p class="muted">Loading…</p></main>
<script nonce="${nonce}" src="${media('webview.js')}"></script>
</body>
</html>`;
}
