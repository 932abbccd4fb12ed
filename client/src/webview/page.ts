/** What every webview page shares: the VS Code API handle, the root element, and safe element creation. */
import type { FromPage } from './messages';

declare function acquireVsCodeApi(): { postMessage(m: FromPage): void };
const vscode = acquireVsCodeApi();

/** Posts a message to the extension. */
export function post(m: FromPage): void {
  vscode.postMessage(m);
}

export const root = document.getElementById('root')!;

/** Creates an element with text (never HTML: every string shown comes from files the user opened). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
