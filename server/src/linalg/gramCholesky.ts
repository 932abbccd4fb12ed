/**
 * Cholesky factor L of a Gram-type matrix M = shift·I + Φ W Φᵀ together with X = L⁻¹Φ, by block rows, in
 * Gram–Schmidt form (docs/theory.md §m: the sample-space evaluation of the energy needs ln det M, L⁻¹y and
 * L⁻¹Φ for the gradient, so computing L and L⁻¹Φ in one sweep costs no more than L⁻¹Φ alone).
 *
 * Why it works: L⁻¹M = Lᵀ, i.e. X W Φᵀ + shift·L⁻¹ = Lᵀ. L⁻¹ is lower triangular, so for a block row j and the
 * columns left of it, L[j, 0:j0] = Φ_j W X[0:j0]ᵀ — the factor below the diagonal blocks is one product of the
 * rows B_j = Φ_j W with the rows of X already found, and needs neither M nor the Cholesky updates
 * (n³/3 flops) of a classical factorization. For each block of rows [a0, a2) (256 rows):
 *
 *   B    = Φ[a0:a2] W                                  (the caller's `timesW`; cheap when W = I ⊗ U_1)
 *   S    = B X[0:a0]ᵀ              = L[a0:a2, 0:a0]      (one GEMM, inner dimension D)
 *   Y    = Φ[a0:a2] − S X[0:a0]                         (one GEMM, inner dimension a0)
 *
 * then, within the block, the same recurrence by sub-blocks s of 128 rows (the size factored in JS):
 *
 *   T    = B_s X[a0:s0]ᵀ           = L[s, a0:s0]        (the rows of this block already found), Y_s −= T X[a0:s0]
 *   C    = B_s Y_sᵀ + shift·I                           (= B_s Φ_sᵀ + shift·I − L[s, 0:s0] L[s, 0:s0]ᵀ, the Schur
 *                                                        complement of the diagonal block, in one product)
 *   C    = L_ss L_ssᵀ, L_ss⁻¹                            (JS)
 *   X_s  = L_ss⁻¹ Y_s                                   (one GEMM)
 *
 * It is block classical Gram–Schmidt on the rows of [Φ W^½, √shift·I] with the diagonal taken from the Schur
 * complement (the "Pythagorean" variant), whose computed factor satisfies L Lᵀ = M + E with ‖E‖ = O(ε‖M‖), the
 * backward error of Cholesky itself, as long as M is numerically positive definite (Smoktunowicz, Barlow, Langou,
 * Numer. Math. 105, 2006). Measured against the classical factorization followed by a forward solve: the same L
 * and X to ~1e-15 relative for well-conditioned M, and ln det M closer to an independent (feature-space) value
 * where M is near singular (P = 2000, D = 200, shift 1e-8 and 1e-10).
 *
 * Flops: 2·n²·D for S and Y, plus 6·128·n·D for the sub-blocks (C, the inverses applied, the couplings T within
 * each block of 256); all at GEMM speed except the JS factorizations and inverses of the 128 × 128 diagonal blocks.
 */
import type { Matrix } from './matrix';
import { gemmInto } from './gemm';
import { atGlobalPivot, choleskySync, lowerInverseSync } from './cholesky';
import { type BlockedFactor, NonFiniteEntryError } from './blockedCholesky';

/** Rows per outer block: the two big products of each block then have 256 rows, which ONNX Runtime runs near its
 * peak (measured here at P = 2000, D = 3200: 151 and 111 GFLOP/s against 123 and 91 with 128 rows). */
const GRAM_CHOLESKY_BLOCK = 256;
/** Block size of the factor's diagonal blocks (their JS factorizations and stored inverses). */
const INNER_BLOCK = 128;

/** Writes rows r0..r1 of Φ W (an [r1 − r0, D] row-major array) into `out`, exactly that size, and returns it. */
export type TimesW = (r0: number, r1: number, out: Float64Array) => Promise<Float64Array>;

export interface GramCholeskyOptions {
  /** Rows per outer block, a multiple of 128 (the factor's diagonal blocks); default GRAM_CHOLESKY_BLOCK. */
  block?: number;
  /** An [n·n] array no longer needed, written over by L instead of a fresh allocation (its upper triangle must be
   * zero: the L of an earlier call with the same n is). */
  reuseL?: Float64Array;
  /** An [n·D] array no longer needed, written over by X (must not overlap Φ). */
  reuseX?: Float64Array;
}

/**
 * L with L Lᵀ = shift·I + Φ W Φᵀ, and X = L⁻¹Φ (see module doc).
 * @param Phi Φ [n, D] row-major.
 * @param timesW rows of Φ W (W symmetric positive semi-definite, [D, D]).
 * @param shift added to the diagonal (T_B for the training kernel).
 * @returns the factor (blocks of 128 with their inverses, as `blockedCholesky` returns) and X [n, D].
 * @throws NonFiniteEntryError at the first NaN/∞ entry of a diagonal block of Φ W Φᵀ (a non-finite feature of row r
 *   makes entry (r, r) non-finite; anything non-finite elsewhere reaches a pivot); NotPositiveDefiniteError naming
 *   the global pivot.
 */
