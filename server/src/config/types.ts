/**
 * A validated analysis config, as the pipeline consumes it. Produced by `config/load.ts` from a YAML or
 * JSON file (or built in code for the embedded default). Paths are absolute (resolved against the
 * config file's folder). Array-or-number fields are kept as written; the pipeline expands them once
 * the number of layers L is known.
 */
import type { Readout } from '../data/types';

export type BuiltinTask = 'markov' | 'markov-2paths' | 'mnist-oneshot';

export interface SolverSettings {
  /** Stop when max |∂(S/max N)/∂U_l| < tolerance. Default 1e-9. */
  tolerance: number;
  /** Iteration cap of the quasi-Newton phase. Default 500. */
  maxIterations: number;
  /**
   * Where the energy, predictor and kernel PCs are evaluated (theory/energySpace.ts): `sample` (P × P matrices),
   * `feature` (D × D, D = N0·H_tot) or `auto` (absent: the cheaper one that fits in memory).
   */
  space?: 'auto' | 'sample' | 'feature';
  /**
   * `lbfgs` (L-BFGS with a dense Newton polish), `newton-cg` (trust-region Newton–CG with exact Hessian–vector
   * products) or `auto` (absent: Newton–CG when the dense Hessian is not cheap, theory/solver.ts).
   */
  method?: 'auto' | 'lbfgs' | 'newton-cg';
}

export interface AttentionSettings {
  /** `qk` / `w`: parameters from `params`; `random-qk`: seeded random Q/K; `model`: captured from an ONNX model. */
  kind: 'qk' | 'w' | 'random-qk' | 'model';
  /** Absolute path of a `.npz`/`.json` holding Q_1, K_1, … or W_1, … (layer numbers from 1). */
  params?: string;
  /** Absolute path of an ONNX model (kind `model`). */
  model?: string;
  /** Q/K dimension G for `random-qk`. */
  G?: number;
  /** Kind `model`: fraction of the data file's examples used for training when it holds one set (default 0.5). */
  split?: number;
  /** Kind `model`: examples per ONNX Runtime run (default 64). */
  batchSize?: number;
  /** Kind `model`: one window of blocks [first, last], 0-based and inclusive (pipeline/windows.ts). */
  layers?: [number, number];
  /** Kind `model`: consecutive windows of this many blocks, or `auto` (fewest windows within the path limit). */
  windows?: number | 'auto';
}

export interface AnalysisConfig {
  /** Absolute path of the config file, when it came from one. */
  source?: string;
  /** A built-in task, or … */
  task?: BuiltinTask;
  /** … an absolute path of a `.npz` / `.json` data file (X_train, y_train, X_test, y_test). */
  data?: string;
  /** Task size overrides for built-in tasks (train / test examples). */
  P?: number;
  P_test?: number;
  attention?: AttentionSettings;
  /** Heads per layer [H_1, …, H_L] (or one number for every layer); defaults to what the attention gives. */
  heads?: number[] | number;
  /** [N_1, …, N_L, N_a] or one number for all. Default 10. */
  widths: number[] | number;
  /** [σ0², σ1², …, σL², σa²] or one number for all. Default 1. */
  variances: number[] | number;
  /** Bayesian temperature T_B (likelihood variance). Default 0.01. */
  temperature: number;
  /** Readout; defaults to the task's own (Markov: last, one-shot: mean), else `last`. */
  readout?: Readout;
  solver: SolverSettings;
  /** Seed for every random draw of the run. Default 0. */
  seed: number;
}

/** A config problem with its place in the file (1-based line and column, as editors show them). */
export interface ConfigIssue {
  message: string;
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  /** JSON pointer of the offending value, e.g. "/solver/tolerance". */
  pointer: string;
  severity: 'error' | 'warning';
  /** The edit that fixes it, when the check knows one (the editor offers it as a quick fix). */
  fix?: ConfigFix;
}

/**
 * A fix for a config issue, applied to the issue's span: `renameKey` writes another key name (a misspelt key),
 * `replaceValue` another value (a clamp into range, a suggested enum value or file); `title` says what it does.
 */
export type ConfigFix = { kind: 'renameKey'; to: string; title: string } | { kind: 'replaceValue'; value: string | number; title: string };

/** Thrown by `loadConfig` when a file has errors; `issues` lists every one, `message` the first, as `file:line:col: …`. */
export class ConfigError extends Error {
  constructor(public readonly issues: ConfigIssue[]) {
    super(issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

/**
 * A config value that is well-formed on its own but does not fit the rest of the run (e.g. widths whose
 * length disagrees with the attention's layers). Raised by the pipeline, which knows L and the data;
 * `pointer` (JSON pointer, e.g. "/widths") lets the CLI and the language server place it in the file
 * (`locateConfigValue`).
 */
export class ConfigValueError extends Error {
  constructor(
    public readonly pointer: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigValueError';
  }
}
