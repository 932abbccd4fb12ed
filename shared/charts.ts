/**
 * Vega-Lite specs of the report's charts, built from `AnalysisReport` / `SweepReport` (shared/report.ts).
 * One definition serves the CLI's SVG files (`renderSvg`) and the webview (vega-embed).
 *
 * Every spec is plain JSON with its data inlined as `values` (no URLs), so it can be serialized, sent
 * to a webview and rendered offline. Colours are only set when a `ChartTheme` is given.
 */
import type { AnalysisReport, HeadRemovalMeasured, MeasuredAgreement, SweepReport } from './report';
import { VEGA_LITE_SCHEMA, withTheme, type ChartTheme, type VegaLiteSpec } from './theme';
import { formatCorrelation, formatNumber, headList, headName, notConvergedNote, widthLabel } from './format';
import { measuredAgreement, PREDICTION_MEANS } from './agreement';

/** A chart title, with the not-converged note when the solve stopped short. */
function titleText(text: string, report: AnalysisReport): string {
  const note = notConvergedNote(report.solver);
  return note ? `${text} — ${note.toUpperCase()}` : text;
}

/** One cell of the U₁ heatmap: row path π, column path π′ (labels and flattened indices) and U₁[π, π′]. */
export interface U1Cell {
  row: string;
  column: string;
  i: number;
  j: number;
  value: number;
}

/**
 * The cells of U₁ (docs/theory.md §d: the path × path order parameter, `report.U[0]`), row-major,
 * labelled with `report.paths[i].label`. Labels that repeat are made unique as "index:label".
 * @throws Error when U₁ is missing or is not paths.length × paths.length
 */
export function u1Cells(report: AnalysisReport): U1Cell[] {
  const U1 = report.U[0];
  const n = report.paths.length;
  if (!U1 || U1.length !== n || U1.some((r) => r.length !== n)) {
    const shape = U1 ? `${U1.length} × ${U1[0]?.length ?? 0}` : 'missing';
    throw new Error(`u1HeatmapSpec: U_1 must be ${n} × ${n} (one row and column per path), got ${shape}`);
  }
  const labels = pathLabels(report);
  const cells: U1Cell[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) cells.push({ row: labels[i], column: labels[j], i, j, value: U1[i][j] });
  return cells;
}

/** Path labels in path order, made unique ("index:label") if any repeats. */
function pathLabels(report: AnalysisReport): string[] {
  const labels = report.paths.map((p) => p.label);
  return new Set(labels).size === labels.length ? labels : report.paths.map((p) => `${p.index}:${p.label}`);
}

/**
 * Heatmap of the order parameter U₁ (docs/theory.md §d; the paper's U): rows π and columns π′ are the
 * attention paths in flattened order (docs/theory.md §b), labelled by `report.paths[i].label`. Colour is
 * a diverging scale centred on 0 (domainMid 0) with the symmetric domain ±max|U₁| (as the paper's figures);
 * the tooltip shows both paths and the value.
 * Title: "Order parameter U₁ (N = …, T_B = …)".
 * @param report the analysis report (reads `U[0]`, `paths`, `settings.widths`, `settings.temperature`)
 * @param theme optional page colours (see `ChartTheme`)
 * @throws Error when U₁ is not paths × paths
 */
export function u1HeatmapSpec(report: AnalysisReport, theme?: ChartTheme): VegaLiteSpec {
  const values = u1Cells(report);
  const labels = pathLabels(report);
  const n = labels.length;
  const maxAbs = values.reduce((m, c) => Math.max(m, Math.abs(c.value)), 0) || 1;
  const step = Math.max(10, Math.min(48, Math.floor(480 / Math.max(1, n))));
  const longLabels = labels.some((l) => l.length > 3);
  return withTheme(
    {
      $schema: VEGA_LITE_SCHEMA,
      title: {
        text: titleText(
          `Order parameter U₁${windowTitle(report)} (${widthLabel(report.settings.widths)}, T_B = ${formatNumber(report.settings.temperature)})`,
          report,
        ),
        subtitle: 'paths π × π′ in flattened order; red > 0, blue < 0',
        anchor: 'start',
        offset: 10,
      },
      data: { values },
      width: { step },
      height: { step },
      mark: { type: 'rect' },
      encoding: {
        x: { field: 'column', type: 'nominal', sort: labels, title: 'path π′', axis: { labelAngle: longLabels ? -45 : 0 } },
        y: { field: 'row', type: 'nominal', sort: labels, title: 'path π' },
        color: {
          field: 'value',
          type: 'quantitative',
          title: 'U₁',
          scale: { scheme: 'redblue', reverse: true, domain: [-maxAbs, maxAbs], domainMid: 0 },
        },
        tooltip: [
          { field: 'row', type: 'nominal', title: 'path π' },
          { field: 'column', type: 'nominal', title: 'path π′' },
          { field: 'value', type: 'quantitative', title: 'U₁[π, π′]', format: '.4~g' },
        ],
      },
    },
    theme,
  );
}

