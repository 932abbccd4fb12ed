/**
 * The analysis report: what `attention-paths analyze --json` writes, what the language server sends to
 * the client, and what the charts are drawn from. Field names follow `test-fixtures/golden` (snake_case there),
 * so a report can be compared with a golden case field by field.
 *
 * Matrices are nested arrays, rows first. Layers and heads are 0-based. Paths are in flattened order
 * (docs/theory.md §b: h_1 slowest, h_L fastest).
 */

/** Test-set metrics of one predictor (docs/theory.md §e). Dimensionless; accuracies in [0, 1]. */
export interface Metrics {
  eg_bias: number;
  eg_variance: number;
  eg_total: number;
  acc_mean_predictor: number;
  acc_probabilistic: number;
}

export interface PathInfo {
  /** Flattened path index. */
  index: number;
  /** Head of each layer along the path, [h_1, …, h_L], 0-based. */
  heads: number[];
  /** Display label, e.g. "g" for the Markov task, otherwise "h1.h2" with 0-based heads. */
  label: string;
}

export interface HeadScore {
  layer: number;
  head: number;
  /** Max-normalized union of rows and columns of |U_1| through this head (docs/theory.md §g), in [0, 1]; in a
   *  windowed analysis normalized within the head's window. */
  score: number;
  /** Windowed analyses: index of the head's window in `windows`. */
  window?: number;
}

export interface HeadSilencing {
  layer: number;
  head: number;
  /** Predicted ε_g after zeroing this head's paths in U_1 (no re-optimization). */
  eg_total: number;
  /** Predicted accuracy of the mean predictor after the same silencing. */
  acc_mean_predictor: number;
  /** Predicted increase of ε_g when the head is silenced: eg_total − ε_g with every head (of its window). */
  delta_eg?: number;
  /** Predicted change of the accuracy: acc_mean_predictor − accuracy with every head (of its window); < 0 is a drop. */
  delta_acc?: number;
  /** Windowed analyses: index of the head's window in `windows`. */
  window?: number;
}

/**
 * Spearman rank correlations over the heads whose removal was measured on the model (`head_removal_measured`), with
 * the measured drop = full − removed for accuracy (removed − full for MSE): a positive value means the quantity
 * ranks the heads as their measured harm does. Null where a quantity is constant (or fewer than 3 heads measured).
 */
export interface RankCorrelations {
  /** Relevance score (`head_scores_ascending`) against the measured drop. */
  score_vs_measured_drop: number | null;
  /** Predicted ε_g increase when silenced (`head_silencing[].delta_eg`) against the measured drop. */
  predicted_vs_measured_drop: number | null;
  /** Heads the correlations are computed over. */
  heads: number;
}

/** One entry of `pruning_order`: a head and the predicted ε_g increase when it is silenced alone. */
export interface PruningCandidate {
  layer: number;
  head: number;
  delta_eg: number;
  window?: number;
}

/**
 * One layer window of a windowed analysis (`attention.layers` / `attention.windows`, pipeline/windows.ts): blocks
 * [first, last] solved on their own, with x the activation feeding block `first`'s value projection.
 */
export interface WindowReport {
  index: number;
  /** [first, last] attention blocks, 0-based, both included. */
  layers: [number, number];
  /** Heads per layer of the window. */
  heads: number[];
  /** Attention paths of the window, H_first···H_last. */
  paths: number;
  /** The window's x: the tensor captured, its layout in the model, N0 and T. */
  input: { tensor: string; layout: string; N0: number; T: number; embedding: string | null };
  /** [N_1, …, N_Lw, N_a] and [σ0², σ1², …, σLw², σa²] of the window. */
  widths: number[];
  variances: number[];
  /** U₁ of the window, paths in flattened order (h_first slowest). */
  U1: number[][];
  metrics: Metrics;
  gp_metrics: Metrics;
  solver: SolverInfo;
  /** This window's heads (global layer numbers), scores normalized within the window. */
  head_scores_ascending: HeadScore[];
  head_silencing: HeadSilencing[];
  rank_correlations?: RankCorrelations;
  timings_ms: Record<string, number>;
}

