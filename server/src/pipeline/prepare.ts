/**
 * From a validated config to the theory's inputs: the task data, the attention of every layer, the
 * expanded hyperparameters and the path features of the train and test sets. Shared by `analyze` and
 * `sweep`, the CLI and the language server.
 */
import { placingFileErrors } from './fileErrors';
import { ConfigValueError, type AnalysisConfig } from '../config/types';
import { expandSettings } from '../config/expand';
import type { AttentionLayer, Readout, TaskData } from '../data/types';
import { loadAttentionParams, loadTaskFile } from '../data/load';
import { markovTask } from '../data/markov';
import { mnistOneShotTask, randomQKAttention } from '../data/mnist';
import { deriveSeed, STREAM } from '../data/seeds';
import { Random } from '../util/random';
import { allLayerAttention } from '../theory/attention';
import { pathCount, pathFeaturesFromAttention, pathHeads } from '../theory/paths';
import type { PathFeatures } from '../theory/kernels';
import { TheorySettings, checkSettings } from '../theory/orderParams';
import type { PathInfo } from '../../../shared/report';
import { modelTask, type ModelTask } from './model/modelTask';
import { statSync } from 'node:fs';
import { checkMemory, type ProblemShape, type SizeSource } from './resources';
import { checkPathLimit } from './limits';
import { attentionMaps } from './attentionMaps';
import type { AttentionMaps } from '../../../shared/report';
import { cachedStage, digestPath, stageKey, type StageCacheOptions, type StageEntry } from './stageCache';
import { VERSION } from '../version';

/**
 * The stage-cache key of the attention and path features: everything they depend on — the config without the
 * solve's settings (widths, variances, temperature, solver) and without its own path, the bytes of every input
 * file, the readout, σ0² (which scales Φ), the heads and the tool version.
 */
export async function featureStageKey(config: AnalysisConfig, readout: Readout, sigma0: number, heads: number[]): Promise<string> {
  const { widths: _w, variances: _v, temperature: _t, solver: _s, source: _src, ...rest } = config;
  void [_w, _v, _t, _s, _src];
  const files = [config.data, config.attention?.params, config.attention?.model].filter((p): p is string => typeof p === 'string');
  const digests = await Promise.all(files.map(async (f) => [f, await digestPath(f)]));
  // `entry: 2`: the entry's meta holds the attention maps and the padding weight (entry 1, the maps alone, is not read).
  return stageKey({ version: VERSION, entry: 2, config: rest, readout, sigma0, heads, digests });
}

/** Default heads and Q/K dimension G for tasks that come without attention (MNIST one-shot, plain data). */
export const DEFAULT_RANDOM_HEADS = [4, 4];
export const DEFAULT_RANDOM_G = 32;

export interface Prepared {
  task: TaskData;
  layers: AttentionLayer[];
  attentionKind: string;
  settings: TheorySettings;
  readout: Readout;
  paths: PathInfo[];
  /** Present for `attention: { kind: model }`: what the model capture found (x, blocks, split, theory class). */
  model?: ModelTask;
  /** Things to add to the report's warnings (from the model capture). */
  warnings?: string[];
  /** Φ of the training set [P, N0, H_tot]. */
  train: PathFeatures;
  /** Φ of the test set [P_test, N0, H_tot]. */
  test: PathFeatures;
  /** Every head's attention on the first test examples, for the report's attention-map chart. */
  attentionMaps?: AttentionMaps;
  /** Stages taken from the stage cache instead of computed (e.g. "attention and path features"). */
  reused?: string[];
  timings: { data: number; attention: number; features: number };
}

/** Progress of long work: a stage name, a fraction in [0, 1] when known, and a message. */
export type ProgressFn = (stage: string, message: string, fraction?: number) => void;

/** Options of `prepare`. */
export interface PrepareOptions {
  /**
   * Reuse the attention and path features of an earlier run with the same inputs (pipeline/stageCache.ts); the
   * language server's jobs pass it, the CLI does not.
   */
  cache?: StageCacheOptions;
  /**
   * Refuse more attention paths than this (pipeline/limits.ts) as soon as the heads are known: for model configs
   * before the model runs on the data, always before any path feature is built.
   */
  maxPaths?: number;
  /** The work named in that refusal. */
  action?: 'analyse' | 'sweep';
}