/** " of window 0 (blocks 0–2)" for a windowed report (its top-level U₁ is the first window's), else "". */
function windowTitle(report: AnalysisReport): string {
  const w = report.windows?.[0];
  if (!w || report.windows!.length < 2) return w ? ` (blocks ${w.layers[0]}–${w.layers[1]})` : '';
  return ` of window 0 (blocks ${w.layers[0]}–${w.layers[1]})`;
}

/** One bar of the head chart: a head's relevance score and the predictions after silencing it. */
export interface HeadBar {
  layer: number;
  head: number;
  /** "L0·H1" (shared/format.ts), 0-based like the path labels. */
  label: string;
  /** Max-normalized relevance score in [0, 1] (docs/theory.md §g). */
  score: number;
  /** Predicted accuracy of the mean predictor with this head silenced (null when the report has none). */
  acc_silenced: number | null;
  /** Predicted ε_g with this head silenced (null when the report has none). */
  eg_silenced: number | null;
  /** Accuracy of the full model (for the drop); windowed reports: of the head's window. */
  acc_full: number;
  /** Windowed reports: the head's window. */
  window?: number;
}

/** The bars of `headScoresSpec`, sorted by score, highest first (ties keep the report's order). */
export function headBars(report: AnalysisReport): HeadBar[] {
  const bars: HeadBar[] = report.head_scores_ascending.map((s) => {
    const sil = report.head_silencing.find((h) => h.layer === s.layer && h.head === s.head);
    const w = s.window !== undefined ? report.windows?.[s.window] : undefined;
    return {
      layer: s.layer,
      head: s.head,
      label: headName(s.layer, s.head),
      score: s.score,
      acc_silenced: sil ? sil.acc_mean_predictor : null,
      eg_silenced: sil ? sil.eg_total : null,
      acc_full: w ? w.metrics.acc_mean_predictor : report.metrics.acc_mean_predictor,
      ...(s.window !== undefined ? { window: s.window } : {}),
    };
  });
  // Windowed reports: window by window (scores compare only within one).
  return bars
    .map((b, k) => ({ b, k }))
    .sort((x, y) => (x.b.window ?? 0) - (y.b.window ?? 0) || y.b.score - x.b.score || x.k - y.k)
    .map((x) => x.b);
}

/**
 * Subtitle of `headScoresSpec`: the accuracy is the theory's prediction (mean predictor at finite width), not a
 * measurement; a model config's measured full-model value (`head_removal_measured`) is given beside it.
 */
export function headScoresSubtitle(report: AnalysisReport): string {
  const acc = report.metrics.acc_mean_predictor;
  const ws = report.windows;
  let s =
    ws && ws.length > 1
      ? `layer and head 0-based; ${ws.length} layer windows, scores normalized within each; predicted accuracy (theory, ${widthLabel(report.settings.widths)}) by window ${ws.map((w) => w.metrics.acc_mean_predictor.toFixed(3)).join(', ')}`
      : `layer and head 0-based (as in the path labels); predicted accuracy (theory, ${widthLabel(report.settings.widths)}) ${Number.isFinite(acc) ? acc.toFixed(3) : String(acc)}`;
  const m = report.head_removal_measured;
  if (m) {
    const what = m.metric === 'accuracy' ? 'accuracy' : 'MSE';
    s += `; measured full-model ${what} ${m.full.toFixed(3)} (ONNX Runtime, ${m.count} test examples)`;
  }
  return s;
}

/**
 * Horizontal bars of the head relevance score (docs/theory.md §g: max-normalized union of the rows and
 * columns of |U₁| through the head), one bar per head labelled "L0·H1" with **0-based** layer and
 * head (the same numbering as the path labels and the report), sorted by score (most relevant on top),
 * coloured by layer. The tooltip gives the predicted accuracy and ε_g after silencing that head
 * (`report.head_silencing`: its paths zeroed in U₁, no re-optimization).
 * @param report the analysis report (reads `head_scores_ascending`, `head_silencing`, `metrics`)
 * @param theme optional page colours
 */
