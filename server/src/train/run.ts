/**
 * The whole `attention-paths train` job, without argument parsing: load the task, train the theory's network
 * class by gradient descent, export it to ONNX and check the export in ONNX Runtime and the attention detector,
 * measure single-head removals, run the theory with the trained Q/K, compare (docs/theory.md §a, §f, §g), and
 * write DIR/model.onnx, DIR/attention.npz, DIR/weights.npz, DIR/data.npz (the theory's training sequences and the
 * test set, keyed x_train/x_test/y_train/y_test after the exported model's input), DIR/model.attention.yaml (a
 * config that analyses model.onnx on data.npz with the theory settings used here) and DIR/train-report.json.
 *
 * Nothing is written until everything has succeeded; files are written to temporary names in DIR and renamed into
 * place, and existing files are replaced only with `force`.
 */
import { existsSync, statSync } from 'node:fs';
import { writeStaged } from '../io/atomic';
import { makeFolder, WouldOverwriteError } from '../io/paths';
import { join } from 'node:path';
import type { AnalysisConfig } from '../config/types';
import type { Readout, TaskData } from '../data/types';
import { markovTask } from '../data/markov';
import { mnistOneShotTask } from '../data/mnist';
import { loadTaskFile } from '../data/load';
import { encodeNpz } from '../data/npz';
import { stringify as toYaml } from 'yaml';
import { decodeModel } from '../onnx/format/read';
import { detectAttention } from '../onnx/detect/detect';
import { loadOrt } from '../onnx/run/runtime';
import type { ProgressFn } from '../pipeline/prepare';
import type { AnalysisReport } from '../../../shared/report';
import { VERSION } from '../version';
import { selectBackend, type BackendInfo, type BackendPreference } from './backend';
import { exportOnnx, EXPORT_OPSET, ONNX_INPUT, ONNX_OUTPUT } from './export';
import { balancedSubset, comparePruning, singleHeadRemoval, theoryForNetwork, type HeadRemoval, type PruningComparison } from './experiment';
import { checkShape, parameterCount, valueWeights, type NetworkParams, type NetworkShape } from './model';
import { evaluate, trainNetwork } from './trainer';
import { orderParametersFromWeights } from '../theory/weights';

/** Files `train` writes into its output folder. */
export const TRAIN_OUTPUTS = ['model.onnx', 'attention.npz', 'weights.npz', 'data.npz', 'model.attention.yaml', 'train-report.json'] as const;

/** Largest |ONNX Runtime output − tfjs output| accepted for the export (float32 on both sides). */
export const EXPORT_TOLERANCE = 1e-5;

/**
 * Defaults of `train`. The Markov task here is a smaller instance than the paper's (20 visible features and 10
 * steps instead of 200 and 30) with a larger training set for gradient descent (4000 sequences instead of 100): at
 * the paper's size, gradient descent on 2 CPU cores neither learns the task in a minute nor avoids memorizing 100
 * examples. The theory runs on a class-balanced subset of `theoryP` training sequences: 300 for Markov (the paper's
 * theory used P = 100 with hand-designed heads; with the weaker learned attention, the head scores at P = 100 are
 * dominated by sampling noise), which keeps the whole default run near 20 s on 2 cores.
 */
export const TRAIN_DEFAULTS = {
  heads: [2, 2],
  G: 8,
  width: 8,
  epochs: 10,
  learningRate: 0.01,
  batchSize: 50,
  markov: { P: 4000, P_test: 1000, visible: 20, steps: 10, theoryP: 300 },
  mnist: { P: 2000, P_test: 1000, theoryP: 200 },
  dataTheoryP: 200,
} as const;

/** Everything `runTrainJob` needs (defaults applied by the caller, see cli/commands/train.ts). */
export interface TrainJob {
  /** The analysis config: task or data, seed, readout, and the theory's widths, variances, temperature, solver. */
  config: AnalysisConfig;
  heads: number[];
  G: number;
  /** Width N of every layer of the trained network (N_1 = … = N_L = N_a). */
  width: number;
  epochs: number;
  learningRate: number;
  batchSize: number;
  /** Training sequences for gradient descent (built-in tasks; a data file brings its own). */
  P?: number;
  P_test?: number;
  /** Markov instance size (built-in Markov task only). */
  markovVisible?: number;
  markovSteps?: number;
  /** Training sequences the theory uses (a class-balanced subset of the training set). */
  theoryP?: number;
  backend: BackendPreference;
  out: string;
  force: boolean;
  progress?: ProgressFn;
  /** Notes about settings adjusted to the data (e.g. a theory P larger than the training set). */
  onNote?: (note: string) => void;
  signal?: AbortSignal;
}

