/**
 * Cholesky factorization M = L Lᵀ of a symmetric positive-definite matrix, the inverse of L, and the
 * triangular solves and log-determinant built on them.
 *
 * Small matrices are factored with row-oriented JS loops (contiguous dot products of rows). Large ones
 * use recursive 2×2 block algorithms whose off-diagonal work is matrix products, which `gemm` sends to
 * ONNX Runtime, so almost all flops of an n = 2000 factorization or solve run at GEMM speed.
 */
import { Matrix, zeros } from './matrix';
import { gemm } from './gemm';

/** Thrown when a pivot is not positive: the matrix is not (numerically) positive definite. */
export class NotPositiveDefiniteError extends Error {
  constructor(
    /** 0-based row/column where the factorization broke down. */
    public readonly pivot: number,
    /** The value that should have been a positive pivot (may be NaN). */
    public readonly value: number,
    what = 'matrix',
  ) {
    super(`${what} is not positive definite: pivot ${pivot} is ${value}`);
    this.name = 'NotPositiveDefiniteError';
  }
}

/**
 * The error to rethrow from the factorization of a block that starts at row `offset` of a larger matrix: a
 * NotPositiveDefiniteError with its pivot made global, anything else as it is.
 */
export function atGlobalPivot(e: unknown, offset: number): unknown {
  return e instanceof NotPositiveDefiniteError ? new NotPositiveDefiniteError(e.pivot + offset, e.value) : e;
}

/** Matrices at most this size are factored by plain loops. */
const BASE = 192;

/**
 * Lower Cholesky factor of a symmetric matrix, in JS (reads only the lower triangle).
 * @param M [n, n] symmetric positive definite.
 * @returns L [n, n], lower triangular with a positive diagonal; M = L Lᵀ.
 * @throws NotPositiveDefiniteError naming the first non-positive pivot.
 */
export function choleskySync(M: Matrix): Matrix {
  const n = M.rows;
  if (M.cols !== n) throw new Error(`cholesky: matrix is ${M.rows}×${M.cols}, not square`);
  const L = zeros(n, n);
  const l = L.data;
  const m = M.data;
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    // Entries j and j + 1 of row i together: each l[i, k] loaded once for two dot products (the 128-wide diagonal
    // blocks of the blocked factorization: 0.57 → 0.39 ms).
    let j = 0;
    for (; j + 1 < i; j += 2) {
      const rj = j * n;
      const rj1 = rj + n;
      let s0 = m[ri + j];
      let s1 = m[ri + j + 1];
      for (let k = 0; k < j; k++) {
        const a = l[ri + k];
        s0 -= a * l[rj + k];
        s1 -= a * l[rj1 + k];
      }
      const lij = s0 / l[rj + j];
      l[ri + j] = lij;
      l[ri + j + 1] = (s1 - lij * l[rj1 + j]) / l[rj1 + j + 1];
    }
    for (; j <= i; j++) {
      const rj = j * n;
      let s = m[ri + j];
      for (let k = 0; k < j; k++) s -= l[ri + k] * l[rj + k];
      if (i === j) {
        if (!(s > 0)) throw new NotPositiveDefiniteError(i, s);
        l[ri + i] = Math.sqrt(s);
      } else {
        l[ri + j] = s / l[rj + j];
      }
    }
  }
  return L;
}

/**
 * Inverse of a lower-triangular matrix, in JS.
 * @param L [n, n] lower triangular with a non-zero diagonal. @returns L⁻¹ [n, n], lower triangular.
 */