export function headScoresSpec(report: AnalysisReport, theme?: ChartTheme): VegaLiteSpec {
  const values = headBars(report);
  return withTheme(
    {
      $schema: VEGA_LITE_SCHEMA,
      title: {
        text: titleText('Head relevance score', report),
        subtitle: headScoresSubtitle(report),
        anchor: 'start',
        offset: 10,
      },
      data: { values },
      transform: [{ calculate: 'datum.acc_silenced === null ? null : datum.acc_silenced - datum.acc_full', as: 'acc_change' }],
      width: 360,
      height: { step: 22 },
      mark: { type: 'bar' },
      encoding: {
        y: { field: 'label', type: 'nominal', sort: values.map((v) => v.label), title: null },
        x: { field: 'score', type: 'quantitative', scale: { domain: [0, 1] }, title: 'relevance score (max-normalized)' },
        color: { field: 'layer', type: 'nominal', title: 'layer' },
        tooltip: [
          { field: 'label', type: 'nominal', title: 'head' },
          { field: 'score', type: 'quantitative', title: 'score', format: '.3f' },
          { field: 'acc_silenced', type: 'quantitative', title: 'predicted accuracy, head silenced', format: '.1%' },
          { field: 'acc_change', type: 'quantitative', title: 'change vs full model', format: '+.1%' },
          { field: 'eg_silenced', type: 'quantitative', title: 'predicted ε_g, head silenced', format: '.4~g' },
        ],
      },
    },
    theme,
  );
}

/** One point of the sweep chart. */
export interface SweepPoint {
  /** Width N (every layer and the readout). */
  N: number;
  /** Load α = P/N. */
  alpha: number;
  metric: 'accuracy' | 'eg';
  value: number;
  series: 'finite width';
  converged: boolean;
  iterations: number;
}

const SERIES = ['finite width', 'GP limit'];

/** The points of `sweepSpec`: two per row (accuracy of the mean predictor, ε_g), rows sorted by N. */
export function sweepPoints(sweep: SweepReport): SweepPoint[] {
  const rows = [...sweep.rows].sort((a, b) => a.N - b.N);
  const out: SweepPoint[] = [];
  for (const metric of ['accuracy', 'eg'] as const) {
    for (const r of rows) {
      out.push({
        N: r.N,
        alpha: r.alpha,
        metric,
        value: metric === 'accuracy' ? r.metrics.acc_mean_predictor : r.metrics.eg_total,
        series: 'finite width',
        converged: r.converged,
        iterations: r.iterations,
      });
    }
  }
  return out;
}

function sweepPanel(points: SweepPoint[], metric: 'accuracy' | 'eg', title: string, gpValue: number): VegaLiteSpec {
  const color = { field: 'series', type: 'nominal', title: null, scale: { domain: SERIES } };
  return {
    width: 380,
    height: 180,
    layer: [
      {
        data: { values: points.filter((p) => p.metric === metric) },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'N', type: 'quantitative', scale: { type: 'log' }, title: 'width N' },
          y: { field: 'value', type: 'quantitative', scale: { zero: false }, title },
          color,
          tooltip: [
            { field: 'N', type: 'quantitative', title: 'N' },
            { field: 'alpha', type: 'quantitative', title: 'α = P/N', format: '.3~g' },
            { field: 'value', type: 'quantitative', title, format: '.4~g' },
            { field: 'converged', type: 'nominal', title: 'solver converged' },
            { field: 'iterations', type: 'quantitative', title: 'iterations' },
          ],
        },
      },
      {
        data: { values: [{ series: 'GP limit', value: gpValue }] },
        mark: { type: 'rule', strokeDash: [6, 4] },
        encoding: {
          y: { field: 'value', type: 'quantitative' },
          color,
          tooltip: [{ field: 'value', type: 'quantitative', title: `${title}, GP limit`, format: '.4~g' }],
        },
      },
    ],
  };
}

/**
 * Predicted performance versus width N (the paper's Fig. 2a analogue; docs/theory.md §c and §e): two
 * stacked panels, the test accuracy of the mean predictor and the generalization error ε_g, each with the
 * finite-width theory as a line with points over a log-scaled N axis and the GP limit (N → ∞) as a
 * horizontal dashed rule. Tooltips give α = P/N and whether the solver converged.
 * @param sweep the sweep report (reads `rows`, `gp`, `task`, `settings.temperature`)
 * @param theme optional page colours
 */
