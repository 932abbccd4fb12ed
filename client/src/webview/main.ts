/**
 * The script of every Attention Paths webview (bundled to media/webview.js for the browser; no Node, no
 * vscode module). It receives content from the extension (messages.ts) and draws it:
 * - `charts`: the Vega-Lite specs of server/src/report/charts.ts — the CLI's own builders (U₁ heatmap, head
 *   relevance, accuracy with each head removed, kernel-PC overlap with the labels, width sweep) — with the
 *   colours and font of the VS Code theme, rendered as SVG by vega-embed. Vega's expression interpreter is
 *   used so the page needs no 'unsafe-eval', and the loader refuses every URL (specs carry their data).
 * - `model`: what an `.onnx` file holds: header, attention blocks, heads with relevance bars.
 */
import embed from 'vega-embed';
import { expressionInterpreter } from 'vega-interpreter';
import { headRemovalSpec, headScoresSpec, pcOverlapSpec, sweepSpec, u1HeatmapSpec } from '../../../server/src/report/charts';
import type { ChartTheme, VegaLiteSpec } from '../../../server/src/report/theme';
import type { InspectModelResult } from '../../../server/src/protocol';
import type { FromPage, ToPage } from './messages';

declare function acquireVsCodeApi(): { postMessage(m: FromPage): void };
const vscode = acquireVsCodeApi();
const root = document.getElementById('root')!;

/** The editor theme's colours and font, from the CSS variables VS Code sets on the page. */
function themeFromCss(): ChartTheme {
  const css = getComputedStyle(document.body);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return {
    foreground: v('--vscode-editor-foreground', css.color),
    background: v('--vscode-editor-background', css.backgroundColor),
    fontFamily: v('--vscode-font-family', css.fontFamily),
  };
}

/** Creates an element with text (never HTML: every string shown comes from files the user opened). */
function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/** A loader that refuses every request: nothing remote or local may be fetched by a chart. */
const refusingLoader = {
  load: async (uri: string) => {
    throw new Error(`charts load no URLs (asked for ${uri})`);
  },
  sanitize: async (uri: string) => {
    throw new Error(`charts load no URLs (asked for ${uri})`);
  },
  http: async () => '',
  file: async () => '',
};

async function drawCharts(msg: Extract<ToPage, { type: 'charts' }>): Promise<void> {
  const theme = themeFromCss();
  const specs: Array<[string, VegaLiteSpec]> = [
    ['u1-heatmap', u1HeatmapSpec(msg.report, theme)],
    ['head-scores', headScoresSpec(msg.report, theme)],
    ['head-removal', headRemovalSpec(msg.report, theme)],
  ];
  // Reports cached from before the kernel-PC overlap existed have none: that chart is left out, not faked.
  if (msg.report.kernel_pc_overlap) specs.push(['pc-overlap', pcOverlapSpec(msg.report, theme)]);
  if (msg.sweep) specs.push(['sweep', sweepSpec(msg.sweep, theme)]);
  root.replaceChildren();
  const r = msg.report;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  root.append(
    el('h1', `Theory charts: ${msg.title}`),
    el(
      'p',
      `${r.task.name}: P = ${r.task.P}, P_test = ${r.task.P_test}; predicted test accuracy ${pct(r.metrics.acc_mean_predictor)} ` +
        `(GP limit ${pct(r.gp.metrics.acc_mean_predictor)}), ε_g ${r.metrics.eg_total.toPrecision(4)} (GP limit ${r.gp.metrics.eg_total.toPrecision(4)}).`,
      'muted',
    ),
  );
  if (!msg.sweep) root.append(el('p', 'Run "Attention Paths: Sweep Width" for accuracy and ε_g against the width N.', 'muted'));
  let marks = 0;
  const perChart: Record<string, { groups: number; items: number }> = {};
  for (const [id, spec] of specs) {
    const box = el('section', undefined, 'chart');
    box.id = id;
    root.append(box);
    await embed(box, spec as Parameters<typeof embed>[1], {
      renderer: 'svg',
      actions: false,
      ast: true,
      expr: expressionInterpreter,
      defaultStyle: false,
      tooltip: { disableDefaultStyle: true },
      loader: refusingLoader as never,
    });
    const groups = box.querySelectorAll('svg g.role-mark');
    // Mark items (one path per symbol, rect or line; a <line> per rule) are the groups' element children.
    perChart[id] = { groups: groups.length, items: Array.from(groups).reduce((n, g) => n + g.childElementCount, 0) };
    marks += groups.length;
  }
  vscode.postMessage({ type: 'rendered', charts: specs.length, marks, perChart });
}