/** Input shapes of the built-in tasks (docs/theory.md §i), known before generating them. */
export function builtinSize(config: AnalysisConfig) {
  if (config.task === 'markov' || config.task === 'markov-2paths') {
    return { P: config.P ?? 100, P_test: config.P_test ?? 1000, N0: 231, T: 31, heads: config.task === 'markov' ? [2, 2] : [2, 1] };
  }
  if (config.task === 'mnist-oneshot') {
    const h = config.heads;
    const heads = Array.isArray(h) ? h : typeof h === 'number' ? [h, h] : DEFAULT_RANDOM_HEADS;
    return { P: config.P ?? 600, P_test: config.P_test ?? 1000, N0: 83, T: 48, heads };
  }
  return undefined;
}

/**
 * Loads the task a config names (built-in or a data file).
 * @throws Error from the loaders (file, array and expected shape named), or when a built-in task of
 *   the requested size would not fit in memory.
 */
export function loadTask(config: AnalysisConfig): TaskData {
  const size = builtinSize(config);
  if (size) checkMemory({ ...size, space: config.solver.space }, `task ${config.task}`);
  if (config.task === 'markov' || config.task === 'markov-2paths') {
    return markovTask({ variant: config.task === 'markov' ? '4paths' : '2paths', seed: config.seed, P: config.P, P_test: config.P_test });
  }
  if (config.task === 'mnist-oneshot') return mnistOneShotTask({ seed: config.seed, P: config.P, P_test: config.P_test });
  if (config.data) return loadTaskFile(config.data);
  throw new Error('config names neither a task nor a data file');
}

function requestedHeads(config: AnalysisConfig): number[] | undefined {
  if (config.heads === undefined) return undefined;
  return Array.isArray(config.heads) ? config.heads : undefined;
}

/**
 * The fixed attention parameters for a config and task: from `attention.params`, seeded random Q/K,
 * or the task's own.
 * @throws Error when the config's `heads` disagree with the parameters, or the attention kind cannot
 *   be used with this config.
 */
export function resolveAttention(config: AnalysisConfig, task: TaskData): { layers: AttentionLayer[]; kind: string } {
  const N0 = task.train.features;
  const att = config.attention;
  let layers: AttentionLayer[];
  let kind: string;
  if (att && (att.kind === 'qk' || att.kind === 'w')) {
    if (!att.params)
      throw new Error(`attention.kind ${att.kind} needs attention.params (a .npz or .json file with ${att.kind === 'qk' ? 'Q_1, K_1, …' : 'W_1, …'})`);
    layers = loadAttentionParams(att.params, att.kind, { N0 });
    kind = att.kind;
  } else if (att && att.kind === 'model') {
    // The model's attention is captured together with the task (see `prepare`); a task built elsewhere has it.
    if (!task.attention || task.attention.some((l) => l.kind !== 'fixed')) {
      throw new Error(`attention.kind "model": the attention is captured from ${att.model ?? 'the model'} while preparing the task (use prepare())`);
    }
    layers = task.attention;
    kind = `model (${att.model ? att.model.split(/[\\/]/).pop() : 'ONNX'})`;
  } else if ((att && att.kind === 'random-qk') || !task.attention) {
    let heads = requestedHeads(config);
    if (!heads) {
      const per = typeof config.heads === 'number' ? config.heads : undefined;
      heads = per ? [per, per] : DEFAULT_RANDOM_HEADS;
    }
    const rng = new Random(deriveSeed(config.seed, STREAM.heads));
    layers = randomQKAttention(rng, heads, att?.G ?? DEFAULT_RANDOM_G, N0);
    kind = `random-qk (G = ${att?.G ?? DEFAULT_RANDOM_G}, seed ${config.seed})`;
  } else {
    layers = task.attention;
    kind = task.attention[0].kind === 'w' ? 'w' : task.attention[0].kind;
  }
  const heads = layers.map((l) => l.heads);
  const want = config.heads;
  if (want !== undefined) {
    const expanded = Array.isArray(want) ? want : heads.map(() => want);
    if (expanded.length !== heads.length || expanded.some((h, i) => h !== heads[i])) {
      throw new ConfigValueError('/heads', `heads: the config says [${expanded.join(', ')}] but the attention has [${heads.join(', ')}] heads per layer`);
    }
  }
  return { layers, kind };
}