export function sweepSpec(sweep: SweepReport, theme?: ChartTheme): VegaLiteSpec {
  const points = sweepPoints(sweep);
  return withTheme(
    {
      $schema: VEGA_LITE_SCHEMA,
      title: {
        text: `Predicted performance vs width N${
          sweep.rows.some((r) => !r.converged)
            ? ` — SOLVER NOT CONVERGED AT N = ${sweep.rows
                .filter((r) => !r.converged)
                .map((r) => formatNumber(r.N))
                .join(', ')}`
            : ''
        }`,
        subtitle: `${sweep.task.name}, P = ${sweep.task.P}, T_B = ${formatNumber(sweep.settings.temperature)}; dashed: GP limit (N → ∞)`,
        anchor: 'start',
        offset: 10,
      },
      vconcat: [
        sweepPanel(points, 'accuracy', 'accuracy of the mean predictor', sweep.gp.acc_mean_predictor),
        sweepPanel(points, 'eg', 'generalization error ε_g', sweep.gp.eg_total),
      ],
      resolve: { scale: { color: 'shared' } },
    },
    theme,
  );
}

/** One point of the kernel-PC overlap chart. */
export interface PcOverlapPoint {
  /** PC rank i (1 = largest eigenvalue). */
  rank: number;
  /** "finite width (N = …)" or "GP limit". */
  series: string;
  /** Eigenvalue λ_i of K_U on the training set (without T_B). */
  eigenvalue: number;
  /** (v_iᵀ y)² / |y|². */
  overlap: number;
  /** Σ_{j ≤ i} overlap_j. */
  cumulative: number;
}

/**
 * The points of `pcOverlapSpec`: for each kernel (finite width first, then the GP limit) one point per PC rank.
 * @throws Error when the report has no `kernel_pc_overlap` (reports written before it existed) or its arrays do
 *   not have k entries
 */
export function pcOverlapPoints(report: AnalysisReport): PcOverlapPoint[] {
  const o = report.kernel_pc_overlap;
  if (!o) throw new Error('pcOverlapSpec: the report has no kernel_pc_overlap (analyse the config again with this version)');
  const out: PcOverlapPoint[] = [];
  const finite = `finite width (${widthLabel(report.settings.widths)})`;
  for (const [series, s] of [
    [finite, o.finite],
    ['GP limit', o.gp],
  ] as const) {
    for (const key of ['eigenvalues', 'overlap', 'cumulative'] as const) {
      if (s[key].length !== o.k) throw new Error(`pcOverlapSpec: ${series} ${key} has ${s[key].length} entries, expected k = ${o.k}`);
    }
    for (let i = 0; i < o.k; i++) out.push({ rank: i + 1, series, eigenvalue: s.eigenvalues[i], overlap: s.overlap[i], cumulative: s.cumulative[i] });
  }
  return out;
}

/**
 * Overlap of the training kernel's principal components with the labels (the paper's Fig. 2c; docs/theory.md §i): the cumulative overlap Σ_{j ≤ i} (v_jᵀ y)² / |y|² against the PC rank i = 1…k (k = min(30, P), eigenvalues
 * descending), two lines with points — the renormalized kernel K_U at the solution (finite width) and the GP kernel.
 * A curve that rises faster means the kernel's leading directions carry more of the task. The y axis is [0, 1]
 * (all P components together give 1). Tooltips: rank, eigenvalue, the single overlap and the cumulative one.
 * @param report the analysis report (reads `kernel_pc_overlap`, `settings.widths`, `settings.temperature`, `task`)
 * @param theme optional page colours
 * @throws Error when the report has no `kernel_pc_overlap`
 */
