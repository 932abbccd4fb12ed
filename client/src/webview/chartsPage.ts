/**
 * The charts page of the webview: the Vega-Lite specs of shared/charts.ts — the CLI's own builders (U₁
 * heatmap, head relevance, accuracy with each head removed, kernel-PC overlap, attention maps, width sweep) — in
 * the VS Code theme's colours, rendered as SVG by vega-embed, under a banner that says how current they are.
 * Single charts take the panel's width (Vega `width: "container"`); composite ones (attention maps, sweep) are
 * sized from it; both are redrawn when the panel is resized or the theme changes. Each chart has SVG and PNG export
 * buttons; the attention maps have a picker of the kept test examples.
 */
import embed from 'vega-embed';
import { expressionInterpreter } from 'vega-interpreter';
import { attentionMapsSpec, headRemovalSpec, headScoresSpec, pcOverlapSpec, sweepSpec, u1HeatmapSpec } from '../../../shared/charts';
import type { ChartTheme, VegaLiteSpec } from '../../../shared/theme';
import type { FromPage, ToPage } from './messages';
import { el, post, root } from './page';

type ChartsMsg = Extract<ToPage, { type: 'charts' }>;
type View = Awaited<ReturnType<typeof embed>>['view'];

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

let last: ChartsMsg | undefined;
let example = 0;
let drawnWidth = 0;
const views = new Map<string, View>();

/** Width available to a chart, in CSS pixels. */
function availableWidth(): number {
  return Math.max(280, root.clientWidth - 8);
}

/** A single-view spec made to fill its container's width; composite specs are sized by their builders. */
function fitWidth(spec: VegaLiteSpec): VegaLiteSpec {
  if (spec.vconcat || spec.hconcat || spec.facet || spec.concat) return spec;
  if (typeof spec.width === 'object') return spec; // a width per step (heatmap cells) keeps its cells square
  return { ...spec, width: 'container', autosize: { type: 'fit-x', contains: 'padding' } };
}

function specs(msg: ChartsMsg, width: number): Array<[string, VegaLiteSpec]> {
  const r = msg.report!;
  const theme = themeFromCss();
  const out: Array<[string, VegaLiteSpec]> = [
    ['u1-heatmap', u1HeatmapSpec(r, theme)],
    ['head-scores', fitWidth(headScoresSpec(r, theme))],
    ['head-removal', fitWidth(headRemovalSpec(r, theme))],
  ];
  if (r.kernel_pc_overlap) out.push(['pc-overlap', fitWidth(pcOverlapSpec(r, theme))]);
  if (r.attention_maps)
    out.push(['attention-maps', attentionMapsSpec(r, theme, { example: Math.min(example, Math.max(0, r.attention_maps.examples.length - 1)), width })]);
  if (msg.sweep) {
    const s = sweepSpec(msg.sweep, theme) as { vconcat: Array<{ width: number }> };
    for (const p of s.vconcat) p.width = Math.max(200, Math.min(900, width - 140));
    out.push(['sweep', s as VegaLiteSpec]);
  }
  return out;
}

/** The banner over the charts (hidden when they are current). */
function banner(state: ChartsMsg['state']): HTMLElement {
  const b = el('div', state.text, `banner banner-${state.kind}`);
  b.id = 'state-banner';
  b.setAttribute('role', 'status');
  if (state.kind === 'current') b.hidden = true;
  return b;
}

async function exportChart(id: string, format: 'svg' | 'png', request: number): Promise<void> {
  const view = views.get(id);
  if (!view) throw new Error(`no chart ${id} is drawn`);
  const data = format === 'svg' ? await view.toSVG() : await view.toImageURL('png', 2);
  post({ type: 'exported', id, format, data, request });
}

