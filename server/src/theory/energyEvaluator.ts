/**
 * The interface behind which the energy of the action and everything that shares its factorization (predictor,
 * kernel PCs) is evaluated in sample or feature space (docs/theory.md §d, §e, §i; energySpace.ts chooses, and
 * energySample.ts / energyFeature.ts implement it). Types only: the implementations and the chooser import it, so
 * they need not import each other.
 */
import type { Matrix } from '../linalg/matrix';
import type { PathFeatures } from './kernels';
import type { PcOverlap } from './pcOverlap';

/** Predictor statistics on test points (docs/theory.md §e). */
export interface Prediction {
  /** ⟨f(x*)⟩ per test point, [P_test] */
  mean: Float64Array;
  /** Var f(x*) per test point (excludes T_B), [P_test] */
  variance: Float64Array;
}

export type EnergySpace = 'sample' | 'feature';
/** The config's `solver.space`. */
export type EnergySpaceSetting = 'auto' | EnergySpace;

export interface EnergyResult {
  /** E = ln det(K + T_B I) + yᵀ(K + T_B I)⁻¹y (raw, not divided by max N). */
  value: number;
  /** ln det(K + T_B I) */
  logDet: number;
  /** yᵀ(K + T_B I)⁻¹y */
  quad: number;
  /** ∂E/∂U_1 = Σ_{μν} B_{μν} C(x_μ, x_ν), B = (K+T_B I)⁻¹ − ααᵀ, [Q, Q] symmetric, when asked for. */
  grad?: Matrix;
}

/** Energy of the action and the quantities that share its factorization, in one space. */
export interface EnergyEvaluator {
  readonly space: EnergySpace;
  /** Training examples P and feature dimension D = N0·H_tot. */
  readonly P: number;
  readonly D: number;
  /**
   * The energy at U_1 and, if asked, ∂E/∂U_1 (docs/theory.md §d).
   * @param U1 [Q, Q] symmetric positive semi-definite.
   * @throws NumericalError when K + T_B I is not positive definite, U_1 is not positive semi-definite, or a
   *   value is not finite.
   */
  evaluate(U1: Matrix, wantGrad: boolean): Promise<EnergyResult>;
  /**
   * (∂²E/∂U_1²)[dU1]: the directional derivative of the gradient along the symmetric dU1 [Q, Q], at U1 (cheap
   * after an `evaluate` at the same U1, which it reuses). @returns [Q, Q] symmetric, raw.
   */
  hessianVectorProduct(U1: Matrix, dU1: Matrix): Promise<Matrix>;
  /** The energy Hessian over the Q(Q+1)/2 symmetric entries of U_1 (upper triangle, row order), raw. */
  energyHessian(U1: Matrix): Promise<Matrix>;
  /**
   * Predictor mean and variance on test points (docs/theory.md §e) with kernel K_U at U1.
   * @param test Φ of the test points [P_test, N0, Q].
   */
  predict(test: PathFeatures, U1: Matrix): Promise<Prediction>;
  /** The leading k principal components of the training kernel K_U at U1 and their overlaps with y. */
  kernelPcOverlap(U1: Matrix, k: number): Promise<PcOverlap>;
  /** Drops what is kept from the last U1 (factorization, L⁻¹Φ, G_M), to free its memory. */
  release(): void;
}