export function pcOverlapSpec(report: AnalysisReport, theme?: ChartTheme): VegaLiteSpec {
  const values = pcOverlapPoints(report);
  const o = report.kernel_pc_overlap!;
  const series = [...new Set(values.map((v) => v.series))];
  return withTheme(
    {
      $schema: VEGA_LITE_SCHEMA,
      title: {
        text: titleText('Overlap of the kernel PCs with the labels', report),
        subtitle: [
          `cumulative (v_iᵀy)²/|y|² over the first ${o.k} of ${o.P} principal components`,
          'of the training kernel K_U (eigenvalues descending); finite width vs GP limit',
        ],
        anchor: 'start',
        offset: 10,
      },
      data: { values },
      width: 380,
      height: 200,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'rank', type: 'quantitative', title: 'principal component (eigenvalue rank)', scale: { domain: [1, o.k] }, axis: { tickMinStep: 1 } },
        y: { field: 'cumulative', type: 'quantitative', title: 'cumulative overlap with y', scale: { domain: [0, 1] } },
        color: {
          field: 'series',
          type: 'nominal',
          title: null,
          scale: { domain: series },
          legend: { orient: 'bottom', direction: 'vertical', labelLimit: 400 },
        },
        tooltip: [
          { field: 'series', type: 'nominal', title: 'kernel' },
          { field: 'rank', type: 'quantitative', title: 'PC' },
          { field: 'eigenvalue', type: 'quantitative', title: 'eigenvalue λ', format: '.4~g' },
          { field: 'overlap', type: 'quantitative', title: 'overlap (vᵀy)²/|y|²', format: '.3~g' },
          { field: 'cumulative', type: 'quantitative', title: 'cumulative overlap', format: '.3f' },
        ],
      },
    },
    theme,
  );
}

/** One point of the head-removal chart: a head's accuracy with it removed, predicted or measured. */
export interface HeadRemovalPoint {
  layer: number;
  head: number;
  /** "L0·H1" (shared/format.ts), 0-based. */
  label: string;
  /** Relevance score (docs/theory.md §g), for the sort order. */
  score: number;
  /** Which number: the theory's prediction or the model's measurement. */
  series: string;
  /** Accuracy with the head removed (predicted: mean predictor; measured: sign of the model's output). */
  value: number;
  /** The full model's accuracy in the same series. */
  full: number;
  /** value − full. */
  change: number;
}

const PREDICTED = 'predicted (theory: head silenced in U₁)';
const MEASURED = 'measured (model: head masked, ONNX Runtime)';

/**
 * The points of `headRemovalSpec`: the predicted value of every head (from `head_silencing`), and the measured
 * value of every head that was measured (`head_removal_measured`, accuracy only), heads sorted by relevance (most
 * relevant first, as `headBars`).
 */
export function headRemovalPoints(report: AnalysisReport): HeadRemovalPoint[] {
  const out: HeadRemovalPoint[] = [];
  const measured = report.head_removal_measured?.metric === 'accuracy' ? report.head_removal_measured : undefined;
  for (const b of headBars(report)) {
    const base = { layer: b.layer, head: b.head, label: b.label, score: b.score };
    if (b.acc_silenced !== null) out.push({ ...base, series: PREDICTED, value: b.acc_silenced, full: b.acc_full, change: b.acc_silenced - b.acc_full });
    const m = measured?.heads.find((h) => h.layer === b.layer && h.head === b.head);
    if (measured && m && m.value !== null) out.push({ ...base, series: MEASURED, value: m.value, full: measured.full, change: m.value - measured.full });
  }
  return out;
}

/**
 * Effect of removing each head alone (docs/theory.md §g; the paper's Fig. 3e pairs head score with the measured
 * drop): per head (rows, 0-based "L0·H1", most relevant first), the accuracy with that head removed as
 * points — the theory's prediction (`head_silencing`: its paths zeroed in U₁, no re-optimization) and, for configs
 * whose attention is an ONNX model, the measurement (`head_removal_measured`: the head masked in the model, run in
 * ONNX Runtime on the test split). A dashed vertical rule per series marks the full model's accuracy, so a point
 * left of its rule is a drop. For other configs only the predicted series is drawn, and the subtitle says that
 * nothing was measured. The x axis is not forced to include 0 (drops are a few points).
 * @param report the analysis report (reads `head_scores_ascending`, `head_silencing`, `metrics`, `head_removal_measured`)
 * @param theme optional page colours
 */
