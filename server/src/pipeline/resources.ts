/**
 * A rough upper bound of the memory an analysis needs, checked before any large allocation so that an
 * oversized run stops at once with a reason instead of exhausting the machine (THEORY.md section j
 * lists the arrays: inputs, attention, path features, the P×P kernels and their factors).
 */
import { totalmem } from 'node:os';
import { type EnergySpace, type EnergySpaceSetting, chooseEnergySpace, spaceForPredictions } from '../theory/energySpace';
import type { PathFeatures } from '../theory/kernels';

export interface ProblemSize {
  /** training examples P */
  P: number;
  /** test examples P_test */
  P_test: number;
  /** features per token N0 */
  N0: number;
  /** tokens T */
  T: number;
  /** heads per layer */
  heads: number[];
  /** The config's `solver.space` (default auto). */
  space?: EnergySpaceSetting;
}

/** Memory the energy space may take: half of this machine's (the rest is inputs, attention and features). */
function spaceBudget(): number {
  return 0.5 * totalmem();
}

/**
 * The space (energySpace.ts) an analysis of this training set runs in, and why.
 * @param setting the config's `solver.space`.
 */
export function energySpaceFor(
  train: Pick<PathFeatures, 'count' | 'features' | 'paths'>,
  setting: EnergySpaceSetting = 'auto',
): { space: EnergySpace; reason: string } {
  return chooseEnergySpace(train.count, train.features, train.paths, setting, spaceBudget());
}

/**
 * The space for the predictions after the solve (GP limit and each silenced head; `ranks` their numbers of kept
 * paths), see `spaceForPredictions`.
 */
export function predictionSpaceFor(
  train: Pick<PathFeatures, 'count' | 'features' | 'paths'>,
  testCount: number,
  ranks: number[],
  solveSpace: EnergySpace,
): EnergySpace {
  return spaceForPredictions(train.count, testCount, train.features, train.paths, ranks, solveSpace, spaceBudget());
}

/**
 * Float64 entries the energy space holds at its peak. Sample space: the factor L and a panel copy (1.25·P²), the
 * kernel for its PCs (P²), A = Φ(I⊗F), L⁻¹Φ and a predictor block (≤ 2²³ per block, two of them), G_M (D², for
 * D ≤ 6000). Feature space: G, S and its factor, (I⊗F)ᵀG, R⁻¹(I⊗F)ᵀG, G_M (about 7·D²); no P × P array.
 */
function spaceDoubles(P: number, P_test: number, D: number, space: EnergySpace): number {
  if (space === 'feature') return 7 * D * D + 4 * D;
  return 2.25 * P * P + 2 * P * D + Math.min(2 * P * P_test, 2 ** 24) + (D <= 6000 ? D * D : 0);
}

/**
 * Estimated peak bytes of an analysis: inputs twice (the attention's token-major copy), attention of
 * every layer, path features, and the arrays of the energy space it runs in (sample: P × P; feature: D × D,
 * D = N0·H_tot; see `spaceDoubles`).
 */
export function estimateMemoryBytes(s: ProblemSize): number {
  const n = s.P + s.P_test;
  const Q = s.heads.reduce((a, b) => a * b, 1);
  const Hsum = s.heads.reduce((a, b) => a + b, 0);
  const D = s.N0 * Q;
  const { space } = chooseEnergySpace(s.P, s.N0, Q, s.space ?? 'auto', spaceBudget());
  const doubles = 2 * n * s.N0 * s.T + 2 * n * Hsum * s.T * s.T + n * D + spaceDoubles(s.P, s.P_test, D, space);
  return 8 * doubles;
}

/**
 * Throws when the estimate exceeds 80% of this machine's memory.
 * @throws Error saying how much is needed and what to reduce.
 */
export function checkMemory(s: ProblemSize, what: string): void {
  const need = estimateMemoryBytes(s);
  const have = totalmem();
  if (need > 0.8 * have) {
    const gb = (b: number) => (b / 2 ** 30).toFixed(b < 10 * 2 ** 30 ? 1 : 0);
    throw new Error(
      `${what} needs about ${gb(need)} GB of memory (P = ${s.P}, P_test = ${s.P_test}, N0 = ${s.N0}, T = ${s.T}, heads [${s.heads.join(', ')}], ` +
        `${
          chooseEnergySpace(
            s.P,
            s.N0,
            s.heads.reduce((a, b) => a * b, 1),
            s.space ?? 'auto',
            spaceBudget(),
          ).space
        } space) ` +
        `but this machine has ${gb(have)} GB; reduce P or P_test`,
    );
  }
}
