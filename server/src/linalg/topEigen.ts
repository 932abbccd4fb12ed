/**
 * The k largest eigenpairs of a symmetric matrix, for the kernel-PC overlap (docs/theory.md §i, the
 * paper's Fig. 2c), where only the first ~30 principal components of a P × P kernel are needed.
 *
 * - n ≤ `denseLimit` (default 200): the full decomposition (`symmetricEigen`, EISPACK tred2/tql2), exact.
 * - larger n: Lanczos with full reorthogonalization (Golub & Van Loan, "Matrix Computations", 4th ed.,
 *   section 10.1–10.3) from a seeded random start, grown until the Ritz residuals of the top k pairs are below
 *   `tolerance` relative to the largest eigenvalue. A Krylov space that closes early (an invariant subspace) is
 *   continued from a fresh random vector orthogonal to it, so eigenvalues outside it are not missed. The cost is
 *   m matrix–vector products (n² each) plus 2·n·m² for the reorthogonalization, m the Krylov dimension reached
 *   (typically 2k–5k for kernel matrices, whose spectra decay fast); in the worst case m = n and the result is
 *   a full (exact) tridiagonalization.
 * The dense decomposition of a 1000 × 1000 matrix takes ~7 s in this JS implementation and grows as n³ (54 s at
 * n = 1500 on the 2-core test machine), which is why the iterative path exists.
 */
import { symmetricEigen } from './eigen';
import { type Matrix, zeros } from './matrix';
import { Random } from '../util/random';

/** Options of `largestEigenpairs`. */
export interface TopEigenOptions {
  /** Matrices with n ≤ this use the full dense decomposition (default 200). */
  denseLimit?: number;
  /** Required Ritz residual ‖A v − θ v‖ relative to max |θ| for every returned pair (default 1e-9). */
  tolerance?: number;
  /** Seed of the random start vector(s) (default 1); the result is deterministic for a given seed. */
  seed?: number;
}

/** The k largest eigenpairs, eigenvalues descending. */
export interface TopEigen {
  /** Eigenvalues λ_1 ≥ … ≥ λ_k, [k]. */
  values: Float64Array;
  /** Unit eigenvectors, [k] arrays of length n; vectors[i] belongs to values[i]. The sign is arbitrary. */
  vectors: Float64Array[];
  /** How they were computed. */
  method: 'dense' | 'lanczos';
  /** Krylov dimension reached (n for the dense path). */
  steps: number;
  /** Largest residual ‖A v − λ v‖ / max(|λ_1|, tiny) of the returned pairs (an a-posteriori bound). */
  maxRelativeResidual: number;
}

/** a·b over a.length entries of b from offset bo, with four partial sums (independent chains run ~3× faster in V8). */
function dotAt(a: Float64Array, b: Float64Array, bo: number): number {
  const n = a.length;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[i] * b[bo + i];
    s1 += a[i + 1] * b[bo + i + 1];
    s2 += a[i + 2] * b[bo + i + 2];
    s3 += a[i + 3] * b[bo + i + 3];
  }
  for (; i < n; i++) s0 += a[i] * b[bo + i];
  return s0 + s1 + (s2 + s3);
}

function dot(a: Float64Array, b: Float64Array): number {
  return dotAt(a, b, 0);
}

/** w ← w − Σ_q (q·w) q over the basis, done twice (classical Gram–Schmidt, "twice is enough"). */
function orthogonalize(w: Float64Array, basis: Float64Array[]): void {
  for (let pass = 0; pass < 2; pass++) {
    for (const q of basis) {
      const c = dot(q, w);
      if (c !== 0) for (let i = 0; i < w.length; i++) w[i] -= c * q[i];
    }
  }
}

/** A unit vector orthogonal to `basis` (seeded random; tries again if it falls inside the span). */
function freshVector(n: number, basis: Float64Array[], rng: Random): Float64Array {
  for (let attempt = 0; attempt < 10; attempt++) {
    const w = rng.normals(n);
    orthogonalize(w, basis);
    const norm = Math.sqrt(dot(w, w));
    if (norm > 1e-8) {
      for (let i = 0; i < n; i++) w[i] /= norm;
      return w;
    }
  }
  throw new Error(`largestEigenpairs: no vector orthogonal to a ${basis.length}-dimensional subspace of R^${n} found`);
}

/** Exact residual ‖A v − λ v‖ of one pair (n² work; used for the dense path's report). */
function residual(A: Matrix, v: Float64Array, lambda: number): number {
  const n = A.rows;
  let s = 0;
  for (let i = 0; i < n; i++) {
    let r = -lambda * v[i];
    const row = i * n;
    for (let j = 0; j < n; j++) r += A.data[row + j] * v[j];
    s += r * r;
  }
  return Math.sqrt(s);
}

/**
 * The k largest eigenvalues (descending) and their unit eigenvectors of a symmetric matrix (see module doc).
 * @param A [n, n] symmetric (only the symmetric part is meaningful; not checked), finite.
 * @param k number of pairs, 1 ≤ k ≤ n.
 * @throws Error for a non-square matrix, a bad k, non-finite entries, or when the iteration cannot reach the
 *   tolerance (it then grows to the full dimension, which is exact, so this only happens for non-finite input).
 */
