/**
 * Pruning heads from an ONNX model end to end, as `attention-paths prune` runs it:
 * 0. refuse at once what cannot be pruned (blocks whose heads are fixed by graph inputs, have no output projection
 *    and are not summed, carry a key/value cache, …), before any data is read or any theory runs;
 * 1. choose the heads (given, or the K lowest theory head scores among the prunable heads, never a layer's last);
 * 2. prune (`onnx/edit/prune.ts`; the pruned model's metadata carries the head map of `onnx/edit/headOrigins.ts`);
 * 3. verify: the pruned model must load in ONNX Runtime and reproduce the original model with the same heads
 *    masked to zero (and the kept ones rescaled, with `rescale`) to 1e-5 (relative to the outputs' magnitude above
 *    1) on the data given (the test split for labelled data), or on random inputs when no data is given and the
 *    inputs allow it;
 * 4. with labels: measure the metric (accuracy of sign(output) for ±1 labels, else MSE) before and after — fast,
 *    two runs of the model — and, next to it, the theory's prediction of silencing the same heads in U₁ (docs/theory.md
 *    §g) only when asked (`predict`) or when the theory is estimated cheap (`theoryIsCheap`), with
 *    the analysis's warnings (unconverged solve, model outside the class, readout not recognized);
 * 5. write the model atomically, with external data beside it when the input had some;
 * 6. compare original and pruned: heads, parameters, file size, measured metric and (with `latency`) the median
 *    latency per batch in ONNX Runtime; with `analyze`, write a config beside the pruned model reusing the
 *    original's data and settings (never over an existing file) and analyse the pruned model with it.
 * Nothing is written unless steps 0–4 succeed.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { AnalysisConfig } from '../config/types';
import { CONFIG_DEFAULTS } from '../config/defaults';
import { detectAttention } from '../onnx/detect/detect';
import { ModelEditor } from '../onnx/edit/edit';
import { writeModelFile } from '../onnx/edit/write';
import { checkOutputFile, samePath, WouldOverwriteError } from '../io/paths';
import { checkInputs, readInputArrays, syntheticInputs, type ModelInputs } from '../onnx/run/feeds';
import { splitModelData } from './model/modelTask';
import { maskedModel, maskFactors, planRemoval, pruneBlockers, pruneModel, type BlockRemoval, type HeadRef } from '../onnx/edit/prune';
import { readModel } from '../onnx/format/read';
import { compareOutputs, measure, runAll, type MeasuredMetric } from '../onnx/run/verify';
import { fileBytes, measureLatency, parameterCount, type LatencyMeasure } from '../onnx/run/footprint';
import { originalHead, readHeadOrigins, type HeadName } from '../onnx/edit/headOrigins';
import { mainCtx } from '../onnx/edit/headMap';
import { findTheoryInput } from './model/theoryClass';
import { shapeOf } from '../onnx/detect/trace';
import type { DetectionResult } from '../onnx/detect/blocks';
import type { OnnxModel } from '../onnx/format/types';
import { writePrunedConfig } from './prunedConfig';
import { estimateCost, estimateSeconds, formatSeconds, type CostEstimate, type ProblemShape } from './resources';
import { fromRows } from '../linalg/matrix';
import { predict, testMetrics } from '../theory/predictor';
import { silenceHead } from '../theory/relevance';
import type { AnalysisReport, Metrics } from '../../../shared/report';
import type { PruneComparison } from '../../../shared/model';
import { analyze } from './analyze';
import { analyzePrepared } from './analyzePrepared';
import { prepare, type ProgressFn } from './prepare';
import { analyzeWindows, isWindowed } from './windows';

/** What to prune and how. */
export interface PruneJob {
  /** The input `.onnx`. */
  model: string;
  /** The output `.onnx` (must differ from the input). */
  out: string;
  /** Heads to remove (0-based layer:head), or … */
  heads?: HeadRef[];
  /** … the number of lowest-scored heads to remove (needs `config` or labelled `data`). */
  dropLowest?: number;
  /** Data for verification and metrics (`.npz`/`.json` keyed by input names, `.npy`, or a test_data_set folder). */
  data?: string;
  /** A config whose attention is this model (`attention: { kind: model }`) for the theory's analysis. */
  config?: AnalysisConfig;
  /** Head counts for blocks whose count the graph does not tell (`--num-heads`; default: the config's `heads`). */
  headCounts?: number | number[];
  /** Rescale the kept heads of each pruned block by √(H / (H − removed)). */
  rescale?: boolean;
  /** Run the theory's prediction next to the measurement even when it is estimated expensive (`--predict`). */
  predict?: boolean;
  /** Also measure the median latency per batch of both models (the editor and `--analyze` do). */
  latency?: boolean;
  /** After writing: a config for the pruned model beside it (the original's data and settings) and its analysis. */
  analyze?: boolean;
  /** Replace an existing output file. */
  force?: boolean;
  /** Allowed difference between the pruned and the masked model (default 1e-5). */
  tolerance?: number;
  /** Refuse an analysis with more attention paths than this (per window for windowed configs); default 256. */
  maxPaths?: number;
  /**
   * Called with the estimated cost before each run of the theory (the analysis for the head scores, and the pruned
   * model's with `analyze`); may throw to stop it — the CLI's question above its time limit, or its refusal without a
   * terminal and --yes. Default: no question.
   */
  confirmCost?: (cost: CostEstimate) => void | Promise<void>;
  onProgress?: ProgressFn;
}