/**
 * Overlap of the kernel's leading principal components with the training labels y (docs/theory.md §i, the
 * paper's Fig. 2c), for the renormalized training kernel K_U at the solution (`finite`) and for the GP kernel
 * (`gp`, U₁ = σa²Πσl²·I). Computed in pipeline/analyze.ts with theory/pcOverlap.ts.
 */
export interface KernelPcOverlap {
  /** Components reported: min(30, P). */
  k: number;
  /** Training examples P (the kernel is P × P; the overlaps over all P components sum to 1). */
  P: number;
  finite: PcOverlapSeries;
  gp: PcOverlapSeries;
}

/** One kernel's k leading principal components (eigenvalues descending); every array has length k. */
export interface PcOverlapSeries {
  /** Eigenvalues λ_1 ≥ … ≥ λ_k of K_U on the training set, without T_B (T_B·I only shifts them). */
  eigenvalues: number[];
  /** (v_iᵀ y)² / |y|² for unit eigenvector v_i, each in [0, 1]. */
  overlap: number[];
  /** Running sum of `overlap`: non-decreasing, ≤ 1, equal to 1 (to rounding) when k = P. */
  cumulative: number[];
  /** `dense`: full eigendecomposition (P ≤ 200); `lanczos`: Krylov iteration for the top k (linalg/topEigen.ts). */
  method: 'dense' | 'lanczos';
  /** Largest ‖K v − λ v‖ / λ_1 of the reported pairs (a check on the eigenvectors). */
  max_relative_residual: number;
}

/** The measured accuracy (or MSE) of an ONNX model with one head removed, for each head (`head_removal_measured`). */
export interface HeadRemovalMeasured {
  /** `accuracy`: sign of the model's first output against the ±1 labels; `mse` for other labels. */
  metric: 'accuracy' | 'mse';
  /** Test examples measured on (the test split of the config's data, as the analysis uses it). */
  count: number;
  /** The model's first output, the one measured. */
  output: string;
  /** The full model's value. */
  full: number;
  /**
   * One entry per head, in the order of `head_scores_ascending`: the value with that head's slice of the output
   * projection's input (or its term of a head sum) multiplied by 0 (onnx/edit/prune.ts `maskedModel`; the other heads are not rescaled, matching the
   * theory's silencing, which keeps the 1/H normalization), or null with the reason when the block cannot be
   * masked.
   */
  heads: Array<{ layer: number; head: number; value: number | null; reason?: string }>;
  /** How prediction and measurement agree (report/agreement.ts); accuracy only. */
  agreement?: MeasuredAgreement;
}

/**
 * Agreement of the theory with a measured model (report/agreement.ts `measuredAgreement`): Spearman ρ of the
 * measured accuracy drop of removing each head against its relevance score and against its predicted drop, and
 * the gap measured − predicted of the full model's accuracy (fractions). ρ is null below 3 heads or without spread.
 */
export interface MeasuredAgreement {
  /** Heads with both a measurement and a prediction. */
  heads: number;
  spearman_score_vs_measured_drop: number | null;
  spearman_predicted_vs_measured_drop: number | null;
  predicted_full: number;
  measured_full: number;
  gap: number;
}

export interface SolverInfo {
  method: string;
  iterations: number;
  evaluations: number;
  /** max |∂(S/max N)/∂U_l| over all l at the returned point. */
  max_abs_grad_normalized: number;
  tolerance: number;
  converged: boolean;
  /** Why the solver stopped, in words. */
  stop_reason: string;
  /** Newton–CG only (many paths): accepted Newton steps and conjugate-gradient iterations. */
  newton_steps?: number;
  cg_iterations?: number;
  /**
   * Where the energy, predictor and kernel PCs were computed (theory/energySpace.ts): `sample` (P × P matrices) or
   * `feature` (D × D, D = N0·H_tot), with why.
   */
  space: 'sample' | 'feature';
  space_reason: string;
}