export function headRemovalSpec(report: AnalysisReport, theme?: ChartTheme): VegaLiteSpec {
  const values = headRemovalPoints(report);
  const m = report.head_removal_measured;
  const hasMeasured = values.some((v) => v.series === MEASURED);
  const series = hasMeasured ? [PREDICTED, MEASURED] : [PREDICTED];
  // Windowed reports: one predicted full-model rule per window (each window predicts on its own).
  const predictedFull =
    report.windows && report.windows.length > 1 ? report.windows.map((w) => w.metrics.acc_mean_predictor) : [report.metrics.acc_mean_predictor];
  const rules = predictedFull.map((full) => ({ series: PREDICTED, full }));
  if (hasMeasured) rules.push({ series: MEASURED, full: m!.full });
  const rc = report.rank_correlations;
  const title = rc
    ? [
        titleText('Accuracy with one head removed', report),
        `Spearman vs measured drop (${rc.heads} heads): score ${formatCorrelation(rc.score_vs_measured_drop)}, predicted effect ${formatCorrelation(rc.predicted_vs_measured_drop)}`,
      ]
    : titleText('Accuracy with one head removed', report);
  let subtitle: string[];
  if (hasMeasured) subtitle = [`each head removed alone; measured on ${m!.count} test examples (model output '${m!.output}')`];
  else if (m && m.metric !== 'accuracy') subtitle = [`predicted only: the model was measured by ${m.metric.toUpperCase()}, not accuracy`];
  else if (m) subtitle = ['predicted only: no head of the model could be masked'];
  else subtitle = ['predicted only: nothing measured (no ONNX model analysed:', 'that needs a config with attention.kind model)'];
  // Why a head has no measured point, where the chart shows it: heads grouped by their reason.
  if (m) subtitle.push(...unmeasuredLines(m));
  const agreement = m?.agreement ?? measuredAgreement(report);
  if (agreement) subtitle.push(...agreementLines(agreement));
  subtitle.push(
    report.windows && report.windows.length > 1
      ? 'dashed: the full model (predicted: one per window); heads by window, then relevance'
      : 'dashed: the full model; heads by relevance, most relevant on top',
  );
  const color = {
    field: 'series',
    type: 'nominal',
    title: null,
    scale: { domain: series },
    legend: { orient: 'bottom', direction: 'vertical', labelLimit: 400 },
  };
  const labels = [...new Set(values.map((v) => v.label))];
  return withTheme(
    {
      $schema: VEGA_LITE_SCHEMA,
      title: { text: title, subtitle, anchor: 'start', offset: 10 },
      width: 360,
      height: { step: 22 },
      layer: [
        {
          data: { values: rules },
          mark: { type: 'rule', strokeDash: [6, 4] },
          encoding: {
            x: { field: 'full', type: 'quantitative' },
            color,
            tooltip: [
              { field: 'series', type: 'nominal', title: 'series' },
              { field: 'full', type: 'quantitative', title: 'full model accuracy', format: '.1%' },
            ],
          },
        },
        {
          data: { values },
          mark: { type: 'point', filled: true, size: 70 },
          encoding: {
            y: { field: 'label', type: 'nominal', sort: labels, title: null },
            x: { field: 'value', type: 'quantitative', scale: { zero: false }, title: 'accuracy with the head removed', axis: { format: '.0%' } },
            color,
            shape: {
              field: 'series',
              type: 'nominal',
              title: null,
              scale: { domain: series },
              legend: { orient: 'bottom', direction: 'vertical', labelLimit: 400 },
            },
            tooltip: [
              { field: 'label', type: 'nominal', title: 'head' },
              { field: 'score', type: 'quantitative', title: 'relevance score', format: '.3f' },
              { field: 'series', type: 'nominal', title: 'series' },
              { field: 'value', type: 'quantitative', title: 'accuracy, head removed', format: '.1%' },
              { field: 'change', type: 'quantitative', title: 'change vs full model', format: '+.1%' },
            ],
          },
        },
      ],
    },
    theme,
  );
}

/** One cell of the attention-map chart: how much query token `query` of one head reads from key token `key`. */
export interface AttentionCell {
  layer: number;
  head: number;
  /** The tile's title: "L0·H1 · relevance 0.82 (#2)". */
  tile: string;
  query: number;
  key: number;
  value: number;
}

/** Options of `attentionMapsSpec`. */
export interface AttentionMapsOptions {
  /** Which kept example (an index into `attention_maps.examples`); default 0, the first test example. */
  example?: number;
  /** Width available to the chart in pixels (the webview passes its own); default 900. */
  width?: number;
}

/** Tile titles "L0·H1 · relevance 0.82 (#2)", keyed "layer.head". */
function tileTitles(report: AnalysisReport): Map<string, string> {
  const ranked = [...report.head_scores_ascending].sort((a, b) => b.score - a.score || a.layer - b.layer || a.head - b.head);
  return new Map(ranked.map((h, i) => [`${h.layer}.${h.head}`, `${headName(h.layer, h.head)} · relevance ${h.score.toFixed(2)} (#${i + 1})`]));
}

