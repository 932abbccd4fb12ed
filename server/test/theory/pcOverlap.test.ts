/**
 * Overlap of the kernel's principal components with the labels (theory/pcOverlap.ts; the paper's Fig. 2c):
 * hand-checkable 2 × 2 cases, then K_U of a small random problem against an independent computation — the kernel
 * summed path pair by path pair and eigendecomposed with cyclic Jacobi rotations written here — with the overlaps
 * of all P components summing to 1, and the Lanczos path agreeing with the dense one.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kernelPcOverlap, overlapWithLabels } from '../../src/theory/pcOverlap';
import type { Matrix } from '../../src/linalg/matrix';
import { Random } from '../../src/util/random';
import { assertClose } from '../helpers/close';
import { randomSpd, smallProblem } from '../helpers/problem';
import type { PathFeatures } from '../../src/theory/kernels';

/** K[m][n] = Σ_{π,π'} U[π,π'] Σ_i Φ[m,i,π] Φ[n,i,π'] by plain loops (docs/theory.md §b). */
function kernelByLoops(F: PathFeatures, U: Matrix): number[][] {
  const { count: P, features: N0, paths: Q } = F;
  const at = (m: number, i: number, q: number) => F.data[(m * N0 + i) * Q + q];
  const K = Array.from({ length: P }, () => new Array<number>(P).fill(0));
  for (let m = 0; m < P; m++)
    for (let n = 0; n < P; n++) {
      let s = 0;
      for (let a = 0; a < Q; a++) for (let b = 0; b < Q; b++) for (let i = 0; i < N0; i++) s += U.data[a * Q + b] * at(m, i, a) * at(n, i, b);
      K[m][n] = s;
    }
  return K;
}

/** Eigenpairs by cyclic Jacobi rotations (independent of linalg/eigen.ts), eigenvalues descending. */
function jacobiEigen(K: number[][]): { values: number[]; vectors: number[][] } {
  const n = K.length;
  const A = K.map((r) => [...r]);
  const V = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j): number => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += A[p][q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        if (A[p][q] === 0) continue;
        const theta = (A[q][q] - A[p][p]) / (2 * A[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k][p];
          const akq = A[k][q];
          A[k][p] = c * akp - s * akq;
          A[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p][k];
          const aqk = A[q][k];
          A[p][k] = c * apk - s * aqk;
          A[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k][p];
          const vkq = V[k][q];
          V[k][p] = c * vkp - s * vkq;
          V[k][q] = s * vkp + c * vkq;
        }
      }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => A[b][b] - A[a][a]);
  return { values: order.map((i) => A[i][i]), vectors: order.map((i) => V.map((row) => row[i])) };
}

/** (vᵀy)²/|y|² for each eigenvector of the Jacobi decomposition. */
function independentOverlaps(K: number[][], y: Float64Array): { values: number[]; overlap: number[] } {
  const { values, vectors } = jacobiEigen(K);
  const yy = y.reduce((s, v) => s + v * v, 0);
  return { values, overlap: vectors.map((v) => v.reduce((s, x, i) => s + x * y[i], 0) ** 2 / yy) };
}

const mat = (rows: number[][]): Matrix => ({ rows: rows.length, cols: rows.length, data: Float64Array.from(rows.flat()) });

describe('overlap of kernel PCs with the labels', () => {
  it('2 × 2 by hand: K = [[2, 1], [1, 2]] has PCs (1, 1)/√2 (λ = 3) and (1, −1)/√2 (λ = 1)', () => {
    const K = mat([
      [2, 1],
      [1, 2],
    ]);
    const anti = overlapWithLabels(K, Float64Array.from([1, -1]), 2);
    assertClose(anti.eigenvalues, [3, 1], 1e-14, 0, 'λ');
    assertClose(anti.overlap, [0, 1], 0, 1e-14, 'y = (1, −1)');
    assertClose(anti.cumulative, [0, 1], 0, 1e-14, 'cumulative');
    assertClose(overlapWithLabels(K, Float64Array.from([1, 1]), 2).overlap, [1, 0], 0, 1e-14, 'y = (1, 1)');
    assertClose(overlapWithLabels(K, Float64Array.from([1, 0]), 1).overlap, [0.5], 0, 1e-14, 'y = (1, 0), k = 1');
  });

  it('K_U of a random 2-layer problem (P = 16, k = P) equals the independent computation; all overlaps sum to 1', async () => {
    const p = await smallProblem(21, [2, 3], { P: 16, N0: 5, T: 4 });
    const U = randomSpd(new Random(4), 6);
    const r = await kernelPcOverlap(p.train, p.y, U);
    assert.equal(r.overlap.length, 16, 'k = min(30, P) = 16');
    assert.equal(r.method, 'dense');
    const ind = independentOverlaps(kernelByLoops(p.train, U), p.y);
    assertClose(r.eigenvalues, ind.values, 1e-9, 1e-12, 'eigenvalues');
    assertClose(r.overlap, ind.overlap, 1e-7, 1e-10, 'overlaps');
    assertClose(r.cumulative[15], 1, 0, 1e-12, 'Σ of all P overlaps');
    for (let i = 1; i < 16; i++) assert.ok(r.cumulative[i] >= r.cumulative[i - 1] && r.eigenvalues[i] <= r.eigenvalues[i - 1]);
    assert.ok(r.max_relative_residual < 1e-12);
  });

  it('P = 40 (k = 30): the first 30 overlaps sum to at most 1, and Lanczos agrees with the dense decomposition', async () => {
    // N0·H_tot = 48 > P: K_U has full rank (beyond its rank the null space is degenerate and single overlaps are not unique).
    const p = await smallProblem(7, [2, 2], { P: 40, N0: 12, T: 5 });
    const U = randomSpd(new Random(9), 4);
    const dense = await kernelPcOverlap(p.train, p.y, U);
    assert.equal(dense.overlap.length, 30);
    assert.ok(dense.cumulative[29] <= 1 + 1e-12 && dense.cumulative[29] > 0, `Σ = ${dense.cumulative[29]}`);
    const ind = independentOverlaps(kernelByLoops(p.train, U), p.y);
    assertClose(dense.overlap, ind.overlap.slice(0, 30), 1e-7, 1e-10, 'dense vs Jacobi');
    const lanczos = await kernelPcOverlap(p.train, p.y, U, 30, { denseLimit: 0 });
    assert.equal(lanczos.method, 'lanczos');
    assertClose(lanczos.eigenvalues, dense.eigenvalues, 1e-9, 1e-12, 'eigenvalues');
    assertClose(lanczos.overlap, dense.overlap, 1e-6, 1e-9, 'overlaps');
  });

  it('refuses a zero label vector and mismatched sizes', () => {
    const K = mat([
      [2, 1],
      [1, 2],
    ]);
    assert.throws(() => overlapWithLabels(K, new Float64Array(2), 1), /the label vector is zero/);
    assert.throws(() => overlapWithLabels(K, new Float64Array(3), 1), /3 labels for a 2 × 2 kernel/);
  });
});