/** Path labels: the task's names when it has them (Markov: g, a1, d, a2), else "(h_1,…,h_L)" 0-based. */
export function pathInfo(heads: number[], names?: string[]): PathInfo[] {
  return Array.from({ length: pathCount(heads) }, (_, i) => {
    const hs = pathHeads(i, heads);
    return { index: i, heads: hs, label: names?.[i] ?? `(${hs.join(',')})` };
  });
}

/**
 * Called once by `prepare` when the problem's shapes are known and before the large work (for built-in tasks
 * before the task is generated; for data files after loading them; for model configs after the capture). It
 * may throw to stop the work (a refusal, or a declined confirmation).
 */
export type ShapeGate = (shape: ProblemShape) => void | Promise<void>;

/** Where the sizes of a config's problem come from (for the key a memory refusal names). */
function sizeSource(config: AnalysisConfig): SizeSource {
  return config.attention?.kind === 'model' ? 'model' : config.task ? 'builtin' : 'data';
}

/** How a built-in task's attention is computed, for the time estimate. */
function builtinAttention(config: AnalysisConfig): Pick<ProblemShape, 'attention' | 'G'> {
  const kind = config.attention?.kind;
  if (kind === 'qk' || kind === 'random-qk' || (config.task === 'mnist-oneshot' && kind !== 'w'))
    return { attention: 'qk', G: config.attention?.G ?? DEFAULT_RANDOM_G };
  return { attention: 'w' };
}

/** The shapes of a loaded problem (after the attention is resolved). */
function loadedShape(config: AnalysisConfig, task: TaskData, layers: AttentionLayer[]): ProblemShape {
  const first = layers[0];
  const source = sizeSource(config);
  let modelBytes: number | undefined;
  if (source === 'model' && config.attention?.model) {
    try {
      modelBytes = statSync(config.attention.model).size;
    } catch {
      modelBytes = undefined; // read already; a vanished file fails later with its own reason
    }
  }
  return {
    P: task.train.count,
    P_test: task.test.count,
    N0: task.train.features,
    T: task.train.tokens,
    heads: layers.map((l) => l.heads),
    source,
    attention: first?.kind === 'qk' ? 'qk' : first?.kind === 'w' ? 'w' : 'fixed',
    ...(first?.kind === 'qk' ? { G: first.G } : {}),
    ...(modelBytes !== undefined ? { modelBytes } : {}),
    space: config.solver.space,
  };
}

/**
 * The model task of an `attention.kind: model` config: the model run on the config's data (pipeline/model/modelTask.ts), its
 * file errors placed at the config entry naming the file (`placingFileErrors`).
 * @param windowStarts as `modelTask`'s: called with the heads per block before the model runs on the data; returns
 *   the first block of every layer window whose input activations are to be captured.
 * @throws Error when the config lacks `attention.model` or `data`; ConfigValueError for a bad file; Error as `modelTask`.
 */
export async function configModelTask(
  config: AnalysisConfig,
  progress: ProgressFn | undefined,
  windowStarts: (heads: number[]) => number[],
): Promise<ModelTask> {
  const att = config.attention;
  const [model, data] = [att?.model, config.data];
  if (!att || !model) throw new Error('attention.kind "model" needs attention.model (an .onnx file)');
  if (!data)
    throw new Error(
      `attention.kind "model" needs \`data\`: a .npz with the model's inputs (keyed by input name) and labels y (or <input>_train/_test with y_train/y_test)`,
    );
  return placingFileErrors(config, () =>
    modelTask({ model, data, split: att.split, batchSize: att.batchSize, heads: config.heads, windowStarts, onProgress: (m) => progress?.('data', m) }),
  );
}

