/**
 * Path-pair kernels and the renormalized kernel (docs/theory.md §b).
 *
 * Path features are stored as Φ [P, N0, Q] (Q = H_tot), which is also a [P·N0, Q] matrix and a
 * [P, N0·Q] matrix without copying. K_U = einsum('miq,qr,nir->mn', Φ, U, Φ) is then
 * (Φ_{[P·N0,Q]} U) reshaped to [P, N0·Q], times Φ_{[P,N0·Q]}ᵀ — two matrix products, never the
 * P²·Q² tensor of all path-pair kernels.
 */
import { gemm, gemmSync } from '../linalg/gemm';
import { type Matrix, firstNonFinite } from '../linalg/matrix';
import { NotPositiveDefiniteError, cholesky } from '../linalg/cholesky';
import { NumericalError } from './errors';

/** Path features of a batch with their sizes. data: Φ [P, N0, Q] row-major. */
export interface PathFeatures {
  count: number;
  features: number;
  paths: number;
  data: Float64Array;
}

/**
 * Path-pair kernel C_{ππ'}(x_a, x_b) = φ_π(x_a)·φ_π'(x_b) for one pair of inputs.
 * @param A features of a batch, example index a; B another (or the same) batch, index b.
 * @returns C [Q, Q] row-major (rows π for x_a, columns π' for x_b).
 */
export function pathPairKernel(A: PathFeatures, a: number, B: PathFeatures, b: number): Matrix {
  const N0 = A.features;
  const Q = A.paths;
  const fa = { rows: N0, cols: Q, data: A.data.subarray(a * N0 * Q, (a + 1) * N0 * Q) };
  const fb = { rows: N0, cols: Q, data: B.data.subarray(b * N0 * Q, (b + 1) * N0 * Q) };
  return gemmSync(fa, fb, { transA: true });
}

/** Φ·U over the path index: [P·N0, Q] × [Q, Q] → [P·N0, Q] (the same layout as Φ). */
export async function featuresTimesU(F: PathFeatures, U: Matrix): Promise<Float64Array> {
  const flat = { rows: F.count * F.features, cols: F.paths, data: F.data };
  return (await gemm(flat, U)).data;
}

/**
 * Renormalized kernel K_U(x_a, x_b) = Σ_{ππ'} U_{ππ'} C_{ππ'}(x_a, x_b) between two batches.
 * @param A Φ of the left batch [P_a, N0, Q]; B of the right batch [P_b, N0, Q]; U [Q, Q] symmetric.
 * @returns K [P_a, P_b].
 */
export async function renormalizedKernel(A: PathFeatures, B: PathFeatures, U: Matrix): Promise<Matrix> {
  const D = A.features * A.paths;
  const AU = await featuresTimesU(A, U);
  return gemm({ rows: A.count, cols: D, data: AU }, { rows: B.count, cols: D, data: B.data }, { transB: true });
}

/**
 * Cholesky factor of the training matrix K_U + T_B·I (docs/theory.md §d–e; T_B only on the
 * train×train block).
 * @param train Φ [P, N0, Q]; U1 [Q, Q]; temperature T_B > 0.
 * @returns L [P, P] lower triangular with L Lᵀ = K_U + T_B I.
 * @throws NumericalError naming the entry when K_U is not finite, or the pivot when K_U + T_B I is not
 *   positive definite.
 */
export async function factorTrainingKernel(train: PathFeatures, U1: Matrix, temperature: number): Promise<Matrix> {
  const P = train.count;
  const K = await renormalizedKernel(train, train, U1);
  for (let i = 0; i < P; i++) K.data[i * P + i] += temperature;
  const bad = firstNonFinite(K.data);
  if (bad >= 0) throw new NumericalError(`training kernel K_U has a non-finite entry at (${Math.floor(bad / P)}, ${bad % P})`);
  try {
    return await cholesky(K);
  } catch (e) {
    if (e instanceof NotPositiveDefiniteError) {
      throw new NumericalError(`K_U + T_B·I (the ${P}×${P} training kernel) is not positive definite: pivot ${e.pivot} = ${e.value}`);
    }
    throw e;
  }
}
