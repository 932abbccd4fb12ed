/**
 * The paper's pruning experiment on a gradient-descent-trained network (docs/theory.md §f and §g):
 *  - measured: remove each single head from the trained network at evaluation time (no retraining; the remaining
 *    heads of its layer rescaled by √(H_l/(H_l−1))) and measure the test accuracy drop;
 *  - theory: the attention-path theory on the same task with the network's trained Q/K as fixed attention
 *    (`pipeline/analyze.ts` `analyzePrepared`), giving U_1 and the head scores;
 *  - their Spearman rank correlation, and the pattern similarity of the theory's U_1 with U_GD from the trained
 *    value weights (section f; `theory/weights.ts` `orderParametersFromWeights`, i.e. W Wᵀ/N_1).
 */
import type { AnalysisConfig } from '../config/types';
import type { QKLayer, SequenceBatch, TaskData } from '../data/types';
import { analyzePrepared } from '../pipeline/analyzePrepared';
import { prepareWithAttention, type ProgressFn } from '../pipeline/prepare';
import type { AnalysisReport } from '../../../shared/report';
import { orderParametersFromWeights } from '../theory/weights';
import { removalGains, valueWeights, type NetworkParams, type TfNetwork } from './model';
import { accuracy, mse } from './trainer';
import { patternSimilarity } from '../util/stats';
import { spearman } from '../../../shared/stats';

/** The measured effect of removing one head (layer and head 0-based). */
export interface HeadRemoval {
  layer: number;
  head: number;
  /** Test accuracy of sign f with the head removed and its layer's other heads rescaled. */
  accuracy: number;
  /** Full-network accuracy minus `accuracy` (points of fraction; positive = the head mattered). */
  drop: number;
  /** Test MSE with the head removed. */
  mse: number;
  /** `mse` minus the full network's test MSE. */
  mseIncrease: number;
}

/**
 * Removes each head in turn (layers with a single head are skipped: removing their head removes the layer).
 * @param X [P, N0, T]; y [P] ±1 labels.
 * @returns the full network's accuracy and MSE, and one entry per removable head in (layer, head) order.
 */
export function singleHeadRemoval(
  net: TfNetwork,
  X: SequenceBatch,
  y: Float64Array,
): { accuracy: number; mse: number; removals: HeadRemoval[]; skippedLayers: number[] } {
  const heads = net.shape.heads;
  const f = net.predict(X);
  const acc0 = accuracy(f, y);
  const mse0 = mse(f, y);
  const removals: HeadRemoval[] = [];
  const skippedLayers: number[] = [];
  heads.forEach((H, l) => {
    if (H < 2) {
      skippedLayers.push(l);
      return;
    }
    for (let h = 0; h < H; h++) {
      const g = net.predict(X, removalGains(heads, l, h));
      const a = accuracy(g, y);
      const m = mse(g, y);
      removals.push({ layer: l, head: h, accuracy: a, drop: acc0 - a, mse: m, mseIncrease: m - mse0 });
    }
  });
  return { accuracy: acc0, mse: mse0, removals, skippedLayers };
}

/** The trained Q/K as the theory's fixed attention (docs/theory.md §a, Q/K form). */
export function trainedAttention(p: NetworkParams): QKLayer[] {
  return p.shape.heads.map((H, l) => ({ kind: 'qk' as const, heads: H, G: p.shape.G, Q: p.Q[l], K: p.K[l] }));
}

/**
 * A class-balanced subset of a labelled batch: the first ⌈k/2⌉ examples with label +1 and the first ⌊k/2⌋ with
 * label −1, in their original order. Used for the theory, whose cost grows as P³, when the network trained on more.
 * @throws Error when a class has too few examples, or k < 2.
 */
export function balancedSubset(X: SequenceBatch, y: Float64Array, k: number): { X: SequenceBatch; y: Float64Array } {
  if (!Number.isSafeInteger(k) || k < 2) throw new Error(`theory training set size ${k}; need an integer ≥ 2`);
  if (k >= X.count) return { X, y };
  const want = { plus: Math.ceil(k / 2), minus: Math.floor(k / 2) };
  const pick: number[] = [];
  let plus = 0;
  let minus = 0;
  for (let p = 0; p < X.count && pick.length < k; p++) {
    if (y[p] > 0 && plus < want.plus) {
      pick.push(p);
      plus++;
    } else if (y[p] < 0 && minus < want.minus) {
      pick.push(p);
      minus++;
    }
  }
  if (plus < want.plus || minus < want.minus) {
    let havePlus = 0;
    for (let p = 0; p < X.count; p++) if (y[p] > 0) havePlus++;
    throw new Error(
      `theory training set: asked for ${want.plus} examples of label +1 and ${want.minus} of label −1, but the data has ${havePlus} and ${X.count - havePlus}`,
    );
  }
  const stride = X.features * X.tokens;
  const data = new Float64Array(k * stride);
  const yy = new Float64Array(k);
  pick.forEach((p, i) => {
    data.set(X.data.subarray(p * stride, (p + 1) * stride), i * stride);
    yy[i] = y[p];
  });
  return { X: { count: k, features: X.features, tokens: X.tokens, data }, y: yy };
}

