/**
 * `attention-paths train [CONFIG] [--task markov|markov-2paths|mnist-oneshot | --data X.npz] [--heads 2,2] [--width N]
 *  [--G g] [--epochs E] [--lr r] [--batch B] [--seed s] [--P n] [--P-test n] [--theory-P n]
 *  [--markov-visible n] [--markov-steps S] [--backend auto|gpu|wasm|cpu] --out DIR [--force] [--quiet]`
 *
 * Trains the theory's network class by gradient descent, exports it to ONNX, and runs the paper's pruning
 * experiment on it (see `train/run.ts`). Exit code 0 on success, 1 with a one-line reason on failure (nothing
 * written), 2 for usage errors, 130 when interrupted by Ctrl-C (nothing written).
 */
import { join, resolve } from 'node:path';
import { loadConfig } from '../../config/load';
import { defaultConfig } from '../../config/defaults';
import type { AnalysisConfig } from '../../config/types';
import { BACKEND_PREFERENCES, type BackendPreference } from '../../train/backend';
import { checkOutputDir as checkOutputFolder, checkOutputsDistinct, inputFiles, type LabelledPath } from '../../io/paths';
import { formatTrainReport, runTrainJob, TRAIN_DEFAULTS, TRAIN_OUTPUTS, type TrainJob } from '../../train/run';
import { UsageError, type CliIO, type Command, type OptionSpec, type ParsedArgs, type RunContext } from '../command';

const DETAILS = `Trains the attention-path theory's network (learned per-head Q/K reading the raw input at every layer, linear
value path, heads summed with 1/sqrt(H), no residual, MLP or LayerNorm) by gradient descent (Adam, MSE to ±1
labels) with TensorFlow.js; exports it to ONNX (checked in ONNX Runtime to ${1e-5} and by the attention detector);
removes each head in turn (remaining heads of its layer × sqrt(H/(H-1))) and compares the test-accuracy drops
with the theory's head scores for the trained Q/K (Spearman rank correlation), and the theory's U_1 with the
trained value weights' U_GD = W Wᵀ/N_1.

Writes DIR/${TRAIN_OUTPUTS.join(', DIR/')}.

CONFIG is an analysis config (YAML/JSON): task or data, seed, readout, and the theory's widths, variances,
temperature and solver (defaults: N = 10, T_B = 0.01, as the paper's theory).`;

const options: Record<string, OptionSpec> = {
  task: { type: 'string', value: 'T', help: 'built-in task: markov, markov-2paths or mnist-oneshot (overrides the config); default markov' },
  data: { type: 'string', value: 'X.npz', help: 'task file with X_train [P, N0, T], y_train, X_test, y_test (overrides the config)' },
  heads: { type: 'string', value: '2,2', help: `heads per layer of the trained network (default ${TRAIN_DEFAULTS.heads.join(',')})` },
  width: { type: 'string', value: 'N', help: `width of every layer of the trained network, N_1 = … = N_a (default ${TRAIN_DEFAULTS.width})` },
  G: { type: 'string', value: 'g', help: `query/key dimension (default ${TRAIN_DEFAULTS.G})` },
  epochs: { type: 'string', value: 'E', help: `passes over the training set (default ${TRAIN_DEFAULTS.epochs})` },
  lr: { type: 'string', value: 'r', help: `Adam learning rate (default ${TRAIN_DEFAULTS.learningRate})` },
  batch: { type: 'string', value: 'B', help: `examples per Adam step (default ${TRAIN_DEFAULTS.batchSize})` },
  seed: { type: 'string', value: 's', help: "seed of the task, the initialization and the batch order (default: the config's, 0)" },
  P: {
    type: 'string',
    value: 'n',
    help: `training sequences of a built-in task (defaults: markov ${TRAIN_DEFAULTS.markov.P}, mnist-oneshot ${TRAIN_DEFAULTS.mnist.P})`,
  },
  'P-test': {
    type: 'string',
    value: 'n',
    help: `test sequences of a built-in task (defaults: markov ${TRAIN_DEFAULTS.markov.P_test}, mnist-oneshot ${TRAIN_DEFAULTS.mnist.P_test})`,
  },
  'theory-P': {
    type: 'string',
    value: 'n',
    help: `training sequences the theory uses, a class-balanced subset (default: markov ${TRAIN_DEFAULTS.markov.theoryP},\nmnist-oneshot ${TRAIN_DEFAULTS.mnist.theoryP}, data files ${TRAIN_DEFAULTS.dataTheoryP})`,
  },
  'markov-visible': {
    type: 'string',
    value: 'n',
    help: `visible features of the Markov task (default ${TRAIN_DEFAULTS.markov.visible}, so gradient descent learns it in well under a\nminute on 2 cores; the paper's size is 200)`,
  },
  'markov-steps': { type: 'string', value: 'S', help: `steps of the Markov task (default ${TRAIN_DEFAULTS.markov.steps}; the paper's is 30)` },
  backend: { type: 'string', value: 'B', help: 'auto (tfjs-node-gpu when installed with its binary, else wasm, else cpu), gpu, wasm or cpu' },
  out: { type: 'string', value: 'DIR', help: `the folder for ${TRAIN_OUTPUTS.join(', ')}` },
  force: { type: 'boolean', help: 'replace existing output files (never done without it)' },
  quiet: { type: 'boolean', help: 'no progress on stderr' },
};

