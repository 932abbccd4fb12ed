/**
 * The main job on prepared inputs: minimize the action, predict at finite width and in the GP limit, score and
 * silence heads, and assemble the report (docs/theory.md §d–g); the width sweep on prepared inputs. `analyze.ts`
 * runs it on a config (and dispatches layer windows to `windows.ts`, which calls it per window): kept apart so
 * that the windows module and the entry point do not import each other.
 */
import type { AnalysisConfig } from '../config/types';
import { toRows } from '../linalg/matrix';
import { minimizeAction } from '../theory/solver';
import { testMetrics } from '../theory/predictor';
import { gpOrderParameters, gpScale } from '../theory/orderParams';
import { headScores, silenceHead } from '../theory/relevance';
import type { AnalysisReport, SweepReport, SweepRow } from '../../../shared/report';
import type { Prepared, ProgressFn } from './prepare';
import { VERSION } from '../version';
import { modelReport } from './modelReport';
import { PC_OVERLAP_COMPONENTS } from '../theory/pcOverlap';
import { type EnergyEvaluator, createEnergyEvaluator } from '../theory/energySpace';
import { energySpaceFor, predictionSpaceFor } from './resources';
import { measureHeadRemoval } from './headRemoval';
import type { CostEstimate } from './resources';
import { addSilencingDeltas, pruningOrder, rankCorrelations } from './headRanking';
import { measuredAgreement } from '../../../shared/agreement';
import { cachedStage, digestPath, stageKey, type StageCacheOptions } from './stageCache';
import type { HeadRemovalMeasured } from '../../../shared/report';

export interface RunOptions {
  onProgress?: ProgressFn;
  signal?: AbortSignal;
  /**
   * For configs whose attention is an ONNX model: also remove each head from the model alone and measure it in
   * ONNX Runtime on the test split (`head_removal_measured`; (H_tot + 1) runs of the model). Default false; the
   * CLI's `analyze` and the language server's analyses turn it on, the pruner's internal analysis does not.
   */
  measureHeadRemoval?: boolean;
  /**
   * Called once with the estimated cost when the shapes are known, before the large work (after the memory
   * check); may throw to stop (the CLI's confirmation, the language server's question). Default: no question.
   */
  confirmCost?: (cost: CostEstimate) => void | Promise<void>;
  /**
   * Refuse configs with more attention paths (H_1···H_L, per window for windowed configs) than this, before the path
   * features are built — for model configs before the model runs — with advice (pipeline/limits.ts). The CLI's
   * --max-paths, the editor's attentionPaths.maxPaths; no limit when absent.
   */
  maxPaths?: number;
  /** Reuse the measured head removal of an earlier run on the same model, data and split (pipeline/stageCache.ts). */
  cache?: StageCacheOptions;
}

function taskSummary(p: Prepared): AnalysisReport['task'] {
  return {
    name: p.task.name,
    description: p.task.description,
    P: p.task.train.count,
    P_test: p.task.test.count,
    N0: p.task.train.features,
    T: p.task.train.tokens,
  };
}

/**
 * Warnings for a training or test set whose labels are all one class (e.g. a file sorted by label and split at
 * 0.5): the theory then learns a constant, and its accuracy says nothing about the task.
 */
export function singleClassWarnings(p: Pick<Prepared, 'task' | 'model'>): string[] {
  const out: string[] = [];
  const rule = p.model ? ` (split: ${p.model.split.rule})` : '';
  const hint = p.model
    ? 'give separate x_train/x_test (with y_train/y_test) in the data file, or shuffle the examples before splitting'
    : 'give a training set with both classes, or shuffle the examples before splitting';
  for (const [name, y] of [
    ['y_train', p.task.yTrain],
    ['y_test', p.task.yTest],
  ] as const) {
    if (y.length === 0) continue;
    const first = y[0];
    if (y.every((v) => v === first)) {
      out.push(`${name} has a single class: all ${y.length} labels are ${first > 0 ? '+1' : first < 0 ? '-1' : String(first)}${rule}; ${hint}`);
    }
  }
  return out;
}

/** The settings as a report states them: the expanded hyperparameters, the readout and the attention's kind. */
function reportedSettings(p: Prepared): AnalysisReport['settings'] {
  const s = p.settings;
  return { heads: s.heads, widths: s.widths, variances: s.variances, temperature: s.temperature, readout: p.readout, attention_kind: p.attentionKind };
}

/**
 * Full analysis of prepared inputs (see `analyze`).
 * @throws NumericalError when the theory breaks down numerically (never a silent NaN).
 */