/** The analysis of the pruned model (`analyze`), in brief; the config written for it has the full report. */
export interface PrunedAnalysis {
  /** The config written beside the pruned model. */
  config: string;
  metrics: Metrics;
  gp_metrics: Metrics;
  /** Head scores of the pruned model, ascending, with each head's name in the original model. */
  head_scores_ascending: { layer: number; head: number; score: number; original: HeadName }[];
  solver: { converged: boolean; iterations: number; max_abs_grad_normalized: number };
  warnings: string[];
}

/** The outcome of a prune job (what `prune --json` prints). */
export interface PruneSummary {
  model: string;
  out: string;
  files: string[];
  /** Heads removed, per block, with the theory's score when an analysis ran and the head's original name. */
  removed: { layer: number; head: number; score?: number; original: HeadName }[];
  headsBefore: number[];
  headsAfter: number[];
  rescale: boolean;
  /** The verification against the masked original. */
  verification: { data: string; examples: number; maxAbsDiff: number; maxAbs: number; tolerance: number } | { skipped: string };
  /** Measured on the labelled examples (the test split): the original and the pruned model. */
  measured?: { before: MeasuredMetric; after: MeasuredMetric };
  /** The theory's prediction (finite width): test metrics with all heads vs with the removed heads silenced in U₁. */
  predicted?: { before: Metrics; after: Metrics };
  /** Whether the theory ran, with its estimated cost, or why it did not. */
  theory: { ran: boolean; estimated_seconds: number | null; reason: string };
  /** The theory's warnings when it ran (an unconverged solve, a model outside the class, a readout not recognized). */
  warnings: string[];
  /** Original versus pruned: heads, parameters, file size, measured metric, latency, prediction. */
  comparison: PruneComparison;
  /** With `analyze`: the pruned model's own analysis. */
  analysis?: PrunedAnalysis;
  notes: string[];
}

/** A config that analyses `model` on `data` with the defaults. */
export function modelConfig(model: string, data: string): AnalysisConfig {
  return {
    data: resolve(data),
    attention: { kind: 'model', model: resolve(model) },
    widths: CONFIG_DEFAULTS.widths,
    variances: CONFIG_DEFAULTS.variances,
    temperature: CONFIG_DEFAULTS.temperature,
    solver: { tolerance: CONFIG_DEFAULTS.tolerance, maxIterations: CONFIG_DEFAULTS.maxIterations },
    seed: CONFIG_DEFAULTS.seed,
  };
}

/** True when the data file has labels (so an analysis and metrics are possible). */
function hasLabels(arrays: Map<string, unknown>): boolean {
  return arrays.has('y') || (arrays.has('y_train') && arrays.has('y_test'));
}

/** Estimated seconds above which `prune` skips the theory's prediction unless `predict` is set. */
export const CHEAP_THEORY_SECONDS = 10;
/**
 * Attention paths above which `prune` skips it too: the solver's iterations grow with the number of paths, which
 * the estimate (`estimateSeconds`, a fixed number of action evaluations) does not see — the 64-path GPT-style
 * export is estimated at a few seconds but takes about 25 s of CPU with 230 L-BFGS iterations.
 */
export const CHEAP_THEORY_PATHS = 16;