function drawModel(msg: Extract<ToPage, { type: 'model' }>): void {
  const m: InspectModelResult = msg.model;
  root.replaceChildren(el('h1', msg.title));
  const kb = (n: number) => (n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`);
  root.append(el('p', `${kb(m.bytes)}, modified ${new Date(m.modified).toLocaleString()}`, 'muted'));
  if (!m.summary) {
    root.append(el('p', `Could not read the model: ${m.error ?? 'unknown reason'}`, 'error'));
    return;
  }
  const s = m.summary;
  const opsets = Object.entries(s.opsets)
    .map(([d, v]) => `${d} ${v}`)
    .join(', ');
  root.append(el('p', `ONNX IR ${s.irVersion}, opsets ${opsets}${s.producer ? `, producer ${s.producer} ${s.producerVersion}` : ''}; ${s.nodeCount} nodes, ${s.initializerCount} initializers.`));
  const io = el('ul');
  for (const i of s.inputs) io.append(el('li', `input ${i.name}: ${i.type} [${(i.shape ?? []).map((d) => d ?? '?').join(', ')}]`));
  for (const o of s.outputs) io.append(el('li', `output ${o.name}: ${o.type} [${(o.shape ?? []).map((d) => d ?? '?').join(', ')}]`));
  root.append(io);
  root.append(el('h2', 'Attention blocks'), el('p', s.attention.summary, 'muted'));
  if (m.heads.some((h) => h.original) && s.headMap) {
    root.append(el('p', `Pruned from ${s.headMap.source} (heads per layer [${s.headMap.originalHeads.join(', ')}]); renamed heads show their original layer:head.`, 'muted'));
  }
  for (const b of s.attention.blocks) {
    const sec = el('section', undefined, 'block');
    sec.append(
      el('h3', `Block ${b.index}: ${b.form}`),
      el('p', `${b.queryHeads ?? '?'} heads, head size ${b.headSizeQK ?? '?'}, hidden ${b.hiddenSize ?? '?'}${b.causal ? ', causal' : ''}; detection confidence ${b.confidence}`, 'muted'),
    );
    const list = el('div', undefined, 'heads');
    for (const h of m.heads.filter((x) => x.layer === b.index)) {
      const row = el('div', undefined, 'head');
      row.append(el('span', h.original ? `head ${h.head} (was ${h.original.layer}:${h.original.head})` : `head ${h.head}`, 'label'));
      const bar = el('span', undefined, 'bar');
      const fill = el('span', undefined, 'fill');
      // Width through CSSOM (allowed by the CSP), not an inline style attribute.
      fill.style.width = h.score === undefined ? '0' : `${Math.round(100 * h.score)}%`;
      bar.append(fill);
      row.append(bar, el('span', h.score === undefined ? 'relevance —' : `relevance ${h.score.toFixed(3)} (#${h.rank})`, 'value'));
      list.append(row);
    }
    sec.append(list);
    root.append(sec);
  }
  root.append(el('p', m.analysisNote, 'muted note'));
  const actions = el('p', undefined, 'actions');
  const action = (text: string, command: 'showCharts' | 'analyze' | 'createModelConfig', target: { uri?: string; path?: string }, button = false) => {
    const a = button ? el('button', text) : el('a', text);
    if (a instanceof HTMLAnchorElement) a.href = '#';
    a.dataset.command = command;
    a.addEventListener('click', (e) => {
      e.preventDefault();
      if (a instanceof HTMLButtonElement) a.disabled = true; // one config per click
      vscode.postMessage({ type: 'command', command, ...target });
    });
    actions.append(a);
  };
  const base = (p: string) => p.replace(/^.*[\\/]/, '');
  if (m.analysisConfig) action('Show theory charts', 'showCharts', { path: m.analysisConfig });
  else if (m.configs.length) for (const c of m.configs) action(`Analyze ${base(c)}`, 'analyze', { path: c }, true);
  else if (m.createConfig) action(`Create ${base(m.createConfig.config)} and analyze`, 'createModelConfig', { uri: m.uri }, true);
  if (actions.childElementCount) root.append(actions);
}

window.addEventListener('message', (ev: MessageEvent<ToPage>) => {
  const msg = ev.data;
  try {
    if (msg.type === 'charts') {
      drawCharts(msg).catch((e: Error) => {
        root.append(el('p', `Could not draw the charts: ${e.message}`, 'error'));
        vscode.postMessage({ type: 'renderError', message: e.message });
      });
    } else if (msg.type === 'model') drawModel(msg);
    else if (msg.type === 'error') root.replaceChildren(el('p', msg.message, 'error'));
  } catch (e) {
    vscode.postMessage({ type: 'renderError', message: (e as Error).message });
  }
});
vscode.postMessage({ type: 'ready' });