/** One attention block of an analysed ONNX model. */
export interface ModelBlockReport {
  /** Layer index (0-based) = the block's position in graph order. */
  layer: number;
  /** `unfused`, `ai.onnx.Attention`, `com.microsoft.Attention`, … */
  form: string;
  heads: number;
  kv_heads: number;
  /** `softmax`: probabilities read from the model's Softmax; `recomputed`: from the fused operator's definition. */
  source: 'softmax' | 'recomputed';
  /** Fused operators: max |recomputed − ONNX Runtime| of the operator's output (the capture's check). */
  check_max_abs_error?: number;
  /** Queries whose every key was masked (all-zero attention), train + test. */
  masked_queries: number;
  /** Why the block's heads cannot be removed from the model (absent when they can; `attention-paths prune`). */
  prune_blocker?: string;
}

/**
 * What an analysis of a real model (`attention: { kind: model }`) adds to the report: where x came from, the
 * captured blocks, the train/test split, and how the model relates to the theory's network class.
 */
export interface ModelReport {
  /** The ONNX file analysed. */
  file: string;
  /** The tensor taken as the theory's input x (its layout in the model, N0, T) and the linear embedding passed
   *  on the way (the theory's V⁰), if any. */
  input: { tensor: string; layout: string; N0: number; T: number; embedding: string | null };
  blocks: ModelBlockReport[];
  /** How the data file was split into train and test examples. */
  split: { train: number; test: number; rule: string };
  /** Readout recognized in the model's graph (first/last/mean token), or null. */
  model_readout: 'first' | 'last' | 'mean' | null;
  /** True when the model is in the theory's class: attention from the input, a linear value path (value and output
   *  projections only, no residual, MLP, LayerNorm or bias), a linear readout of one token or the token mean. */
  in_theory_class: boolean;
  /** Why it is not (empty when it is). */
  class_reasons: string[];
  /** Token inputs: the model input read as the attention mask, and how many of its tokens (train + test) are padding,
   *  which the readout and the path features skip. */
  token_mask?: { input: string; padding_tokens: number; tokens: number };
  /**
   * In class only: U₁ computed from the model's own value weights (docs/theory.md §f: w_π = V^1_{h1}ᵀ ··· V^L_{hL}ᵀ a
   * with V^l_h = W_O,h W_V,h, U = w wᵀ/N_1), compared with the theory's U₁ as patterns: `pearson` correlation of the
   * entries, `cosine` similarity of the matrices (Frobenius), `head_score_spearman` rank correlation of the head
   * scores (section g) computed from each (null where a quantity is constant). The model's U is in the theory's
   * normalization (see README, Analyzing a real model).
   */
  weights_U?: { U: number[][]; pearson: number | null; cosine: number | null; head_score_spearman: number | null };
  /**
   * For a pruned model: the head map from its metadata (onnx/edit/headOrigins.ts) — the model it was pruned from, that
   * model's heads per layer, and for each block its original layer and the original number of each head.
   */
  head_origins?: { source: string; original_heads: number[]; layers: { layer: number; heads: number[] }[] };
}