export async function analyzePrepared(p: Prepared, config: AnalysisConfig, opts: RunOptions = {}): Promise<AnalysisReport> {
  const { settings, train, test, task } = p;
  const warnings: string[] = [...(p.warnings ?? []), ...singleClassWarnings(p)];
  const t0 = performance.now();
  const choice = energySpaceFor(train, config.solver.space);
  opts.onProgress?.('solve', `solving for the order parameters U (${choice.space} space)`);
  const ev = await createEnergyEvaluator(train, task.yTrain, settings.temperature, choice.space);
  const sol = await minimizeAction(settings, train, task.yTrain, {
    tolerance: config.solver.tolerance,
    maxIterations: config.solver.maxIterations,
    method: config.solver.method,
    signal: opts.signal,
    energy: ev,
    onProgress: (s) =>
      opts.onProgress?.('solve', `solving (${s.phase === 'Newton' ? 'Newton step' : 'step'} ${s.iteration}, gradient ${s.maxGradNormalized.toExponential(0)})`),
  });
  if (!sol.converged) {
    // First, so that it is the first thing every surface lists.
    warnings.unshift(
      `solver did not converge (max|∇| ${sol.maxGradNormalized.toExponential(1)} > ${config.solver.tolerance}): ${sol.stopReason}; every result is at the last iterate, not at the saddle point` +
        ' (raise solver.maxIterations, or loosen solver.tolerance knowingly)',
    );
  }
  const t1 = performance.now();
  opts.onProgress?.('predict', `predicting on ${task.test.count} test points (finite width and GP limit)`);
  const U1 = sol.Us[0];
  // The finite-width predictor first: in sample space it reuses the solver's last factorization and L⁻¹Φ.
  const pred = await ev.predict(test, U1);
  const metrics = testMetrics(pred, task.yTest);
  if (pred.mean.every((m) => m === 0)) {
    warnings.push(
      'the predictor mean is exactly 0 on every test point (the kernel between training and test inputs vanishes); ' +
        'a zero mean has no sign, so the accuracy of the mean predictor counts it as wrong',
    );
  }
  const Ugp = gpOrderParameters(settings);
  // The GP limit and each silenced head need a new factorization each; where the feature space's one-time Gram
  // matrix makes those cheaper (e.g. P = 2000 against D = 3200), they are computed there, and so are the kernel
  // PCs when D ≤ P: their cost is the Lanczos iteration's products with the matrix, so the smaller of the P × P
  // kernel and the D × D matrix (I⊗F)ᵀG(I⊗F) wins (measured at P = 2000, D = 3200: 0.9 s against 2.3 s), and
  // forming K_U (P²·D flops at GEMM speed) costs less than forming (I⊗F)ᵀG(I⊗F), which is memory-bound.
  const Q = train.paths;
  const ranks = [Q, ...settings.heads.flatMap((H) => Array<number>(H).fill(Q - Q / H))];
  const predSpace = predictionSpaceFor(train, test.count, ranks, ev.space);
  ev.release();
  const pev = predSpace === ev.space ? ev : await createEnergyEvaluator(train, task.yTrain, settings.temperature, predSpace);
  const pcEv = pev.space === 'feature' && pev.D <= pev.P ? pev : ev;
  const pcK = Math.min(PC_OVERLAP_COMPONENTS, task.train.count);
  let tPcs = performance.now();
  opts.onProgress?.('kernel PCs', `leading principal components of the ${task.train.count} × ${task.train.count} training kernel (finite width and GP limit)`);
  const pcFinite = await pcEv.kernelPcOverlap(U1, pcK);
  const pcGp = await pcEv.kernelPcOverlap(Ugp[0], pcK);
  tPcs = performance.now() - tPcs;
  const gpPred = await pev.predict(test, Ugp[0]);
  const gpMetrics = testMetrics(gpPred, task.yTest);
  const t2 = performance.now();
  opts.onProgress?.('relevance', 'scoring heads and predicting each one silenced');
  const scores = headScores(U1, settings.heads);
  const silencing = [];
  for (const s of scores) {
    opts.signal?.throwIfAborted();
    const m = testMetrics(await pev.predict(test, silenceHead(U1, settings.heads, s.layer, s.head)), task.yTest);
    silencing.push({ layer: s.layer, head: s.head, eg_total: m.eg_total, acc_mean_predictor: m.acc_mean_predictor });
  }
  addSilencingDeltas(silencing, metrics);
  const t3 = performance.now();
  const kernel_pc_overlap = { k: pcK, P: task.train.count, finite: pcFinite, gp: pcGp };
  const t4 = performance.now();
  let head_removal_measured: AnalysisReport['head_removal_measured'];
  if (p.model && opts.measureHeadRemoval) {
    try {
      const measureIt = () => measureHeadRemoval(p.model!, config, scores, { onProgress: opts.onProgress, signal: opts.signal });
      if (opts.cache) {
        const att = config.attention;
        const heads = scores.map((s) => [s.layer, s.head]);
        const key = stageKey({
          version: VERSION,
          model: await digestPath(att!.model!),
          data: await digestPath(config.data!),
          split: att?.split,
          batchSize: att?.batchSize,
          configHeads: config.heads,
          heads,
        });
        const r = await cachedStage('head-removal', key, async () => ({ meta: await measureIt(), arrays: [] }), opts.cache);
        head_removal_measured = r.entry.meta as HeadRemovalMeasured;
        if (r.reused) opts.onProgress?.('cache', 'reused the measured head removal of an earlier run (same model, data and split)');
      } else head_removal_measured = await measureIt();
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      warnings.push(`the effect of removing each head could not be measured on the model: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  }
  const t5 = performance.now();
  const a = sol.action;
  const report: AnalysisReport = {
    tool: 'attention-paths',
    version: VERSION,
    task: taskSummary(p),
    settings: reportedSettings(p),
    paths: p.paths,
    U: sol.Us.map(toRows),
    U_a: a.Ua,
    action: { normalized: a.value / a.maxWidth, raw: a.value, entropy_raw: a.entropy, energy_raw: a.energy, max_width: a.maxWidth },
    metrics,
    predictor_mean_test: Array.from(pred.mean),
    predictor_var_test: Array.from(pred.variance),
    gp: {
      scale: gpScale(settings),
      U: Ugp.map(toRows),
      metrics: gpMetrics,
      predictor_mean_test: Array.from(gpPred.mean),
      predictor_var_test: Array.from(gpPred.variance),
    },
    head_scores_ascending: scores,
    head_silencing: silencing,
    solver: {
      method: sol.method,
      iterations: sol.iterations,
      evaluations: sol.evaluations,
      max_abs_grad_normalized: sol.maxGradNormalized,
      tolerance: config.solver.tolerance,
      converged: sol.converged,
      stop_reason: sol.stopReason,
      ...(sol.newtonSteps !== undefined ? { newton_steps: sol.newtonSteps, cg_iterations: sol.cgIterations } : {}),
      space: ev.space,
      space_reason: pev === ev ? choice.reason : `${choice.reason}; GP-limit and silenced-head predictions in ${pev.space} space (fewer flops)`,
    },
    timings_ms: {
      data: p.timings.data,
      attention: p.timings.attention,
      features: p.timings.features,
      solve: t1 - t0,
      predict: t2 - t1 - tPcs,
      relevance: t3 - t2,
      kernel_pcs: tPcs,
      ...(p.model && opts.measureHeadRemoval ? { head_removal: t5 - t4 } : {}),
      total: p.timings.data + p.timings.attention + p.timings.features + (t5 - t0),
    },
    warnings,
    kernel_pc_overlap,
  };
  report.pruning_order = pruningOrder(scores, silencing);
  if (head_removal_measured) {
    report.head_removal_measured = head_removal_measured;
    const rc = rankCorrelations(scores, silencing, head_removal_measured);
    if (rc) report.rank_correlations = rc;
    const agreement = measuredAgreement(report);
    if (agreement) head_removal_measured.agreement = agreement;
  }
  if (p.model) report.model = modelReport(p.model, U1, settings.heads);
  if (p.attentionMaps) report.attention_maps = p.attentionMaps;
  return report;
}

/** `sweep` on inputs already prepared (the language server checks the path count in between). */
export async function sweepPrepared(p: Prepared, config: AnalysisConfig, widths: number[], opts: RunOptions = {}): Promise<SweepReport> {
  const { settings, train, test, task } = p;
  const rows: SweepRow[] = [];
  // T_B and the training set are the same at every width, so one evaluator serves the whole sweep.
  const ev: EnergyEvaluator = await createEnergyEvaluator(train, task.yTrain, settings.temperature, energySpaceFor(train, config.solver.space).space);
  let init = undefined as undefined | ReturnType<typeof gpOrderParameters>;
  for (const [i, N] of widths.entries()) {
    opts.signal?.throwIfAborted();
    opts.onProgress?.('sweep', `solving at width N = ${N} (${i + 1} of ${widths.length})`, i / widths.length);
    const s = { ...settings, widths: settings.widths.map(() => N) };
    const sol = await minimizeAction(s, train, task.yTrain, {
      tolerance: config.solver.tolerance,
      maxIterations: config.solver.maxIterations,
      method: config.solver.method,
      signal: opts.signal,
      init,
      energy: ev,
    });
    init = sol.Us;
    const m = testMetrics(await ev.predict(test, sol.Us[0]), task.yTest);
    rows.push({ N, alpha: task.train.count / N, metrics: m, converged: sol.converged, iterations: sol.iterations });
  }
  const gp = testMetrics(await ev.predict(test, gpOrderParameters(settings)[0]), task.yTest);
  // A sweep's widths are its rows.
  const { widths: _w, ...rest } = reportedSettings(p);
  void _w;
  return { tool: 'attention-paths', version: VERSION, task: taskSummary(p), settings: rest, rows, gp };
}