/** The JSON written to train-report.json. */
export interface TrainReport {
  tool: 'attention-paths';
  version: string;
  command: 'train';
  task: { name: string; description: string; P: number; P_test: number; N0: number; T: number; theory_P: number };
  network: NetworkShape & { parameters: number; input: string; normalization: string };
  training: {
    optimizer: string;
    loss: string;
    epochs: number;
    learning_rate: number;
    batch_size: number;
    seed: number;
    steps: number;
    initial_loss: number;
    final_loss: number;
    /** Mean training loss per epoch, then the final full-training-set loss. */
    loss_curve: number[];
    ms: number;
  };
  backend: BackendInfo;
  accuracy: { train: number; test: number };
  mse: { train: number; test: number };
  export: {
    file: string;
    opset: number;
    input: string;
    output: string;
    /** max |ONNX Runtime − tfjs| over the test set, and the tolerance it had to meet. */
    max_abs_diff: number;
    tolerance: number;
    examples_checked: number;
    /** What `detectAttention` found in the exported model. */
    detected_blocks: {
      index: number;
      form: string;
      query_heads: number | null;
      kv_heads: number | null;
      head_size_qk: number | null;
      head_size_v: number | null;
      confidence: string;
    }[];
  };
  head_removal: { rescaling: string; full_accuracy: number; full_mse: number; removals: HeadRemoval[]; skipped_layers: number[] };
  theory: {
    settings: AnalysisReport['settings'];
    U_1: number[][];
    head_scores_ascending: AnalysisReport['head_scores_ascending'];
    accuracy_finite_width: number;
    accuracy_gp: number;
    eg_finite_width: number;
    eg_gp: number;
    solver: AnalysisReport['solver'];
    warnings: string[];
  };
  comparison: {
    spearman_score_vs_drop: number | null;
    spearman_score_vs_mse_increase: number | null;
    /** The theory's predicted ε_g increase when silenced against the accuracy drop. */
    spearman_predicted_vs_drop: number | null;
    heads: PruningComparison['heads'];
    /** W Wᵀ/N_1 from the trained value weights (docs/theory.md §f, normalized). */
    U_GD: number[][];
    U_pattern: PruningComparison['uPattern'];
  };
  files: Record<(typeof TRAIN_OUTPUTS)[number], string>;
  timings_ms: Record<string, number>;
}

/** Loads the task for a train job; built-in tasks are drawn at the job's sizes. */
export function loadTrainTask(job: TrainJob): TaskData {
  const c = job.config;
  if (c.task === 'markov' || c.task === 'markov-2paths') {
    const d = TRAIN_DEFAULTS.markov;
    return markovTask({
      variant: c.task === 'markov' ? '4paths' : '2paths',
      seed: c.seed,
      P: job.P ?? d.P,
      P_test: job.P_test ?? d.P_test,
      N0: job.markovVisible ?? d.visible,
      T: job.markovSteps ?? d.steps,
    });
  }
  if (c.task === 'mnist-oneshot')
    return mnistOneShotTask({ seed: c.seed, P: job.P ?? TRAIN_DEFAULTS.mnist.P, P_test: job.P_test ?? TRAIN_DEFAULTS.mnist.P_test });
  if (c.data) {
    if (job.P !== undefined || job.P_test !== undefined) throw new Error('--P / --P-test set the size of a built-in task; a data file brings its own examples');
    return loadTaskFile(c.data);
  }
  throw new Error('train needs a task (--task markov | mnist-oneshot) or a data file (--data X.npz)');
}

function defaultTheoryP(job: TrainJob): number {
  if (job.theoryP !== undefined) return job.theoryP;
  if (job.config.task === 'markov' || job.config.task === 'markov-2paths') return TRAIN_DEFAULTS.markov.theoryP;
  if (job.config.task === 'mnist-oneshot') return TRAIN_DEFAULTS.mnist.theoryP;
  return TRAIN_DEFAULTS.dataTheoryP;
}

/**
 * Refuses to run when an output exists (without force) or the folder is a file: checked before any work.
 * @throws WouldOverwriteError or Error.
 */
export function checkOutputDir(dir: string, force: boolean): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`--out ${dir} exists and is not a folder`);
  if (force) return;
  for (const name of TRAIN_OUTPUTS) if (existsSync(join(dir, name))) throw new WouldOverwriteError(join(dir, name));
}

