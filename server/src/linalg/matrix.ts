/**
 * Dense matrix conventions used across the project.
 *
 * Every array is a row-major `Float64Array` with an explicit shape: entry (i, j) of a `rows × cols`
 * matrix is `data[i * cols + j]`. Higher-rank arrays follow the same rule (last index fastest), and
 * their shapes are written in docstrings as `[P, N0, T]` etc.
 */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** A float32 matrix, same layout: for products whose result only needs single precision. */
export interface Matrix32 {
  rows: number;
  cols: number;
  data: Float32Array;
}

/** A new zero matrix of shape [rows, cols]. */
export function zeros(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

/** The n × n identity times `scale`. */
export function identity(n: number, scale = 1): Matrix {
  const m = zeros(n, n);
  for (let i = 0; i < n; i++) m.data[i * n + i] = scale;
  return m;
}

/** Builds a matrix from nested arrays (rows of equal length). */
export function fromRows(rows: ArrayLike<number>[]): Matrix {
  const r = rows.length;
  const c = r ? rows[0].length : 0;
  const m = zeros(r, c);
  for (let i = 0; i < r; i++) {
    if (rows[i].length !== c) throw new Error(`fromRows: row ${i} has ${rows[i].length} entries, expected ${c}`);
    for (let j = 0; j < c; j++) m.data[i * c + j] = rows[i][j];
  }
  return m;
}

/** Nested-array copy of a matrix (for JSON reports). */
export function toRows(m: Matrix): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < m.rows; i++) out.push(Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
  return out;
}

/** A deep copy. */
export function clone(m: Matrix): Matrix {
  return { rows: m.rows, cols: m.cols, data: m.data.slice() };
}

/** The transpose, as a new matrix. */
export function transpose(m: Matrix): Matrix {
  const t = zeros(m.cols, m.rows);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) t.data[j * m.rows + i] = m.data[i * m.cols + j];
  return t;
}

/** (G + Gᵀ)/2 in place, for products that are symmetric in exact arithmetic but not in rounding. */
export function symmetrizeInPlace(G: Matrix): void {
  const n = G.rows;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < i; j++) {
      const v = 0.5 * (G.data[i * n + j] + G.data[j * n + i]);
      G.data[i * n + j] = v;
      G.data[j * n + i] = v;
    }
}

/** Trace of a square matrix. */
export function trace(m: Matrix): number {
  let t = 0;
  for (let i = 0; i < m.rows; i++) t += m.data[i * m.cols + i];
  return t;
}

/** Largest absolute entry (0 for an empty array). */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > m || Number.isNaN(v)) m = v;
  }
  return m;
}

/** Index of the first NaN or ±Infinity entry, or −1. */
export function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}
