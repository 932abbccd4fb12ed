/**
 * Exact Hessian of the energy ln det(K + T_B I) + yᵀ(K + T_B I)⁻¹y with respect to the symmetric
 * entries of U_1 (docs/theory.md §d; the Newton polish of the solver uses it).
 *
 * With M = K + T_B I, α = M⁻¹y and K = Σ_{qr} U_qr K_qr, K_qr = Σ_i φ_{iq} φ_{ir}ᵀ (φ_{iq} = Φ[:, i, q]):
 *   ∂²E = −tr(M⁻¹ dK₁ M⁻¹ dK₂) + 2 αᵀ dK₁ M⁻¹ dK₂ α.
 * The trace term is −Σ_{ij} G[(i,r),(j,s)] G[(i,q),(j,t)] with G = Φᵀ M⁻¹ Φ = ZᵀZ, Z = L⁻¹Φ — one D×D
 * Gram matrix (D = N0·Q) and one [Q², N0²]·[N0², Q²] product; the second term is 2 YᵀY with
 * Y = L⁻¹V, V[:, (q,r)] = K_qr α. About the cost of two energy evaluations, against 2p gradient
 * evaluations for a finite-difference Hessian.
 */
import { Matrix, zeros } from '../linalg/matrix';
import { gemm } from '../linalg/gemm';
import { forwardSolve, backSolveTransposed, solveLower } from '../linalg/cholesky';
import { PathFeatures, factorTrainingKernel } from './kernels';

/** Largest D = N0·H_tot for which the exact Hessian is formed (two D×D float64 arrays). */
export const EXACT_HESSIAN_MAX_D = 4096;

/** Index of symmetric parameter (q ≤ r) in upper-triangle row order, the solver's packing. */
export function symmetricIndex(Q: number): Int32Array {
  const idx = new Int32Array(Q * Q);
  let k = 0;
  for (let q = 0; q < Q; q++)
    for (let r = q; r < Q; r++) {
      idx[q * Q + r] = k;
      idx[r * Q + q] = k;
      k++;
    }
  return idx;
}

/**
 * Hessian of the energy w.r.t. the Q(Q+1)/2 symmetric entries of U_1 (upper triangle, row order).
 * @param train Φ [P, N0, Q]; y [P]; U1 [Q, Q] symmetric positive semi-definite.
 * @returns [p, p] with p = Q(Q+1)/2, raw (not divided by max N).
 * @throws NumericalError when K + T_B I is not positive definite.
 */
export async function energyHessian(train: PathFeatures, y: Float64Array, temperature: number, U1: Matrix): Promise<Matrix> {
  const P = train.count;
  const N0 = train.features;
  const Q = train.paths;
  const D = N0 * Q;
  const L = await factorTrainingKernel(train, U1, temperature);
  const alpha = backSolveTransposed(L, forwardSolve(L, y));
  const F = { rows: P, cols: D, data: train.data };
  const Z = await solveLower(L, F);
  const G = await gemm(Z, Z, { transA: true }); // [D, D], G[(i,a),(j,b)]
  // Ĝ[(i,j),(a,b)] = G[(i,a),(j,b)]
  const Gh = new Float64Array(N0 * N0 * Q * Q);
  for (let i = 0; i < N0; i++)
    for (let a = 0; a < Q; a++) {
      const row = (i * Q + a) * D;
      for (let j = 0; j < N0; j++) {
        const dst = (i * N0 + j) * Q * Q + a * Q;
        for (let b = 0; b < Q; b++) Gh[dst + b] = G.data[row + j * Q + b];
      }
    }
  const GhM = { rows: N0 * N0, cols: Q * Q, data: Gh };
  const W = await gemm(GhM, GhM, { transA: true }); // W[(r,s),(q,t)] = Σ_ij Ĝ[ij,(r,s)] Ĝ[ij,(q,t)]
  // V[:, (q,r)] = K_qr α = Σ_i φ_iq w[i, r], w = Φᵀα reshaped [N0, Q]
  const w = new Float64Array(D);
  for (let m = 0; m < P; m++) {
    const a = alpha[m];
    for (let j = 0; j < D; j++) w[j] += a * train.data[m * D + j];
  }
  const V = zeros(P, Q * Q);
  for (let m = 0; m < P; m++)
    for (let i = 0; i < N0; i++)
      for (let q = 0; q < Q; q++) {
        const f = train.data[(m * N0 + i) * Q + q];
        if (f === 0) continue;
        const dst = m * Q * Q + q * Q;
        for (let r = 0; r < Q; r++) V.data[dst + r] += f * w[i * Q + r];
      }
  const Y = await solveLower(L, V);
  const YY = await gemm(Y, Y, { transA: true }); // [(q,r),(s,t)] = v_qrᵀ M⁻¹ v_st
  // Full-coordinate Hessian, then summed onto the symmetric parameters.
  const idx = symmetricIndex(Q);
  const p = (Q * (Q + 1)) / 2;
  const H = zeros(p, p);
  const QQ = Q * Q;
  for (let q = 0; q < Q; q++)
    for (let r = 0; r < Q; r++) {
      const a = idx[q * Q + r];
      for (let s = 0; s < Q; s++)
        for (let t = 0; t < Q; t++) {
          const b = idx[s * Q + t];
          const trace = W.data[(r * Q + s) * QQ + q * Q + t];
          H.data[a * p + b] += -trace + 2 * YY.data[(q * Q + r) * QQ + s * Q + t];
        }
    }
  return H;
}