/**
 * Arrays of data.npz, keyed after the exported model's input (`x`): x_train [P, N0, T] and y_train are the
 * class-balanced training subset the theory used (so analysing the model reproduces the train report's theory),
 * x_test/y_test the whole test set.
 */
export function dataArrays(
  train: TaskData['train'],
  yTrain: Float64Array,
  test: TaskData['test'],
  yTest: Float64Array,
): Record<string, { shape: number[]; data: Float64Array }> {
  return {
    [`${ONNX_INPUT}_train`]: { shape: [train.count, train.features, train.tokens], data: Float64Array.from(train.data) },
    [`${ONNX_INPUT}_test`]: { shape: [test.count, test.features, test.tokens], data: Float64Array.from(test.data) },
    y_train: { shape: [yTrain.length], data: Float64Array.from(yTrain) },
    y_test: { shape: [yTest.length], data: Float64Array.from(yTest) },
  };
}

/**
 * model.attention.yaml: analyses DIR/model.onnx on DIR/data.npz (paths relative to the config) with the theory
 * settings the train job used, for `attention-paths analyze` and `prune --config`.
 */
export function modelConfigYaml(config: AnalysisConfig, settings: AnalysisReport['settings']): string {
  const doc = {
    data: 'data.npz',
    attention: { kind: 'model', model: 'model.onnx' },
    widths: settings.widths,
    variances: settings.variances,
    temperature: settings.temperature,
    readout: settings.readout,
    solver: { tolerance: config.solver.tolerance, maxIterations: config.solver.maxIterations },
    seed: config.seed,
  };
  return (
    '# Written by `attention-paths train`: the theory applied to the attention of the trained model.onnx, on the\n' +
    "# training sequences the train job's theory used and its test set (data.npz), with the same theory settings.\n" +
    toYaml(doc, { flowCollectionPadding: false })
  );
}

/** Writes every file under a temporary name, then renames them all into place (or removes them all on error; io/atomic.ts). */
function writeAll(dir: string, files: [string, Uint8Array | string][], force: boolean): void {
  checkOutputDir(dir, force);
  makeFolder(dir);
  writeStaged(files.map(([name, data]) => ({ path: join(dir, name), data })));
}

/**
 * Runs the ONNX model on X and returns its outputs [P] (batches of 250).
 * @throws Error when ONNX Runtime cannot load the model or its output does not have shape [batch, 1].
 */
export async function runOnnx(bytes: Uint8Array, X: TaskData['train']): Promise<Float64Array> {
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', logSeverityLevel: 4 });
  const { count: P, features: N0, tokens: T } = X;
  const out = new Float64Array(P);
  const chunk = 250;
  try {
    for (let p0 = 0; p0 < P; p0 += chunk) {
      const n = Math.min(chunk, P - p0);
      const x = new ort.Tensor('float32', Float32Array.from(X.data.subarray(p0 * N0 * T, (p0 + n) * N0 * T)), [n, N0, T]);
      const r = await session.run({ [ONNX_INPUT]: x });
      const f = r[ONNX_OUTPUT];
      if (!f || f.dims.length !== 2 || f.dims[0] !== n || f.dims[1] !== 1)
        throw new Error(`the exported model's output has shape [${f?.dims}], expected [${n}, 1]`);
      out.set(f.data as Float32Array, p0);
    }
  } finally {
    await session.release();
  }
  return out;
}

/** Arrays of attention.npz: Q_l, K_l [H_l, G, N0] (the project's Q/K attention file format, `loadAttentionParams`). */
export function attentionArrays(p: NetworkParams): Record<string, { shape: number[]; data: Float64Array }> {
  const out: Record<string, { shape: number[]; data: Float64Array }> = {};
  p.shape.heads.forEach((H, l) => {
    out[`Q_${l + 1}`] = { shape: [H, p.shape.G, p.shape.N0], data: p.Q[l] };
    out[`K_${l + 1}`] = { shape: [H, p.shape.G, p.shape.N0], data: p.K[l] };
  });
  return out;
}

/**
 * Arrays of weights.npz: `V0` [N_1, N0]; `V_l` [H_l, N_{l+1}, N_l] (V^l_h = V_l[h]); `a` [N_a]; `widths`
 * [N_1, …, N_L, N_a]; `heads` [H_1, …, H_L]; `U_GD` [H_tot, H_tot] = W Wᵀ/N_1 (docs/theory.md §f, normalized).
 */
