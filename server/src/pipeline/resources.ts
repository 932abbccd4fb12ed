/**
 * What an analysis will cost, known from the shapes before any large allocation: peak memory (a rough upper
 * bound) and run time (a rough estimate), and the memory this process may really use (RAM, cgroup limit,
 * data-size rlimit). An oversized run stops at once with a reason that names the config key to change, and a
 * long one can be confirmed first (docs/theory.md §j lists the arrays: inputs, attention, path features,
 * the P×P kernels and their factors).
 */
import { freemem, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { ConfigValueError } from '../config/types';
import { pathCountText } from './windowPlan';
import { EXACT_HESSIAN_MAX_D } from '../theory/hessian';
import { DENSE_NEWTON_MAX_ENTRIES } from '../theory/solver';
import { type EnergySpace, type EnergySpaceSetting, chooseEnergySpace, energySpaceCosts, gramCholeskyFlops, spaceForPredictions } from '../theory/energySpace';
import type { PathFeatures } from '../theory/kernels';

export interface ProblemSize {
  /** training examples P */
  P: number;
  /** test examples P_test */
  P_test: number;
  /** features per token N0 */
  N0: number;
  /** tokens T */
  T: number;
  /** heads per layer */
  heads: number[];
  /** The config's `solver.space` (default auto). */
  space?: EnergySpaceSetting;
}

/** Memory the energy space may take: half of this machine's (the rest is inputs, attention and features). */
function spaceBudget(): number {
  return 0.5 * totalmem();
}

/**
 * The space (energySpace.ts) an analysis of this training set runs in, and why.
 * @param setting the config's `solver.space`.
 */
export function energySpaceFor(
  train: Pick<PathFeatures, 'count' | 'features' | 'paths'>,
  setting: EnergySpaceSetting = 'auto',
): { space: EnergySpace; reason: string } {
  return chooseEnergySpace(train.count, train.features, train.paths, setting, spaceBudget());
}

/**
 * The space for the predictions after the solve (GP limit and each silenced head; `ranks` their numbers of kept
 * paths), see `spaceForPredictions`.
 */
export function predictionSpaceFor(
  train: Pick<PathFeatures, 'count' | 'features' | 'paths'>,
  testCount: number,
  ranks: number[],
  solveSpace: EnergySpace,
): EnergySpace {
  return spaceForPredictions(train.count, testCount, train.features, train.paths, ranks, solveSpace, spaceBudget());
}

/**
 * Float64 entries the energy space holds at its peak. Sample space: the factor L and a panel copy (1.25·P²), the
 * kernel for its PCs (P²), A = Φ(I⊗F), L⁻¹Φ and a predictor block (≤ 2²³ per block, two of them), G_M (D², for
 * D ≤ 6000). Feature space: G, S and its factor, (I⊗F)ᵀG, R⁻¹(I⊗F)ᵀG, G_M (about 7·D²); no P × P array.
 */
function spaceDoubles(P: number, P_test: number, D: number, space: EnergySpace): number {
  if (space === 'feature') return 7 * D * D + 4 * D;
  return 2.25 * P * P + 2 * P * D + Math.min(2 * P * P_test, 2 ** 24) + (D <= 6000 ? D * D : 0);
}

/** Where the sizes come from, so that a refusal names the key the user can change. */
export type SizeSource = 'builtin' | 'data' | 'model';

/** A problem's shapes plus what the time estimate needs beyond them. */
export interface ProblemShape extends ProblemSize {
  source: SizeSource;
  /** How attention is computed: W form (N0×N0 per head), Q/K form with dimension G, or fixed (captured). */
  attention: 'w' | 'qk' | 'fixed';
  /** Q/K dimension G (qk attention). */
  G?: number;
  /** Bytes of the ONNX model file (model configs): its runs for the measured head removal are counted. */
  modelBytes?: number;
}

/** What the work is: one solve (analyze), one per width (sweep), or only predictions (silence). */
export interface WorkKind {
  kind: 'analyze' | 'sweep' | 'silence';
  /** Widths of a sweep (one solve each). */
  widths?: number;
  /** Model configs: the model runs once per head plus once on the test split (analyze only). */
  measureHeadRemoval?: boolean;
}

/** The keys an estimate can blame, with the config pointer a diagnostic goes on. */
export type CostKey = 'P' | 'P_test' | 'heads' | 'N0' | 'T';

/** Estimated cost of one job. */
export interface CostEstimate {
  /** Peak resident bytes of the process running it (the large arrays bounded from above, plus a fixed baseline). */
  bytes: number;
  /** Wall seconds on a 2-core machine (order of magnitude; see README "Estimates"). */
  seconds: number;
  /** The key whose growth raises the memory the most (its elasticity d log bytes / d log key is largest). */
  memoryKey: CostKey;
  /** The key whose growth raises the time the most. */
  timeKey: CostKey;
  /** JSON pointer of the config entry to change for memory (e.g. "/P"; "/data" when the sizes come from a data file). */
  pointer: string;
  shape: ProblemShape;
}

/** The part of `estimateMemoryBytes` that grows with the number of paths: the path features and the L⁻¹Φ solve. */
function pathMemoryBytes(s: ProblemSize): number {
  const Q = s.heads.reduce((a, b) => a * b, 1);
  return 8 * (s.P + s.P_test) * s.N0 * Q;
}

/**
 * Estimated peak bytes of an analysis: inputs twice (the attention's token-major copy), attention of
 * every layer, path features, the arrays of the energy space it runs in (sample: P × P; feature: D × D,
 * D = N0·H_tot; see `spaceDoubles`), and what the solver holds on top (`solverDoubles`).
 */
export function estimateMemoryBytes(s: ProblemSize): number {
  const n = s.P + s.P_test;
  const Q = s.heads.reduce((a, b) => a * b, 1);
  const Hsum = s.heads.reduce((a, b) => a + b, 0);
  const D = s.N0 * Q;
  const { space } = chooseEnergySpace(s.P, s.N0, Q, s.space ?? 'auto', spaceBudget());
  const doubles = 2 * n * s.N0 * s.T + 2 * n * Hsum * s.T * s.T + n * D + spaceDoubles(s.P, s.P_test, D, space) + solverDoubles(s.P, s.N0, s.heads);
  return 8 * doubles;
}

/**
 * Float64 entries the solver holds beyond the arrays above (docs/theory.md §d), by the branch
 * `minimizeAction` takes: with the dense Newton Hessian (N0·H_tot ≤ 4096 and at most 400 entries in
 * all U_l) two D×D Gram matrices (D = N0·H_tot), the H_tot⁴ contraction and the Hessian itself; with
 * Newton–CG the cached L⁻¹Φ of its point and two more P×D products per Hessian–vector product, and about
 * 24 tuples of order-parameter-sized matrices (CG vectors, inverses, preconditioner temporaries, L-BFGS
 * memory is not used there).
 */
function solverDoubles(P: number, N0: number, heads: number[]): number {
  const Q = heads.reduce((a, b) => a * b, 1);
  const D = N0 * Q;
  let entries = 0;
  let sizes = 0;
  for (let l = 0, n = Q; l < heads.length; n /= heads[l], l++) {
    entries += (n * (n + 1)) / 2;
    sizes += n * n;
  }
  if (D <= EXACT_HESSIAN_MAX_D && entries <= DENSE_NEWTON_MAX_ENTRIES) return 2 * D * D + Q ** 4 + entries * entries;
  return 3 * P * D + 24 * sizes;
}

/**
 * Rates of this project's 2-core reference machine when idle, fitted to the benchmark figures of the README
 * (Markov task at P = 100, the large synthetic case at P = 2000, MNIST one-shot at P = 600): JavaScript loops
 * (batched T×T attention products, Lanczos matrix-vector products, dense eigensolves) and ONNX Runtime's
 * float64 GEMM (projections, kernels, Cholesky, triangular solves); and the runs of a model on the test split for
 * the measured head removal (2·parameters·T flops per example), fitted to the real exports' runs in ONNX Runtime:
 * the 6-layer encoder's 25 runs on 160 examples took 2.0 s (26 GFLOP/s by that count; the earlier rate of 2 GFLOP/s
 * made a model config's estimate 6–10 times its run and asked about runs of a few seconds).
 */
const RATE = { js: 0.6e9, gemm: 60e9, model: 20e9 };
/** Action evaluations of a typical solve (L-BFGS iterations with their line searches, then Newton). */
const EVALUATIONS = 40;
/** Fixed cost of one action evaluation beyond its products (entropy terms, small matrices, bookkeeping), s. */
const EVALUATION_OVERHEAD = 0.03;
/** Fixed cost of starting an analysis (loading modules and the task, the first ONNX Runtime session), s. */
const BASE_SECONDS = 1.5;
/** Krylov steps of the Lanczos kernel PCs above P = 200 (linalg/topEigen.ts stops near this on the tasks measured). */
const LANCZOS_STEPS = 200;

/**
 * Estimated wall seconds of a job on the shapes `s` (docs/theory.md §a–g), for an idle 2-core machine:
 * - attention (section a): projections as GEMMs (W: 2·n·T·N0² per head; Q/K: 4·n·T·N0·G per head) and the
 *   batched scores in JS (2·n·H·T²·N0, or ·G);
 * - per action evaluation (section d), in the energy space the solve will use (`chooseEnergySpace`): sample space,
 *   the factor of K_U + T_B I with L⁻¹Φ (`gramCholeskyFlops`, 2·P²·N0·paths and the diagonal blocks) and, for the
 *   Newton steps, the Gram matrix of L⁻¹Φ (2·P·(N0·paths)²); feature space (D = N0·paths), G = ΦᵀΦ once (P·D²), then `energySpaceCosts`'
 *   D × D flops and two memory-bound passes over Φ (4·P·D, at the JS rate); plus a fixed overhead; EVALUATIONS of
 *   them per solve (one solve per width of a sweep);
 * - (2 + H_tot) predictions on the test set (section e; sample space a factorization and 2·P·P_test·D each, feature space
 *   2·P_test·D² + 4/3·D³);
 * - the kernel PCs of two kernels (sample space: dense below P = 200, else LANCZOS_STEPS matrix-vector products of
 *   2·P² each; feature space: two D × D eigensolves);
 * - for model configs, (H_tot + 1) runs of the model on the test split (2·parameters·T flops per example, with
 *   parameters = file bytes / 4).
 */
export function estimateSeconds(s: ProblemShape, work: WorkKind): number {
  const n = s.P + s.P_test;
  const Q = s.heads.reduce((a, b) => a * b, 1);
  const Hsum = s.heads.reduce((a, b) => a + b, 0);
  const D = s.N0 * Q;
  const G = s.G ?? 32;
  let gemm = 0;
  let js = 2 * n * s.N0 * s.T * Q; // path features
  if (s.attention === 'w') {
    gemm += 2 * n * s.T * s.N0 * s.N0 * Hsum;
    js += 2 * n * Hsum * s.T * s.T * s.N0;
  } else if (s.attention === 'qk') {
    gemm += 4 * n * s.T * s.N0 * G * Hsum;
    js += 2 * n * Hsum * s.T * s.T * G;
  }
  // The energy space the solve will use (theory/energySpace.ts): sample space is P × P work per evaluation,
  // feature space D × D work after the Gram matrix G = ΦᵀΦ once, plus passes over Φ that are memory-bound.
  const { space } = chooseEnergySpace(s.P, s.N0, Q, s.space ?? 'auto', spaceBudget());
  const feature = space === 'feature';
  const spaceCost = energySpaceCosts(s.P, s.N0, Q)[space];
  const perEval = feature ? spaceCost.evaluationFlops : gramCholeskyFlops(s.P, D) + 2 * s.P * D * D;
  const perEvalJs = feature ? 4 * s.P * D : 0;
  const perPredict = feature ? 2 * s.P_test * D * D + (4 / 3) * D * D * D : gramCholeskyFlops(s.P, D) + 2 * s.P * s.P_test * D;
  if (feature) gemm += spaceCost.setupFlops;
  let overhead = 0;
  let model = 0;
  if (work.kind === 'silence') gemm += perPredict;
  else {
    const solves = work.kind === 'sweep' ? Math.max(1, work.widths ?? 1) : 1;
    const predictions = work.kind === 'sweep' ? solves + 1 : 2 + Hsum;
    gemm += solves * EVALUATIONS * perEval + predictions * perPredict;
    js += solves * EVALUATIONS * perEvalJs;
    overhead += solves * EVALUATIONS * EVALUATION_OVERHEAD;
    if (work.kind === 'analyze') {
      if (feature) {
        gemm += 2 * 9 * D ** 3; // kernel PCs from the D × D side (the nonzero spectrum of K_U is that of (I⊗F)ᵀG(I⊗F))
      } else {
        gemm += 2 * 2 * s.P * s.P * D; // the two training kernels
        js += s.P <= 200 ? 2 * 9 * s.P ** 3 : 2 * LANCZOS_STEPS * 2 * s.P * s.P;
      }
      if (work.measureHeadRemoval && s.modelBytes) model = (Hsum + 1) * s.P_test * 2 * (s.modelBytes / 4) * s.T;
    }
  }
  return BASE_SECONDS + overhead + js / RATE.js + gemm / RATE.gemm + model / RATE.model;
}

/** Elasticity d log f / d log key at `s` (how many times faster than the key f grows), by a 1% step. */
function elasticity(f: (s: ProblemShape) => number, s: ProblemShape, key: CostKey): number {
  const up: ProblemShape = key === 'heads' ? { ...s, heads: s.heads.map((h) => h * 1.01) } : ({ ...s, [key]: s[key] * 1.01 } as ProblemShape);
  return Math.log(f(up) / f(s)) / Math.log(1.01);
}

/**
 * The sizes a user can change for shapes from `source`: a built-in task fixes N0 and T (its config sets P,
 * P_test and heads); data and models set them all.
 */
function adjustableKeys(source: SizeSource): CostKey[] {
  // a built-in task fixes N0 and T; a model fixes N0 (its hidden width), while its data sets P, P_test and T
  if (source === 'builtin') return ['P', 'P_test', 'heads'];
  return source === 'model' ? ['P', 'P_test', 'heads', 'T'] : ['P', 'P_test', 'heads', 'N0', 'T'];
}

function dominantKey(f: (s: ProblemShape) => number, s: ProblemShape, keys: CostKey[] = ['P', 'P_test', 'heads', 'N0', 'T']): CostKey {
  let best: CostKey = 'P';
  let bestE = -Infinity;
  for (const k of keys) {
    const e = elasticity(f, s, k);
    if (e > bestE + 1e-9) {
      best = k;
      bestE = e;
    }
  }
  return best;
}

/**
 * The config entry that sets `key` for shapes from `source`: P and P_test are keys of built-in tasks, but
 * come from the data file (or the model's data) otherwise; heads is a key; N0 and T belong to the data.
 */
export function costPointer(key: CostKey, source: SizeSource): string {
  if (key === 'heads') return '/heads';
  if (source === 'builtin' && (key === 'P' || key === 'P_test')) return `/${key}`;
  return source === 'builtin' ? '/task' : '/data';
}

/** Resident memory of the process before the arrays: Node, the bundle, ONNX Runtime's library and sessions. */
export const PROCESS_BASE_BYTES = 200 * 2 ** 20;

/**
 * The cost of `work` on `s`: bytes (the process's baseline, the arrays of `estimateMemoryBytes`, and three times
 * the model file for its ONNX Runtime sessions), seconds (`estimateSeconds`) and the keys that dominate them.
 */
export function estimateCost(s: ProblemShape, work: WorkKind = { kind: 'analyze' }): CostEstimate {
  const bytes = PROCESS_BASE_BYTES + estimateMemoryBytes(s) + 3 * (s.modelBytes ?? 0);
  // Heads grow every cost steeply (paths multiply), so they lead by elasticity even for a handful of paths; they are
  // named only when the paths carry the cost: when one example would cost at least half as much as all of them.
  const keys = adjustableKeys(s.source);
  const tiny: ProblemShape = { ...s, P: 1, P_test: 1 };
  const without = (k: CostKey[], pathsCarry: boolean) => (pathsCarry ? k : k.filter((x) => x !== 'heads'));
  const memKeys = without(keys, estimateMemoryBytes(tiny) >= 0.5 * estimateMemoryBytes(s));
  const timeKeys = without(keys, estimateSeconds(tiny, work) - BASE_SECONDS >= 0.5 * (estimateSeconds(s, work) - BASE_SECONDS));
  const memoryKey = dominantKey((x) => estimateMemoryBytes(x), s, memKeys);
  return {
    bytes,
    seconds: estimateSeconds(s, work),
    memoryKey,
    timeKey: dominantKey((x) => estimateSeconds(x, work), s, timeKeys),
    pointer: costPointer(memoryKey, s.source),
    shape: s,
  };
}

/** Memory this process may still allocate, and what bounds it. */
export interface MemoryBudget {
  bytes: number;
  /** What set the bound, for messages: "this machine's available memory", "the data-size limit of this process, ulimit -d or prlimit --data", … */
  limitedBy: string;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A /proc/self/status field in bytes (VmData, VmRSS), or undefined. */
function procStatusBytes(field: string): number | undefined {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readText('/proc/self/status') ?? '');
  return m ? Number(m[1]) * 1024 : undefined;
}

/**
 * The memory an analysis in this process can use: the least of the machine's available memory
 * (MemAvailable, which counts reclaimable cache; else os.freemem), the cgroup's limit less its usage
 * (v2 memory.max / memory.current, v1 memory.limit_in_bytes / memory.usage_in_bytes), and the soft data-size
 * rlimit (/proc/self/limits "Max data size", set by ulimit -d or prlimit --data) less this process's data
 * segment (VmData). On platforms without these files only the machine's free memory counts.
 */
export function memoryBudget(): MemoryBudget {
  const meminfo = /^MemAvailable:\s+(\d+) kB/m.exec(readText('/proc/meminfo') ?? '');
  const machine = meminfo ? Number(meminfo[1]) * 1024 : freemem();
  let best: MemoryBudget = { bytes: Math.min(machine, totalmem()), limitedBy: "this machine's available memory" };
  const consider = (bytes: number | undefined, limitedBy: string) => {
    if (bytes !== undefined && Number.isFinite(bytes) && bytes < best.bytes) best = { bytes: Math.max(0, bytes), limitedBy };
  };
  const num = (t: string | undefined) => (t && /^\d+\s*$/.test(t) ? Number(t) : undefined);
  const v2max = num(readText('/sys/fs/cgroup/memory.max'));
  if (v2max !== undefined) consider(v2max - (num(readText('/sys/fs/cgroup/memory.current')) ?? 0), 'the memory limit of this container, cgroup memory.max');
  const v1max = num(readText('/sys/fs/cgroup/memory/memory.limit_in_bytes'));
  if (v1max !== undefined && v1max < 2 ** 60) {
    consider(v1max - (num(readText('/sys/fs/cgroup/memory/memory.usage_in_bytes')) ?? 0), 'the memory limit of this container, cgroup memory.limit_in_bytes');
  }
  const limits = /^Max data size\s+(\d+|unlimited)\s/m.exec(readText('/proc/self/limits') ?? '');
  if (limits && limits[1] !== 'unlimited')
    consider(Number(limits[1]) - (procStatusBytes('VmData') ?? 0), 'the data-size limit of this process, ulimit -d or prlimit --data');
  return best;
}

/** Bytes as GB with one decimal below 10 GB ("3.7 GB", "392 GB"). */
export function formatBytes(b: number): string {
  if (b < 2 ** 30) return `${Math.max(1, Math.round(b / 2 ** 20))} MB`;
  return `${(b / 2 ** 30).toFixed(b < 10 * 2 ** 30 ? 1 : 0)} GB`;
}

/** Seconds as "40 s", "3 min", "2.5 h". */
export function formatSeconds(s: number): string {
  if (s < 90) return `${Math.max(1, Math.round(s))} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** A refusal for lack of memory; `pointer` is the config entry to change (for the diagnostic and `file:line:col`). */
export class ResourceError extends ConfigValueError {
  constructor(pointer: string, message: string) {
    super(pointer, message);
    this.name = 'ResourceError';
  }
}

/** Fraction of the budget an estimate may take (the estimate is rough and the process needs some for itself). */
const BUDGET_SHARE = 0.85;

const KEY_HINT: Record<CostKey, string> = {
  P: 'reduce P (training examples)',
  P_test: 'reduce P_test (test examples)',
  heads: 'use fewer heads',
  N0: 'use fewer features per token (N0)',
  T: 'use shorter sequences (T)',
};

/**
 * Throws when the estimate does not fit the memory budget (`memoryBudget`).
 * @param what the task, for the message ("task markov", "data.npz")
 * @throws ResourceError naming the need, the budget and what bounds it, and the key to reduce; its pointer is
 *   that key's config entry ("/P" for a built-in task's P; "/data" when P comes from a data file). When the attention
 *   paths take the memory (heads dominate), it says so, that P is not the cause, and — for model configs — to use layer
 *   windows.
 */
export function checkMemory(s: ProblemSize & { source?: SizeSource; modelBytes?: number }, what: string): void {
  const shape: ProblemShape = { attention: 'fixed', source: 'builtin', ...s };
  const cost = estimateCost(shape);
  const budget = memoryBudget();
  if (cost.bytes <= BUDGET_SHARE * budget.bytes) return;
  // Where even the smallest problem does not fit, and the paths are not what takes the memory (fewer heads or layer
  // windows would help then, said below), no setting of the config can make it fit: the process itself and a model's
  // sessions take what there is.
  const fixedBytes = PROCESS_BASE_BYTES + 3 * (s.modelBytes ?? 0);
  const floor = fixedBytes + estimateMemoryBytes({ ...s, P: 2, P_test: 1 });
  if (fixedBytes > BUDGET_SHARE * budget.bytes || (floor > BUDGET_SHARE * budget.bytes && cost.memoryKey !== 'heads')) {
    throw new ResourceError(
      cost.pointer,
      `${what} needs about ${formatBytes(cost.bytes)} of memory, but only ${formatBytes(budget.bytes)} is available (${budget.limitedBy}): ` +
        `even the smallest problem (P = 2, P_test = 1) needs about ${formatBytes(floor)}, ${formatBytes(PROCESS_BASE_BYTES)} of it for the process itself` +
        `${s.modelBytes ? ` and ${formatBytes(3 * s.modelBytes)} for the model's sessions` : ''}, so no smaller setting can make it fit: run it where more memory is available`,
    );
  }
  // The paths are the cause only when even the smallest data set would not fit (the heads' elasticity alone also
  // points at them for a handful of paths, where P is what to reduce).
  const pathsAreTheCause = PROCESS_BASE_BYTES + estimateMemoryBytes({ ...s, P: 1, P_test: 1 }) > BUDGET_SHARE * budget.bytes;
  const key =
    cost.memoryKey !== 'heads' || pathsAreTheCause
      ? cost.memoryKey
      : dominantKey(
          (x) => estimateMemoryBytes(x),
          shape,
          adjustableKeys(shape.source).filter((k) => k !== 'heads'),
        );
  if (key === 'heads') {
    // The attention paths (H_1···H_L, multiplying across layers) are the cause: a smaller P cannot help.
    const fix =
      shape.source === 'model'
        ? 'analyse the model in layer windows (`attention.windows: auto` in the config, docs/windows.md), or use fewer heads or layers'
        : 'use fewer heads or layers';
    throw new ResourceError(
      cost.pointer,
      `${what} needs about ${formatBytes(cost.bytes)} of memory (P = ${s.P}, P_test = ${s.P_test}, N0 = ${s.N0}, T = ${s.T}, heads [${s.heads.join(', ')}]), ` +
        `${formatBytes(pathMemoryBytes(s))} of it for the features of its ${pathCountText(s.heads)} attention paths, but only ${formatBytes(budget.bytes)} is available (${budget.limitedBy}); ` +
        `the paths multiply across layers, so reducing P cannot help: ${fix}`,
    );
  }
  const where = shape.source === 'builtin' ? '' : ` in ${shape.source === 'model' ? "the model's data" : 'the data file'}`;
  throw new ResourceError(
    costPointer(key, shape.source),
    `${what} needs about ${formatBytes(cost.bytes)} of memory (P = ${s.P}, P_test = ${s.P_test}, N0 = ${s.N0}, T = ${s.T}, heads [${s.heads.join(', ')}]) ` +
      `but only ${formatBytes(budget.bytes)} is available (${budget.limitedBy}); ${KEY_HINT[key]}${where}`,
  );
}

/** Default of `attentionPaths.confirmAboveSeconds` and of the CLI: longer analyses are confirmed first. */
export const CONFIRM_ABOVE_SECONDS = 30;

/** One line describing a cost, for the confirmation question ("about 3 min and 1.2 GB (P = 4000 dominates)"). */
export function describeCost(c: CostEstimate): string {
  return `about ${formatSeconds(c.seconds)} and ${formatBytes(c.bytes)} (mostly from ${c.timeKey} = ${c.timeKey === 'heads' ? `[${c.shape.heads.join(', ')}]` : c.shape[c.timeKey]})`;
}
