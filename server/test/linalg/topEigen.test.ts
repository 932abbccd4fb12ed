/**
 * The k largest eigenpairs (linalg/topEigen.ts): the dense path equals the full decomposition; the Lanczos path
 * recovers a known spectrum (A = Q diag(λ) Qᵀ built here), including when the Krylov space closes early (a
 * low-rank matrix, where fresh start vectors must supply the zero eigenvalues); bad arguments are refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { largestEigenpairs } from '../../src/linalg/topEigen';
import { symmetricEigen } from '../../src/linalg/eigen';
import type { Matrix } from '../../src/linalg/matrix';
import { Random } from '../../src/util/random';
import { assertClose } from '../helpers/close';
import { randomSpd } from '../helpers/problem';

/** An orthonormal n × n basis (columns), from the eigenvectors of a random symmetric matrix. */
function randomOrthonormal(rng: Random, n: number): Matrix {
  const G = rng.normals(n * n);
  const S = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) S[i * n + j] = G[i * n + j] + G[j * n + i];
  return symmetricEigen({ rows: n, cols: n, data: S }).vectors;
}

/** Σ_i λ_i q_i q_iᵀ over the columns q_i of Q (λ.length columns). */
function withSpectrum(Q: Matrix, lambda: number[]): Matrix {
  const n = Q.rows;
  const A = new Float64Array(n * n);
  for (const [c, l] of lambda.entries()) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] += l * Q.data[i * n + c] * Q.data[j * n + c];
  return { rows: n, cols: n, data: A };
}

const column = (Q: Matrix, c: number) => Float64Array.from({ length: Q.rows }, (_, i) => Q.data[i * Q.cols + c]);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i], 0);

/** ‖A v − λ v‖. */
function residual(A: Matrix, v: Float64Array, l: number): number {
  let s = 0;
  for (let i = 0; i < A.rows; i++) {
    let r = -l * v[i];
    for (let j = 0; j < A.cols; j++) r += A.data[i * A.cols + j] * v[j];
    s += r * r;
  }
  return Math.sqrt(s);
}

describe('largestEigenpairs', () => {
  it('dense path (n ≤ 200): the top k of the full decomposition, descending, with unit eigenvectors', () => {
    const A = randomSpd(new Random(3), 12);
    const full = symmetricEigen(A);
    const top = largestEigenpairs(A, 5);
    assert.equal(top.method, 'dense');
    assert.deepEqual(
      Array.from(top.values),
      [11, 10, 9, 8, 7].map((c) => full.values[c]),
    );
    for (const [i, v] of top.vectors.entries()) {
      assertClose(dot(v, v), 1, 1e-12, 0, `|v_${i}|²`);
      assert.ok(residual(A, v, top.values[i]) < 1e-12, `residual of pair ${i}`);
    }
    assert.ok(top.maxRelativeResidual < 1e-13);
  });

  it('Lanczos recovers a known decaying spectrum and its eigenvectors (n = 150, k = 10)', () => {
    const rng = new Random(11);
    const n = 150;
    const Q = randomOrthonormal(rng, n);
    const lambda = Array.from({ length: n }, (_, i) => 10 * 0.85 ** i);
    const A = withSpectrum(Q, lambda);
    const top = largestEigenpairs(A, 10, { denseLimit: 0 });
    assert.equal(top.method, 'lanczos');
    assert.ok(top.steps < n, `stopped before the full dimension (${top.steps} steps)`);
    assertClose(top.values, lambda.slice(0, 10), 1e-10, 0, 'eigenvalues');
    for (let i = 0; i < 10; i++) {
      const c = Math.abs(dot(top.vectors[i], column(Q, i)));
      assert.ok(1 - c < 1e-9, `eigenvector ${i}: |cos| = ${c}`);
    }
    assert.ok(top.maxRelativeResidual <= 1e-9);
  });

  it('Lanczos on a rank-5 matrix: the Krylov space closes and fresh vectors give the zero eigenvalues (k = 8)', () => {
    const rng = new Random(5);
    const n = 60;
    const Q = randomOrthonormal(rng, n);
    const lambda = [5, 4, 3, 2, 1];
    const A = withSpectrum(Q, lambda);
    const top = largestEigenpairs(A, 8, { denseLimit: 0 });
    assertClose(top.values, [...lambda, 0, 0, 0], 0, 1e-12, 'eigenvalues');
    for (let i = 0; i < 8; i++) {
      assertClose(dot(top.vectors[i], top.vectors[i]), 1, 1e-12, 0, `|v_${i}|²`);
      assert.ok(residual(A, top.vectors[i], top.values[i]) < 1e-10, `residual of pair ${i}`);
      for (let j = 0; j < i; j++) assert.ok(Math.abs(dot(top.vectors[i], top.vectors[j])) < 1e-10, `v_${i} ⟂ v_${j}`);
    }
    // The three null-space vectors are orthogonal to the range of A.
    for (let i = 5; i < 8; i++) for (let c = 0; c < 5; c++) assert.ok(Math.abs(dot(top.vectors[i], column(Q, c))) < 1e-10);
  });

  it('agrees with the dense path on a random positive semi-definite matrix (n = 120, k = 30)', () => {
    const A = randomSpd(new Random(8), 120);
    const dense = largestEigenpairs(A, 30);
    const lanczos = largestEigenpairs(A, 30, { denseLimit: 0 });
    assertClose(lanczos.values, dense.values, 1e-10, 0, 'eigenvalues');
    for (let i = 0; i < 30; i++) assert.ok(1 - Math.abs(dot(lanczos.vectors[i], dense.vectors[i])) < 1e-8, `eigenvector ${i}`);
  });

  it('refuses bad arguments', () => {
    const A = randomSpd(new Random(1), 4);
    assert.throws(() => largestEigenpairs(A, 0), /k must be an integer in \[1, 4\] \(got 0\)/);
    assert.throws(() => largestEigenpairs(A, 5), /k must be an integer in \[1, 4\] \(got 5\)/);
    assert.throws(() => largestEigenpairs({ rows: 2, cols: 3, data: new Float64Array(6) }, 1), /matrix is 2×3, not square/);
    const bad = randomSpd(new Random(1), 250);
    bad.data[7] = NaN;
    assert.throws(() => largestEigenpairs(bad, 3), /entry 7 is NaN/);
  });
});
