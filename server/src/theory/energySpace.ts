/**
 * The energy part of the action, E(U_1) = ln det(K_U + T_B I) + yᵀ(K_U + T_B I)⁻¹y (docs/theory.md §d), and
 * everything else built on the training matrix K_U + T_B I (predictor, docs/theory.md §e; kernel PCs,
 * section i), evaluated in one of two spaces behind one interface:
 *
 * - **sample space** (energySample.ts): P × P matrices. The factor of K_U + T_B I and L⁻¹Φ in one sweep
 *   (linalg/gramCholesky.ts); cost per evaluation with gradient ≈ 2·P²·D + 6·128·P·D flops, no P³ term.
 * - **feature space** (energyFeature.ts): D × D matrices, D = N0·H_tot. With the Gram matrix G = ΦᵀΦ and
 *   b = Φᵀy computed once, K_U + T_B I = T_B I + A Aᵀ is handled through S = T_B I + (I⊗F)ᵀ G (I⊗F)
 *   (Woodbury and the matrix determinant lemma); cost per evaluation ≈ 4/3·D³ + 4·D²·Q + 4·P·D, plus
 *   2·P·D² once. No P × P array exists: this is the regime P ≫ D of large data sets.
 *
 * `chooseEnergySpace` picks the cheaper one that fits in memory; a config can force one (`solver.space`).
 */
import type { PathFeatures } from './kernels';
import { SampleSpaceEnergy } from './energySample';
import { FeatureSpaceEnergy } from './energyFeature';

export type { EnergySpace, EnergySpaceSetting, EnergyEvaluator } from './energyEvaluator';
import type { EnergyEvaluator, EnergySpace, EnergySpaceSetting } from './energyEvaluator';

/** Bytes and flops of one space for a problem (estimates, for the choice and the reports). */
export interface SpaceCost {
  space: EnergySpace;
  /** Flops of one evaluation with gradient, U_1 of full rank. */
  evaluationFlops: number;
  /** Flops paid once (feature space: G = ΦᵀΦ). */
  setupFlops: number;
  /** Peak bytes of the space's own arrays (beyond Φ itself). */
  bytes: number;
}

/** Evaluations a solve typically takes, to weigh the feature space's one-time cost. */
const TYPICAL_EVALUATIONS = 40;

/**
 * Flops of the sample space's factor of K_U + T_B I with L⁻¹Φ (linalg/gramCholesky.ts), Φ [P, D]: 2·P²·D for the two
 * big products, and 6·128·P·D for the 128-wide diagonal blocks (their part of Φ Ũ Φᵀ, their inverses applied to
 * L⁻¹Φ's rows, and the couplings within each 256-row block).
 */
export function gramCholeskyFlops(P: number, D: number): number {
  return 2 * P * P * D + 6 * 128 * P * D;
}

/**
 * Cost estimates of both spaces for P training examples, N0 features and Q paths (see module doc; the sample
 * space's bytes are L, L⁻¹Φ, A and a panel copy, the feature space's G, S's factor, (I⊗F)ᵀG and R⁻¹(I⊗F)ᵀG).
 */
export function energySpaceCosts(P: number, N0: number, Q: number): Record<EnergySpace, SpaceCost> {
  const D = N0 * Q;
  return {
    sample: { space: 'sample', evaluationFlops: gramCholeskyFlops(P, D) + 4 * P * D * Q, setupFlops: 0, bytes: 8 * (1.25 * P * P + 2 * P * D) },
    feature: {
      space: 'feature',
      evaluationFlops: (4 / 3) * D * D * D + 4 * D * D * Q + 4 * P * D,
      setupFlops: P * D * D,
      bytes: 8 * (6 * D * D + 2 * D),
    },
  };
}

/**
 * The space an analysis uses: the forced one, or (auto) the one with fewer flops over a typical solve among
 * those whose arrays fit in `memoryBytes`.
 * @returns the space and a one-line reason.
 */