/** Theory against measurement for one trained network. */
export interface PruningComparison {
  /** Theory head scores, ascending (as `head_scores_ascending` of the analysis report). */
  scores: { layer: number; head: number; score: number }[];
  /** Per removable head, in ascending score order: score, measured accuracy drop and MSE increase. */
  heads: { layer: number; head: number; score: number; drop: number; accuracy: number; mseIncrease: number }[];
  /** Spearman correlation of score with accuracy drop (null when either is constant, e.g. no head changes accuracy). */
  spearmanScoreVsDrop: number | null;
  /** Spearman correlation of score with the test-MSE increase (finer-grained than accuracy). */
  spearmanScoreVsMseIncrease: number | null;
  /** Spearman correlation of the theory's predicted ε_g increase when the head is silenced (`head_silencing`) with
   *  the accuracy drop (pipeline/headRanking.ts: the ranking pruning uses). */
  spearmanPredictedVsDrop: number | null;
  /** U_1 from the trained value weights, W Wᵀ/N_1 (section f, normalized; pattern as U_GD = W Wᵀ). */
  U_GD: number[][];
  /** Pattern similarity of the theory's U_1 with U_GD. */
  uPattern: { pearson: number | null; cosine: number | null };
}

/**
 * Compares the theory's head scores and U_1 with the measured single-head removals and U_GD.
 * @param report the theory's analysis (trained Q/K as fixed attention).
 * @param removals from `singleHeadRemoval`.
 * @throws Error when the report's heads differ from the network's.
 */
export function comparePruning(report: AnalysisReport, removals: HeadRemoval[], params: NetworkParams): PruningComparison {
  const heads = params.shape.heads;
  if (report.settings.heads.join(',') !== heads.join(',')) {
    throw new Error(`pruning comparison: the theory has heads [${report.settings.heads}] but the network [${heads}]`);
  }
  const scores = report.head_scores_ascending.map((s) => ({ layer: s.layer, head: s.head, score: s.score }));
  const byKey = new Map(removals.map((r) => [`${r.layer}:${r.head}`, r]));
  const rows = scores
    .filter((s) => byKey.has(`${s.layer}:${s.head}`))
    .map((s) => {
      const r = byKey.get(`${s.layer}:${s.head}`)!;
      return { layer: s.layer, head: s.head, score: s.score, drop: r.drop, accuracy: r.accuracy, mseIncrease: r.mseIncrease };
    });
  const enough = rows.length >= 2;
  const predicted = rows.map((r) => report.head_silencing?.find((h) => h.layer === r.layer && h.head === r.head)?.delta_eg);
  const { Us } = orderParametersFromWeights(valueWeights(params));
  const U1 = Us[0];
  const Utheory = report.U[0].flat();
  return {
    scores,
    heads: rows,
    spearmanScoreVsDrop: enough
      ? spearman(
          rows.map((r) => r.score),
          rows.map((r) => r.drop),
        )
      : null,
    spearmanScoreVsMseIncrease: enough
      ? spearman(
          rows.map((r) => r.score),
          rows.map((r) => r.mseIncrease),
        )
      : null,
    spearmanPredictedVsDrop:
      enough && predicted.every((v) => v !== undefined)
        ? spearman(
            predicted as number[],
            rows.map((r) => r.drop),
          )
        : null,
    U_GD: Array.from({ length: U1.rows }, (_, i) => Array.from(U1.data.subarray(i * U1.cols, (i + 1) * U1.cols))),
    uPattern: patternSimilarity(Utheory, U1.data, U1.rows),
  };
}

/** Runs the theory for a trained network (`pipeline/prepare.ts` `prepareWithAttention`, then `analyzePrepared`). */
export async function theoryForNetwork(
  config: AnalysisConfig,
  task: TaskData,
  params: NetworkParams,
  opts: { progress?: ProgressFn; signal?: AbortSignal } = {},
): Promise<AnalysisReport> {
  const p = await prepareWithAttention(
    { ...config, readout: params.shape.readout },
    task,
    trainedAttention(params),
    `qk (trained by gradient descent, G = ${params.shape.G})`,
    opts.progress,
  );
  return analyzePrepared(p, config, { onProgress: opts.progress, signal: opts.signal });
}