export function weightArrays(p: NetworkParams): Record<string, { shape: number[]; data: Float64Array }> {
  const { heads, widths, N0 } = p.shape;
  const out: Record<string, { shape: number[]; data: Float64Array }> = {
    V0: { shape: [widths[0], N0], data: p.V0 },
  };
  heads.forEach((H, l) => {
    const n = widths[l + 1] * widths[l];
    const data = new Float64Array(H * n);
    p.V[l].forEach((Vh, h) => data.set(Vh, h * n));
    out[`V_${l + 1}`] = { shape: [H, widths[l + 1], widths[l]], data };
  });
  out.a = { shape: [widths[heads.length]], data: p.a };
  out.widths = { shape: [widths.length], data: Float64Array.from(widths) };
  out.heads = { shape: [heads.length], data: Float64Array.from(heads) };
  const U1 = orderParametersFromWeights(valueWeights(p)).Us[0];
  out.U_GD = { shape: [U1.rows, U1.cols], data: U1.data };
  return out;
}

/**
 * The train job (module comment).
 * @returns the report (also written to DIR/train-report.json).
 * @throws Error with a one-line reason for bad input (task, shapes, hyperparameters, existing outputs), training
 *   divergence, an export that does not reproduce the network to `EXPORT_TOLERANCE` or is not detected with the
 *   network's heads, and numerical trouble in the theory. Nothing is written then.
 */
