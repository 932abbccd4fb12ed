/**
 * Pruning heads from an ONNX model end to end, as `attention-paths prune` runs it:
 * 1. choose the heads (given, or the K lowest theory head scores from an analysis of the model on labelled data);
 * 2. prune (`onnx/prune.ts`);
 * 3. verify: the pruned model must load in ONNX Runtime and reproduce the original model with the same heads
 *    masked to zero (and the kept ones rescaled, with `rescale`) to 1e-5 (relative to the outputs' magnitude above
 *    1) on the data given (the test split for labelled data), or on random inputs when no data is given and the
 *    inputs allow it;
 * 4. with labels: measure the metric (accuracy of sign(output) for ±1 labels, else MSE) before and after, next
 *    to the theory's prediction of silencing the same heads in U₁ (THEORY.md section g);
 * 5. write the model atomically, with external data beside it when the input had some.
 * Nothing is written unless every step succeeds.
 */
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { AnalysisConfig } from '../config/types';
import { CONFIG_DEFAULTS } from '../config/defaults';
import { detectAttention } from '../onnx/detect';
import { ModelEditor, writeModelFile } from '../onnx/edit';
import { checkOutputFile } from '../report/write';
import { checkInputs, readInputArrays, syntheticInputs, type ModelInputs } from '../onnx/feeds';
import { splitModelData } from '../onnx/modelTask';
import { maskedModel, maskFactors, planRemoval, pruneModel, type BlockRemoval, type HeadRef } from '../onnx/prune';
import { readModel } from '../onnx/read';
import { compareOutputs, measure, runAll, type MeasuredMetric } from '../onnx/verify';
import { fromRows } from '../linalg/matrix';
import { predict, testMetrics } from '../theory/predictor';
import { silenceHead } from '../theory/relevance';
import type { AnalysisReport, Metrics } from '../report/types';
import { analyzePrepared } from './analyze';
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
  /** Rescale the kept heads of each pruned block by √(H / (H − removed)). */
  rescale?: boolean;
  /** Replace an existing output file. */
  force?: boolean;
  /** Allowed difference between the pruned and the masked model (default 1e-5). */
  tolerance?: number;
  /** Refuse an analysis with more attention paths than this (per window for windowed configs); default 256. */
  maxPaths?: number;
  onProgress?: ProgressFn;
}

/** The outcome of a prune job (what `prune --json` prints). */
export interface PruneSummary {
  model: string;
  out: string;
  files: string[];
  /** Heads removed, per block, with the theory's score when an analysis ran. */
  removed: { layer: number; head: number; score?: number }[];
  headsBefore: number[];
  headsAfter: number[];
  rescale: boolean;
  /** The verification against the masked original. */
  verification: { data: string; examples: number; maxAbsDiff: number; maxAbs: number; tolerance: number } | { skipped: string };
  /** Measured on the labelled examples (the test split): the original and the pruned model. */
  measured?: { before: MeasuredMetric; after: MeasuredMetric };
  /** The theory's prediction (finite width): test metrics with all heads vs with the removed heads silenced in U₁. */
  predicted?: { before: Metrics; after: Metrics };
  notes: string[];
}