/**
 * Everything the theory needs for a config: data, attention, settings and path features.
 * @param gate called once with the shapes before the large work (see `ShapeGate`); the memory check runs first
 * @throws Error with a clear reason for any bad input (files, shapes, settings); ResourceError (pipeline/resources.ts)
 *   when the problem does not fit in memory, with the config entry to change; whatever `gate` throws.
 * @param opts.maxPaths refuse more attention paths than this (pipeline/limits.ts) as soon as the heads are known:
 *   for model configs before the model runs on the data, always before any path feature is built; `opts.action`
 *   names the work in that message. `opts.cache`: the stage cache of the attention and path features.
 */
export async function prepare(config: AnalysisConfig, progress?: ProgressFn, gate?: ShapeGate, opts: PrepareOptions = {}): Promise<Prepared> {
  const t0 = performance.now();
  const builtin = builtinSize(config);
  if (builtin && config.attention?.kind !== 'model') {
    // the space the solve will use (a forced one included): the estimates of memory and time depend on it
    const shape: ProblemShape = { ...builtin, source: 'builtin', ...builtinAttention(config), space: config.solver.space };
    // The path limit first: too many paths is a refusal, not a question of memory or time.
    if (opts.maxPaths !== undefined) checkPathLimit(shape.heads, opts.maxPaths, opts.action ?? 'analyse');
    checkMemory(shape, `task ${config.task}`);
    await gate?.(shape);
  }
  progress?.('data', 'loading the task');
  let model: ModelTask | undefined;
  let task: TaskData;
  if (config.attention?.kind === 'model') {
    // Refuse too many paths before the model runs on the data.
    model = await configModelTask(config, progress, (heads) => {
      if (opts.maxPaths !== undefined) checkPathLimit(heads, opts.maxPaths, opts.action ?? 'analyse', { windows: true });
      return [];
    });
    task = model.task;
  } else task = await placingFileErrors(config, () => loadTask(config));
  const { layers, kind } = await placingFileErrors(config, () => resolveAttention(config, task));
  if (!builtin || config.attention?.kind === 'model') {
    const shape = loadedShape(config, task, layers);
    if (opts.maxPaths !== undefined) checkPathLimit(shape.heads, opts.maxPaths, opts.action ?? 'analyse', { windows: shape.source === 'model' });
    checkMemory(shape, task.name);
    await gate?.(shape);
  }
  const warnings = [...(model?.warnings ?? [])];
  if (kind.startsWith('random-qk')) {
    warnings.push(
      'the attention is random Q/K, not learned: on tasks that need attention to compare tokens (such as the one-shot task) expect chance-level accuracy; ' +
        'give trained Q/K (attention.kind qk with params from `attention-paths train`) to analyse a trained model',
    );
  }
  if (model && !config.readout && !model.modelReadout)
    warnings.push(`no token readout was recognized in the model; the analysis uses readout "last" (set readout in the config)`);
  if (model && config.readout && model.modelReadout && config.readout !== model.modelReadout) {
    warnings.push(`the config's readout "${config.readout}" differs from the model's own readout "${model.modelReadout}"`);
  }
  const loading = performance.now() - t0;
  const p = await prepareWithAttention(config, task, layers, kind, progress, model ? 'captured' : undefined, opts);
  return { ...p, ...(model ? { model } : {}), warnings: [...warnings, ...(p.warnings ?? [])], timings: { ...p.timings, data: loading + p.timings.data } };
}

/**
 * The second half of `prepare`, for a task and attention already in hand (also used by `train`'s
 * pruning experiment): expands the settings, computes the attention of every layer and the path
 * features of the train and test sets (docs/theory.md §a–b).
 * @param kind how the attention was obtained, for the report.
 * @throws ConfigValueError for settings that do not fit the attention; Error for a problem too large
 *   for the machine's memory.
 */