export async function runTrainJob(job: TrainJob): Promise<TrainReport> {
  const timings: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = now - t;
    t = now;
  };
  const progress = job.progress;
  checkOutputDir(job.out, job.force);

  progress?.('data', 'loading the task');
  const task = loadTrainTask(job);
  const readout: Readout = job.config.readout ?? task.readout ?? 'last';
  const L = job.heads.length;
  const shape: NetworkShape = {
    N0: task.train.features,
    T: task.train.tokens,
    heads: [...job.heads],
    G: job.G,
    widths: new Array<number>(L + 1).fill(job.width),
    readout,
  };
  checkShape(shape);
  const theoryP = defaultTheoryP(job);
  if (job.theoryP !== undefined && job.theoryP > task.train.count) {
    job.onNote?.(`--theory-P ${job.theoryP} is more than the ${task.train.count} training sequences; the theory uses all ${task.train.count}`);
  }
  const theorySet = balancedSubset(task.train, task.yTrain, Math.min(theoryP, task.train.count));
  lap('data');

  const backend = await selectBackend(job.backend);
  progress?.('train', `training on ${task.train.count} sequences with the ${backend.name} backend`);
  const trained = await trainNetwork(shape, task.train, task.yTrain, {
    epochs: job.epochs,
    learningRate: job.learningRate,
    batchSize: job.batchSize,
    seed: job.config.seed,
    signal: job.signal,
    onEpoch: (e, loss) => progress?.('train', `epoch ${e}/${job.epochs}: training MSE ${loss.toFixed(4)}`, e / job.epochs),
  });
  const net = trained.net;
  try {
    lap('train');
    const train = evaluate(net, task.train, task.yTrain);
    const test = evaluate(net, task.test, task.yTest);
    const params = net.params();
    lap('evaluate');

    progress?.('export', 'exporting to ONNX and checking it in ONNX Runtime');
    const onnxBytes = exportOnnx(params);
    const ortOut = await runOnnx(onnxBytes, task.test);
    let maxDiff = 0;
    for (let i = 0; i < ortOut.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ortOut[i] - test.outputs[i]));
    if (!(maxDiff <= EXPORT_TOLERANCE)) {
      throw new Error(
        `export check failed: the ONNX model's outputs differ from the trained network's by up to ${maxDiff.toExponential(2)} (allowed ${EXPORT_TOLERANCE})`,
      );
    }
    const detection = detectAttention(decodeModel(onnxBytes, 'model.onnx'));
    const bad =
      detection.blocks.length !== L ||
      detection.blocks.some((b, l) => b.queryHeads !== shape.heads[l] || b.headSizeQK !== shape.G || b.headSizeV !== shape.widths[l + 1]);
    if (bad) {
      throw new Error(
        `export check failed: the attention detector reports "${detection.summary}" with heads [${detection.blocks.map((b) => b.queryHeads)}], expected ${L} blocks with heads [${shape.heads}]`,
      );
    }
    lap('export');

    progress?.('removal', 'removing each head in turn on the test set');
    const removal = singleHeadRemoval(net, task.test, task.yTest);
    lap('head_removal');

    progress?.('theory', `the theory with the trained Q/K on ${theorySet.X.count} training sequences`);
    const theoryTask: TaskData = {
      ...task,
      train: theorySet.X,
      yTrain: theorySet.y,
      pathNames: undefined,
      headNames: undefined,
      description: `${task.description}; the theory uses a class-balanced subset of ${theorySet.X.count} training sequences`,
    };
    const report = await theoryForNetwork(job.config, theoryTask, params, { progress, signal: job.signal });
    const cmp = comparePruning(report, removal.removals, params);
    lap('theory');

    timings.total = Object.values(timings).reduce((a, b) => a + b, 0);
    const files = Object.fromEntries(TRAIN_OUTPUTS.map((n) => [n, join(job.out, n)])) as TrainReport['files'];
    const out: TrainReport = {
      tool: 'attention-paths',
      version: VERSION,
      command: 'train',
      task: {
        name: task.name,
        description: task.description,
        P: task.train.count,
        P_test: task.test.count,
        N0: shape.N0,
        T: shape.T,
        theory_P: theorySet.X.count,
      },
      network: {
        ...shape,
        parameters: parameterCount(shape),
        input: `x [batch, N0=${shape.N0}, T=${shape.T}]`,
        normalization: 'docs/theory.md §a: z0 = V0 x/√N0; z_l = Σ_h V_h z_{l-1} A_h/√(H_l N_l); f = a·z_L/√N_a; Q/K scores (K x_s)·(Q x_t)/√G',
      },
      training: {
        optimizer: 'Adam (tfjs defaults β1 = 0.9, β2 = 0.999, ε = 1e-7)',
        loss: 'mean squared error to ±1 labels',
        epochs: job.epochs,
        learning_rate: job.learningRate,
        batch_size: Math.min(job.batchSize, task.train.count),
        seed: job.config.seed,
        steps: trained.steps,
        initial_loss: trained.initialLoss,
        final_loss: trained.finalLoss,
        loss_curve: trained.lossCurve,
        ms: trained.ms,
      },
      backend,
      accuracy: { train: train.accuracy, test: test.accuracy },
      mse: { train: train.mse, test: test.mse },
      export: {
        file: files['model.onnx'],
        opset: EXPORT_OPSET,
        input: `${ONNX_INPUT} [batch, N0, T] float32`,
        output: `${ONNX_OUTPUT} [batch, 1] float32`,
        max_abs_diff: maxDiff,
        tolerance: EXPORT_TOLERANCE,
        examples_checked: task.test.count,
        detected_blocks: detection.blocks.map((b) => ({
          index: b.index,
          form: b.form,
          query_heads: b.queryHeads,
          kv_heads: b.kvHeads,
          head_size_qk: b.headSizeQK,
          head_size_v: b.headSizeV,
          confidence: b.confidence,
        })),
      },
      head_removal: {
        rescaling: 'remaining heads of the layer × √(H_l/(H_l−1)) (docs/theory.md §g)',
        full_accuracy: removal.accuracy,
        full_mse: removal.mse,
        removals: removal.removals,
        skipped_layers: removal.skippedLayers,
      },
      theory: {
        settings: report.settings,
        U_1: report.U[0],
        head_scores_ascending: report.head_scores_ascending,
        accuracy_finite_width: report.metrics.acc_mean_predictor,
        accuracy_gp: report.gp.metrics.acc_mean_predictor,
        eg_finite_width: report.metrics.eg_total,
        eg_gp: report.gp.metrics.eg_total,
        solver: report.solver,
        warnings: report.warnings,
      },
      comparison: {
        spearman_score_vs_drop: cmp.spearmanScoreVsDrop,
        spearman_score_vs_mse_increase: cmp.spearmanScoreVsMseIncrease,
        spearman_predicted_vs_drop: cmp.spearmanPredictedVsDrop,
        heads: cmp.heads,
        U_GD: cmp.U_GD,
        U_pattern: cmp.uPattern,
      },
      files,
      timings_ms: timings,
    };
    writeAll(
      job.out,
      [
        ['model.onnx', onnxBytes],
        ['attention.npz', encodeNpz(attentionArrays(params))],
        ['weights.npz', encodeNpz(weightArrays(params))],
        ['data.npz', encodeNpz(dataArrays(theorySet.X, theorySet.y, task.test, task.yTest))],
        ['model.attention.yaml', modelConfigYaml(job.config, report.settings)],
        ['train-report.json', JSON.stringify(out, null, 2) + '\n'],
      ],
      job.force,
    );
    return out;
  } finally {
    net.dispose();
  }
}

