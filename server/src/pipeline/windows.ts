/**
 * Layer windows: the theory run on consecutive blocks of a deep ONNX model, one window at a time (docs/windows.md).
 *
 * The attention paths of a model multiply across layers (H_1···H_L: 4096 for 6 layers of 4 heads, 12¹² for a
 * 12 × 12 BERT), so the theory cannot take a deep model whole. A window [a, b] of blocks is analysed as a network of
 * the theory's form (docs/theory.md §a–b) of its own:
 * - its input tokens x are the activations that feed block a's value projection, captured in ONNX Runtime on the
 *   data (for a = 0: the model's theory input, as in a plain analysis, pipeline/model/modelTask.ts);
 * - its fixed attention is the captured attention of blocks a..b;
 * - its readout is the model's token readout (first/last/mean, the config's `readout` if set), applied after block b;
 * - its labels, split, widths and variances are the config's (widths [N_{a+1}..N_{b+1}, N_a], variances
 *   [σ0², σ_{a+1}²..σ_{b+1}², σa²] of the expanded full-model lists).
 * Each window is solved on its own (its own U₁ over its own paths). Every head of the model belongs to one window and
 * gets its relevance within that window, the predicted effect of silencing it in that window (Δε_g, Δaccuracy), and
 * — measured once on the full model — the model's accuracy with it removed. Pruning across windows ranks heads by
 * the predicted ε_g increase (pipeline/headRanking.ts), which is comparable across windows; the scores are not.
 *
 * A window covering every block is the plain analysis, number for number.
 */
import type { AnalysisConfig } from '../config/types';
import { measuredAgreement } from '../../../shared/agreement';
import { ConfigValueError } from '../config/types';
import { expandSettings } from '../config/expand';
import type { TaskData } from '../data/types';
import type { ModelTask } from './model/modelTask';
import type { AnalysisReport, HeadScore, HeadSilencing, WindowReport } from '../../../shared/report';
import { checkWindowPathLimit } from './limits';
import { measureHeadRemoval } from './headRemoval';
import { pruningOrder, rankCorrelations } from './headRanking';
import { modelReport } from './modelReport';
import { configModelTask, prepareWithAttention } from './prepare';
import { planWindows, windowLabel, type LayerWindow } from './windowPlan';
import { analyzePrepared, type RunOptions } from './analyzePrepared';
import { fromRows } from '../linalg/matrix';
import { statSync } from 'node:fs';
import { estimateCost, estimateSeconds, type CostEstimate } from './resources';

/** True when a config asks for layer windows (`attention.kind: model` with `layers` or `windows`). */
export function isWindowed(config: AnalysisConfig): boolean {
  const a = config.attention;
  return a?.kind === 'model' && (a.layers !== undefined || a.windows !== undefined);
}

const byHead = (a: { layer: number; head: number }, b: { layer: number; head: number }) => a.layer - b.layer || a.head - b.head;

/** Warnings of the windows: a text every window gave once, the others prefixed with their window. */
function mergeWarnings(perWindow: { w: LayerWindow; warnings: string[] }[]): string[] {
  const out: string[] = [];
  const everywhere = (t: string) => perWindow.every((x) => x.warnings.includes(t));
  for (const { w, warnings } of perWindow) {
    for (const t of warnings) {
      if (everywhere(t)) {
        if (!out.includes(t)) out.push(t);
      } else out.push(`window ${w.index} (${windowLabel(w)}): ${t}`);
    }
  }
  return out;
}

/**
 * The estimated cost of the windows' solves (pipeline/resources.ts, one estimate per window: its paths, its N0),
 * summed, plus the measured removal of every head of the full model; memory: the largest window. The shape and the
 * keys blamed are those of the most expensive window.
 */
function windowsCost(m: ModelTask, plan: LayerWindow[], modelFile: string, measure: boolean): CostEstimate {
  let modelBytes: number | undefined;
  try {
    modelBytes = statSync(modelFile).size;
  } catch {
    modelBytes = undefined;
  }
  const base = {
    P: m.task.train.count,
    P_test: m.task.test.count,
    T: m.task.train.tokens,
    source: 'model' as const,
    attention: 'fixed' as const,
    ...(modelBytes !== undefined ? { modelBytes } : {}),
  };
  const costs = plan.map((w, i) => estimateCost({ ...base, N0: m.windowInputs[i].train.features, heads: w.heads }, { kind: 'analyze' }));
  const worst = costs.reduce((a, b) => (b.seconds > a.seconds ? b : a));
  // The model runs of the measured removal: the part of the full-model estimate that measuring adds.
  const all = { ...base, N0: m.task.train.features, heads: m.layers.map((l) => l.heads) };
  const runs = measure ? estimateSeconds(all, { kind: 'analyze', measureHeadRemoval: true }) - estimateSeconds(all, { kind: 'analyze' }) : 0;
  return { ...worst, seconds: costs.reduce((a, c) => a + c.seconds, 0) + runs, bytes: Math.max(...costs.map((c) => c.bytes)) };
}

