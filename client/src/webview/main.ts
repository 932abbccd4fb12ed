/**
 * The script of every Attention Paths webview (bundled to media/webview.js for the browser; no Node, no vscode
 * module). It receives content from the extension (messages.ts) and draws it:
 * - `charts`: the theory charts (chartsPage.ts), the CLI's own Vega-Lite specs in the editor's colours;
 * - `model`: what an `.onnx` file holds (modelPage.ts);
 * - `arrays`: what an `.npz` / `.npy` file holds (arraysPage.ts).
 */
import type { ToPage } from './messages';
import { answerExport, drawCharts, showState, watchChartsPage } from './chartsPage';
import { drawModel } from './modelPage';
import { drawArrays } from './arraysPage';
import { el, post, root } from './page';

window.addEventListener('message', (ev: MessageEvent<ToPage>) => {
  const msg = ev.data;
  try {
    if (msg.type === 'charts') {
      drawCharts(msg).catch((e: Error) => {
        root.append(el('p', `Could not draw the charts: ${e.message}`, 'error'));
        post({ type: 'renderError', message: e.message });
      });
    } else if (msg.type === 'state') showState(msg);
    else if (msg.type === 'export') answerExport(msg);
    else if (msg.type === 'model') drawModel(msg);
    else if (msg.type === 'arrays') drawArrays(msg);
    else if (msg.type === 'error') root.replaceChildren(el('p', msg.message, 'error'));
  } catch (e) {
    post({ type: 'renderError', message: (e as Error).message });
  }
});
if (document.body.dataset.view === 'charts') watchChartsPage();
post({ type: 'ready' });
