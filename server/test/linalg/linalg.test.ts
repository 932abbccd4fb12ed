/**
 * Dense kernels: GEMM dispatch (JS and ONNX Runtime agree), Cholesky with its inverse (recursive path
 * through GEMM against the plain loops), solves, log-determinant, symmetric eigen, and clear errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../../src/util/random';
import { gemm, gemmSync, batchedMatmulTransB, ORT_FLOP_THRESHOLD } from '../../src/linalg/gemm';
import { ortAvailable } from '../../src/linalg/ortGemm';
import {
  NotPositiveDefiniteError,
  choleskySync,
  cholesky,
  solveLower,
  choleskySolve,
  logDetFromCholesky,
  lowerInverseSync,
  spdInverseSync,
  forwardSolve,
} from '../../src/linalg/cholesky';
import { symmetricEigen } from '../../src/linalg/eigen';
import { Matrix, fromRows, identity, transpose } from '../../src/linalg/matrix';
import { assertClose } from '../helpers/close';
import { randomSpd } from '../helpers/problem';

function naive(A: Matrix, B: Matrix): Float64Array {
  const C = new Float64Array(A.rows * B.cols);
  for (let i = 0; i < A.rows; i++)
    for (let j = 0; j < B.cols; j++) {
      let s = 0;
      for (let k = 0; k < A.cols; k++) s += A.data[i * A.cols + k] * B.data[k * B.cols + j];
      C[i * B.cols + j] = s;
    }
  return C;
}

function forwardSolveColumn(L: Matrix, B: Matrix, col: number): Float64Array {
  const b = Float64Array.from({ length: B.rows }, (_, i) => B.data[i * B.cols + col]);
  return forwardSolve(L, b);
}

const rnd = (rng: Random, r: number, c: number): Matrix => ({ rows: r, cols: c, data: rng.normals(r * c) });

describe('gemm', () => {
  it('ONNX Runtime is available here (large products would otherwise be 100× slower)', () => {
    assert.ok(ortAvailable());
  });
  it('every transpose combination, small (JS) and large (ONNX Runtime), equals the naive product', async () => {
    const rng = new Random(1);
    for (const [m, k, n] of [
      [3, 4, 5],
      [130, 170, 150],
    ]) {
      assert.equal(2 * m * k * n >= ORT_FLOP_THRESHOLD, m > 100, 'the large case must take the ORT path');
      const A = rnd(rng, m, k);
      const B = rnd(rng, k, n);
      const want = naive(A, B);
      for (const [ta, tb] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ]) {
        const a = ta ? transpose(A) : A;
        const b = tb ? transpose(B) : B;
        const C = await gemm(a, b, { transA: ta, transB: tb });
        assert.deepEqual([C.rows, C.cols], [m, n]);
        assertClose(C.data, want, 1e-12, 1e-12, `gemm ${m} ${ta} ${tb}`);
        assertClose(gemmSync(a, b, { transA: ta, transB: tb }).data, want, 1e-12, 1e-12, 'sync');
      }
    }
  });
  it('inner-dimension mismatch is an error that gives both shapes', async () => {
    await assert.rejects(gemm(identity(3), identity(4)), /inner dimensions differ: op\(A\) is 3×3, op\(B\) is 4×4/);
  });
  it('batched A·Bᵀ', () => {
    const rng = new Random(2);
    const A = rng.normals(3 * 2 * 5);
    const B = rng.normals(3 * 4 * 5);
    const C = batchedMatmulTransB(A, B, 3, 2, 5, 4);
    for (let b = 0; b < 3; b++) {
      const a = { rows: 2, cols: 5, data: A.subarray(b * 10, b * 10 + 10) };
      const bt = transpose({ rows: 4, cols: 5, data: B.subarray(b * 20, b * 20 + 20) });
      assertClose(C.subarray(b * 8, b * 8 + 8), naive(a, bt), 1e-13, 1e-13, 'block');
    }
  });

  it('reads blocks in place from side-by-side head slices (layout) and scales them: equal to the regrouped product', () => {
    // 2 row groups (examples) × 3 heads of width 5; A has 4 rows per block, B 6; rows of 3·5 + 2 padding columns
    const [G, H, m, n, k, stride] = [2, 3, 4, 6, 5, 17];
    const rng = new Random(5);
    const A = rng.normals(G * m * stride);
    const B = rng.normals(G * n * stride);
    const regroup = (X: Float64Array, rows: number) => {
      const out = new Float64Array(G * H * rows * k);
      for (let g = 0; g < G; g++)
        for (let h = 0; h < H; h++)
          for (let i = 0; i < rows; i++)
            out.set(X.subarray((g * rows + i) * stride + h * k, (g * rows + i) * stride + h * k + k), ((g * H + h) * rows + i) * k);
      return out;
    };
    const want = batchedMatmulTransB(regroup(A, m), regroup(B, n), G * H, m, k, n);
    const got = batchedMatmulTransB(A, B, G * H, m, k, n, { groups: H, rowStride: stride }, 0.5);
    assertClose(
      got,
      want.map((v) => 0.5 * v),
      1e-15,
      1e-15,
      'strided',
    );
    assert.throws(() => batchedMatmulTransB(A, B, G * H, m, k, n, { groups: H, rowStride: 14 }), /does not fit/);
  });
});

describe('Cholesky', () => {
  // The JS kernels work on two entries at a time (pairs of a row's entries, pairs of L⁻¹'s columns): every parity of
  // n, and the 128 / 129 of the blocked factorization's diagonal blocks.
  it('JS factor and triangular inverse at n = 1 … 9, 128 and 129: L Lᵀ = M, L⁻¹ L = I, zeros above the diagonal', () => {
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 128, 129]) {
      const M = randomSpd(new Random(n), n);
      const L = choleskySync(M);
      const X = lowerInverseSync(L);
      assertClose(naive(L, transpose(L)), M.data, 1e-12, 1e-12, `n ${n}: LLᵀ`);
      assertClose(naive(X, L), identity(n).data, 1e-11, 1e-11, `n ${n}: L⁻¹L`);
      for (let i = 0; i < n; i++)
        for (let j = i + 1; j < n; j++) assert.ok(L.data[i * n + j] === 0 && X.data[i * n + j] === 0, `n ${n}: (${i}, ${j}) above the diagonal`);
    }
  });

  it('small: L Lᵀ = M, L⁻¹ L = I, solve and log-determinant', () => {
    const M = fromRows([
      [4, 2, 0.4],
      [2, 5, 1],
      [0.4, 1, 3],
    ]);
    const L = choleskySync(M);
    assertClose(naive(L, transpose(L)), M.data, 1e-14, 1e-14, 'LLᵀ');
    assertClose(naive(lowerInverseSync(L), L), identity(3).data, 1e-14, 1e-14, 'L⁻¹L');
    const x = choleskySolve(L, [1, 2, 3]);
    assertClose(naive(M, { rows: 3, cols: 1, data: x }), [1, 2, 3], 1e-14, 1e-14, 'Mx');
    // det by cofactors: 4(15−1) − 2(6−0.4) + 0.4(2−2) = 44.8
    assertClose(logDetFromCholesky(L), Math.log(44.8), 1e-14, 0, 'logdet');
    assertClose(naive(spdInverseSync(M).inv, M), identity(3).data, 1e-14, 1e-14, 'inverse');
  });
  it('large: the recursive factorization and solve through GEMM equal the plain loops', async () => {
    const rng = new Random(3);
    const M = randomSpd(rng, 500);
    const L = await cholesky(M);
    assertClose(L.data, choleskySync(M).data, 1e-11, 1e-12, 'L');
    const B = rnd(rng, 500, 7);
    const X = await solveLower(L, B);
    assertClose((await gemm(L, X)).data, B.data, 1e-10, 1e-10, 'L X = B');
    assertClose(
      X.data.filter((_, i) => i % 7 === 0),
      forwardSolveColumn(L, B, 0),
      1e-10,
      1e-10,
      'column 0',
    );
  });
  it('a non-positive-definite matrix is refused with the pivot, also deep inside the recursion', async () => {
    assert.throws(
      () =>
        choleskySync(
          fromRows([
            [1, 2],
            [2, 1],
          ]),
        ),
      (e: unknown) => e instanceof NotPositiveDefiniteError && e.pivot === 1,
    );
    const rng = new Random(4);
    const M = randomSpd(rng, 450);
    M.data[400 * 450 + 400] = -5;
    await assert.rejects(cholesky(M), (e: unknown) => e instanceof NotPositiveDefiniteError && e.pivot === 400);
    const N = randomSpd(rng, 4);
    N.data[5] = NaN;
    assert.throws(() => choleskySync(N), /pivot 1 is NaN/);
  });
});

describe('symmetric eigen', () => {
  it('A V = V Λ with orthonormal V, ascending values; known spectrum', () => {
    const rng = new Random(5);
    const A = randomSpd(rng, 40);
    const { values, vectors } = symmetricEigen(A);
    for (let i = 1; i < 40; i++) assert.ok(values[i] >= values[i - 1]);
    const AV = naive(A, vectors);
    for (let i = 0; i < 40; i++) for (let k = 0; k < 40; k++) assertClose(AV[i * 40 + k], values[k] * vectors.data[i * 40 + k], 1e-10, 1e-10, 'AV');
    assertClose(naive(transpose(vectors), vectors), identity(40).data, 0, 1e-12, 'VᵀV');
    const B = fromRows([
      [2, 1, 0],
      [1, 2, 0],
      [0, 0, 5],
    ]);
    assertClose(symmetricEigen(B).values, [1, 3, 5], 1e-14, 1e-14, 'spectrum');
    assert.throws(
      () =>
        symmetricEigen(
          fromRows([
            [1, NaN],
            [NaN, 1],
          ]),
        ),
      /entry 1 is NaN/,
    );
  });
});