/**
 * Whether the prediction next to the measurement is cheap enough to run unasked, with the estimate
 * (`estimateSeconds` of pipeline/resources.ts on the model's shapes, for one analysis without measured removal).
 */
export function theoryIsCheap(s: ProblemShape): { cheap: boolean; seconds: number; paths: number } {
  const seconds = estimateSeconds(s, { kind: 'analyze' });
  const paths = s.heads.reduce((a, b) => a * b, 1);
  return { cheap: seconds <= CHEAP_THEORY_SECONDS && paths <= CHEAP_THEORY_PATHS, seconds, paths };
}

/** Tokens T the first block attends over, when the graph tells it; else the data's axis 1 (1 when unknown). */
function tokenCount(detection: DetectionResult, inputs: ModelInputs | null): number {
  const s = detection.blocks[0].probs?.shape;
  const t = s ? s[s.length - 1] : null;
  if (typeof t === 'number') return t;
  const first = inputs ? [...inputs.arrays.values()][0] : undefined;
  return first && first.dims.length >= 3 ? first.dims[1] : 1;
}

/** N0 of the theory's input x as the graph declares it (null when unknown). */
function inputFeatures(model: OnnxModel, detection: DetectionResult): number | null {
  try {
    const ctx = mainCtx(model);
    const x = findTheoryInput(ctx, detection.blocks[0]);
    const s = shapeOf(ctx, x.tensor);
    const d = s ? s[x.featureAxis ?? s.length - 1] : null;
    return typeof d === 'number' ? d : detection.blocks[0].inputSize;
  } catch {
    return detection.blocks[0].inputSize;
  }
}

/** One line per block that cannot be pruned. */
function blockerText(detection: DetectionResult, blockers: (string | null)[], layers?: Set<number>): string {
  return detection.blocks
    .map((b, i) =>
      blockers[i] && (!layers || layers.has(i))
        ? `layer ${i} (${b.form}${b.nodes.fused ? ` '${b.nodes.fused}'` : b.nodes.softmax ? ` at Softmax '${b.nodes.softmax}'` : ''}): ${blockers[i]}`
        : '',
    )
    .filter(Boolean)
    .join('; ');
}

/**
 * The K lowest-scored heads that can be removed: heads of blocks that cannot be pruned are skipped, and a layer
 * keeps at least one head.
 * @throws Error when fewer than K heads can be removed.
 */
export function lowestPrunable(
  report: AnalysisReport,
  detection: DetectionResult,
  blockers: (string | null)[],
  K: number,
): { heads: HeadRef[]; skipped: string[] } {
  const left = detection.blocks.map((b) => b.queryHeads ?? 0);
  const heads: HeadRef[] = [];
  const skipped: string[] = [];
  // Least harmful first: the predicted ε_g increase when silenced (comparable across layer windows), as the
  // report's `pruning_order`; reports without it: the lowest scores.
  for (const s of report.pruning_order ?? report.head_scores_ascending) {
    if (heads.length === K) break;
    if (blockers[s.layer]) {
      skipped.push(`${s.layer}:${s.head}`);
      continue;
    }
    if (left[s.layer] <= 1) continue;
    left[s.layer]--;
    heads.push({ layer: s.layer, head: s.head });
  }
  if (heads.length < K) {
    const blocked = blockers.some(Boolean) ? ` (${blockerText(detection, blockers)})` : '';
    throw new Error(`--drop-lowest ${K}: only ${heads.length} head(s) can be removed, keeping one head per layer${blocked}`);
  }
  return { heads, skipped };
}

/**
 * Runs a prune job (see module doc).
 * @throws Error with a clear reason for bad arguments or inputs (nothing is written then).
 */
