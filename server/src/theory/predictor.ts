/**
 * Predictor statistics on test points and the test metrics (THEORY.md section e).
 *
 *   ⟨f(x*)⟩  = k(x*)ᵀ (K + T_B I)⁻¹ y
 *   Var f(x*) = K_U(x*, x*) − k(x*)ᵀ (K + T_B I)⁻¹ k(x*)        (T_B only in the train×train matrix)
 */
import type { Matrix } from '../linalg/matrix';
import { forwardSolve, solveLower } from '../linalg/cholesky';
import { PathFeatures, factorTrainingKernel, renormalizedKernel, renormalizedKernelDiagonal } from './kernels';
import { NumericalError } from './errors';
import { normalCdf } from '../util/erf';
import type { Metrics } from '../report/types';

export interface Prediction {
  /** ⟨f(x*)⟩ per test point, [P_test] */
  mean: Float64Array;
  /** Var f(x*) per test point (excludes T_B), [P_test] */
  variance: Float64Array;
}

/**
 * Mean and variance of the Bayesian predictor with kernel K_U on every test point.
 * @param train Φ [P, N0, Q]; test Φ [P_test, N0, Q]; y [P] training labels; U1 [Q, Q].
 * @throws NumericalError when K + T_B I is not positive definite or the result is not finite.
 */
export async function predict(train: PathFeatures, test: PathFeatures, y: Float64Array, U1: Matrix, temperature: number): Promise<Prediction> {
  const P = train.count;
  const Pt = test.count;
  const L = await factorTrainingKernel(train, U1, temperature);
  const k = await renormalizedKernel(train, test, U1); // [P, P_test]
  const V = await solveLower(L, k); // L⁻¹ k, [P, P_test]
  // z = L⁻¹ y; mean = (L⁻¹k)ᵀ (L⁻¹ y); variance = k** − Σ_μ (L⁻¹k)²_μ
  const z = forwardSolve(L, y);
  const diag = await renormalizedKernelDiagonal(test, U1);
  const mean = new Float64Array(Pt);
  const variance = new Float64Array(Pt);
  for (let m = 0; m < P; m++) {
    const zm = z[m];
    const row = m * Pt;
    for (let t = 0; t < Pt; t++) {
      const v = V.data[row + t];
      mean[t] += v * zm;
      variance[t] -= v * v;
    }
  }
  for (let t = 0; t < Pt; t++) {
    variance[t] += diag[t];
    if (!Number.isFinite(mean[t]) || !Number.isFinite(variance[t])) {
      throw new NumericalError(`predictor is not finite at test point ${t} (mean ${mean[t]}, variance ${variance[t]})`);
    }
  }
  return { mean, variance };
}

/**
 * Test metrics of a prediction (THEORY.md section e): bias = mean (⟨f⟩ − y)², variance = mean Var f,
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
