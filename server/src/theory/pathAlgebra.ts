/**
 * The Kronecker structure of the renormalized kernel (docs/theory.md §b): with Φ the path features as a
 * [P, D] matrix, D = N0·Q, index (i, q) = i·Q + q (feature i slowest, path q fastest), the kernel is
 *
 *     K_U = Φ (I_N0 ⊗ U) Φᵀ,
 *
 * so every product with I_N0 ⊗ U — or with I_N0 ⊗ F for a factor U = F Fᵀ — is one [rows·N0, Q] × [Q, r]
 * product, and the energy gradient's sums over feature pairs are partial traces over i of D × D matrices,
 * Tr_i[X]_{qr} = Σ_i X[(i,q),(i,r)]. This module holds those pieces, shared by the sample-space and the
 * feature-space energy (theory/energySample.ts, theory/energyFeature.ts).
 */
import { type Matrix, zeros } from '../linalg/matrix';
import { gemm, gemmInto } from '../linalg/gemm';
import { NumericalError } from './errors';

/**
 * A factor F [Q, r] of a positive semi-definite U [Q, Q] with F Fᵀ = U, by Cholesky with diagonal pivoting
 * (largest remaining diagonal first). Stops when the largest remaining pivot is ≤ relTol·max_q U_qq, so a
 * singular U (e.g. one whose rows and columns through a silenced head are zero) gets r < Q; the dropped
 * remainder is below rounding. The columns of F are in pivot order, its rows in U's order.
 * @throws NumericalError when U is not symmetric positive semi-definite (a remaining diagonal below −1e-9·max).
 */
export function psdFactor(U: Matrix, relTol = 1e-15): Matrix {
  const Q = U.rows;
  if (U.cols !== Q) throw new Error(`psdFactor: U is ${U.rows}×${U.cols}, not square`);
  const S = Float64Array.from(U.data);
  let maxDiag = 0;
  for (let q = 0; q < Q; q++) {
    const v = S[q * Q + q];
    if (!Number.isFinite(v)) throw new NumericalError(`order parameter U_1 has a non-finite diagonal entry at ${q}`);
    maxDiag = Math.max(maxDiag, v);
  }
  const chosen = new Uint8Array(Q);
  const cols: Float64Array[] = [];
  for (let k = 0; k < Q; k++) {
    let p = -1;
    let best = -Infinity;
    for (let q = 0; q < Q; q++)
      if (!chosen[q] && S[q * Q + q] > best) {
        best = S[q * Q + q];
        p = q;
      }
    if (!(best > relTol * maxDiag) || best <= 0) {
      if (best < -1e-9 * Math.max(maxDiag, Number.MIN_VALUE)) {
        throw new NumericalError(`order parameter U_1 is not positive semi-definite (pivot ${best})`);
      }
      break;
    }
    const s = Math.sqrt(best);
    const f = new Float64Array(Q);
    for (let q = 0; q < Q; q++) f[q] = chosen[q] ? 0 : S[q * Q + p] / s;
    f[p] = s;
    chosen[p] = 1;
    for (let a = 0; a < Q; a++) {
      if (f[a] === 0) continue;
      for (let b = 0; b < Q; b++) S[a * Q + b] -= f[a] * f[b];
    }
    cols.push(f);
  }
  const r = cols.length;
  const F = zeros(Q, r);
  for (let k = 0; k < r; k++) for (let q = 0; q < Q; q++) F.data[q * r + k] = cols[k][q];
  return F;
}

/**
 * X (I_N0 ⊗ F): rows of X [n, N0·Q] (index (i, q)) times the factor per feature, one [n·N0, Q] × [Q, r] product.
 * @param X [n, N0·Q] row-major; F [Q, r]; out, when given, receives the result (exactly [n, N0·r], not overlapping X).
 * @returns [n, N0·r] with index (i, a).
 */
export async function timesKron(X: Float64Array, n: number, N0: number, F: Matrix, out?: Float64Array): Promise<Float64Array> {
  const Q = F.rows;
  if (X.length !== n * N0 * Q) throw new Error(`timesKron: X has ${X.length} entries, expected [${n}, ${N0}·${Q}]`);
  if (F.cols === 0) return new Float64Array(0);
  return gemmInto({ rows: n * N0, cols: Q, data: X }, F, { out });
}