export interface AnalysisReport {
  tool: 'attention-paths';
  version: string;
  task: { name: string; description: string; P: number; P_test: number; N0: number; T: number };
  settings: {
    heads: number[];
    /** [N_1, …, N_L, N_a] */
    widths: number[];
    /** [σ0², σ1², …, σL², σa²] */
    variances: number[];
    /** T_B */
    temperature: number;
    readout: 'first' | 'last' | 'mean';
    attention_kind: string;
  };
  paths: PathInfo[];
  /** Order parameters at the minimum, U_1 first: [U_1, …, U_L]. */
  U: number[][][];
  U_a: number;
  action: { normalized: number; raw: number; entropy_raw: number; energy_raw: number; max_width: number };
  metrics: Metrics;
  predictor_mean_test: number[];
  predictor_var_test: number[];
  gp: {
    /** σa² Π σl² */
    scale: number;
    U: number[][][];
    metrics: Metrics;
    predictor_mean_test: number[];
    predictor_var_test: number[];
  };
  head_scores_ascending: HeadScore[];
  head_silencing: HeadSilencing[];
  solver: SolverInfo;
  /** Wall-clock milliseconds per stage. */
  timings_ms: Record<string, number>;
  /** Things the user should know (a jitter added, a non-converged solve, …). */
  warnings: string[];
  /** Present when the attention was captured from an ONNX model (`attention: { kind: model }`). */
  model?: ModelReport;
  /**
   * Overlap of the first min(30, P) principal components of the training kernel with the labels, finite width
   * versus GP (the paper's Fig. 2c). Absent in reports written before it existed.
   */
  kernel_pc_overlap?: KernelPcOverlap;
  /**
   * Models only (`attention: { kind: model }`), when the analysis was asked to measure it: each head removed from
   * the ONNX model alone and the model run in ONNX Runtime on the test split — the measurement next to the
   * theory's prediction in `head_silencing`.
   */
  head_removal_measured?: HeadRemovalMeasured;
  /** With `head_removal_measured`: how the relevance score and the predicted silencing effect rank the heads against
   *  the measured drops. */
  rank_correlations?: RankCorrelations;
  /**
   * Every head, least harmful to silence first: ascending predicted ε_g increase when silenced alone (ties: lower
   * relevance score first). The order `prune --drop-lowest` and the editor's pruning use; unlike the scores it is
   * comparable across windows. Absent in reports written before it existed.
   */
  pruning_order?: PruningCandidate[];
  /**
   * Windowed analyses only (`attention.layers` / `attention.windows`): one entry per window. Then `settings.heads`
   * lists every block's heads, `head_scores_ascending` / `head_silencing` / `pruning_order` cover every head of the
   * model (scores normalized within each window), `solver` sums the windows (converged only when every window did),
   * and `paths`, `U`, `U_a`, `action`, `metrics`, `gp`, the predictor arrays and `kernel_pc_overlap` are those of the
   * first window (docs/windows.md).
   */
  windows?: WindowReport[];
  /** Per-head attention of the first few test examples, for the attention-map chart (pipeline/attentionMaps.ts). */
  attention_maps?: AttentionMaps;
}

/**
 * The attention matrix of every head for the first K test examples (K ≤ 8, fewer when H_tot·T² is large: at most
 * `ATTENTION_MAP_BUDGET` numbers in all; none when one example alone is over it, with `omitted` saying why).
 * The attention the theory uses: captured from the ONNX model for `attention: { kind: model }`, else computed from
 * the config's Q/K or W parameters (docs/theory.md §a).
 */
export interface AttentionMaps {
  /**
   * `captured`: read from (or recomputed for) the model's attention blocks; `theory`: computed from the Q/K or W
   * parameters; `given`: fixed attention read from the data file.
   */
  source: 'captured' | 'theory' | 'given';
  /** Tokens T. */
  T: number;
  /** Test-set indices of the kept examples (0 … K−1). */
  examples: number[];
  /** Their labels y_test. */
  labels: number[];
  /**
   * `maps[k][h]` for each layer: example k, head h, a T × T matrix row-major as [query t][key s] (each row sums to
   * 1: how much query token t reads from each key token s), rounded to 3 decimals.
   */
  layers: Array<{ layer: number; heads: number; maps: number[][][] }>;
  /** Why no example was kept (when `examples` is empty). */
  omitted?: string;
}

/** One row of a width sweep (the paper's Fig. 2a / 3b analogue). */
export interface SweepRow {
  /** Width N used for every layer and the readout. */
  N: number;
  /** Load α = P/N. */
  alpha: number;
  metrics: Metrics;
  converged: boolean;
  iterations: number;
}

export interface SweepReport {
  tool: 'attention-paths';
  version: string;
  task: AnalysisReport['task'];
  settings: Omit<AnalysisReport['settings'], 'widths'>;
  rows: SweepRow[];
  gp: Metrics;
}