function positiveInt(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isSafeInteger(v) || v < 1) throw new UsageError(`--${name}: "${text}" is not a positive integer`);
  return v;
}

function positiveNumber(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`--${name}: "${text}" is not a number > 0`);
  return v;
}

function headList(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const hs = text.split(',').map((s) => s.trim());
  if (hs.length === 0 || hs.some((s) => !/^[1-9][0-9]*$/.test(s))) throw new UsageError(`--heads: "${text}" is not a list of positive integers such as 2,2`);
  return hs.map(Number);
}

/** Where the command writes: stdout for the summary, stderr for progress, warnings and errors. */
export interface TrainIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

function progressPrinter(err: TrainIO['stderr']) {
  const start = Date.now();
  let last = 0;
  return (stage: string, message: string) => {
    const now = Date.now();
    if (now - start < 1000 || now - last < 250) return;
    last = now;
    err.write(`[${((now - start) / 1000).toFixed(1)} s] ${stage}: ${message}\n`);
  };
}

/**
 * The job the parsed arguments of `train` ask for.
 * @throws UsageError for malformed values; ConfigError for a bad config file.
 */
export function trainJob(args: ParsedArgs, onProgress: TrainJob['progress'], stderr: (t: string) => void): TrainJob {
  const o = args.values as { [k: string]: string | undefined } & { force: boolean; quiet: boolean };
  const positionals = args.positionals;
  if (positionals.length > 1) throw new UsageError(`train takes at most one CONFIG file, got ${positionals.length}: ${positionals.join(' ')}`);
  if (!o.out) throw new UsageError(`train needs --out DIR (the folder for ${TRAIN_OUTPUTS.join(', ')})`);
  if (o.task !== undefined && o.data !== undefined) throw new UsageError('give either --task or --data, not both');
  if (o.task !== undefined && !['markov', 'markov-2paths', 'mnist-oneshot'].includes(o.task)) {
    throw new UsageError(`--task: "${o.task}" is not a built-in task (markov, markov-2paths, mnist-oneshot)`);
  }
  if (o.backend !== undefined && !BACKEND_PREFERENCES.includes(o.backend as BackendPreference)) {
    throw new UsageError(`--backend: "${o.backend}" is not one of ${BACKEND_PREFERENCES.join(', ')}`);
  }
  let seed: number | undefined;
  if (o.seed !== undefined) {
    seed = Number(o.seed);
    if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed: "${o.seed}" is not an integer`);
  }
  const heads = headList(o.heads);
  const job = {
    width: positiveInt('width', o.width),
    G: positiveInt('G', o.G),
    epochs: positiveInt('epochs', o.epochs),
    learningRate: positiveNumber('lr', o.lr),
    batchSize: positiveInt('batch', o.batch),
    P: positiveInt('P', o.P),
    P_test: positiveInt('P-test', o['P-test']),
    theoryP: positiveInt('theory-P', o['theory-P']),
    markovVisible: positiveInt('markov-visible', o['markov-visible']),
    markovSteps: positiveInt('markov-steps', o['markov-steps']),
  };

  const config: AnalysisConfig = positionals[0]
    ? loadConfig(positionals[0], { onWarning: (w) => stderr(`${w.file}:${w.line}:${w.column}: warning: ${w.message}\n`) })
    : defaultConfig();
  // The embedded default names the Markov task's readout; without a config file the task decides (one-shot: mean).
  if (!positionals[0]) delete config.readout;
  if (o.task !== undefined) {
    config.task = o.task as AnalysisConfig['task'];
    delete config.data;
  } else if (o.data !== undefined) {
    config.data = resolve(o.data);
    delete config.task;
    delete config.P;
    delete config.P_test;
  }
  if (seed !== undefined) config.seed = seed;
  // The config's attention settings describe other runs; the theory here always uses the trained Q/K.
  delete config.attention;
  const fromConfig = Array.isArray(config.heads) ? config.heads : undefined;
  delete config.heads;
  const isMarkov = config.task === 'markov' || config.task === 'markov-2paths';
  if (!isMarkov && (job.markovVisible !== undefined || job.markovSteps !== undefined)) {
    throw new UsageError('--markov-visible / --markov-steps apply to the Markov task only');
  }
  // The built-in tasks draw half their sequences from each class: check here, before any work, with the option's name.
  if (isMarkov || config.task === 'mnist-oneshot') {
    for (const [name, v] of [
      ['P', job.P],
      ['P-test', job.P_test],
    ] as const) {
      if (v !== undefined && v % 2 !== 0) throw new UsageError(`--${name}: ${v} is odd; the built-in tasks need an even number of sequences (half per class)`);
    }
  }
  if (job.markovVisible !== undefined && (job.markovVisible < 4 || job.markovVisible % 2 !== 0)) {
    throw new UsageError(`--markov-visible: ${job.markovVisible}; the Markov task needs an even number ≥ 4 of visible features`);
  }
  if (job.markovSteps !== undefined && job.markovSteps < 2) throw new UsageError(`--markov-steps: ${job.markovSteps}; the Markov task needs at least 2 steps`);
  return {
    config,
    heads: heads ?? fromConfig ?? [...TRAIN_DEFAULTS.heads],
    G: job.G ?? TRAIN_DEFAULTS.G,
    width: job.width ?? TRAIN_DEFAULTS.width,
    epochs: job.epochs ?? TRAIN_DEFAULTS.epochs,
    learningRate: job.learningRate ?? TRAIN_DEFAULTS.learningRate,
    batchSize: job.batchSize ?? TRAIN_DEFAULTS.batchSize,
    P: job.P ?? config.P,
    P_test: job.P_test ?? config.P_test,
    markovVisible: job.markovVisible,
    markovSteps: job.markovSteps,
    theoryP: job.theoryP,
    backend: (o.backend as BackendPreference | undefined) ?? 'auto',
    out: resolve(o.out),
    force: !!o.force,
    progress: o.quiet ? undefined : onProgress,
  };
}

/** `attention-paths train`. */
export const train: Command = {
  name: 'train',
  ownPrefix: true,
  hintEveryUsageError: true,
  synopsis:
    '[CONFIG] [--task markov|markov-2paths|mnist-oneshot | --data X.npz] --out DIR [--heads 2,2] [--width N] [--G g] [--epochs E] [--lr r] [--batch B] [--seed s] [--P n] [--P-test n] [--theory-P n] [--markov-visible n] [--markov-steps S] [--backend auto|gpu|wasm|cpu] [--force] [--quiet]',
  summary:
    "Train the theory's network by gradient descent (TensorFlow.js), export it to ONNX, and compare\nthe theory's head scores with the measured effect of removing each head.",
  details: DETAILS,
  options,
  run: runTrainArgs,
};

async function runTrainArgs(args: ParsedArgs, io: CliIO, ctx: RunContext): Promise<number> {
  const controller = new AbortController();
  ctx.signal = controller.signal;
  const onSigint = () => controller.abort(new Error('interrupted (Ctrl-C); nothing written'));
  process.once('SIGINT', onSigint);
  try {
    const job = trainJob(args, progressPrinter({ write: io.stderr }), io.stderr);
    // Outputs checked before any work: not an input (config, data), writable, not existing without --force.
    const inputs: LabelledPath[] = [];
    if (job.config.source) inputs.push({ label: `the config ${job.config.source}`, path: job.config.source });
    if (job.config.data) inputs.push(...inputFiles(`the data ${job.config.data}`, job.config.data));
    checkOutputsDistinct(
      TRAIN_OUTPUTS.map((n) => ({ label: `--out ${job.out} (its ${n})`, path: join(job.out, n) })),
      inputs,
    );
    checkOutputFolder(job.out, [...TRAIN_OUTPUTS], job.force);
    job.signal = controller.signal;
    if (job.onNote === undefined) job.onNote = (note) => io.stderr(`attention-paths train: note: ${note}\n`);
    const report = await runTrainJob(job);
    io.stdout(formatTrainReport(report) + '\n');
    return 0;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