/**
 * Runs the theory on every window of a windowed config and assembles one report (see module doc and
 * `AnalysisReport.windows`).
 * @param opts as `analyze`: `maxPaths` refuses windows with more paths (with advice) before the model runs;
 *   `confirmCost` gets the summed estimate of the windows after the capture, before any solve (`windowsCost`);
 *   `measureHeadRemoval` measures every head of the full model once.
 * @throws ConfigValueError for windows outside the model's blocks or `heads` that disagree with the model; Error as
 *   `prepare` and `analyzePrepared`.
 */
export async function analyzeWindows(config: AnalysisConfig, opts: RunOptions = {}): Promise<AnalysisReport> {
  const att = config.attention!;
  const t0 = performance.now();
  const progress = opts.onProgress;
  progress?.('data', 'loading the model and its data');
  let plan: LayerWindow[] = [];
  const m: ModelTask = await configModelTask(config, progress, (heads) => {
    plan = planWindows(heads, { layers: att.layers, windows: att.windows }, opts.maxPaths ?? 256);
    if (opts.maxPaths !== undefined) checkWindowPathLimit(heads, plan, opts.maxPaths);
    return plan.map((w) => w.first);
  });
  const heads = m.layers.map((l) => l.heads);
  const L = heads.length;
  if (config.heads !== undefined) {
    const want = Array.isArray(config.heads) ? config.heads : heads.map(() => config.heads as number);
    if (want.length !== L || want.some((h, i) => h !== heads[i]))
      throw new ConfigValueError('/heads', `heads: the config says [${want.join(', ')}] but the model has [${heads.join(', ')}] heads per block`);
  }
  const warnings = [...m.warnings];
  if (!config.readout && !m.modelReadout)
    warnings.push(`no token readout was recognized in the model; the analysis uses readout "last" (set readout in the config)`);
  if (config.readout && m.modelReadout && config.readout !== m.modelReadout)
    warnings.push(`the config's readout "${config.readout}" differs from the model's own readout "${m.modelReadout}"`);
  const { widths, variances } = expandSettings(config, L, heads);
  if (opts.confirmCost) await opts.confirmCost(windowsCost(m, plan, att.model!, !!opts.measureHeadRemoval));
  const loading = performance.now() - t0;

  const reports: { w: LayerWindow; r: AnalysisReport }[] = [];
  const perWindowWarnings: { w: LayerWindow; warnings: string[] }[] = [];
  const modelName = m.task.name;
  const kind = `model (${modelName})`;
  for (const [i, w] of plan.entries()) {
    opts.signal?.throwIfAborted();
    const input = m.windowInputs[i];
    const full = w.first === 0 && w.last === L - 1;
    const cw: AnalysisConfig = {
      ...config,
      heads: undefined,
      widths: [...widths.slice(w.first, w.last + 1), widths[L]],
      variances: [variances[0], ...variances.slice(w.first + 1, w.last + 2), variances[L + 1]],
    };
    const task: TaskData = {
      ...m.task,
      description: full ? m.task.description : `${m.task.description}; window ${i}: ${windowLabel(w)}, x = '${input.input.tensor}' (N0 = ${input.input.N0})`,
      train: input.train,
      test: input.test,
      attention: m.layers.slice(w.first, w.last + 1),
    };
    const say = (stage: string, message: string, fraction?: number) =>
      progress?.(stage, `window ${i + 1}/${plan.length} (${windowLabel(w)}, ${w.paths} paths): ${message}`, fraction);
    const p = await prepareWithAttention(cw, task, task.attention!, full ? kind : `${kind}, ${windowLabel(w)}`, say);
    // The model section (and U from the model's weights) belongs to the whole model: only a full-depth window has it.
    if (full) p.model = m;
    const r = await analyzePrepared(p, cw, { onProgress: say, signal: opts.signal });
    const shift = <T extends { layer: number }>(x: T): T & { window: number } => ({ ...x, layer: x.layer + w.first, window: i });
    r.head_scores_ascending = r.head_scores_ascending.map(shift);
    r.head_silencing = r.head_silencing.map(shift);
    r.pruning_order = r.pruning_order?.map(shift);
    reports.push({ w, r });
    perWindowWarnings.push({ w, warnings: r.warnings });
  }

  const scores: HeadScore[] = reports.flatMap(({ r }) => r.head_scores_ascending);
  scores.sort((a, b) => a.score - b.score || a.window! - b.window! || byHead(a, b));
  const silByKey = new Map(reports.flatMap(({ r }) => r.head_silencing).map((s) => [`${s.layer}:${s.head}`, s]));
  const silencing: HeadSilencing[] = scores.map((s) => silByKey.get(`${s.layer}:${s.head}`)!);

  const t1 = performance.now();
  let measured: AnalysisReport['head_removal_measured'];
  if (opts.measureHeadRemoval) {
    try {
      measured = await measureHeadRemoval(m, config, scores, { onProgress: progress, signal: opts.signal });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      warnings.push(`the effect of removing each head could not be measured on the model: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  }
  const t2 = performance.now();

  const windows: WindowReport[] = reports.map(({ w, r }) => {
    const wr: WindowReport = {
      index: w.index,
      layers: [w.first, w.last],
      heads: w.heads,
      paths: w.paths,
      input: {
        tensor: m.windowInputs[w.index].input.tensor,
        layout: m.windowInputs[w.index].input.layout,
        N0: m.windowInputs[w.index].input.N0,
        T: m.windowInputs[w.index].input.T,
        embedding: m.windowInputs[w.index].input.embedding?.weight.node ?? null,
      },
      widths: r.settings.widths,
      variances: r.settings.variances,
      U1: r.U[0],
      metrics: r.metrics,
      gp_metrics: r.gp.metrics,
      solver: r.solver,
      head_scores_ascending: r.head_scores_ascending,
      head_silencing: r.head_silencing,
      timings_ms: r.timings_ms,
    };
    if (measured) {
      const rc = rankCorrelations(r.head_scores_ascending, r.head_silencing, measured);
      if (rc) wr.rank_correlations = rc;
    }
    return wr;
  });

  const first = reports[0].r;
  const sv = reports.map(({ r }) => r.solver);
  const unconverged = reports.filter(({ r }) => !r.solver.converged);
  const sum = (k: string) => reports.reduce((a, { r }) => a + (r.timings_ms[k] ?? 0), 0);
  const report: AnalysisReport = {
    ...first,
    task: {
      ...first.task,
      description: `${m.task.description}; ${plan.length} layer window(s): ${plan.map((w) => `${windowLabel(w)} (${w.paths} paths)`).join(', ')}`,
    },
    settings: { ...first.settings, heads, widths, variances, attention_kind: `${kind}, ${plan.length} layer window(s)` },
    head_scores_ascending: scores,
    head_silencing: silencing,
    pruning_order: pruningOrder(scores, silencing),
    solver: {
      method: [...new Set(sv.map((s) => s.method))].join(' / '),
      iterations: sv.reduce((a, s) => a + s.iterations, 0),
      evaluations: sv.reduce((a, s) => a + s.evaluations, 0),
      max_abs_grad_normalized: Math.max(...sv.map((s) => s.max_abs_grad_normalized)),
      tolerance: sv[0].tolerance,
      space: sv.every((s) => s.space === 'feature') ? 'feature' : 'sample',
      space_reason: [...new Set(sv.map((s, i) => `window ${i}: ${s.space} (${s.space_reason})`))].join('; '),
      converged: unconverged.length === 0,
      stop_reason: unconverged.length
        ? `not converged in ${unconverged.map(({ w, r }) => `window ${w.index} (${windowLabel(w)}: ${r.solver.stop_reason})`).join('; ')}`
        : `every window converged (${sv
            .map((s) => s.stop_reason)
            .filter((t, k, a) => a.indexOf(t) === k)
            .join('; ')})`,
    },
    timings_ms: {
      data: loading + sum('data'),
      attention: sum('attention'),
      features: sum('features'),
      solve: sum('solve'),
      predict: sum('predict'),
      relevance: sum('relevance'),
      kernel_pcs: sum('kernel_pcs'),
      ...(opts.measureHeadRemoval ? { head_removal: t2 - t1 } : {}),
      total: performance.now() - t0,
    },
    warnings: [...warnings, ...mergeWarnings(perWindowWarnings)],
    windows,
  };
  delete report.head_removal_measured;
  delete report.rank_correlations;
  if (measured) {
    report.head_removal_measured = measured;
    const rc = rankCorrelations(scores, silencing, measured);
    if (rc) report.rank_correlations = rc;
    // The full model's predicted accuracy is the last window's: its readout is the model's own.
    const agreement = measuredAgreement({ ...report, metrics: windows[windows.length - 1].metrics });
    if (agreement) measured.agreement = agreement;
  }
  // The model section: the whole model's facts; U from its weights only when one window covers every block.
  const fullWindow = plan.length === 1 && plan[0].first === 0 && plan[0].last === L - 1;
  report.model = modelReport(fullWindow ? m : { ...m, valueWeights: undefined }, fromRows(first.U[0]), plan[0].heads);
  return report;
}