export async function runPruneJob(job: PruneJob): Promise<PruneSummary> {
  const progress = job.onProgress;
  if (samePath(job.model, job.out)) throw new Error(`the output ${job.out} is the input model; write the pruned model to a new file`);
  if (!job.heads === (job.dropLowest === undefined)) throw new Error('give either the heads to remove or the number of lowest-scored heads to drop');
  const model = readModel(job.model);
  for (const t of model.graph.initializers.values()) {
    if (t.external && samePath(t.external.path, join(dirname(resolve(job.out)), `${basename(job.out)}.data`))) {
      throw new Error(`the output's external data file would replace '${t.external.location}', which the input model reads`);
    }
  }
  if (!job.force && existsSync(job.out)) throw new WouldOverwriteError(job.out);
  checkOutputFile(resolve(job.out), true);
  let config = job.config;
  if (config && (config.attention?.kind !== 'model' || !config.attention.model || !samePath(config.attention.model, job.model))) {
    throw new Error(`the config's attention must be this model (attention: { kind: model, model: ${basename(job.model)} })`);
  }
  const counts = job.headCounts ?? config?.heads;
  const detection = detectAttention(model, counts !== undefined ? { heads: counts } : {});
  if (detection.blocks.length === 0) throw new Error(`${job.model}: ${detection.summary}`);

  // 0. What cannot be pruned is refused before any other work.
  const blockers = pruneBlockers(model, detection);
  let plan: BlockRemoval[] | null = null;
  if (job.heads) {
    plan = planRemoval(detection, job.heads, job.rescale);
    const why = blockerText(detection, blockers, new Set(plan.map((r) => r.block)));
    if (why) throw new Error(`${why.includes('; ') ? 'these layers cannot be pruned' : 'cannot prune'} ${why}`);
  } else if (blockers.every(Boolean)) {
    throw new Error(`no head of ${basename(job.model)} can be removed: ${blockerText(detection, blockers)}`);
  } else if (job.dropLowest !== undefined) {
    // What the model alone decides is refused before any data is read or theory runs.
    const K = job.dropLowest;
    const counts = detection.blocks.map((b) => b.queryHeads);
    if (!Number.isInteger(K) || K < 1) throw new Error(`--drop-lowest must be a positive integer (got ${K})`);
    if (counts.every((h): h is number => typeof h === 'number')) {
      const total = counts.reduce((a, h) => a + h, 0);
      if (K >= total) throw new Error(`--drop-lowest ${K} would remove all ${total} heads`);
      const removable = counts.reduce((a, h, l) => a + (blockers[l] ? 0 : Math.max(0, h - 1)), 0);
      if (K > removable) throw new Error(`--drop-lowest ${K}: only ${removable} head(s) can be removed, keeping one head per layer`);
    }
  }

  // Data: labelled (split into train/test) or plain inputs.
  const dataPath = job.data ?? config?.data;
  let verifyInputs: ModelInputs | null = null;
  let labels: Float64Array | null = null;
  let dataLabel = '';
  let trainCount = 0;
  if (dataPath) {
    const arrays = readInputArrays(dataPath, model);
    if (hasLabels(arrays)) {
      const sp = splitModelData(model, arrays, dataPath, config?.attention?.split ?? 0.5);
      verifyInputs = sp.test;
      labels = sp.yTest;
      trainCount = sp.train.count;
      dataLabel = `${dataPath} (test split: ${sp.rule})`;
      if (!config) config = modelConfig(job.model, dataPath);
    } else {
      verifyInputs = checkInputs(model, arrays, dataPath);
      dataLabel = dataPath;
    }
  }
  if (job.analyze && !(config && labels))
    throw new Error('--analyze needs labelled data: give --config (attention: { kind: model }) or --data with labels (y or y_train/y_test)');

  // The theory: always for --drop-lowest; for the prediction next to the measurement only when asked or cheap.
  const N0 = inputFeatures(model, detection);
  const perLayer = detection.blocks.map((b) => b.queryHeads ?? 1);
  const paths = perLayer.reduce((a, b) => a * b, 1);
  const cost =
    config && N0 !== null && trainCount > 0 && verifyInputs
      ? theoryIsCheap({
          P: trainCount,
          P_test: verifyInputs.count,
          N0,
          T: tokenCount(detection, verifyInputs),
          heads: perLayer,
          source: 'model',
          attention: 'fixed',
        })
      : null;
  const estimated = cost ? cost.seconds : null;
  let theoryReason: string;
  let runTheory = false;
  if (job.dropLowest !== undefined) {
    runTheory = true;
    theoryReason = "--drop-lowest ranks the heads by the theory's scores";
  } else if (!config || !labels) theoryReason = 'no labelled data';
  else if (job.predict) {
    runTheory = true;
    theoryReason = 'asked for (--predict)';
  } else if (cost?.cheap) {
    runTheory = true;
    theoryReason = `estimated cheap (about ${formatSeconds(cost.seconds)}, ${paths} attention paths)`;
  } else {
    const why =
      cost === null
        ? 'its cost is unknown'
        : paths > CHEAP_THEORY_PATHS
          ? `${paths} attention paths (more than ${CHEAP_THEORY_PATHS}: the solve's iterations grow with the paths; estimated at least ${formatSeconds(cost.seconds)})`
          : `estimated ${formatSeconds(cost.seconds)} (more than ${CHEAP_THEORY_SECONDS} s)`;
    theoryReason = `not run: ${why}, P = ${trainCount}${N0 !== null ? `, N0 = ${N0}` : ''}; pass --predict to run it, or analyse the model with a config`;
  }
  let report: AnalysisReport | null = null;
  let prepared: Awaited<ReturnType<typeof prepare>> | null = null;
  const notes: string[] = [];
  if (runTheory && config) {
    progress?.('analysis', 'analysing the model with the theory (head scores)');
    try {
      if (isWindowed(config)) {
        // Layer windows: one U₁ per window, so there is no single Prepared to silence several heads in.
        report = await analyzeWindows(config, { onProgress: progress, maxPaths: job.maxPaths ?? 256, confirmCost: job.confirmCost });
      } else {
        const confirm = job.confirmCost;
        const gate = confirm && ((shape: ProblemShape) => confirm(estimateCost(shape, { kind: 'analyze' })));
        prepared = await prepare(config, progress, gate, { maxPaths: job.maxPaths ?? 256 });
        report = await analyzePrepared(prepared, config, { onProgress: progress });
      }
    } catch (e) {
      // --drop-lowest cannot do without the scores; for --heads the prediction is only reported.
      if (job.dropLowest !== undefined) throw e;
      notes.push(`no theory prediction: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
      prepared = null;
      report = null;
    }
  }
  let heads = job.heads;
  if (job.dropLowest !== undefined) {
    if (!report)
      throw new Error("--drop-lowest needs the theory's head scores: give --config (attention: { kind: model }) or --data with labels (y or y_train/y_test)");
    const K = job.dropLowest;
    const total = report.head_scores_ascending.length;
    if (!Number.isInteger(K) || K < 1) throw new Error(`--drop-lowest must be a positive integer (got ${K})`);
    if (K >= total) throw new Error(`--drop-lowest ${K} would remove all ${total} heads`);
    const chosen = lowestPrunable(report, detection, blockers, K);
    heads = chosen.heads;
    if (chosen.skipped.length) notes.push(`not removable, skipped: ${chosen.skipped.join(', ')}`);
    plan = planRemoval(detection, heads, job.rescale);
  }
  progress?.('prune', `removing ${heads!.length} head(s)`);
  const pruned = pruneModel(model, detection, plan!);
  notes.push(...pruned.notes);

  // Verification against the masked original.
  let verification: PruneSummary['verification'] = { skipped: 'no data' };
  let measured: PruneSummary['measured'];
  if (!verifyInputs) {
    const syn = syntheticInputs(model, 4);
    if ('reason' in syn) verification = { skipped: `no data given and no random inputs possible (${syn.reason}); pass --data` };
    else {
      verifyInputs = syn;
      dataLabel = 'random inputs';
    }
  }
  const tol = job.tolerance ?? 1e-5;
  const batchSize = config?.attention?.batchSize;
  const originalBytes = new ModelEditor(model, { inlineExternal: true }).bytes();
  const prunedBytes = pruned.editor.bytes();
  if (verifyInputs) {
    progress?.('verify', `running the masked original and the pruned model on ${verifyInputs.count} examples`);
    const masked = maskedModel(model, detection, maskFactors(plan!));
    const a = await runAll(masked.bytes(), model, verifyInputs, `${job.model} (heads masked)`, { batchSize });
    const b = await runAll(prunedBytes, model, verifyInputs, `${job.out} (pruned)`, { batchSize });
    const cmp = compareOutputs(a, b);
    const allowed = tol * Math.max(1, cmp.maxAbs);
    if (!(cmp.maxAbsDiff <= allowed)) {
      throw new Error(
        `the pruned model differs from the original with the same heads masked by ${cmp.maxAbsDiff.toExponential(2)} on '${cmp.worst}' ` +
          `(allowed ${allowed.toExponential(1)}); nothing was written`,
      );
    }
    verification = { data: dataLabel, examples: verifyInputs.count, maxAbsDiff: cmp.maxAbsDiff, maxAbs: cmp.maxAbs, tolerance: allowed };
    if (labels) {
      const first = model.graph.outputs[0].name;
      const orig = await runAll(originalBytes, model, verifyInputs, job.model, { outputs: [first], batchSize });
      try {
        measured = { before: measure(orig.get(first)!, labels), after: measure(b.get(first)!, labels) };
      } catch (e) {
        notes.push(`no measured metric: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  let predicted: PruneSummary['predicted'];
  if (report?.windows) notes.push('no theory prediction of the pruned model: a layer-window analysis predicts each window on its own (see its report)');
  if (report && prepared) {
    let U = fromRows(report.U[0]);
    for (const h of heads!) U = silenceHead(U, prepared.settings.heads, h.layer, h.head);
    const pred = await predict(prepared.train, prepared.test, prepared.task.yTrain, U, prepared.settings.temperature);
    predicted = { before: report.metrics, after: testMetrics(pred, prepared.task.yTest) };
  }
  let latency: { before: LatencyMeasure; after: LatencyMeasure } | undefined;
  if ((job.latency || job.analyze) && verifyInputs) {
    progress?.('latency', 'timing a batch of the original and the pruned model in ONNX Runtime');
    const before = await measureLatency(originalBytes, model, verifyInputs, job.model, { batchSize });
    const after = await measureLatency(prunedBytes, model, verifyInputs, job.out, { batchSize });
    latency = { before, after };
  }
  const files = writeModelFile(pruned.editor.proto, job.out, { externalize: pruned.external, force: job.force });
  const written = readModel(job.out);
  const origins = readHeadOrigins(model, detection).origins;
  const score = (l: number, h: number) => report?.head_scores_ascending.find((s) => s.layer === l && s.head === h)?.score;
  const comparison: PruneSummary['comparison'] = {
    original: {
      heads: pruned.before,
      parameters: parameterCount(model),
      file_bytes: fileBytes(model),
      ...(measured ? { measured: measured.before } : {}),
      ...(latency ? { latency: latency.before } : {}),
      ...(report ? { predicted: report.metrics } : {}),
    },
    pruned: {
      heads: pruned.after,
      parameters: parameterCount(written),
      file_bytes: fileBytes(written),
      ...(measured ? { measured: measured.after } : {}),
      ...(latency ? { latency: latency.after } : {}),
    },
  };
  const summary: PruneSummary = {
    model: job.model,
    out: job.out,
    files,
    removed: heads!.map((h) => ({
      ...h,
      ...(score(h.layer, h.head) !== undefined ? { score: score(h.layer, h.head) } : {}),
      original: originalHead(origins, h.layer, h.head),
    })),
    headsBefore: pruned.before,
    headsAfter: pruned.after,
    rescale: !!job.rescale,
    verification,
    ...(measured ? { measured } : {}),
    ...(predicted ? { predicted } : {}),
    theory: { ran: !!report, estimated_seconds: estimated, reason: report || !runTheory ? theoryReason : 'failed (see the notes)' },
    warnings: report ? [...report.warnings] : [],
    comparison,
    notes,
  };
  if (job.analyze && config) {
    const made = writePrunedConfig(config, resolve(job.out), config.heads !== undefined ? pruned.after : undefined);
    notes.push(`config for the pruned model written to ${made.config}`);
    progress?.('analysis', `analysing ${basename(job.out)} with ${basename(made.config)}`);
    const pConfig: AnalysisConfig = {
      ...config,
      source: made.config,
      attention: { ...config.attention!, model: resolve(job.out) },
      ...(config.heads !== undefined ? { heads: pruned.after } : {}),
    };
    const r = await analyze(pConfig, { onProgress: progress, measureHeadRemoval: true, confirmCost: job.confirmCost });
    const po = readHeadOrigins(written, detectAttention(written, pConfig.heads !== undefined ? { heads: pConfig.heads } : {})).origins;
    summary.analysis = {
      config: made.config,
      metrics: r.metrics,
      gp_metrics: r.gp.metrics,
      head_scores_ascending: r.head_scores_ascending.map((s) => ({
        layer: s.layer,
        head: s.head,
        score: s.score,
        original: originalHead(po, s.layer, s.head),
      })),
      solver: { converged: r.solver.converged, iterations: r.solver.iterations, max_abs_grad_normalized: r.solver.max_abs_grad_normalized },
      warnings: r.warnings,
    };
    comparison.pruned.predicted = r.metrics;
  }
  return summary;
}
