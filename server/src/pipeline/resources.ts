/**
 * A rough upper bound of the memory an analysis needs, checked before any large allocation so that an
 * oversized run stops at once with a reason instead of exhausting the machine (THEORY.md section j
 * lists the arrays: inputs, attention, path features, the P×P kernels and their factors).
 */
import { totalmem } from 'node:os';

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
}

/**
 * Estimated peak bytes of an analysis: inputs twice (the attention's token-major copy), attention of
 * every layer, path features, about five P×P float64 matrices (kernel, factor, solve temporaries),
 * the L⁻¹Φ solve and the test kernel.
 */
export function estimateMemoryBytes(s: ProblemSize): number {
  const n = s.P + s.P_test;
  const Q = s.heads.reduce((a, b) => a * b, 1);
  const Hsum = s.heads.reduce((a, b) => a + b, 0);
  const doubles = 2 * n * s.N0 * s.T + 2 * n * Hsum * s.T * s.T + n * s.N0 * Q + 5 * s.P * s.P + 2 * s.P * s.N0 * Q + s.P * s.P_test;
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
      `${what} needs about ${gb(need)} GB of memory (P = ${s.P}, P_test = ${s.P_test}, N0 = ${s.N0}, T = ${s.T}, heads [${s.heads.join(', ')}]) ` +
        `but this machine has ${gb(have)} GB; reduce P or P_test`,
    );
  }
}
