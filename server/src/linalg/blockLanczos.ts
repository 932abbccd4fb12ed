/**
 * The k largest eigenpairs of a symmetric n × n matrix by block Lanczos with full reorthogonalization (Golub &
 * Van Loan, "Matrix Computations", 4th ed., section 10.3.6), for the kernel-PC overlap of large training sets
 * (docs/theory.md §i). Unlike the single-vector Lanczos of topEigen.ts, whose n² matrix–vector product per step
 * runs in JS, every O(n²) and O(n·m) operation here is a GEMM with a block of b vectors: A·V_j, the projections
 * onto the basis and their removal (twice: "twice is enough"), and the Ritz vectors. Blocks are orthonormalized
 * by Cholesky QR, twice; a block that has (numerically) left no new directions — the Krylov space closed, as it
 * does for a kernel of rank < n — is replaced by fresh random vectors orthogonal to the basis, with zero coupling.
 * Ritz pairs come from the dense eigendecomposition of the m × m block-tridiagonal T at checkpoints; pair i's
 * residual is ‖B_j s_i‖ (s_i's last b entries), and the iteration stops when the top k are all below
 * `tolerance`·|θ_1|. At m = n the decomposition is exact.
 */
import { type Matrix, zeros } from './matrix';
import { gemm, gemmInto } from './gemm';
import { symmetricEigen } from './eigen';
import { choleskySync, lowerInverseSync } from './cholesky';
import { Random } from '../util/random';
import { type TopEigen, largestEigenpairs } from './topEigen';

export interface BlockLanczosOptions {
  /** Required Ritz residual relative to |θ_1| (default 1e-9). */
  tolerance?: number;
  /** Seed of the random start block (default 1). */
  seed?: number;
  /** Block size b (default min(8, n)). */
  block?: number;
}

/** Rows of X [b, n] orthonormalized in place against `basis` [m, n] (two passes); returns nothing. */
async function projectOut(X: Float64Array, b: number, n: number, basis: Float64Array, m: number): Promise<Float64Array> {
  if (m === 0) return X;
  let W = X;
  const Vm = { rows: m, cols: n, data: basis.subarray(0, m * n) };
  for (let pass = 0; pass < 2; pass++) {
    const C = await gemm(Vm, { rows: b, cols: n, data: W }, { transB: true }); // [m, b]
    W = await gemmInto(C, Vm, { transA: true, alpha: -1, C: W }); // W − Cᵀ V
  }
  return W;
}

/**
 * Cholesky QR of the rows of W [b, n], twice: W = R V with V's rows orthonormal, R [b, b] lower triangular.
 * @returns null when W's rows are (numerically) dependent (a pivot below `floor`).
 */
async function orthonormalRows(W: Float64Array, b: number, n: number, floor: number): Promise<{ V: Float64Array; R: Matrix } | null> {
  let V = W;
  let R: Matrix | null = null;
  for (let pass = 0; pass < 2; pass++) {
    const Wm = { rows: b, cols: n, data: V };
    const gram = await gemm(Wm, Wm, { transB: true });
    let Lg: Matrix;
    try {
      Lg = choleskySync(gram);
    } catch {
      return null;
    }
    for (let i = 0; i < b; i++) if (!(Lg.data[i * b + i] > (pass === 0 ? floor : 0.5))) return null;
    V = (await gemm(lowerInverseSync(Lg), Wm)).data;
    R = R ? multiplyLower(R, Lg) : Lg;
  }
  return { V, R: R! };
}

function multiplyLower(A: Matrix, B: Matrix): Matrix {
  const n = A.rows;
  const C = zeros(n, n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k <= i; k++) {
      const a = A.data[i * n + k];
      if (a === 0) continue;
      for (let j = 0; j <= k; j++) C.data[i * n + j] += a * B.data[k * n + j];
    }
  return C;
}

