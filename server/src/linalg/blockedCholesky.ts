/**
 * Left-looking blocked Cholesky factorization and forward substitution whose work is GEMMs on contiguous row
 * panels (docs/theory.md §d–e need ln det, solves and L⁻¹Φ of the training matrix K_U + T_B I).
 *
 * The matrix to factor is never needed as a whole: `blockedCholesky` asks for one column panel at a time
 * (rows j0..n, columns j0..j1 of the lower triangle), so the training matrix T_B I + A Aᵀ is built panel by panel
 * straight from A (only the lower triangle: P²·d flops instead of 2P²·d, and no P × P array besides L). Each
 * panel is then corrected by one GEMM with the factor's columns left of it (inner dimension j0, the shape GEMMs
 * run fastest at), its diagonal block factored in JS and the rest of it solved against that block with one more
 * GEMM. The inverses of the diagonal blocks are kept, so `solveLowerBlocked` (L⁻¹B for many right-hand sides,
 * again one GEMM with inner dimension j0 per block) needs no triangular solves in JS. Flops: n³/3 for the
 * factorization, n²·k for a solve with k right-hand sides, both nearly all at GEMM speed.
 */
import { Matrix } from './matrix';
import { gemm, gemmInto } from './gemm';
import { atGlobalPivot, choleskySync, lowerInverseSync } from './cholesky';

/** A Cholesky factor with what the blocked solves reuse. */
export interface BlockedFactor {
  /** L [n, n] row-major, lower triangular (zeros above the diagonal); L Lᵀ = M. */
  L: Matrix;
  /** Block size: diagonal block j covers rows and columns [j·nb, min(n, (j+1)·nb)). */
  nb: number;
  /** Inverse of each diagonal block of L, [w, w] row-major, lower triangular. */
  diagInv: Float64Array[];
  /** Inverses of the diagonal blocks of twice the size (pairs of blocks), made by the first wide solve. */
  pairInv?: Float64Array[];
}

/**
 * Supplies column panel [j0, j1) of the symmetric matrix being factored: rows j0..n−1, columns j0..j1−1, as an
 * [n − j0, j1 − j0] row-major array (the factorization may overwrite it): written into `out` (exactly that size)
 * when given, else a new one.
 */
export type PanelSource = (j0: number, j1: number, out?: Float64Array) => Promise<Float64Array>;

/** Block size: 128 keeps the JS diagonal factorizations cheap (2·128³/3 flops each) and the GEMMs efficient. */
export function defaultBlockSize(n: number): number {
  return n <= 8192 ? 128 : 256;
}

/**
 * Cholesky factor of a symmetric positive-definite n × n matrix given panel by panel (see module doc).
 * @param n size; panel the matrix's column panels (only the lower triangle is read).
 * @param reuse the L of a discarded factor of the same n (by this function; its upper triangle is zero, which is all
 *   that is not written again): L is written there instead of a fresh allocation, whose first touch costs ~0.35 ms
 *   per MB on the bench machine (11 ms at n = 2000), and without zeroing it (another 4 ms).
 * @returns the factor with the inverses of its diagonal blocks.
 * @throws NotPositiveDefiniteError naming the global pivot.
 */
