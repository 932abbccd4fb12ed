/**
 * Predictor statistics on test points and the test metrics (docs/theory.md §e).
 *
 *   ⟨f(x*)⟩  = k(x*)ᵀ (K + T_B I)⁻¹ y
 *   Var f(x*) = K_U(x*, x*) − k(x*)ᵀ (K + T_B I)⁻¹ k(x*)        (T_B only in the train×train matrix)
 */
import type { Matrix } from '../linalg/matrix';
import type { PathFeatures } from './kernels';
import { type EnergySpaceSetting, createEnergyEvaluator, spaceForPredictions } from './energySpace';
import { normalCdf } from '../util/erf';
import type { Metrics } from '../../../shared/report';

export type { Prediction } from './energyEvaluator';
import type { Prediction } from './energyEvaluator';

/**
 * Mean and variance of the Bayesian predictor with kernel K_U on every test point, in the cheaper of sample and
 * feature space for one prediction (energySpace.ts `spaceForPredictions`; an analysis that predicts several times
 * uses one evaluator's `predict`).
 * @param train Φ [P, N0, Q]; test Φ [P_test, N0, Q]; y [P] training labels; U1 [Q, Q] positive semi-definite.
 * @throws NumericalError when K + T_B I is not positive definite or the result is not finite.
 */
export async function predict(
  train: PathFeatures,
  test: PathFeatures,
  y: Float64Array,
  U1: Matrix,
  temperature: number,
  space: EnergySpaceSetting = 'auto',
): Promise<Prediction> {
  let chosen = space;
  if (chosen === 'auto') {
    // one prediction: the cheaper of one P × P factorization and G = ΦᵀΦ with one d × d one
    const Q = train.paths;
    let r = 0;
    for (let q = 0; q < Q; q++) if (U1.data[q * Q + q] > 0) r++;
    chosen = spaceForPredictions(train.count, test.count, train.features, Q, [r], 'sample');
  }
  const ev = await createEnergyEvaluator(train, y, temperature, chosen);
  return ev.predict(test, U1);
}

/**
 * Test metrics of a prediction (docs/theory.md §e): bias = mean (⟨f⟩ − y)², variance = mean Var f,
 * ε_g = bias + variance, accuracy of the mean predictor = mean [sign⟨f⟩ = y] (a zero mean counts as
 * wrong), probabilistic accuracy = mean Φ(y⟨f⟩/√Var f).
 * @param y [P_test] labels ±1.
 */
export function testMetrics(pred: Prediction, y: Float64Array): Metrics {
  const n = y.length;
  let bias = 0;
  let variance = 0;
  let correct = 0;
  let prob = 0;
  for (let t = 0; t < n; t++) {
    const m = pred.mean[t];
    const v = pred.variance[t];
    bias += (m - y[t]) ** 2;
    variance += v;
    if ((m > 0 && y[t] > 0) || (m < 0 && y[t] < 0)) correct++;
    // A variance that rounding pushed to ≤ 0 means a deterministic prediction: Φ(±∞).
    const z = y[t] * m;
    prob += v > 0 ? normalCdf(z / Math.sqrt(v)) : z > 0 ? 1 : z < 0 ? 0 : 0.5;
  }
  return {
    eg_bias: bias / n,
    eg_variance: variance / n,
    eg_total: (bias + variance) / n,
    acc_mean_predictor: correct / n,
    acc_probabilistic: prob / n,
  };
}