function toolbar(id: string, msg: ChartsMsg): HTMLElement {
  const bar = el('div', undefined, 'toolbar');
  if (id === 'attention-maps' && msg.report?.attention_maps && msg.report.attention_maps.examples.length > 1) {
    const a = msg.report.attention_maps;
    const label = el('label', 'Example ');
    const select = el('select');
    select.id = 'attention-example';
    a.examples.forEach((p, k) => {
      const o = el('option', `test example ${p} (label ${a.labels[k] > 0 ? '+1' : a.labels[k] < 0 ? '−1' : String(a.labels[k])})`);
      o.value = String(k);
      if (k === example) o.selected = true;
      select.append(o);
    });
    select.addEventListener('change', () => {
      example = Number(select.value);
      void redraw();
    });
    label.append(select);
    bar.append(label);
  }
  for (const format of ['svg', 'png'] as const) {
    const b = el('button', `Export ${format.toUpperCase()}`);
    b.dataset.export = format;
    b.title = `Save this chart as ${format.toUpperCase()}`;
    b.addEventListener('click', () => void exportChart(id, format, 0).catch((e: Error) => post({ type: 'renderError', message: e.message })));
    bar.append(b);
  }
  return bar;
}

/** Draws (or redraws) the charts of `msg`; reports what was drawn. */
export async function drawCharts(msg: ChartsMsg): Promise<void> {
  last = msg;
  const width = availableWidth();
  drawnWidth = width;
  views.forEach((v) => v.finalize());
  views.clear();
  root.replaceChildren(banner(msg.state), el('h1', `Theory charts: ${msg.title}`));
  const r = msg.report;
  if (!r) {
    post({ type: 'rendered', charts: 0, marks: 0, perChart: {}, banner: msg.state.text, width });
    return;
  }
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  root.append(
    el(
      'p',
      `${r.task.name}: P = ${r.task.P}, P_test = ${r.task.P_test}; predicted test accuracy ${pct(r.metrics.acc_mean_predictor)} ` +
        `(GP limit ${pct(r.gp.metrics.acc_mean_predictor)}), ε_g ${r.metrics.eg_total.toPrecision(4)} (GP limit ${r.gp.metrics.eg_total.toPrecision(4)}).`,
      'muted',
    ),
  );
  if (!msg.sweep) root.append(el('p', 'Run "Attention Paths: Sweep Width" for accuracy and ε_g against the width N.', 'muted'));
  const list = specs(msg, width);
  let marks = 0;
  const perChart: Record<string, { groups: number; items: number }> = {};
  for (const [id, spec] of list) {
    const box = el('section', undefined, 'chart');
    box.id = id;
    const target = el('div', undefined, 'chart-body');
    box.append(toolbar(id, msg), target);
    root.append(box);
    const result = await embed(target, spec as Parameters<typeof embed>[1], {
      renderer: 'svg',
      actions: false,
      ast: true,
      expr: expressionInterpreter,
      defaultStyle: false,
      tooltip: { disableDefaultStyle: true },
      loader: refusingLoader as never,
    });
    views.set(id, result.view);
    const groups = target.querySelectorAll('svg g.role-mark');
    // Mark items (one path per symbol, rect or line; a <line> per rule) are the groups' element children.
    perChart[id] = { groups: groups.length, items: Array.from(groups).reduce((n, g) => n + g.childElementCount, 0) };
    marks += groups.length;
  }
  post({ type: 'rendered', charts: list.length, marks, perChart, banner: msg.state.kind === 'current' ? '' : msg.state.text, width });
}

/** Redraws the last charts (theme change, resize, another example). */
async function redraw(): Promise<void> {
  if (last) await drawCharts(last).catch((e: Error) => post({ type: 'renderError', message: e.message }));
}

/** Only the banner changed. */
export function showState(msg: Extract<ToPage, { type: 'state' }>): void {
  if (last) last = { ...last, state: msg.state };
  const old = document.getElementById('state-banner');
  if (old) old.replaceWith(banner(msg.state));
  else root.prepend(banner(msg.state));
}

/** The extension asked for a chart's bytes. */
export function answerExport(msg: Extract<ToPage, { type: 'export' }>): void {
  exportChart(msg.id, msg.format, msg.request).catch((e: Error) =>
    post({ type: 'exported', id: msg.id, format: msg.format, data: `error: ${e.message}`, request: msg.request } as FromPage),
  );
}

/** Theme changes (VS Code swaps the body's classes) and resizes redraw the charts. */
export function watchChartsPage(): void {
  new MutationObserver(() => void redraw()).observe(document.body, { attributes: true, attributeFilter: ['class'] });
  let timer: ReturnType<typeof setTimeout> | undefined;
  new ResizeObserver(() => {
    if (!last || Math.abs(availableWidth() - drawnWidth) < 40) return;
    clearTimeout(timer);
    timer = setTimeout(() => void redraw(), 200);
  }).observe(root);
}