export async function blockedCholesky(n: number, panel: PanelSource, nb = defaultBlockSize(n), reuse?: Float64Array): Promise<BlockedFactor> {
  const L = reuse && reuse.length === n * n ? reuse : new Float64Array(n * n);
  const diagInv: Float64Array[] = [];
  // One buffer for the copies of L[j0:n, 0:j0] (at most n²/4 entries), reused by every panel: a fresh zeroed array
  // per panel cost more than the copy itself. Likewise the panel, its update (a GEMM's output may not be its C) and
  // the solved part below the diagonal block are written into three buffers of n·nb entries.
  let leftBuf: Float64Array | null = null;
  const panelBuf = new Float64Array(n * Math.min(nb, n));
  const updateBuf = new Float64Array(n * Math.min(nb, n));
  const belowBuf = new Float64Array(n * Math.min(nb, n));
  for (let j0 = 0; j0 < n; j0 += nb) {
    const j1 = Math.min(n, j0 + nb);
    const w = j1 - j0;
    const m = n - j0;
    let C = await panel(j0, j1, panelBuf.subarray(0, m * w));
    if (C.length !== m * w) throw new Error(`blockedCholesky: panel [${j0}, ${j1}) has ${C.length} entries, expected ${m}×${w}`);
    if (j0 > 0) {
      // C −= L[j0:n, 0:j0] · L[j0:j1, 0:j0]ᵀ (the top w rows of the same copy are the second factor)
      leftBuf ??= new Float64Array(Math.ceil((n * n) / 4) + n);
      const left = leftBuf.subarray(0, m * j0);
      for (let i = 0; i < m; i++) left.set(L.subarray((j0 + i) * n, (j0 + i) * n + j0), i * j0);
      const out = updateBuf.subarray(0, m * w);
      C = await gemmInto({ rows: m, cols: j0, data: left }, { rows: w, cols: j0, data: left.subarray(0, w * j0) }, { transB: true, alpha: -1, C, out });
    }
    const diag = { rows: w, cols: w, data: C.slice(0, w * w) };
    let Ljj: Matrix;
    try {
      Ljj = choleskySync(diag);
    } catch (e) {
      throw atGlobalPivot(e, j0);
    }
    const inv = lowerInverseSync(Ljj);
    diagInv.push(inv.data);
    for (let i = 0; i < w; i++) L.set(Ljj.data.subarray(i * w, i * w + i + 1), (j0 + i) * n + j0);
    if (m > w) {
      // L[j1:n, j0:j1] = C[w:m, :] · L_jj⁻ᵀ
      const below = await gemmInto({ rows: m - w, cols: w, data: C.subarray(w * w) }, inv, { transB: true, out: belowBuf.subarray(0, (m - w) * w) });
      for (let i = 0; i < m - w; i++) L.set(below.subarray(i * w, (i + 1) * w), (j1 + i) * n + j0);
    }
  }
  return { L: { rows: n, cols: n, data: L }, nb, diagInv };
}

/**
 * Panels of T·I + A Aᵀ for `blockedCholesky`, from A [n, d] (row-major; each panel is one GEMM of contiguous
 * row blocks of A). Checks every entry for NaN/∞.
 * @throws Error naming the first non-finite entry (row, column) of A Aᵀ.
 */
export function gramPanels(A: Matrix, shift: number): PanelSource {
  const n = A.rows;
  const d = A.cols;
  return async (j0, j1, out) => {
    const w = j1 - j0;
    const C = await gemmInto(
      { rows: n - j0, cols: d, data: A.data.subarray(j0 * d) },
      { rows: w, cols: d, data: A.data.subarray(j0 * d, j1 * d) },
      { transB: true, out },
    );
    for (let i = 0; i < w; i++) C[i * w + i] += shift;
    for (let i = 0; i < C.length; i++) {
      if (!Number.isFinite(C[i])) throw new NonFiniteEntryError(j0 + Math.floor(i / w), j0 + (i % w));
    }
    return C;
  };
}

/** Panels of an explicit symmetric matrix M [n, n] (lower triangle read) plus shift·I. */
export function matrixPanels(M: Matrix, shift = 0): PanelSource {
  const n = M.rows;
  return async (j0, j1, out) => {
    const w = j1 - j0;
    const C = out ?? new Float64Array((n - j0) * w);
    for (let i = j0; i < n; i++) C.set(M.data.subarray(i * n + j0, i * n + j1), (i - j0) * w);
    for (let i = 0; i < w; i++) C[i * w + i] += shift;
    return C;
  };
}

/** A non-finite entry met while building a matrix panel by panel. */
export class NonFiniteEntryError extends Error {
  constructor(
    public readonly row: number,
    public readonly col: number,
  ) {
    super(`non-finite entry at (${row}, ${col})`);
    this.name = 'NonFiniteEntryError';
  }
}

