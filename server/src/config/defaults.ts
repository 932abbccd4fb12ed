/**
 * Default values of the analysis config (the same numbers appear as `default` in `schema.ts`; a test
 * checks that they agree).
 */
import type { AnalysisConfig } from './types';

/** Defaults applied by `parseConfig` to keys a config file leaves out. */
export const CONFIG_DEFAULTS = {
  /** Width N of every layer and the readout (docs/theory.md §a). */
  widths: 10,
  /** Prior variance σ² of every weight group (docs/theory.md §a). */
  variances: 1,
  /** Bayesian temperature T_B, the likelihood variance (docs/theory.md §c). */
  temperature: 0.01,
  /** Solver stop: max |∂(S/max N)/∂U_l| (docs/theory.md §d). */
  tolerance: 1e-9,
  maxIterations: 500,
  seed: 0,
} as const;

/**
 * The embedded default config, used when no config file is given: the 4-path Markov task (docs/theory.md
 * §i) with widths N = 10, variances 1, T_B = 0.01, last-token readout, solver tolerance 1e-9
 * (500 iterations) and seed 0. Returns a fresh object each call (safe to mutate).
 */
export function defaultConfig(): AnalysisConfig {
  return {
    task: 'markov',
    widths: CONFIG_DEFAULTS.widths,
    variances: CONFIG_DEFAULTS.variances,
    temperature: CONFIG_DEFAULTS.temperature,
    readout: 'last',
    solver: { tolerance: CONFIG_DEFAULTS.tolerance, maxIterations: CONFIG_DEFAULTS.maxIterations },
    seed: CONFIG_DEFAULTS.seed,
  };
}