export function largestEigenpairs(A: Matrix, k: number, opts: TopEigenOptions = {}): TopEigen {
  const n = A.rows;
  if (A.cols !== n) throw new Error(`largestEigenpairs: matrix is ${A.rows}×${A.cols}, not square`);
  if (!(Number.isInteger(k) && k >= 1 && k <= n)) throw new Error(`largestEigenpairs: k must be an integer in [1, ${n}] (got ${k})`);
  const tol = opts.tolerance ?? 1e-9;
  if (n <= (opts.denseLimit ?? 200)) {
    const { values, vectors } = symmetricEigen(A);
    const out: TopEigen = { values: new Float64Array(k), vectors: [], method: 'dense', steps: n, maxRelativeResidual: 0 };
    for (let i = 0; i < k; i++) {
      const col = n - 1 - i;
      out.values[i] = values[col];
      const v = new Float64Array(n);
      for (let r = 0; r < n; r++) v[r] = vectors.data[r * n + col];
      out.vectors.push(v);
    }
    const scale = Math.max(Math.abs(out.values[0]), Math.abs(values[0]), Number.MIN_VALUE);
    for (let i = 0; i < k; i++) out.maxRelativeResidual = Math.max(out.maxRelativeResidual, residual(A, out.vectors[i], out.values[i]) / scale);
    return out;
  }
  for (let i = 0; i < A.data.length; i++) if (!Number.isFinite(A.data[i])) throw new Error(`largestEigenpairs: entry ${i} is ${A.data[i]}`);

  const rng = new Random(opts.seed ?? 1);
  const basis: Float64Array[] = [freshVector(n, [], rng)];
  const alpha: number[] = [];
  /** beta[j] couples basis vectors j and j+1 (0 where a fresh vector restarted the Krylov space). */
  const beta: number[] = [];
  let target = Math.min(n, 2 * k + 20);
  let anorm = 0;
  for (;;) {
    const j = alpha.length;
    const q = basis[j];
    // w = A q
    const w = new Float64Array(n);
    for (let i = 0; i < n; i++) w[i] = dotAt(q, A.data, i * n);
    const a = dot(q, w);
    alpha.push(a);
    // Full reorthogonalization against every basis vector (includes the three-term recurrence's terms).
    orthogonalize(w, basis);
    const b = Math.sqrt(dot(w, w));
    anorm = Math.max(anorm, Math.abs(a) + b + (j > 0 ? beta[j - 1] : 0));
    const m = j + 1;
    const closed = b <= 1e-12 * Math.max(anorm, Number.MIN_VALUE);
    if (m === n || (m >= target && !closed)) {
      const ritz = ritzPairs(alpha, beta, m);
      // Residual of Ritz pair i: |β_m · s_{m,i}| (the Krylov space's leak), zero when it closed.
      const bm = m === n || closed ? 0 : b;
      const scale = Math.max(Math.abs(ritz.values[0]), Number.MIN_VALUE);
      let worst = 0;
      for (let i = 0; i < k; i++) worst = Math.max(worst, (Math.abs(bm * ritz.last[i]) || 0) / scale);
      if (worst <= tol || m === n) {
        if (!(worst <= tol)) throw new Error(`largestEigenpairs: Ritz residual ${worst} above ${tol} at the full dimension (non-finite input?)`);
        return { ...ritzVectors(basis, ritz, k, n), method: 'lanczos', steps: m, maxRelativeResidual: worst };
      }
      target = Math.min(n, m + Math.max(10, Math.ceil(m / 4)));
    }
    if (closed) {
      beta.push(0);
      basis.push(freshVector(n, basis, rng));
    } else {
      beta.push(b);
      for (let i = 0; i < n; i++) w[i] /= b;
      basis.push(w);
    }
  }
}

/** Eigenpairs of the m × m tridiagonal T (diagonal alpha, off-diagonal beta), descending. */
function ritzPairs(alpha: number[], beta: number[], m: number): { values: Float64Array; S: Matrix; order: number[]; last: Float64Array } {
  const T = zeros(m, m);
  for (let i = 0; i < m; i++) {
    T.data[i * m + i] = alpha[i];
    if (i + 1 < m) {
      T.data[i * m + i + 1] = beta[i];
      T.data[(i + 1) * m + i] = beta[i];
    }
  }
  const { values, vectors } = symmetricEigen(T);
  const order = Array.from({ length: m }, (_, i) => m - 1 - i);
  const desc = Float64Array.from(order, (c) => values[c]);
  const last = Float64Array.from(order, (c) => vectors.data[(m - 1) * m + c]);
  return { values: desc, S: vectors, order, last };
}

/** v_i = Σ_j S[j, c_i] q_j for the k largest Ritz values. */
function ritzVectors(basis: Float64Array[], ritz: ReturnType<typeof ritzPairs>, k: number, n: number): { values: Float64Array; vectors: Float64Array[] } {
  const m = ritz.S.rows;
  const vectors: Float64Array[] = [];
  for (let i = 0; i < k; i++) {
    const c = ritz.order[i];
    const v = new Float64Array(n);
    for (let j = 0; j < m; j++) {
      const s = ritz.S.data[j * m + c];
      const q = basis[j];
      for (let r = 0; r < n; r++) v[r] += s * q[r];
    }
    const norm = Math.sqrt(dot(v, v));
    for (let r = 0; r < n; r++) v[r] /= norm;
    vectors.push(v);
  }
  return { values: ritz.values.slice(0, k), vectors };
}
