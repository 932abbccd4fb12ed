/**
 * Plain-text summaries of reports for the terminal: paths with their U_1 weights, head scores ranked,
 * finite width versus the GP limit, solver convergence and timings.
 */
import type { AnalysisReport, SweepReport, WindowReport } from '../../../shared/report';
import { formatCorrelation, headName, notConvergedNote, splitWarning } from '../../../shared/format';
import { agreementSentence } from '../../../shared/agreement';

function pad(s: string, n: number): string {
  // a cell wider than its column keeps one space before the next
  if (s.length >= n) return s + ' ';
  return s + ' '.repeat(n - s.length);
}
function lpad(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}
function num(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toFixed(digits);
}
/** A width N for the sweep table: as typed up to 10⁶, then in four significant digits ("1e+15", "1.235e+6"). */
function widthText(N: number): string {
  return N < 1e6 ? String(N) : N.toPrecision(4).replace(/\.?0+e/, 'e');
}
function ms(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`;
}

function blocksText(w: WindowReport): string {
  return w.layers[0] === w.layers[1] ? `block ${w.layers[0]}` : `blocks ${w.layers[0]}–${w.layers[1]}`;
}

/** The rank-correlation line(s): relevance score and predicted silencing effect against the measured drops. */
function correlationLines(r: AnalysisReport): string[] {
  const rc = r.rank_correlations;
  if (!rc) return [];
  const out = [
    `Rank correlation (Spearman) with the measured drop over ${rc.heads} heads: relevance score ${formatCorrelation(rc.score_vs_measured_drop)}, ` +
      `predicted silencing effect (ε_g increase) ${formatCorrelation(rc.predicted_vs_measured_drop)}`,
  ];
  for (const w of r.windows ?? []) {
    const c = w.rank_correlations;
    if (c)
      out.push(
        `  window ${w.index} (${blocksText(w)}, ${c.heads} heads): score ${formatCorrelation(c.score_vs_measured_drop)}, predicted effect ${formatCorrelation(c.predicted_vs_measured_drop)}`,
      );
  }
  return out;
}

/** The heads least harmful to silence (`pruning_order`), as one line. */
function pruningLine(r: AnalysisReport, shown = 8): string[] {
  const po = r.pruning_order;
  if (!po || po.length === 0) return [];
  const list = po.slice(0, shown).map((h) => `${headName(h.layer, h.head)} (${h.delta_eg >= 0 ? '+' : '−'}${num(Math.abs(h.delta_eg))})`);
  return [
    `Pruning order (least harmful first, by the predicted ε_g increase when silenced${r.windows ? ', comparable across windows' : ''}): ${list.join(', ')}${po.length > shown ? `, … (${po.length} heads)` : ''}`,
  ];
}

/** Longest tensor name the windows table shows whole (PyTorch exports' names run to 60 characters and more). */
const TENSOR_LABEL_MAX = 48;

/**
 * A tensor name for a table column: whole up to `TENSOR_LABEL_MAX` characters, else its start and its end around an
 * ellipsis. Why not just the end: exported names differ in the middle ('/encoder/layers.1/norm2/…_output_0' and
 * '/encoder/layers.3/norm2/…_output_0'), so the end alone showed two windows' different inputs as one name.
 */
export function tensorLabel(name: string, max = TENSOR_LABEL_MAX): string {
  if (name.length <= max) return name;
  const head = Math.ceil((max - 1) / 2);
  return `${name.slice(0, head)}…${name.slice(name.length - (max - 1 - head))}`;
}

/** The per-window table of a windowed analysis. */
function windowLines(r: AnalysisReport): string[] {
  const ws = r.windows;
  if (!ws) return [];
  const out = ["Layer windows (each solved on its own; x = the activation feeding the first block's value projection):"];
  const xs = ws.map((w) => `${tensorLabel(w.input.tensor)} (N0 ${w.input.N0})`);
  const xWidth = Math.max(...xs.map((x) => x.length)) + 2;
  out.push(
    `  ${pad('window', 8)}${pad('blocks', 12)}${lpad('paths', 7)}  ${pad('x', xWidth)}${lpad('acc', 8)}${lpad('ε_g', 10)}${lpad('acc GP', 9)}${lpad('ε_g GP', 10)}  solver`,
  );
  for (const [k, w] of ws.entries()) {
    out.push(
      `  ${pad(String(w.index), 8)}${pad(blocksText(w).replace(/^blocks? /, ''), 12)}${lpad(String(w.paths), 7)}  ${pad(xs[k], xWidth)}` +
        `${lpad(w.metrics.acc_mean_predictor.toFixed(3), 8)}${lpad(num(w.metrics.eg_total), 10)}${lpad(w.gp_metrics.acc_mean_predictor.toFixed(3), 9)}${lpad(num(w.gp_metrics.eg_total), 10)}` +
        `  ${w.solver.converged ? 'converged' : 'NOT converged'} (${w.solver.iterations} it.)`,
    );
  }
  return out;
}

/** The human-readable summary `attention-paths analyze` prints. */
export function formatAnalysis(r: AnalysisReport): string {
  const out: string[] = [];
  const s = r.settings;
  const ws = r.windows;
  out.push(`Attention-path theory — ${r.task.name}`);
  out.push(`  ${r.task.description}`);
  out.push(
    `  P = ${r.task.P}, P_test = ${r.task.P_test}, N0 = ${r.task.N0}, T = ${r.task.T}; heads [${s.heads.join(', ')}] ` +
      (ws ? `(${ws.length} layer window${ws.length > 1 ? 's' : ''} of ${ws.map((w) => w.paths).join(', ')} paths)` : `(${r.paths.length} paths)`) +
      `, widths [${s.widths.join(', ')}], variances [${s.variances.join(', ')}], T_B = ${s.temperature}, readout ${s.readout}, attention ${s.attention_kind}`,
  );
  const tm = r.model?.token_mask;
  if (tm) out.push(`  token inputs: '${tm.input}' marks ${tm.padding_tokens} of ${tm.tokens} tokens as padding; the readout and the path features skip them`);
  const unconverged = notConvergedNote(r.solver);
  if (unconverged)
    out.push(`  SOLVER ${unconverged.toUpperCase()}: ${r.solver.stop_reason}; every number below is at the last iterate, not at the saddle point`);
  out.push('');
  if (ws) {
    out.push(...windowLines(r));
    out.push('');
  }
  out.push(
    `Order parameter U_1${ws ? ` of window 0 (${blocksText(ws[0])}; the others are in the JSON report)` : ''} (rows and columns are attention paths; heads per layer, 0-based):`,
  );
  const labels = r.paths.map((p) => (p.label.startsWith('(') ? p.label : `${p.label} (${p.heads.join(',')})`));
  const w = Math.max(10, ...labels.map((l) => l.length + 1));
  const maxShown = 12;
  const shown = r.paths.slice(0, maxShown);
  out.push(pad('', w) + shown.map((p) => lpad(p.label.slice(0, 9), 10)).join(''));
  for (const [i, row] of r.U[0].slice(0, maxShown).entries())
    out.push(
      pad(labels[i], w) +
        row
          .slice(0, maxShown)
          .map((v) => lpad(num(v, 3), 10))
          .join(''),
    );
  if (r.paths.length > maxShown) out.push(`  … ${r.paths.length - maxShown} more paths in the JSON report`);
  out.push(`  U_a = ${num(r.U_a)}; GP value of U_1: ${num(r.gp.scale)}·I`);
  out.push('');
  const hm = r.head_removal_measured;
  out.push(
    'Head relevance (score from |U_1|, max = 1; low = prunable), with the predicted effect of silencing the head' +
      (hm
        ? ` and the measured ${hm.metric} of the model without it (full model ${hm.metric === 'accuracy' ? hm.full.toFixed(3) : num(hm.full)}, ${hm.count} test examples):`
        : ':'),
  );
  if (ws) out.push("  (scores are normalized and ranked within each window; the predicted effect is that window's)");
  out.push(
    `  ${ws ? pad('window', 8) : ''}${pad('rank', 6)}${pad('head', 8)}${lpad('score', 8)}${lpad('ε_g if silenced', 18)}${lpad('acc if silenced', 17)}${hm ? lpad(`measured ${hm.metric === 'accuracy' ? 'acc' : 'MSE'}`, 15) : ''}`,
  );
  // Most relevant first; windowed: by window, then by score within it.
  const ranked = [...r.head_scores_ascending].reverse();
  if (ws) ranked.sort((a, b) => (a.window ?? 0) - (b.window ?? 0));
  let rank = 0;
  for (const [i, h] of ranked.entries()) {
    rank = i > 0 && ranked[i - 1].window !== h.window ? 1 : rank + 1;
    const sil = r.head_silencing.find((x) => x.layer === h.layer && x.head === h.head);
    const mv = hm?.heads.find((x) => x.layer === h.layer && x.head === h.head)?.value;
    out.push(
      `  ${ws ? pad(String(h.window ?? ''), 8) : ''}${pad(String(rank), 6)}${pad(headName(h.layer, h.head), 8)}${lpad(h.score.toFixed(3), 8)}` +
        `${lpad(sil ? num(sil.eg_total) : '-', 18)}${lpad(sil ? sil.acc_mean_predictor.toFixed(3) : '-', 17)}` +
        (hm ? lpad(mv === undefined || mv === null ? '-' : hm.metric === 'accuracy' ? mv.toFixed(3) : num(mv), 15) : ''),
    );
  }
  out.push(...originNames(r));
  out.push(...correlationLines(r));
  out.push(...pruningLine(r));
  out.push('');
  const pc = r.kernel_pc_overlap;
  if (pc) {
    out.push(
      `Kernel PCs (Fig. 2c): the first ${pc.k} of ${pc.P} principal components of the training kernel hold ` +
        `${pc.finite.cumulative[pc.k - 1].toFixed(3)} of |y|² at finite width, ${pc.gp.cumulative[pc.k - 1].toFixed(3)} in the GP limit ` +
        `(first PC: ${pc.finite.overlap[0].toFixed(3)} vs ${pc.gp.overlap[0].toFixed(3)}).`,
    );
    out.push('');
  }
  out.push(ws ? `Prediction on the test set (window 0, ${blocksText(ws[0])}; every window in the table above):` : 'Prediction on the test set:');
  out.push(`  ${pad('', 22)}${lpad('accuracy', 10)}${lpad('ε_g', 10)}${lpad('bias', 10)}${lpad('variance', 10)}${lpad('P(correct)', 12)}`);
  const line = (name: string, m: AnalysisReport['metrics']) =>
    `  ${pad(name, 22)}${lpad(m.acc_mean_predictor.toFixed(3), 10)}${lpad(num(m.eg_total), 10)}${lpad(num(m.eg_bias), 10)}${lpad(num(m.eg_variance), 10)}${lpad(m.acc_probabilistic.toFixed(3), 12)}`;
  const widthLabel = s.widths.every((n) => n === s.widths[0]) ? `N = ${s.widths[0]}` : `N = [${s.widths.join(', ')}]`;
  out.push(line(`finite width (${widthLabel})`, r.metrics));
  out.push(line('GP limit (N → ∞)', r.gp.metrics));
  out.push('');
  const sv = r.solver;
  out.push(
    `Solver${ws ? ` (${ws.length} windows together)` : ''}: ${sv.method}; ${sv.converged ? 'converged' : 'NOT converged'} after ${sv.iterations} iterations (${sv.evaluations} evaluations${sv.cg_iterations !== undefined ? `, ${sv.cg_iterations} CG iterations` : ''}), ` +
      `max |∂(S/max N)/∂U| = ${sv.max_abs_grad_normalized.toExponential(2)} (tolerance ${sv.tolerance})` +
      (ws ? (sv.converged ? '' : `: ${sv.stop_reason}`) : `. S/max N = ${num(r.action.normalized, 6)}`),
  );
  if (sv.space) {
    const dims = sv.space === 'feature' ? `D × D, D = N0·H_tot = ${r.task.N0 * r.paths.length}` : `P × P, P = ${r.task.P}`;
    out.push(`Energy, predictor and kernel PCs in ${sv.space} space (${dims} matrices; ${sv.space_reason}).`);
  }
  out.push(
    `Timings: ${Object.entries(r.timings_ms)
      .map(([k, v]) => `${k} ${ms(v)}`)
      .join(', ')}`,
  );
  const agreement = agreementSentence(r);
  if (agreement) out.push(`Prediction versus measurement: ${agreement}`);
  for (const w of r.warnings) {
    // Written as headline + details (shared/format.ts): the details indented below the headline.
    const { headline, details } = w.includes('\n') ? splitWarning(w) : { headline: w, details: undefined };
    out.push(`Warning: ${headline}`);
    if (details) out.push(`  ${details}`);
  }
  return out.join('\n');
}

/** For a pruned model, the original layer:head of its renamed heads (the head map in its metadata). */
function originNames(r: AnalysisReport): string[] {
  const o = r.model?.head_origins;
  if (!o) return [];
  const parts = o.layers.flatMap((l, i) => l.heads.map((h, k) => (l.layer === i && h === k ? '' : `${i}:${k} = ${l.layer}:${h}`)).filter(Boolean));
  return [`  pruned from ${o.source} (heads [${o.original_heads.join(', ')}]); original names: ${parts.join(', ')}`];
}

/** The table `attention-paths sweep` prints. */
export function formatSweep(r: SweepReport): string {
  const out: string[] = [];
  out.push(
    `Width sweep — ${r.task.name}: P = ${r.task.P}, heads [${r.settings.heads.join(', ')}], T_B = ${r.settings.temperature}, readout ${r.settings.readout}`,
  );
  out.push("  every width (N_1 … N_L and N_a) set to N; the config's own widths are not used here");
  out.push(`  ${lpad('N', 10)}${lpad('α = P/N', 10)}${lpad('accuracy', 10)}${lpad('ε_g', 10)}${lpad('bias', 10)}${lpad('variance', 10)}  solver`);
  for (const row of r.rows) {
    const m = row.metrics;
    out.push(
      `  ${lpad(widthText(row.N), 10)}${lpad(num(row.alpha, 3), 10)}${lpad(m.acc_mean_predictor.toFixed(3), 10)}${lpad(num(m.eg_total), 10)}${lpad(num(m.eg_bias), 10)}${lpad(num(m.eg_variance), 10)}  ${row.converged ? 'converged' : 'NOT converged'} (${row.iterations} it.)`,
    );
  }
  const g = r.gp;
  out.push(
    `  ${lpad('GP', 10)}${lpad('0', 10)}${lpad(g.acc_mean_predictor.toFixed(3), 10)}${lpad(num(g.eg_total), 10)}${lpad(num(g.eg_bias), 10)}${lpad(num(g.eg_variance), 10)}`,
  );
  return out.join('\n');
}