/** (I_N0 ⊗ F) v for v [N0·r] → [N0·Q]. */
export function kronTimesVector(F: Matrix, v: Float64Array, N0: number): Float64Array {
  const Q = F.rows;
  const r = F.cols;
  const out = new Float64Array(N0 * Q);
  for (let i = 0; i < N0; i++)
    for (let q = 0; q < Q; q++) {
      let s = 0;
      for (let a = 0; a < r; a++) s += F.data[q * r + a] * v[i * r + a];
      out[i * Q + q] = s;
    }
  return out;
}

/** (I_N0 ⊗ F)ᵀ v for v [N0·Q] → [N0·r]. */
export function kronTransposeTimesVector(F: Matrix, v: Float64Array, N0: number): Float64Array {
  const Q = F.rows;
  const r = F.cols;
  const out = new Float64Array(N0 * r);
  for (let i = 0; i < N0; i++)
    for (let q = 0; q < Q; q++) {
      const x = v[i * Q + q];
      if (x === 0) continue;
      for (let a = 0; a < r; a++) out[i * r + a] += F.data[q * r + a] * x;
    }
  return out;
}

/**
 * Tr_i[Xᵀ Y]_{qr} = Σ_rows Σ_i X[row, (i,q)] Y[row, (i,r)] for X, Y [n, N0·Q]: one [n·N0, Q]ᵀ × [n·N0, Q] product.
 * @returns [Q, Q] (symmetric when X = Y).
 */
export async function partialTraceProduct(X: Float64Array, Y: Float64Array, Q: number): Promise<Matrix> {
  if (X.length !== Y.length || X.length % Q !== 0) throw new Error(`partialTraceProduct: arrays of ${X.length} and ${Y.length} entries for Q = ${Q}`);
  const rows = X.length / Q;
  return gemm({ rows, cols: Q, data: X }, { rows, cols: Q, data: Y }, { transA: true });
}

/** Tr_i[M] for M [N0·Q, N0·Q] → [Q, Q]. */
export function partialTraceFeatures(M: Matrix, N0: number, Q: number): Matrix {
  const D = N0 * Q;
  const out = zeros(Q, Q);
  for (let i = 0; i < N0; i++)
    for (let q = 0; q < Q; q++) {
      const row = (i * Q + q) * D + i * Q;
      for (let r = 0; r < Q; r++) out.data[q * Q + r] += M.data[row + r];
    }
  return out;
}

/** Tr_i[w wᵀ]_{qr} = Σ_i w_(i,q) w_(i,r) for w [N0·Q]. */
export function partialTraceOuter(w: Float64Array, N0: number, Q: number): Matrix {
  const out = zeros(Q, Q);
  for (let i = 0; i < N0; i++)
    for (let q = 0; q < Q; q++) {
      const a = w[i * Q + q];
      if (a === 0) continue;
      for (let r = 0; r < Q; r++) out.data[q * Q + r] += a * w[i * Q + r];
    }
  return out;
}

/** Φ v for Φ [n, D] and v [D] → [n] (four partial sums per row). */
export function matVec(X: Float64Array, n: number, D: number, v: Float64Array): Float64Array {
  const out = new Float64Array(n);
  for (let m = 0; m < n; m++) {
    const o = m * D;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let j = 0;
    for (; j + 3 < D; j += 4) {
      s0 += X[o + j] * v[j];
      s1 += X[o + j + 1] * v[j + 1];
      s2 += X[o + j + 2] * v[j + 2];
      s3 += X[o + j + 3] * v[j + 3];
    }
    for (; j < D; j++) s0 += X[o + j] * v[j];
    out[m] = s0 + s1 + (s2 + s3);
  }
  return out;
}

/** Φᵀ u for Φ [n, D] and u [n] → [D]. */
export function matTVec(X: Float64Array, n: number, D: number, u: Float64Array): Float64Array {
  const out = new Float64Array(D);
  for (let m = 0; m < n; m++) {
    const a = u[m];
    if (a === 0) continue;
    const o = m * D;
    for (let j = 0; j < D; j++) out[j] += a * X[o + j];
  }
  return out;
}

/** Symmetrizes a square matrix in place ((A + Aᵀ)/2), removing rounding asymmetry. */
export function symmetrizeInPlace(A: Matrix): Matrix {
  const n = A.rows;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < i; j++) {
      const v = 0.5 * (A.data[i * n + j] + A.data[j * n + i]);
      A.data[i * n + j] = v;
      A.data[j * n + i] = v;
    }
  return A;
}