/** A random block of b rows orthonormal to `basis` (and among themselves). */
async function freshBlock(rng: Random, b: number, n: number, basis: Float64Array, m: number): Promise<Float64Array> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const W = await projectOut(rng.normals(b * n), b, n, basis, m);
    const q = await orthonormalRows(W, b, n, 1e-8 * Math.sqrt(n));
    if (q) return q.V;
  }
  throw new Error(`blockLanczos: no block of ${b} vectors orthogonal to a ${m}-dimensional subspace of R^${n} found`);
}

/**
 * The k largest eigenpairs (descending) of the symmetric A [n, n] (see module doc).
 * @throws Error for a non-square A, a bad k, or non-finite entries.
 */
export async function largestEigenpairsBlock(A: Matrix, k: number, opts: BlockLanczosOptions = {}): Promise<TopEigen> {
  const n = A.rows;
  if (A.cols !== n) throw new Error(`largestEigenpairsBlock: matrix is ${A.rows}×${A.cols}, not square`);
  if (!(Number.isInteger(k) && k >= 1 && k <= n)) throw new Error(`largestEigenpairsBlock: k must be an integer in [1, ${n}] (got ${k})`);
  for (let i = 0; i < A.data.length; i++) if (!Number.isFinite(A.data[i])) throw new Error(`largestEigenpairsBlock: entry ${i} is ${A.data[i]}`);
  const tol = opts.tolerance ?? 1e-9;
  // Small blocks converge in nearly as few dimensions as single vectors (measured at n = 2000, k = 30: 272
  // dimensions with b = 8, 432 with b = 16, 197 single-vector steps) while still running as GEMMs.
  const b = Math.min(n, opts.block ?? 8);
  const rng = new Random(opts.seed ?? 1);
  const maxBlocks = Math.ceil(n / b);
  let basis = new Float64Array(Math.min(maxBlocks, Math.ceil((4 * k + 4 * b) / b)) * b * n);
  // T's blocks: diagonal A_j [b, b] and sub-diagonal B_j = Rᵀ [b, b] (zero after a restart).
  const diag: Float64Array[] = [];
  const sub: (Matrix | null)[] = [];
  basis.set(await freshBlock(rng, b, n, basis, 0), 0);
  let anorm = 0;
  // checkpoints (a dense m × m eigendecomposition each) from 2k + 20 dimensions, growing by a quarter
  let target = Math.min(maxBlocks, Math.max(Math.ceil((2 * k + 20) / b), 2));
  let last: { blocks: number; worst: number } | null = null;
  for (let j = 0; ; j++) {
    const m = (j + 1) * b; // basis rows after this block (the last block may overshoot n; see below)
    const Vj = { rows: b, cols: n, data: basis.subarray(j * b * n, (j + 1) * b * n) };
    const W0 = (await gemm(Vj, A)).data; // rows of V_j A = (A V_jᵀ)ᵀ
    const Aj = await gemm({ rows: b, cols: n, data: W0 }, Vj, { transB: true });
    diag.push(Aj.data);
    for (let i = 0; i < b * b; i++) anorm = Math.max(anorm, Math.abs(Aj.data[i]));
    // the basis spans R^n (exact), or no further full block fits (then the single-vector Lanczos finishes)
    const full = m === n;
    const canGrow = (j + 2) * b <= n;
    let Rnext: Matrix | null = null;
    let next: Float64Array | null = null;
    if (canGrow) {
      const W = await projectOut(W0, b, n, basis, m);
      const q = await orthonormalRows(W, b, n, 1e-10 * Math.max(anorm, Number.MIN_VALUE));
      if (q) {
        Rnext = q.R;
        next = q.V;
        for (let i = 0; i < b * b; i++) anorm = Math.max(anorm, Math.abs(q.R.data[i]));
      }
    }
    const blocks = j + 1;
    if (full || !canGrow || blocks >= target) {
      const mm = blocks * b;
      const T = zeros(mm, mm);
      for (let p = 0; p < blocks; p++) {
        for (let r = 0; r < b; r++) for (let c = 0; c < b; c++) T.data[(p * b + r) * mm + p * b + c] = 0.5 * (diag[p][r * b + c] + diag[p][c * b + r]);
        const B = sub[p];
        if (B && p + 1 < blocks) {
          // T[p+1, p] = Bᵀ-block: (A V_pᵀ) residual = Rᵀ-coupled, stored as Rᵀ (upper) below the diagonal
          for (let r = 0; r < b; r++)
            for (let c = 0; c < b; c++) {
              const v = B.data[c * b + r]; // (Rᵀ)[r, c] = R[c, r]
              T.data[((p + 1) * b + r) * mm + p * b + c] = v;
              T.data[(p * b + c) * mm + (p + 1) * b + r] = v;
            }
        }
      }
      const { values, vectors } = symmetricEigen(T);
      const order = Array.from({ length: mm }, (_, i) => mm - 1 - i);
      const scale = Math.max(Math.abs(values[order[0]]), Number.MIN_VALUE);
      let worst = 0;
      if (!full && !Rnext) worst = Infinity; // closed or cannot grow: no residual bound from T alone
      if (!full && Rnext) {
        // residual of Ritz pair i: ‖Rᵀ s_last‖ with s_last = the eigenvector's entries in the last block
        for (let i = 0; i < k; i++) {
          const c = order[i];
          let s2 = 0;
          for (let r = 0; r < b; r++) {
            let v = 0;
            for (let t = r; t < b; t++) v += Rnext.data[t * b + r] * vectors.data[((blocks - 1) * b + t) * mm + c];
            s2 += v * v;
          }
          worst = Math.max(worst, Math.sqrt(s2) / scale);
        }
      }
      if (full || worst <= tol) {
        const S = zeros(k, mm);
        for (let i = 0; i < k; i++) for (let r = 0; r < mm; r++) S.data[i * mm + r] = vectors.data[r * mm + order[i]];
        const X = (await gemm(S, { rows: mm, cols: n, data: basis.subarray(0, mm * n) })).data;
        const out: Float64Array[] = [];
        for (let i = 0; i < k; i++) {
          const v = X.slice(i * n, (i + 1) * n);
          let nn = 0;
          for (let r = 0; r < n; r++) nn += v[r] * v[r];
          const inv = 1 / Math.sqrt(nn);
          for (let r = 0; r < n; r++) v[r] *= inv;
          out.push(v);
        }
        return { values: Float64Array.from(order.slice(0, k), (c) => values[c]), vectors: out, method: 'lanczos', steps: mm, maxRelativeResidual: worst };
      }
      if (!canGrow) return largestEigenpairs(A, k, { denseLimit: 0, tolerance: tol, seed: opts.seed });
      // Next checkpoint: each costs a dense (mm)³ decomposition in JS, which at a few hundred dimensions outweighs
      // many blocks of products, so rather than a fixed growth the residual's decay since the last checkpoint
      // (about geometric in the dimension) predicts where it reaches the tolerance: go there (+10 %), at least a
      // quarter further and at most twice as far.
      let next = blocks + Math.max(2, Math.ceil(blocks * 0.25));
      if (last && Number.isFinite(worst) && worst > 0 && worst < last.worst) {
        const perBlock = (Math.log(worst) - Math.log(last.worst)) / (blocks - last.blocks);
        const predicted = blocks + Math.ceil((1.1 * (Math.log(tol) - Math.log(worst))) / perBlock) + 1;
        next = Math.min(2 * blocks, Math.max(next, predicted));
      }
      last = { blocks, worst };
      target = Math.min(maxBlocks, next);
    }
    // append the next block (fresh vectors when the Krylov space closed)
    if ((j + 2) * b * n > basis.length) {
      const grown = new Float64Array(Math.min(maxBlocks, Math.ceil((j + 2) * 1.5)) * b * n);
      grown.set(basis.subarray(0, (j + 1) * b * n));
      basis = grown;
    }
    if (next) {
      sub.push(Rnext);
      basis.set(next, (j + 1) * b * n);
    } else {
      sub.push(null);
      basis.set(await freshBlock(rng, b, n, basis, m), (j + 1) * b * n);
    }
  }
}
