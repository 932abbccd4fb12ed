/**
 * Data shapes shared by the tasks, the loaders, the config and the theory.
 *
 * Layout: row-major Float64Array. A batch of sequences `X` has shape [P, N0, T]: entry
 * `X[p][i][t]` (feature i of token t of example p) is `data[(p * N0 + i) * T + t]`
 * (docs/theory.md §a: `x ∈ R^{N0×T}`, column `x_t` = token t).
 */
export interface SequenceBatch {
  /** Number of examples P. */
  count: number;
  /** Features per token N0. */
  features: number;
  /** Tokens per sequence T. */
  tokens: number;
  /** [P, N0, T] row-major. */
  data: Float64Array;
  /**
   * Padded token inputs only: [P, T] row-major, 1 for a real token and 0 for padding (from the model's attention
   * mask). The readout and the path features then skip padding tokens (theory/attention.ts `readoutWeights`,
   * theory/paths.ts `skipPaddingTokens`).
   */
  tokenMask?: Float64Array;
}

/** Which query token(s) the last layer reads out (docs/theory.md §a). */
export type Readout = 'first' | 'last' | 'mean';

/** Q/K form of one layer: `score[s,t] = (K x_s)·(Q x_t)/√G`. */
export interface QKLayer {
  kind: 'qk';
  heads: number;
  /** Query/key dimension G. */
  G: number;
  /** [H, G, N0] row-major. */
  Q: Float64Array;
  /** [H, G, N0] row-major. */
  K: Float64Array;
}

/** W form of one layer: `score[s,t] = x_sᵀ W x_t` (no scaling; β already inside W). */
export interface WLayer {
  kind: 'w';
  heads: number;
  /** [H, N0, N0] row-major. */
  W: Float64Array;
}

/** Fixed attention of every layer, given directly as probabilities `A[p,h,s,t]` (for captured models). */
export interface FixedLayer {
  kind: 'fixed';
  heads: number;
  /** Train attention [P, H, T, T] row-major, columns (queries t) summing to 1 over keys s. */
  train: Float64Array;
  /** Test attention [P_test, H, T, T]. */
  test: Float64Array;
}

export type AttentionLayer = QKLayer | WLayer | FixedLayer;

/** A labelled task: train and test sequences with ±1 labels, and optionally the attention that goes with it. */
export interface TaskData {
  /** Short name shown in reports (e.g. "markov", "mnist-oneshot", or a file name). */
  name: string;
  /** One line describing where the data came from. */
  description: string;
  train: SequenceBatch;
  /** [P] labels ±1. */
  yTrain: Float64Array;
  test: SequenceBatch;
  /** [P_test] labels ±1. */
  yTest: Float64Array;
  /** Attention parameters that belong to the task (the Markov heads; loaded Q/K or W), first layer first. */
  attention?: AttentionLayer[];
  /** Readout the task was designed for. */
  readout?: Readout;
  /** Human names of paths in flattened order (h_1 slowest), when the task defines them (Markov: g, a1, d, a2). */
  pathNames?: string[];
  /** Human names of heads per layer, when the task defines them. */
  headNames?: string[][];
}