export async function prepareWithAttention(
  config: AnalysisConfig,
  task: TaskData,
  layers: AttentionLayer[],
  kind: string,
  progress?: ProgressFn,
  source?: AttentionMaps['source'],
  opts: PrepareOptions = {},
): Promise<Prepared> {
  const t0 = performance.now();
  const heads = layers.map((l) => l.heads);
  const L = heads.length;
  checkMemory(
    {
      P: task.train.count,
      P_test: task.test.count,
      N0: task.train.features,
      T: task.train.tokens,
      heads,
      source: sizeSource(config),
      space: config.solver.space,
    },
    task.name,
  );
  const { widths, variances } = expandSettings(config, L, heads);
  const settings: TheorySettings = { heads, widths, variances, temperature: config.temperature };
  checkSettings(settings);
  const readout: Readout = config.readout ?? task.readout ?? 'last';
  const t1 = performance.now();
  const Q = pathCount(heads);
  const mapSource = source ?? (layers.every((l) => l.kind === 'fixed') ? 'given' : 'theory');
  let tAttention = 0;
  // The cached entry's meta: the attention maps, and the largest weight a path put on padding tokens (for the warning).
  type FeatureMeta = { maps: AttentionMaps; padWeight: number };
  const compute = async (): Promise<StageEntry> => {
    progress?.('attention', `computing attention (${L} layer${L === 1 ? '' : 's'}, ${task.train.count} + ${task.test.count} examples)`);
    // a message per layer and split, so that a long attention stage (~10 s at P = 3000) keeps reporting
    const onLayer = (which: string, n: number) => (l: number) => progress?.('attention', `computing attention: layer ${l + 1} of ${L}, ${n} ${which} examples`);
    const attTrain = await allLayerAttention(task.train, layers, 'train', onLayer('training', task.train.count));
    const attTest = await allLayerAttention(task.test, layers, 'test', onLayer('test', task.test.count));
    tAttention = performance.now() - t1;
    progress?.('features', `computing path features (${Q} paths)`);
    const pad = { padWeight: 0 };
    const feats = (X: TaskData['train'], att: typeof attTrain) => pathFeaturesFromAttention(X, att, readout, variances[0], pad);
    const arrays = [await feats(task.train, attTrain), await feats(task.test, attTest)];
    const meta: FeatureMeta = { maps: attentionMaps(attTest, task.yTest, mapSource), padWeight: pad.padWeight };
    return { meta, arrays };
  };
  let entry: StageEntry;
  const reused: string[] = [];
  if (opts.cache) {
    const key = await featureStageKey(config, readout, variances[0], heads);
    const r = await cachedStage('features', key, compute, opts.cache);
    entry = r.entry;
    if (r.reused) {
      reused.push('attention and path features');
      progress?.('cache', 'reused the attention and path features of an earlier run (same data, attention, readout and σ0²)');
    }
  } else entry = await compute();
  const meta = entry.meta as FeatureMeta;
  const t2 = t1 + tAttention;
  const asFeatures = (X: TaskData['train'], data: Float64Array): PathFeatures => {
    if (data.length !== X.count * X.features * Q) throw new Error(`path features: ${data.length} entries, expected [${X.count}, ${X.features}, ${Q}]`);
    return { count: X.count, features: X.features, paths: Q, data };
  };
  const train = asFeatures(task.train, entry.arrays[0]);
  const test = asFeatures(task.test, entry.arrays[1]);
  const warnings: string[] = [];
  if (meta.padWeight > 1e-6) {
    warnings.push(
      `the attention reads padding tokens (a path put up to ${meta.padWeight.toPrecision(3)} of its weight on them); the path features skip them and renormalize over the real tokens`,
    );
  }
  const t3 = performance.now();
  const names = task.pathNames && task.pathNames.length === Q ? task.pathNames : undefined;
  return {
    task,
    layers,
    attentionKind: kind,
    settings,
    readout,
    paths: pathInfo(heads, names),
    warnings,
    train,
    test,
    attentionMaps: meta.maps,
    reused,
    timings: { data: t1 - t0, attention: t2 - t1, features: t3 - t2 },
  };
}
