/**
 * Block Lanczos (linalg/blockLanczos.ts) against known spectra and the dense decomposition: a decaying spectrum
 * with its eigenvectors, a low-rank matrix whose Krylov space closes (fresh blocks give the zero eigenvalues), a
 * size that is not a multiple of the block, k equal to the block, and bad arguments.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { largestEigenpairsBlock } from '../../src/linalg/blockLanczos';
import { largestEigenpairs } from '../../src/linalg/topEigen';
import { symmetricEigen } from '../../src/linalg/eigen';
import type { Matrix } from '../../src/linalg/matrix';
import { Random } from '../../src/util/random';
import { assertClose } from '../helpers/close';
import { randomSpd } from '../helpers/problem';

function randomOrthonormal(rng: Random, n: number): Matrix {
  const G = rng.normals(n * n);
  const S = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) S[i * n + j] = G[i * n + j] + G[j * n + i];
  return symmetricEigen({ rows: n, cols: n, data: S }).vectors;
}

function withSpectrum(Q: Matrix, lambda: number[]): Matrix {
  const n = Q.rows;
  const A = new Float64Array(n * n);
  for (const [c, l] of lambda.entries()) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] += l * Q.data[i * n + c] * Q.data[j * n + c];
  return { rows: n, cols: n, data: A };
}

const column = (Q: Matrix, c: number) => Float64Array.from({ length: Q.rows }, (_, i) => Q.data[i * Q.cols + c]);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i], 0);

function residual(A: Matrix, v: Float64Array, l: number): number {
  let s = 0;
  for (let i = 0; i < A.rows; i++) {
    let r = -l * v[i];
    for (let j = 0; j < A.cols; j++) r += A.data[i * A.cols + j] * v[j];
    s += r * r;
  }
  return Math.sqrt(s);
}

describe('largestEigenpairsBlock', () => {
  it('recovers a known decaying spectrum and its eigenvectors (n = 301, k = 30, block 16)', async () => {
    const rng = new Random(12);
    const n = 301;
    const Q = randomOrthonormal(rng, n);
    const lambda = Array.from({ length: n }, (_, i) => 10 * 0.93 ** i);
    const A = withSpectrum(Q, lambda);
    const top = await largestEigenpairsBlock(A, 30, { block: 16 });
    assert.equal(top.method, 'lanczos');
    assert.ok(top.steps < n, `stopped before the full dimension (${top.steps})`);
    assertClose(top.values, lambda.slice(0, 30), 1e-10, 0, 'eigenvalues');
    for (let i = 0; i < 30; i++) {
      const c = Math.abs(dot(top.vectors[i], column(Q, i)));
      assert.ok(1 - c < 1e-9, `eigenvector ${i}: |cos| = ${c}`);
      assert.ok(residual(A, top.vectors[i], top.values[i]) <= 2e-9 * lambda[0], `residual ${i}`);
    }
    assert.ok(top.maxRelativeResidual <= 1e-9);
  });

  it('rank-6 matrix: the Krylov space closes, fresh blocks give the zero eigenvalues (k = 10, block 4)', async () => {
    const rng = new Random(6);
    const n = 90;
    const Q = randomOrthonormal(rng, n);
    const lambda = [6, 5, 4, 3, 2, 1];
    const A = withSpectrum(Q, lambda);
    const top = await largestEigenpairsBlock(A, 10, { block: 4 });
    assertClose(top.values, [...lambda, 0, 0, 0, 0], 0, 1e-12, 'eigenvalues');
    for (let i = 0; i < 10; i++) {
      assert.ok(residual(A, top.vectors[i], top.values[i]) < 1e-10, `residual ${i}`);
      for (let j = 0; j < i; j++) assert.ok(Math.abs(dot(top.vectors[i], top.vectors[j])) < 1e-9, `v_${i} ⟂ v_${j}`);
    }
  });

  it('agrees with the dense decomposition on a random positive semi-definite matrix (n = 250, k = 32 = block)', async () => {
    const A = randomSpd(new Random(9), 250);
    const dense = largestEigenpairs(A, 32, { denseLimit: 250 });
    const block = await largestEigenpairsBlock(A, 32);
    assertClose(block.values, dense.values, 1e-10, 0, 'eigenvalues');
    for (let i = 0; i < 32; i++) assert.ok(1 - Math.abs(dot(block.vectors[i], dense.vectors[i])) < 1e-8, `eigenvector ${i}`);
  });

  it('refuses bad arguments', async () => {
    const A = randomSpd(new Random(1), 4);
    await assert.rejects(largestEigenpairsBlock(A, 5), /k must be an integer in \[1, 4\] \(got 5\)/);
    const bad = randomSpd(new Random(1), 10);
    bad.data[3] = Infinity;
    await assert.rejects(largestEigenpairsBlock(bad, 2), /entry 3 is Infinity/);
  });
});