/**
 * The cells of `attentionMapsSpec` for one kept example, layer by layer, head by head, row-major (query, then key).
 * @throws Error when the report has no attention maps or `example` is not one of them
 */
export function attentionCells(report: AnalysisReport, example = 0): AttentionCell[] {
  const a = report.attention_maps;
  if (!a) throw new Error('attentionMapsSpec: the report has no attention_maps (analyse the config again with this version)');
  if (!(Number.isInteger(example) && example >= 0 && example < a.examples.length)) {
    throw new Error(`attentionMapsSpec: example ${example} is not kept (the report keeps ${a.examples.length}${a.omitted ? `: ${a.omitted}` : ''})`);
  }
  const titles = tileTitles(report);
  const out: AttentionCell[] = [];
  for (const l of a.layers) {
    for (let h = 0; h < l.heads; h++) {
      const m = l.maps[example][h];
      const tile = titles.get(`${l.layer}.${h}`) ?? headName(l.layer, h);
      for (let t = 0; t < a.T; t++) for (let s = 0; s < a.T; s++) out.push({ layer: l.layer, head: h, tile, query: t, key: s, value: m[t * a.T + s] });
    }
  }
  return out;
}

/** Where the attention comes from, in words (subtitle of the attention maps). */
function attentionSourceText(source: 'captured' | 'theory' | 'given'): string {
  if (source === 'captured') return "captured from the model's attention blocks (the attention the theory uses)";
  if (source === 'given') return 'fixed attention from the data file';
  return "the theory's attention, computed from the config's attention parameters";
}

/**
 * Attention maps (docs/theory.md §a): for one test example, the attention matrix of every head as a heatmap
 * tile — rows the query token t, columns the key token s, colour the weight A[s, t] (each row sums to 1) — one row
 * of tiles per layer, heads left to right; each tile titled with the head (`L0·H1`), its relevance score and rank.
 * The attention is the one the theory uses: captured from the ONNX model for model configs, else computed from the
 * attention parameters. Tiles are sized to `opts.width` (between 60 and 240 pixels each).
 * When the report keeps no example (`attention_maps.omitted`), the chart is a title saying why.
 * @param report the analysis report (reads `attention_maps`, `head_scores_ascending`)
 * @param theme optional page colours
 * @throws Error when the report has no `attention_maps`, or `opts.example` is not a kept example
 */