/**
 * X = L⁻¹ B (forward substitution with many right-hand sides), left-looking by blocks of the factor:
 * X_j = L_jj⁻¹ (B_j − L[j, 0:j0] X[0:j0]), one GEMM with inner dimension j0 and one with the stored inverse.
 * @param F factor from `blockedCholesky` (L [n, n]); B [n, k] (may be a view; not modified).
 * @param reuse an [n·k] array no longer needed, written instead of a fresh allocation (every entry is overwritten;
 *   it must not overlap B or F).
 * @returns X [n, k].
 */
export async function solveLowerBlocked(F: BlockedFactor, B: Matrix, reuse?: Float64Array): Promise<Matrix> {
  const n = F.L.rows;
  if (B.rows !== n) throw new Error(`solveLowerBlocked: L is ${n}×${n} but B has ${B.rows} rows`);
  const k = B.cols;
  const X = reuse && reuse.length === n * k ? reuse : new Float64Array(n * k);
  const L = F.L.data;
  // Many right-hand sides: blocks of twice the factor's size halve the GEMM calls and give the off-diagonal products
  // twice the rows, which ONNX Runtime runs closer to its peak (P = 2000, 3200 columns: 174 → ~140 ms).
  const wide = k >= 512 && n >= 1024;
  const nb = wide ? 2 * F.nb : F.nb;
  const inverses = wide ? await pairInverses(F) : F.diagInv;
  for (let j = 0, j0 = 0; j0 < n; j++, j0 += nb) {
    const j1 = Math.min(n, j0 + nb);
    const w = j1 - j0;
    let R: Float64Array = B.data.subarray(j0 * k, j1 * k);
    if (j0 > 0) {
      const row = new Float64Array(w * j0);
      for (let i = 0; i < w; i++) row.set(L.subarray((j0 + i) * n, (j0 + i) * n + j0), i * j0);
      R = await gemmInto({ rows: w, cols: j0, data: row }, { rows: j0, cols: k, data: X.subarray(0, j0 * k) }, { alpha: -1, C: R });
    }
    await gemmInto({ rows: w, cols: w, data: inverses[j] }, { rows: w, cols: k, data: R }, { out: X.subarray(j0 * k, j1 * k) });
  }
  return { rows: n, cols: k, data: X };
}

/**
 * Inverses of L's diagonal blocks of size 2·nb from the stored ones: for the pair [[A, 0], [C, D]] the inverse is
 * [[A⁻¹, 0], [−D⁻¹ C A⁻¹, D⁻¹]] (two small products); a last odd block stays as it is. Cached in F.
 */
async function pairInverses(F: BlockedFactor): Promise<Float64Array[]> {
  if (F.pairInv) return F.pairInv;
  const n = F.L.rows;
  const nb = F.nb;
  const L = F.L.data;
  const out: Float64Array[] = [];
  for (let j = 0; j < F.diagInv.length; j += 2) {
    const a0 = j * nb;
    const wa = Math.min(nb, n - a0);
    if (j + 1 >= F.diagInv.length) {
      out.push(F.diagInv[j]);
      break;
    }
    const d0 = a0 + wa;
    const wd = Math.min(nb, n - d0);
    const w = wa + wd;
    const C = new Float64Array(wd * wa);
    for (let i = 0; i < wd; i++) C.set(L.subarray((d0 + i) * n + a0, (d0 + i) * n + a0 + wa), i * wa);
    const DC = await gemm({ rows: wd, cols: wd, data: F.diagInv[j + 1] }, { rows: wd, cols: wa, data: C });
    const DCA = await gemm(DC, { rows: wa, cols: wa, data: F.diagInv[j] });
    const inv = new Float64Array(w * w);
    for (let i = 0; i < wa; i++) inv.set(F.diagInv[j].subarray(i * wa, (i + 1) * wa), i * w);
    for (let i = 0; i < wd; i++) {
      for (let c = 0; c < wa; c++) inv[(wa + i) * w + c] = -DCA.data[i * wa + c];
      inv.set(F.diagInv[j + 1].subarray(i * wd, (i + 1) * wd), (wa + i) * w + wa);
    }
    out.push(inv);
  }
  F.pairInv = out;
  return out;
}

