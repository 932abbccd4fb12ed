/**
 * The analysis report: what `attention-paths analyze --json` writes, what the language server sends to
 * the client, and what the charts are drawn from. Field names follow `shared/golden` (snake_case there),
 * so a report can be compared with a golden case field by field.
 *
 * Matrices are nested arrays, rows first. Layers and heads are 0-based. Paths are in flattened order
 * (THEORY.md section b: h_1 slowest, h_L fastest).
 */

/** Test-set metrics of one predictor (THEORY.md section e). Dimensionless; accuracies in [0, 1]. */
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
  /** Max-normalized union of rows and columns of |U_1| through this head (THEORY.md section g), in [0, 1]. */
  score: number;
}

export interface HeadSilencing {
  layer: number;
  head: number;
  /** Predicted ε_g after zeroing this head's paths in U_1 (no re-optimization). */
  eg_total: number;
  /** Predicted accuracy of the mean predictor after the same silencing. */
  acc_mean_predictor: number;
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