export function lowerInverseSync(L: Matrix): Matrix {
  const n = L.rows;
  const l = L.data;
  // X = L⁻¹ by rows: X[i, c] = −(Σ_{k=c}^{i−1} L[i, k] X[k, c]) / L[i, i]. Xᵀ is built, so that each of these sums is
  // a contiguous dot product (column c of X is row c of Xᵀ), two columns at a time; then transposed once.
  const xt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    const d = 1 / l[ri + i];
    xt[ri + i] = d;
    let c = 0;
    for (; c + 1 < i; c += 2) {
      const rc = c * n;
      const rc1 = rc + n;
      let s0 = l[ri + c] * xt[rc + c];
      let s1 = 0;
      for (let k = c + 1; k < i; k++) {
        const a = l[ri + k];
        s0 += a * xt[rc + k];
        s1 += a * xt[rc1 + k];
      }
      xt[rc + i] = -s0 * d;
      xt[rc1 + i] = -s1 * d;
    }
    for (; c < i; c++) {
      const rc = c * n;
      let s = 0;
      for (let k = c; k < i; k++) s += l[ri + k] * xt[rc + k];
      xt[rc + i] = -s * d;
    }
  }
  const X = zeros(n, n);
  const x = X.data;
  for (let i = 0; i < n; i++) for (let c = 0; c <= i; c++) x[i * n + c] = xt[c * n + i];
  return X;
}

function block(M: Matrix, r0: number, r1: number, c0: number, c1: number): Matrix {
  const B = zeros(r1 - r0, c1 - c0);
  for (let i = r0; i < r1; i++) B.data.set(M.data.subarray(i * M.cols + c0, i * M.cols + c1), (i - r0) * B.cols);
  return B;
}

function place(dst: Matrix, src: Matrix, r0: number, c0: number): void {
  for (let i = 0; i < src.rows; i++) dst.data.set(src.data.subarray(i * src.cols, (i + 1) * src.cols), (r0 + i) * dst.cols + c0);
}

/** log det M = 2 Σ log L_ii from a Cholesky factor L [n, n]. */
export function logDetFromCholesky(L: Matrix): number {
  let s = 0;
  for (let i = 0; i < L.rows; i++) s += Math.log(L.data[i * L.cols + i]);
  return 2 * s;
}

/** Solves L x = b (forward substitution). L [n, n] lower triangular, b [n] → x [n]. */
export function forwardSolve(L: Matrix, b: ArrayLike<number>): Float64Array {
  const n = L.rows;
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    const ri = i * n;
    for (let k = 0; k < i; k++) s -= L.data[ri + k] * x[k];
    x[i] = s / L.data[ri + i];
  }
  return x;
}

/** Solves Lᵀ x = b (back substitution with the transpose). L [n, n] lower triangular, b [n] → x [n]. */
export function backSolveTransposed(L: Matrix, b: ArrayLike<number>): Float64Array {
  const n = L.rows;
  const x = Float64Array.from(b as ArrayLike<number>);
  for (let i = n - 1; i >= 0; i--) {
    x[i] /= L.data[i * n + i];
    const xi = x[i];
    for (let k = 0; k < i; k++) x[k] -= L.data[i * n + k] * xi;
  }
  return x;
}

/** Solves M x = b given M = L Lᵀ. L [n, n], b [n] → x [n]. */
export function choleskySolve(L: Matrix, b: ArrayLike<number>): Float64Array {
  return backSolveTransposed(L, forwardSolve(L, b));
}

/**
 * Inverse of a small symmetric positive-definite matrix (JS), with its log-determinant.
 * @param M [n, n]. @returns inv [n, n] symmetric, logDet.
 * @throws NotPositiveDefiniteError.
 */
export function spdInverseSync(M: Matrix): { inv: Matrix; logDet: number; L: Matrix } {
  const L = choleskySync(M);
  const Li = lowerInverseSync(L);
  const n = M.rows;
  const inv = zeros(n, n);
  // M⁻¹ = L⁻ᵀ L⁻¹: entry (i, j) = Σ_k Li[k, i] Li[k, j], k ≥ max(i, j).
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += Li.data[k * n + i] * Li.data[k * n + j];
      inv.data[i * n + j] = s;
      inv.data[j * n + i] = s;
    }
  }
  return { inv, logDet: logDetFromCholesky(L), L };
}

/**
 * Inverse of a symmetric positive-definite matrix with its log-determinant, through the blocked
 * factorization and solves (GEMM speed for n in the hundreds, where `spdInverseSync`'s strided
 * loops are slow): M⁻¹ = L⁻ᵀL⁻¹.
 * @param M [n, n]. @returns inv [n, n] symmetric, logDet.
 * @throws NotPositiveDefiniteError.
 */