function sameFile(a: string, b: string): boolean {
  const ra = resolve(a);
  const rb = resolve(b);
  if (ra === rb) return true;
  try {
    return existsSync(rb) && realpathSync(ra) === realpathSync(rb);
  } catch {
    return false;
  }
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

/**
 * Runs a prune job (see module doc).
 * @throws Error with a clear reason for bad arguments or inputs (nothing is written then).
 */
export async function runPruneJob(job: PruneJob): Promise<PruneSummary> {
  const progress = job.onProgress;
  if (sameFile(job.model, job.out)) throw new Error(`the output ${job.out} is the input model; write the pruned model to a new file`);
  if (!job.heads === (job.dropLowest === undefined)) throw new Error('give either the heads to remove or the number of lowest-scored heads to drop');
  const model = readModel(job.model);
  for (const t of model.graph.initializers.values()) {
    if (t.external && sameFile(t.external.path, join(dirname(resolve(job.out)), `${basename(job.out)}.data`))) {
      throw new Error(`the output's external data file would replace '${t.external.location}', which the input model reads`);
    }
  }
  if (!job.force && existsSync(job.out)) throw new Error(`${job.out} already exists; not overwriting it (pass --force to replace it)`);
  checkOutputFile(resolve(job.out), true);
  const detection = detectAttention(model);
  if (detection.blocks.length === 0) throw new Error(`${job.model}: ${detection.summary}`);

  // Data: labelled (split into train/test) or plain inputs.
  let config = job.config;
  if (config && (config.attention?.kind !== 'model' || !config.attention.model || !sameFile(config.attention.model, job.model))) {
    throw new Error(`the config's attention must be this model (attention: { kind: model, model: ${basename(job.model)} })`);
  }
  const dataPath = job.data ?? config?.data;
  let verifyInputs: ModelInputs | null = null;
  let labels: Float64Array | null = null;
  let dataLabel = '';
  if (dataPath) {
    const arrays = readInputArrays(dataPath, model);
    if (hasLabels(arrays)) {
      const sp = splitModelData(model, arrays, dataPath, config?.attention?.split ?? 0.5);
      verifyInputs = sp.test;
      labels = sp.yTest;
      dataLabel = `${dataPath} (test split: ${sp.rule})`;
      if (!config) config = modelConfig(job.model, dataPath);
    } else {
      verifyInputs = checkInputs(model, arrays, dataPath);
      dataLabel = dataPath;
    }
  }
  // The theory's analysis (for --drop-lowest, and the prediction next to the measured metric).
  let report: AnalysisReport | null = null;
  let prepared: Awaited<ReturnType<typeof prepare>> | null = null;
  const notes: string[] = [];
  if (config && (job.dropLowest !== undefined || labels)) {
    progress?.('analysis', 'analysing the model with the theory (head scores)');
    try {
      if (isWindowed(config)) {
        // Layer windows: one U₁ per window, so there is no single Prepared to silence several heads in.
        report = await analyzeWindows(config, { onProgress: progress, maxPaths: job.maxPaths ?? 256 });
      } else {
        prepared = await prepare(config, progress, undefined, { maxPaths: job.maxPaths ?? 256 });
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
    if (!report) throw new Error('--drop-lowest needs the theory\'s head scores: give --config (attention: { kind: model }) or --data with labels (y or y_train/y_test)');
    const K = job.dropLowest;
    const total = report.head_scores_ascending.length;
    if (!Number.isInteger(K) || K < 1) throw new Error(`--drop-lowest must be a positive integer (got ${K})`);
    if (K >= total) throw new Error(`--drop-lowest ${K} would remove all ${total} heads`);
    // Least harmful first: the predicted ε_g increase when silenced (comparable across layer windows), as the
    // report's `pruning_order`; older reports without it: the lowest scores.
    heads = (report.pruning_order ?? report.head_scores_ascending).slice(0, K).map((s) => ({ layer: s.layer, head: s.head }));
  }
  const plan: BlockRemoval[] = planRemoval(detection, heads!, job.rescale);
  progress?.('prune', `removing ${heads!.length} head(s)`);
  const pruned = pruneModel(model, detection, plan);
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
  if (verifyInputs) {
    progress?.('verify', `running the masked original and the pruned model on ${verifyInputs.count} examples`);
    const masked = maskedModel(model, detection, maskFactors(plan));
    const a = await runAll(masked.bytes(), model, verifyInputs, `${job.model} (heads masked)`);
    const b = await runAll(pruned.editor.bytes(), model, verifyInputs, `${job.out} (pruned)`);
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
      const orig = await runAll(new ModelEditor(model, { inlineExternal: true }).bytes(), model, verifyInputs, job.model, { outputs: [first] });
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
  const files = writeModelFile(pruned.editor.proto, job.out, { externalize: pruned.external, force: job.force });
  const score = (l: number, h: number) => report?.head_scores_ascending.find((s) => s.layer === l && s.head === h)?.score;
  return {
    model: job.model,
    out: job.out,
    files,
    removed: heads!.map((h) => ({ ...h, ...(score(h.layer, h.head) !== undefined ? { score: score(h.layer, h.head) } : {}) })),
    headsBefore: pruned.before,
    headsAfter: pruned.after,
    rescale: !!job.rescale,
    verification,
    ...(measured ? { measured } : {}),
    ...(predicted ? { predicted } : {}),
    notes,
  };
}