/** Human-readable summary of a train report. */
export function formatTrainReport(r: TrainReport): string {
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const sgn = (v: number) => `${v >= 0 ? '+' : '−'}${(100 * Math.abs(v)).toFixed(1)}`;
  const sgn4 = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(4)}`;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  // One minus sign (U+2212) throughout the summary, as in the table's drops.
  const rho = (v: number | null | undefined) => (v === null || v === undefined ? 'undefined (constant input)' : `${v < 0 ? '−' : ''}${Math.abs(v).toFixed(3)}`);
  const lines: string[] = [];
  lines.push(`Gradient-descent training — ${r.task.name}`);
  lines.push(`  ${r.task.description}`);
  lines.push(
    `  network: heads [${r.network.heads.join(', ')}], G = ${r.network.G}, widths [${r.network.widths.join(', ')}], readout ${r.network.readout}, ${r.network.parameters} parameters`,
  );
  lines.push(`  backend: ${r.backend.detail}`);
  for (const f of r.backend.fallbacks) lines.push(`    (not used: ${f})`);
  const c = r.training.loss_curve;
  lines.push(
    `  Adam, lr ${r.training.learning_rate}, ${plural(r.training.epochs, 'epoch')} × batch ${r.training.batch_size} (${plural(r.training.steps, 'step')}, ${(r.training.ms / 1000).toFixed(1)} s): ` +
      `training MSE ${r.training.initial_loss.toFixed(4)} → ${r.training.final_loss.toFixed(4)}` +
      (c.length > 2
        ? ` (per epoch: ${c
            .slice(0, -1)
            .map((v) => v.toFixed(3))
            .join(' ')})`
        : ''),
  );
  lines.push(`  accuracy: train ${pct(r.accuracy.train)}, test ${pct(r.accuracy.test)} (test MSE ${r.mse.test.toFixed(4)})`);
  lines.push('');
  lines.push(
    `Export: ${r.files['model.onnx']} (opset ${r.export.opset}); ONNX Runtime matches the network to ${r.export.max_abs_diff.toExponential(1)} on ${r.export.examples_checked} test sequences; ` +
      `detector: ${r.export.detected_blocks.map((b) => `${b.form} block ${b.index} (${b.query_heads} heads, head size ${b.head_size_qk}/${b.head_size_v})`).join(', ')}`,
  );
  lines.push('');
  lines.push(
    `Theory with the trained Q/K (P = ${r.task.theory_P}, widths [${r.theory.settings.widths.join(', ')}], T_B = ${r.theory.settings.temperature}): ` +
      `accuracy ${pct(r.theory.accuracy_finite_width)} at finite width, ${pct(r.theory.accuracy_gp)} in the GP limit${r.theory.solver.converged ? '' : ' (solver did not converge)'}`,
  );
  lines.push('');
  lines.push(`Pruning experiment (single head removed at evaluation, others in its layer × √(H/(H−1)); full network ${pct(r.head_removal.full_accuracy)}):`);
  lines.push('  layer  head  theory score  test accuracy  drop (points)  ΔMSE');
  for (const h of r.comparison.heads) {
    lines.push(
      `  ${String(h.layer).padEnd(5)}  ${String(h.head).padEnd(4)}  ${h.score.toFixed(3).padStart(12)}  ${pct(h.accuracy).padStart(13)}  ${sgn(h.drop).padStart(13)}  ${sgn4(h.mseIncrease)}`,
    );
  }
  if (r.head_removal.skipped_layers.length) lines.push(`  (layers ${r.head_removal.skipped_layers.join(', ')} have one head and were not pruned)`);
  lines.push(
    `  Spearman rank correlation, theory score vs accuracy drop: ${rho(r.comparison.spearman_score_vs_drop)}; vs MSE increase: ${rho(r.comparison.spearman_score_vs_mse_increase)}; ` +
      `predicted silencing effect (ε_g increase) vs accuracy drop: ${rho(r.comparison.spearman_predicted_vs_drop)}`,
  );
  lines.push(
    `  U_1 (theory) vs U_GD = W Wᵀ/N_1 (trained value weights): pattern correlation ${rho(r.comparison.U_pattern.pearson)}, cosine ${rho(r.comparison.U_pattern.cosine)}`,
  );
  lines.push('');
  lines.push(`Written: ${TRAIN_OUTPUTS.map((n) => r.files[n]).join(', ')}`);
  return lines.join('\n');
}