export async function gramCholeskyWithSolve(
  Phi: Matrix,
  timesW: TimesW,
  shift: number,
  opts: GramCholeskyOptions = {},
): Promise<{ factor: BlockedFactor; X: Matrix }> {
  const { rows: n, cols: D } = Phi;
  const ob = opts.block ?? GRAM_CHOLESKY_BLOCK;
  if (!(ob > 0 && ob % INNER_BLOCK === 0)) throw new Error(`gramCholeskyWithSolve: block must be a positive multiple of ${INNER_BLOCK} (got ${ob})`);
  const L = opts.reuseL && opts.reuseL.length === n * n ? opts.reuseL : new Float64Array(n * n);
  const X = opts.reuseX && opts.reuseX.length === n * D ? opts.reuseX : new Float64Array(n * D);
  const diagInv: Float64Array[] = [];
  const h0 = Math.min(ob, n);
  // one buffer each, reused by every block: B, S, the right-hand sides Φ_a − S X[0:a0] (twice: the second
  // sub-block's update is written beside its input), the couplings within a block and C
  const Bbuf = new Float64Array(h0 * D);
  const Sbuf = new Float64Array(Math.max(0, h0 * (n - h0)));
  const Ybuf = new Float64Array(h0 * D);
  const Y2buf = new Float64Array(Math.min(h0, INNER_BLOCK) * D);
  const Tbuf = new Float64Array(Math.max(0, Math.min(h0, INNER_BLOCK) * (h0 - INNER_BLOCK)));
  const Cbuf = new Float64Array(INNER_BLOCK * INNER_BLOCK);
  for (let a0 = 0; a0 < n; a0 += ob) {
    const a2 = Math.min(n, a0 + ob);
    const h = a2 - a0;
    const Phia = Phi.data.subarray(a0 * D, a2 * D);
    const B = await timesW(a0, a2, Bbuf.subarray(0, h * D));
    let Y: Float64Array = Phia;
    if (a0 > 0) {
      const Xdone = { rows: a0, cols: D, data: X.subarray(0, a0 * D) };
      const S = await gemmInto({ rows: h, cols: D, data: B }, Xdone, { transB: true, out: Sbuf.subarray(0, h * a0) });
      Y = await gemmInto({ rows: h, cols: a0, data: S }, Xdone, { alpha: -1, C: Phia, out: Ybuf.subarray(0, h * D) });
      for (let i = 0; i < h; i++) L.set(S.subarray(i * a0, (i + 1) * a0), (a0 + i) * n);
    }
    // Within the block, the same recurrence by sub-blocks of 128 rows (the JS factorizations' size), so the diagonal
    // products are 128 wide: C_s = B_s Y_sᵀ + shift·I (B_s Y_sᵀ = B_s Φ_sᵀ − L[s, 0:s0] L[s, 0:s0]ᵀ, the Schur
    // complement in one product), X_s = L_ss⁻¹ Y_s.
    for (let s0 = a0; s0 < a2; s0 += INNER_BLOCK) {
      const s1 = Math.min(a2, s0 + INNER_BLOCK);
      const w = s1 - s0;
      const Bs = B.subarray((s0 - a0) * D, (s1 - a0) * D);
      let Ys = Y.subarray((s0 - a0) * D, (s1 - a0) * D);
      const k = s0 - a0;
      if (k > 0) {
        const Xk = { rows: k, cols: D, data: X.subarray(a0 * D, s0 * D) };
        const T = await gemmInto({ rows: w, cols: D, data: Bs }, Xk, { transB: true, out: Tbuf.subarray(0, w * k) });
        Ys = await gemmInto({ rows: w, cols: k, data: T }, Xk, { alpha: -1, C: Ys, out: Y2buf.subarray(0, w * D) });
        for (let i = 0; i < w; i++) L.set(T.subarray(i * k, (i + 1) * k), (s0 + i) * n + a0);
      }
      const C = await gemmInto({ rows: w, cols: D, data: Bs }, { rows: w, cols: D, data: Ys }, { transB: true, out: Cbuf.subarray(0, w * w) });
      for (let i = 0; i < w; i++) C[i * w + i] += shift;
      for (let i = 0; i < w * w; i++) if (!Number.isFinite(C[i])) throw new NonFiniteEntryError(s0 + Math.floor(i / w), s0 + (i % w));
      let Lss: Matrix;
      try {
        Lss = choleskySync({ rows: w, cols: w, data: C });
      } catch (e) {
        throw atGlobalPivot(e, s0);
      }
      const inv = lowerInverseSync(Lss);
      diagInv.push(inv.data);
      for (let i = 0; i < w; i++) L.set(Lss.data.subarray(i * w, i * w + i + 1), (s0 + i) * n + s0);
      await gemmInto(inv, { rows: w, cols: D, data: Ys }, { out: X.subarray(s0 * D, s1 * D) });
    }
  }
  return { factor: { L: { rows: n, cols: n, data: L }, nb: INNER_BLOCK, diagInv }, X: { rows: n, cols: D, data: X } };
}