export async function spdInverse(M: Matrix): Promise<{ inv: Matrix; logDet: number }> {
  const n = M.rows;
  if (n <= BASE) return spdInverseSync(M);
  const L = await cholesky(M);
  const Li = await solveLower(L, identityMatrix(n));
  const inv = await gemm(Li, Li, { transA: true });
  for (let i = 0; i < n; i++)
    for (let j = 0; j < i; j++) {
      const v = 0.5 * (inv.data[i * n + j] + inv.data[j * n + i]);
      inv.data[i * n + j] = v;
      inv.data[j * n + i] = v;
    }
  return { inv, logDet: logDetFromCholesky(L) };
}

function identityMatrix(n: number): Matrix {
  const I = zeros(n, n);
  for (let i = 0; i < n; i++) I.data[i * n + i] = 1;
  return I;
}

/**
 * Lower Cholesky factor of a large symmetric positive-definite matrix, recursively: the off-diagonal
 * block comes from a triangular solve and the Schur complement from one GEMM, so almost all of the
 * n³/3 flops run at GEMM speed. Reads only the lower triangle.
 * @param M [n, n]. @returns L [n, n] lower triangular, M = L Lᵀ.
 * @throws NotPositiveDefiniteError with the global pivot index.
 */
export async function cholesky(M: Matrix): Promise<Matrix> {
  const n = M.rows;
  if (M.cols !== n) throw new Error(`cholesky: matrix is ${M.rows}×${M.cols}, not square`);
  if (n <= BASE) return choleskySync(M);
  const h = Math.ceil(n / 2);
  const L11 = await cholesky(block(M, 0, h, 0, h));
  // L21 L11ᵀ = B  ⟺  L11 L21ᵀ = Bᵀ
  const L21t = await solveLower(L11, transposeBlock(M, h, n, 0, h));
  const C = block(M, h, n, h, n);
  const S = await gemm(L21t, L21t, { transA: true });
  for (let i = 0; i < C.data.length; i++) C.data[i] -= S.data[i];
  let L22: Matrix;
  try {
    L22 = await cholesky(C);
  } catch (e) {
    throw atGlobalPivot(e, h);
  }
  const L = zeros(n, n);
  place(L, L11, 0, 0);
  for (let i = 0; i < n - h; i++) for (let j = 0; j < h; j++) L.data[(h + i) * n + j] = L21t.data[j * (n - h) + i];
  place(L, L22, h, h);
  return L;
}

/** Bᵀ for the block rows r0..r1, columns c0..c1 of M, as a new [c1−c0, r1−r0] matrix. */
function transposeBlock(M: Matrix, r0: number, r1: number, c0: number, c1: number): Matrix {
  const out = zeros(c1 - c0, r1 - r0);
  for (let i = r0; i < r1; i++) for (let j = c0; j < c1; j++) out.data[(j - c0) * (r1 - r0) + (i - r0)] = M.data[i * M.cols + j];
  return out;
}

/**
 * Solves L X = B for X (forward substitution with many right-hand sides), recursively: the diagonal
 * blocks at the bottom of the recursion are inverted (small) and applied with GEMM, and the coupling
 * blocks are GEMM updates — n²·k flops, nearly all at GEMM speed.
 * @param L [n, n] lower triangular, non-singular; B [n, k]. @returns X [n, k]. B is not modified.
 */
export async function solveLower(L: Matrix, B: Matrix): Promise<Matrix> {
  const n = L.rows;
  if (B.rows !== n) throw new Error(`solveLower: L is ${n}×${n} but B has ${B.rows} rows`);
  if (n <= BASE) return gemm(lowerInverseSync(L), B);
  const h = Math.ceil(n / 2);
  const k = B.cols;
  const X1 = await solveLower(block(L, 0, h, 0, h), block(B, 0, h, 0, k));
  const R = await gemm(block(L, h, n, 0, h), X1);
  const B2 = block(B, h, n, 0, k);
  for (let i = 0; i < B2.data.length; i++) B2.data[i] -= R.data[i];
  const X2 = await solveLower(block(L, h, n, h, n), B2);
  const X = zeros(n, k);
  X.data.set(X1.data, 0);
  X.data.set(X2.data, h * k);
  return X;
}
