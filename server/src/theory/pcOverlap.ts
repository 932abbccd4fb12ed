/**
 * Overlap of the kernel's principal components with the training labels (docs/theory.md §i: the paper's
 * Fig. 2c, "overlap of kernel PCs with Y (N = 10 vs GP, first 30 PCs)"; Fig. 3 uses the first 50).
 *
 * For the renormalized training kernel K = K_U(x_μ, x_ν) (P × P, docs/theory.md §b, without T_B: adding
 * T_B·I shifts every eigenvalue by T_B and leaves the eigenvectors unchanged) with eigenpairs (λ_i, v_i),
 * λ_1 ≥ λ_2 ≥ …, the overlap of PC i with the labels y ∈ {±1}^P is
 *
 *     o_i = (v_iᵀ y)² / |y|²,
 *
 * the fraction of the label vector along v_i. Summed over all P components it is 1 (v_i orthonormal), so the
 * cumulative sum over the first k says how much of the task the k leading kernel directions capture; a kernel
 * adapted to the task (finite width, U₁ at the solution) puts more of y into its top PCs than the GP kernel
 * (U₁ = σa²Πσl²·I). Eigenvectors of a repeated eigenvalue are any basis of its eigenspace, so individual o_i
 * within such a group are not unique; their sum over the group is. In particular K_U has rank at most N0·H_tot, so
 * when P exceeds that the components beyond the rank span the (degenerate) null space.
 */
import type { Matrix } from '../linalg/matrix';
import { largestEigenpairs, type TopEigen, type TopEigenOptions } from '../linalg/topEigen';
import { largestEigenpairsBlock } from '../linalg/blockLanczos';
import { renormalizedKernel, type PathFeatures } from './kernels';
import { NumericalError } from './errors';

/** Number of principal components the report gives (the paper's Fig. 2c shows 30). */
export const PC_OVERLAP_COMPONENTS = 30;

/** One kernel's leading principal components and their overlaps with y. Arrays have length k. */
export interface PcOverlap {
  /** Eigenvalues λ_1 ≥ … ≥ λ_k of K_U on the training set (without T_B), in the kernel's units. */
  eigenvalues: number[];
  /** o_i = (v_iᵀ y)² / |y|², each in [0, 1] (dimensionless). */
  overlap: number[];
  /** Σ_{j ≤ i} o_j: non-decreasing, ≤ 1, and 1 (to rounding) when k = P. */
  cumulative: number[];
  /** How the eigenpairs were computed (`dense`: full decomposition; `lanczos`: Krylov, see linalg/topEigen.ts). */
  method: 'dense' | 'lanczos';
  /** Largest ‖K v − λ v‖ / λ_1 of the returned pairs. */
  max_relative_residual: number;
}

/**
 * Overlaps of the leading eigenvectors of a kernel matrix with a label vector (see module doc).
 * @param K [P, P] symmetric kernel matrix
 * @param y [P] labels (any non-zero vector; the project's are ±1)
 * @param k components, 1 ≤ k ≤ P
 * @throws Error for a zero label vector or bad k; NumericalError for a non-finite kernel
 */
export function overlapWithLabels(K: Matrix, y: Float64Array, k: number, opts: TopEigenOptions = {}): PcOverlap {
  const yy = checkOverlapInputs(K, y);
  return overlapsOf(largestEigenpairs(K, k, opts), y, yy);
}

/**
 * `overlapWithLabels` with the eigenpairs of large kernels (P > 200) from block Lanczos (linalg/blockLanczos.ts),
 * whose products run as GEMMs — several times faster than the single-vector iteration for P in the thousands.
 */
export async function overlapWithLabelsBlock(K: Matrix, y: Float64Array, k: number): Promise<PcOverlap> {
  const yy = checkOverlapInputs(K, y);
  if (K.rows <= 200) return overlapsOf(largestEigenpairs(K, k), y, yy);
  return overlapsOf(await largestEigenpairsBlock(K, k), y, yy);
}

/** |y|², after checking the labels and the kernel's entries. */
function checkOverlapInputs(K: Matrix, y: Float64Array): number {
  const P = K.rows;
  if (y.length !== P) throw new Error(`overlapWithLabels: ${y.length} labels for a ${P} × ${P} kernel`);
  let yy = 0;
  for (let i = 0; i < P; i++) yy += y[i] * y[i];
  if (!(yy > 0)) throw new Error('overlapWithLabels: the label vector is zero');
  for (let i = 0; i < K.data.length; i++) {
    if (!Number.isFinite(K.data[i])) throw new NumericalError(`training kernel K_U has a non-finite entry at (${Math.floor(i / P)}, ${i % P})`);
  }
  return yy;
}

function overlapsOf(eig: TopEigen, y: Float64Array, yy: number): PcOverlap {
  const P = y.length;
  const overlap: number[] = [];
  const cumulative: number[] = [];
  let sum = 0;
  for (const v of eig.vectors) {
    let c = 0;
    for (let i = 0; i < P; i++) c += v[i] * y[i];
    const o = (c * c) / yy;
    overlap.push(o);
    sum += o;
    cumulative.push(sum);
  }
  return { eigenvalues: Array.from(eig.values), overlap, cumulative, method: eig.method, max_relative_residual: eig.maxRelativeResidual };
}

/**
 * The PC overlap of the renormalized training kernel K_U with order parameter U (U₁ at the solution, or the GP
 * value σa²Πσl²·I) and the training labels.
 * @param train Φ of the training set [P, N0, Q]; y [P]; U [Q, Q]
 * @param k components (default min(30, P))
 */
export async function kernelPcOverlap(
  train: PathFeatures,
  y: Float64Array,
  U: Matrix,
  k = Math.min(PC_OVERLAP_COMPONENTS, train.count),
  opts: TopEigenOptions = {},
): Promise<PcOverlap> {
  const K = await renormalizedKernel(train, train, U);
  return overlapWithLabels(K, y, k, opts);
}