export function attentionMapsSpec(report: AnalysisReport, theme?: ChartTheme, opts: AttentionMapsOptions = {}): VegaLiteSpec {
  const a = report.attention_maps;
  if (a && a.examples.length === 0) {
    return withTheme(
      {
        $schema: VEGA_LITE_SCHEMA,
        title: { text: 'Attention of each head', subtitle: `not kept in this report: ${a.omitted ?? 'no example'}`, anchor: 'start' },
        data: { values: [{}] },
        mark: { type: 'text', text: '' },
        width: 300,
        height: 10,
      },
      theme,
    );
  }
  const example = opts.example ?? 0;
  const values = attentionCells(report, example);
  const maps = a!;
  const T = maps.T;
  const maxHeads = Math.max(...maps.layers.map((l) => l.heads));
  const width = opts.width ?? 900;
  // Room for the y axis of every tile (about 45 px) and the colour legend (about 90 px), so nothing is cut off.
  const tile = Math.max(60, Math.min(240, Math.floor((width - 100) / maxHeads) - 50));
  const tickEvery = Math.max(1, Math.ceil(T / Math.max(2, Math.floor(tile / 22))));
  const ticks = Array.from({ length: T }, (_, i) => i).filter((i) => i % tickEvery === 0);
  const titles = tileTitles(report);
  const label = maps.labels[example];
  const axis = (title: string) => ({ title, values: ticks, labelAngle: 0, labelFontSize: 9, titleFontSize: 10, ticks: false, domain: false });
  return withTheme(
    {
      $schema: VEGA_LITE_SCHEMA,
      title: {
        text: `Attention of each head: test example ${maps.examples[example]} (label ${label > 0 ? '+1' : label < 0 ? '−1' : String(label)})`,
        subtitle: [
          'rows: query token, columns: key token (each row sums to 1)',
          attentionSourceText(maps.source),
          'one row of tiles per layer; tile titles: head, relevance score and rank',
        ],
        anchor: 'start',
        offset: 10,
      },
      // Compact data: one datum per tile with its T² weights row-major; flattened back to cells, whose row number
      // within the tile gives the query (row) and key (column) tokens.
      vconcat: maps.layers.map((l) => ({
        data: { values: tilesOf(values, l.layer) },
        transform: [
          { flatten: ['weights'], as: ['value'] },
          { window: [{ op: 'row_number', as: 'cell' }], groupby: ['tile'] },
          { calculate: `floor((datum.cell - 1) / ${T})`, as: 'query' },
          { calculate: `(datum.cell - 1) % ${T}`, as: 'key' },
        ],
        facet: {
          column: {
            field: 'tile',
            type: 'nominal',
            title: null,
            sort: Array.from({ length: l.heads }, (_, h) => titles.get(`${l.layer}.${h}`) ?? headName(l.layer, h)),
            header: { labelFontSize: 11, labelLimit: tile + 30 },
          },
        },
        spec: {
          width: tile,
          height: tile,
          mark: { type: 'rect' },
          encoding: {
            x: { field: 'key', type: 'ordinal', axis: axis('key token'), scale: { paddingInner: 0, paddingOuter: 0 } },
            y: { field: 'query', type: 'ordinal', axis: axis('query token'), scale: { paddingInner: 0, paddingOuter: 0 } },
            color: { field: 'value', type: 'quantitative', title: 'attention', scale: { scheme: 'viridis', domain: [0, 1] } },
            tooltip: [
              { field: 'tile', type: 'nominal', title: 'head' },
              { field: 'query', type: 'ordinal', title: 'query token' },
              { field: 'key', type: 'ordinal', title: 'key token' },
              { field: 'value', type: 'quantitative', title: 'attention', format: '.3f' },
            ],
          },
        },
        resolve: { scale: { x: 'independent', y: 'independent' } },
      })),
      resolve: { scale: { color: 'shared' } },
      spacing: 16,
    },
    theme,
  );
}

/** The cells of one layer grouped into tiles: { layer, head, tile, weights (row-major T²) } (see attentionMapsSpec). */
function tilesOf(cells: AttentionCell[], layer: number): Array<{ layer: number; head: number; tile: string; weights: number[] }> {
  const tiles = new Map<string, { layer: number; head: number; tile: string; weights: number[] }>();
  for (const c of cells) {
    if (c.layer !== layer) continue;
    let t = tiles.get(c.tile);
    if (!t) tiles.set(c.tile, (t = { layer: c.layer, head: c.head, tile: c.tile, weights: [] }));
    t.weights.push(c.value);
  }
  return [...tiles.values()];
}

/** "not measured: L0·H1, L0·H2 — <reason>", one line per distinct reason (reasons cut to 90 characters). */
export function unmeasuredLines(m: HeadRemovalMeasured): string[] {
  const byReason = new Map<string, Array<{ layer: number; head: number }>>();
  for (const h of m.heads) {
    if (h.value !== null) continue;
    const reason = h.reason ?? 'the block cannot be masked';
    byReason.set(reason, [...(byReason.get(reason) ?? []), h]);
  }
  return [...byReason].map(([reason, heads]) => `not measured: ${headList(heads)} — ${reason.length > 90 ? `${reason.slice(0, 89)}…` : reason}`);
}

/** The trust lines of the head-removal chart: the full-model gap, the two rank correlations, what the prediction is. */
export function agreementLines(a: MeasuredAgreement): string[] {
  const rho = (x: number | null) => (x === null ? 'n/a' : `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`);
  const gap = `${a.gap >= 0 ? '+' : '−'}${Math.abs(100 * a.gap).toFixed(1)} points`;
  return [
    `full model: measured ${(100 * a.measured_full).toFixed(1)}% vs predicted ${(100 * a.predicted_full).toFixed(1)}% (${gap}); Spearman ρ with the measured drop:`,
    `relevance ${rho(a.spearman_score_vs_measured_drop)}, predicted accuracy drop ${rho(a.spearman_predicted_vs_measured_drop)} (${a.heads} heads)`,
    ...splitSentence(PREDICTION_MEANS, 80),
  ];
}

/** A sentence in lines of at most `width` characters (at spaces). */
function splitSentence(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const w of text.split(' ')) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines;
}