export function chooseEnergySpace(
  P: number,
  N0: number,
  Q: number,
  setting: EnergySpaceSetting = 'auto',
  memoryBytes = Infinity,
): { space: EnergySpace; reason: string } {
  if (setting !== 'auto') return { space: setting, reason: `forced by solver.space: ${setting}` };
  const c = energySpaceCosts(P, N0, Q);
  const total = (s: SpaceCost) => s.setupFlops + TYPICAL_EVALUATIONS * s.evaluationFlops;
  const fits = (s: SpaceCost) => s.bytes <= memoryBytes;
  const D = N0 * Q;
  let space: EnergySpace = total(c.feature) < total(c.sample) ? 'feature' : 'sample';
  if (!fits(c[space]) && fits(c[space === 'feature' ? 'sample' : 'feature'])) space = space === 'feature' ? 'sample' : 'feature';
  const gf = (x: number) => (x / 1e9).toPrecision(2);
  return {
    space,
    reason: `auto: P = ${P}, D = N0·H_tot = ${D}; one evaluation ≈ ${gf(c.sample.evaluationFlops)} GFLOP in sample space, ${gf(c.feature.evaluationFlops)} GFLOP in feature space`,
  };
}

/**
 * Flops of one `predict` on P_test points at a U_1 whose nonzero rows are r of the Q paths (d = N0·r), with no
 * factorization at that U_1 to reuse: sample space factors P × P together with L⁻¹A (A the kept paths' features)
 * and multiplies that by the test points' A*ᵀ; feature space forms and factors the d × d matrix and solves with
 * the test points.
 */
export function predictionFlops(P: number, Pt: number, N0: number, Q: number, r: number): Record<EnergySpace, number> {
  const d = N0 * r;
  const D = N0 * Q;
  return {
    sample: gramCholeskyFlops(P, d) + 2 * P * Pt * d,
    feature: 2 * D * D * r + 2 * D * d * r + (d * d * d) / 3 + d * d * Pt + 2 * Pt * D * r + 4 * P * D,
  };
}

/**
 * The space for a series of predictions after a solve (the GP limit and each silenced head: `ranks` are their
 * numbers of kept paths): the solve's own, or the feature space when its one-time G = ΦᵀΦ and the d × d work are
 * cheaper than refactoring P × P for each (as for P = 2000 against D = 3200: 1.3·10¹¹ against 3.0·10¹¹ flops).
 */
export function spaceForPredictions(
  P: number,
  Pt: number,
  N0: number,
  Q: number,
  ranks: number[],
  solveSpace: EnergySpace,
  memoryBytes = Infinity,
): EnergySpace {
  if (solveSpace === 'feature') return 'feature';
  const c = energySpaceCosts(P, N0, Q);
  let sample = 0;
  let feature = c.feature.setupFlops;
  for (const r of ranks) {
    const f = predictionFlops(P, Pt, N0, Q, r);
    sample += f.sample;
    feature += f.feature;
  }
  return feature < sample && c.feature.bytes <= memoryBytes ? 'feature' : 'sample';
}

/**
 * An energy evaluator for the training set in the given space (auto: `chooseEnergySpace`).
 * @param train Φ [P, N0, Q]; y [P]; temperature T_B > 0.
 */
export async function createEnergyEvaluator(
  train: PathFeatures,
  y: Float64Array,
  temperature: number,
  setting: EnergySpaceSetting = 'auto',
): Promise<EnergyEvaluator> {
  if (y.length !== train.count) throw new Error(`energy: ${y.length} labels for ${train.count} training examples`);
  if (!(temperature > 0)) throw new Error(`energy: T_B must be positive (got ${temperature})`);
  const { space } = chooseEnergySpace(train.count, train.features, train.paths, setting);
  return space === 'feature' ? FeatureSpaceEnergy.create(train, y, temperature) : new SampleSpaceEnergy(train, y, temperature);
}