/** ln det M = 2 Σ ln L_ii. */
export function logDetBlocked(F: BlockedFactor): number {
  const n = F.L.rows;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.log(F.L.data[i * n + i]);
  return 2 * s;
}

/**
 * Xᵀ [m, n] of X [n, m], by 32 × 32 tiles (cache-friendly for large arrays): within a tile four rows of X are read
 * together, so each column of the tile is written as runs of four consecutive entries of Xᵀ.
 */
export function transposeTiled(X: Matrix): Matrix {
  const { rows: n, cols: m } = X;
  const o = new Float64Array(n * m);
  const x = X.data;
  const B = 32;
  for (let i0 = 0; i0 < n; i0 += B) {
    const i1 = Math.min(n, i0 + B);
    for (let j0 = 0; j0 < m; j0 += B) {
      const j1 = Math.min(m, j0 + B);
      let i = i0;
      for (; i + 3 < i1; i += 4) {
        const r0 = i * m;
        const r1 = r0 + m;
        const r2 = r1 + m;
        const r3 = r2 + m;
        for (let j = j0; j < j1; j++) {
          const d = j * n + i;
          o[d] = x[r0 + j];
          o[d + 1] = x[r1 + j];
          o[d + 2] = x[r2 + j];
          o[d + 3] = x[r3 + j];
        }
      }
      for (; i < i1; i++) for (let j = j0; j < j1; j++) o[j * n + i] = x[i * m + j];
    }
  }
  return { rows: m, cols: n, data: o };
}

/** Copies the upper triangle of the square M [m, m] onto its lower triangle, by 32 × 32 tiles. */
function mirrorUpperTiled(M: Float64Array, m: number): void {
  const B = 32;
  for (let i0 = 0; i0 < m; i0 += B) {
    const i1 = Math.min(m, i0 + B);
    for (let j0 = 0; j0 <= i0; j0 += B) {
      const j1 = Math.min(m, j0 + B);
      for (let i = i0; i < i1; i++) {
        const ri = i * m;
        for (let j = j0; j < Math.min(j1, i); j++) M[ri + j] = M[j * m + i];
      }
    }
  }
}

/**
 * XᵀX [m, m] of X [n, m] with only the upper triangle computed (n·m² flops instead of 2·n·m²): X is transposed once,
 * so each block row of the result, G[j0:j1, j0:m] = Xᵀ[j0:j1] · Xᵀ[j0:m]ᵀ, is one GEMM of contiguous row blocks of
 * Xᵀ with few rows and many columns (the shape ONNX Runtime runs fastest: ~190 ms against ~250 ms for column panels
 * at n = 2000, m = 3200), into one reused buffer; its rows are copied into G, whose upper triangle is then mirrored.
 * @param out an [m·m] array no longer needed, written over by G (every entry) instead of a fresh allocation.
 */
export async function gramOfColumns(X: Matrix, nb = 256, out?: Float64Array): Promise<Matrix> {
  const m = X.cols;
  const n = X.rows;
  const G = out && out.length === m * m ? out : new Float64Array(m * m);
  if (n === 0 || m === 0) return { rows: m, cols: m, data: G.fill(0) };
  const Xt = transposeTiled(X).data;
  const buf = new Float64Array(m * Math.min(nb, m));
  for (let j0 = 0; j0 < m; j0 += nb) {
    const j1 = Math.min(m, j0 + nb);
    const w = j1 - j0;
    const c = m - j0;
    const C = await gemmInto(
      { rows: w, cols: n, data: Xt.subarray(j0 * n, j1 * n) },
      { rows: c, cols: n, data: Xt.subarray(j0 * n) },
      { transB: true, out: buf.subarray(0, w * c) },
    );
    // row i of the block holds G[j0 + i, j0:m]; its upper-triangle part starts at column j0 + i
    for (let i = 0; i < w; i++) G.set(C.subarray(i * c + i, (i + 1) * c), (j0 + i) * m + j0 + i);
  }
  mirrorUpperTiled(G, m);
  return { rows: m, cols: m, data: G };
}
