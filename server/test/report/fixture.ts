/**
 * A small, hand-made AnalysisReport / SweepReport for the chart tests: 2 layers × 2 heads, 4 paths with
 * the Markov task's names (flattened order g, a1, d, a2; docs/theory.md §i). Numbers are made up but
 * shaped like a real run (U₁ symmetric with a negative g–d entry).
 */
import type { AnalysisReport, Metrics, SweepReport } from '../../../shared/report';

const metrics = (acc: number, eg: number): Metrics => ({
  eg_bias: eg * 0.8,
  eg_variance: eg * 0.2,
  eg_total: eg,
  acc_mean_predictor: acc,
  acc_probabilistic: acc - 0.05,
});

export const U1 = [
  [13.4, 0.2, -4.6, 0.1],
  [0.2, 0.63, 0.05, -0.02],
  [-4.6, 0.05, 5.3, 0.3],
  [0.1, -0.02, 0.3, 0.62],
];

export function fakeReport(): AnalysisReport {
  return {
    tool: 'attention-paths',
    version: '0.1.0',
    task: { name: 'markov', description: 'hidden Markov chain, 4 paths', P: 100, P_test: 1000, N0: 231, T: 31 },
    settings: { heads: [2, 2], widths: [10, 10, 10], variances: [1, 1, 1, 1], temperature: 0.01, readout: 'last', attention_kind: 'w' },
    paths: [
      { index: 0, heads: [0, 0], label: 'g' },
      { index: 1, heads: [0, 1], label: 'a1' },
      { index: 2, heads: [1, 0], label: 'd' },
      { index: 3, heads: [1, 1], label: 'a2' },
    ],
    U: [
      U1,
      [
        [2.1, 0.3],
        [0.3, 0.9],
      ],
    ],
    U_a: 1.2,
    action: { normalized: 12.5, raw: 125, entropy_raw: 40, energy_raw: 85, max_width: 10 },
    metrics: metrics(0.933, 0.577),
    predictor_mean_test: [0.9, -0.8],
    predictor_var_test: [0.1, 0.2],
    gp: {
      scale: 1,
      U: [
        [
          [1, 0, 0, 0],
          [0, 1, 0, 0],
          [0, 0, 1, 0],
          [0, 0, 0, 1],
        ],
      ],
      metrics: metrics(0.829, 0.792),
      predictor_mean_test: [0.5, -0.4],
      predictor_var_test: [0.3, 0.3],
    },
    head_scores_ascending: [
      { layer: 1, head: 1, score: 0.21 },
      { layer: 0, head: 1, score: 0.27 },
      { layer: 1, head: 0, score: 0.9 },
      { layer: 0, head: 0, score: 1 },
    ],
    head_silencing: [
      { layer: 0, head: 0, eg_total: 0.95, acc_mean_predictor: 0.61 },
      { layer: 0, head: 1, eg_total: 0.6, acc_mean_predictor: 0.93 },
      { layer: 1, head: 0, eg_total: 0.9, acc_mean_predictor: 0.7 },
      { layer: 1, head: 1, eg_total: 0.58, acc_mean_predictor: 0.931 },
    ],
    solver: {
      method: 'lbfgs+newton',
      iterations: 40,
      evaluations: 55,
      max_abs_grad_normalized: 1e-11,
      tolerance: 1e-9,
      converged: true,
      stop_reason: 'gradient below tolerance',
      space: 'sample',
      space_reason: 'auto',
    },
    timings_ms: { data: 5, solve: 100 },
    warnings: [],
    // 4 of P = 100 components; the finite-width kernel puts more of y into its leading PCs than the GP kernel.
    kernel_pc_overlap: {
      k: 4,
      P: 100,
      finite: {
        eigenvalues: [40, 12, 5, 2],
        overlap: [0.5, 0.3, 0.05, 0.01],
        cumulative: [0.5, 0.8, 0.85, 0.86],
        method: 'dense',
        max_relative_residual: 1e-15,
      },
      gp: { eigenvalues: [20, 10, 8, 6], overlap: [0.1, 0.2, 0.1, 0.05], cumulative: [0.1, 0.3, 0.4, 0.45], method: 'dense', max_relative_residual: 1e-15 },
    },
  };
}

/** fakeReport of a model config: the measured accuracy of the model with each head removed (one head not maskable). */
export function fakeModelReport(): AnalysisReport {
  return {
    ...fakeReport(),
    head_removal_measured: {
      metric: 'accuracy',
      count: 128,
      output: 'y',
      full: 0.8,
      heads: [
        { layer: 1, head: 1, value: 0.79 },
        { layer: 0, head: 1, value: null, reason: 'layer 0: removing all 1 heads would remove the block; keep at least one head' },
        { layer: 1, head: 0, value: 0.72 },
        { layer: 0, head: 0, value: 0.65 },
      ],
    },
  };
}

export function fakeSweep(): SweepReport {
  const r = fakeReport();
  const { widths: _w, ...settings } = r.settings;
  const row = (N: number, acc: number, eg: number, converged = true) => ({ N, alpha: 100 / N, metrics: metrics(acc, eg), converged, iterations: 30 });
  return {
    tool: 'attention-paths',
    version: '0.1.0',
    task: r.task,
    settings,
    // deliberately out of order: the chart sorts by N
    rows: [row(100, 0.895, 0.7), row(10, 0.933, 0.577), row(30, 0.924, 0.62), row(1000, 0.835, 0.8, false)],
    gp: metrics(0.829, 0.792),
  };
}
