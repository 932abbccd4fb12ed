/**
 * Plain-text summaries of reports for the terminal: paths with their U_1 weights, head scores ranked,
 * finite width versus the GP limit, solver convergence and timings.
 */
import type { AnalysisReport, SweepReport } from './types';
import { headName } from './names';
import { splitWarning } from './warnings';
import { agreementSentence } from './agreement';

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
function ms(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`;
}

/** The human-readable summary `attention-paths analyze` prints. */
export function formatAnalysis(r: AnalysisReport): string {
  const out: string[] = [];
  const s = r.settings;
  out.push(`Attention-path theory — ${r.task.name}`);
  out.push(`  ${r.task.description}`);
  out.push(
    `  P = ${r.task.P}, P_test = ${r.task.P_test}, N0 = ${r.task.N0}, T = ${r.task.T}; heads [${s.heads.join(', ')}] (${r.paths.length} paths), ` +
      `widths [${s.widths.join(', ')}], variances [${s.variances.join(', ')}], T_B = ${s.temperature}, readout ${s.readout}, attention ${s.attention_kind}`,
  );
  out.push('');
  out.push('Order parameter U_1 (rows and columns are attention paths; heads per layer, 0-based):');
  const labels = r.paths.map((p) => (p.label.startsWith('(') ? p.label : `${p.label} (${p.heads.join(',')})`));
  const w = Math.max(10, ...labels.map((l) => l.length + 1));
  const maxShown = 12;
  const shown = r.paths.slice(0, maxShown);
  out.push(pad('', w) + shown.map((p) => lpad(p.label.slice(0, 9), 10)).join(''));
  for (const [i, row] of r.U[0].slice(0, maxShown).entries()) out.push(pad(labels[i], w) + row.slice(0, maxShown).map((v) => lpad(num(v, 3), 10)).join(''));
  if (r.paths.length > maxShown) out.push(`  … ${r.paths.length - maxShown} more paths in the JSON report`);
  out.push(`  U_a = ${num(r.U_a)}; GP value of U_1: ${num(r.gp.scale)}·I`);
  out.push('');
  const hm = r.head_removal_measured;
  out.push(
    'Head relevance (score from |U_1|, max = 1; low = prunable), with the predicted effect of silencing the head' +
      (hm ? ` and the measured ${hm.metric} of the model without it (full model ${hm.metric === 'accuracy' ? hm.full.toFixed(3) : num(hm.full)}, ${hm.count} test examples):` : ':'),
  );
  out.push(`  ${pad('rank', 6)}${pad('head', 8)}${lpad('score', 8)}${lpad('ε_g if silenced', 18)}${lpad('acc if silenced', 17)}${hm ? lpad(`measured ${hm.metric === 'accuracy' ? 'acc' : 'MSE'}`, 15) : ''}`);
  const ranked = [...r.head_scores_ascending].reverse();
  for (const [i, h] of ranked.entries()) {
    const sil = r.head_silencing.find((x) => x.layer === h.layer && x.head === h.head);
    const mv = hm?.heads.find((x) => x.layer === h.layer && x.head === h.head)?.value;
    out.push(
      `  ${pad(String(i + 1), 6)}${pad(headName(h.layer, h.head), 8)}${lpad(h.score.toFixed(3), 8)}` +
        `${lpad(sil ? num(sil.eg_total) : '-', 18)}${lpad(sil ? sil.acc_mean_predictor.toFixed(3) : '-', 17)}` +
        (hm ? lpad(mv === undefined || mv === null ? '-' : hm.metric === 'accuracy' ? mv.toFixed(3) : num(mv), 15) : ''),
    );
  }
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
  out.push('Prediction on the test set:');
  out.push(`  ${pad('', 22)}${lpad('accuracy', 10)}${lpad('ε_g', 10)}${lpad('bias', 10)}${lpad('variance', 10)}${lpad('P(correct)', 12)}`);
  const line = (name: string, m: AnalysisReport['metrics']) =>
    `  ${pad(name, 22)}${lpad(m.acc_mean_predictor.toFixed(3), 10)}${lpad(num(m.eg_total), 10)}${lpad(num(m.eg_bias), 10)}${lpad(num(m.eg_variance), 10)}${lpad(m.acc_probabilistic.toFixed(3), 12)}`;
  const widthLabel = s.widths.every((n) => n === s.widths[0]) ? `N = ${s.widths[0]}` : `N = [${s.widths.join(', ')}]`;
  out.push(line(`finite width (${widthLabel})`, r.metrics));
  out.push(line('GP limit (N → ∞)', r.gp.metrics));
  out.push('');
  const sv = r.solver;
  out.push(
    `Solver: ${sv.method}; ${sv.converged ? 'converged' : 'NOT converged'} after ${sv.iterations} iterations (${sv.evaluations} evaluations), ` +
      `max |∂(S/max N)/∂U| = ${sv.max_abs_grad_normalized.toExponential(2)} (tolerance ${sv.tolerance}). S/max N = ${num(r.action.normalized, 6)}`,
  );
  out.push(`Timings: ${Object.entries(r.timings_ms).map(([k, v]) => `${k} ${ms(v)}`).join(', ')}`);
  const agreement = agreementSentence(r);
  if (agreement) out.push(`Prediction versus measurement: ${agreement}`);
  for (const w of r.warnings) {
    // Written as headline + details (report/warnings.ts): the details indented below the headline.
    const { headline, details } = w.includes('\n') ? splitWarning(w) : { headline: w, details: undefined };
    out.push(`Warning: ${headline}`);
    if (details) out.push(`  ${details}`);
  }
  return out.join('\n');
}

/** The table `attention-paths sweep` prints. */
export function formatSweep(r: SweepReport): string {
  const out: string[] = [];
  out.push(`Width sweep — ${r.task.name}: P = ${r.task.P}, heads [${r.settings.heads.join(', ')}], T_B = ${r.settings.temperature}, readout ${r.settings.readout}`);
  out.push('  every width (N_1 … N_L and N_a) set to N; the config\'s own widths are not used here');
  out.push(`  ${lpad('N', 8)}${lpad('α = P/N', 10)}${lpad('accuracy', 10)}${lpad('ε_g', 10)}${lpad('bias', 10)}${lpad('variance', 10)}  solver`);
  for (const row of r.rows) {
    const m = row.metrics;
    out.push(
      `  ${lpad(String(row.N), 8)}${lpad(num(row.alpha, 3), 10)}${lpad(m.acc_mean_predictor.toFixed(3), 10)}${lpad(num(m.eg_total), 10)}${lpad(num(m.eg_bias), 10)}${lpad(num(m.eg_variance), 10)}  ${row.converged ? 'converged' : 'NOT converged'} (${row.iterations} it.)`,
    );
  }
  const g = r.gp;
  out.push(`  ${lpad('GP', 8)}${lpad('0', 10)}${lpad(g.acc_mean_predictor.toFixed(3), 10)}${lpad(num(g.eg_total), 10)}${lpad(num(g.eg_bias), 10)}${lpad(num(g.eg_variance), 10)}`);
  return out.join('\n');
}
