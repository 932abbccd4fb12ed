/**
 * The blocked panel Cholesky and forward substitution (linalg/blockedCholesky.ts) against the plain JS ones, with
 * block sizes that do and do not divide n (so every code path — first block, left update, the solve's
 * left-looking GEMMs, a short last block — runs), products large enough to go to ONNX Runtime, and `gemmInto`'s
 * alpha, C, views and in-place outputs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../../src/util/random';
import { gemmInto, gemmSync } from '../../src/linalg/gemm';
import { choleskySync, NotPositiveDefiniteError } from '../../src/linalg/cholesky';
import { blockedCholesky, gramPanels, logDetBlocked, matrixPanels, solveLowerBlocked } from '../../src/linalg/blockedCholesky';
import { assertClose } from '../helpers/close';

function randomGram(rng: Random, n: number, d: number, shift: number) {
  const A = { rows: n, cols: d, data: rng.normals(n * d) };
  const M = gemmSync(A, A, { transB: true });
  for (let i = 0; i < n; i++) M.data[i * n + i] += shift;
  return { A, M };
}

describe('blocked Cholesky', () => {
  for (const [n, d, nb] of [
    [40, 7, 16],
    [64, 64, 16],
    [300, 260, 128],
  ] as const) {
    it(`n = ${n}, A [${n}, ${d}], block ${nb}: factor, ln det and L⁻¹B match the plain factorization`, async () => {
      const rng = new Random(n);
      const { A, M } = randomGram(rng, n, d, 0.3);
      const ref = choleskySync(M);
      for (const F of [await blockedCholesky(n, gramPanels(A, 0.3), nb), await blockedCholesky(n, matrixPanels(M), nb)]) {
        assertClose(F.L.data, ref.data, 1e-10, 1e-12, 'L');
        let ld = 0;
        for (let i = 0; i < n; i++) ld += 2 * Math.log(ref.data[i * n + i]);
        assertClose(logDetBlocked(F), ld, 1e-12, 0, 'ln det');
        const B = { rows: n, cols: 5, data: rng.normals(n * 5) };
        const X = await solveLowerBlocked(F, B);
        assertClose(gemmSync(ref, X).data, B.data, 1e-10, 1e-10, 'L X = B');
      }
    });
  }

  it('writes into the arrays of a discarded factor and solve (reuse) exactly what fresh ones hold', async () => {
    const rng = new Random(9);
    const n = 200;
    const a = randomGram(rng, n, 150, 0.5);
    const b = randomGram(rng, n, 150, 0.2);
    const B = { rows: n, cols: 70, data: rng.normals(n * 70) };
    const Fa = await blockedCholesky(n, gramPanels(a.A, 0.5), 64);
    const Xa = await solveLowerBlocked(Fa, B);
    const fresh = await blockedCholesky(n, gramPanels(b.A, 0.2), 64);
    const reused = await blockedCholesky(n, gramPanels(b.A, 0.2), 64, Fa.L.data);
    assert.equal(reused.L.data, Fa.L.data);
    assert.deepEqual(Array.from(reused.L.data), Array.from(fresh.L.data));
    const Xfresh = await solveLowerBlocked(fresh, B);
    const Xreused = await solveLowerBlocked(reused, B, Xa.data);
    assert.equal(Xreused.data, Xa.data);
    assert.deepEqual(Array.from(Xreused.data), Array.from(Xfresh.data));
    // an array of the wrong size is not used
    assert.notEqual((await solveLowerBlocked(fresh, B, new Float64Array(5))).data.length, 5);
  });

  for (const n of [1100, 1280]) {
    it(`many right-hand sides (n = ${n}, 600 columns: blocks of twice the factor's, ${(n / 128) % 2 ? 'an odd last one' : 'all paired'}) equal the plain forward substitution`, async () => {
      const rng = new Random(n);
      const { A } = randomGram(rng, n, 300, 0.7);
      const F = await blockedCholesky(n, gramPanels(A, 0.7), 128);
      const B = { rows: n, cols: 600, data: rng.normals(n * 600) };
      const X = await solveLowerBlocked(F, B);
      assert.ok(F.pairInv && F.pairInv.length === Math.ceil(Math.ceil(n / 128) / 2));
      const Lp = choleskySync({ rows: n, cols: n, data: gemmSync(A, A, { transB: true }).data.map((v, i) => (i % (n + 1) === 0 ? v + 0.7 : v)) });
      // L X = B, row by row (forward substitution with the plain factor)
      const want = new Float64Array(n * 600);
      for (let i = 0; i < n; i++)
        for (let c = 0; c < 600; c++) {
          let v = B.data[i * 600 + c];
          for (let t = 0; t < i; t++) v -= Lp.data[i * n + t] * want[t * 600 + c];
          want[i * 600 + c] = v / Lp.data[i * n + i];
        }
      assertClose(X.data, want, 1e-9, 1e-9, 'L⁻¹B');
    });
  }

  it('names the global pivot of a matrix that is not positive definite', async () => {
    const n = 50;
    const { M } = randomGram(new Random(1), n, 50, 0.1);
    M.data[37 * n + 37] = -5;
    await assert.rejects(blockedCholesky(n, matrixPanels(M), 16), (e: unknown) => e instanceof NotPositiveDefiniteError && e.pivot === 37);
  });

  it('gemmInto: alpha −1, added C, row views and in-place output (JS and ONNX Runtime sizes)', async () => {
    const rng = new Random(3);
    for (const [m, k, n] of [
      [3, 4, 5],
      [200, 150, 180],
    ]) {
      const big = rng.normals((m + 2) * k);
      const A = { rows: m, cols: k, data: big.subarray(k, (m + 1) * k) }; // a view of rows 1..m
      const B = { rows: n, cols: k, data: rng.normals(n * k) };
      const C = rng.normals(m * n);
      const host = new Float64Array(m * n + 10);
      const out = host.subarray(4, 4 + m * n);
      await gemmInto(A, B, { transB: true, alpha: -1, C, out });
      const P = gemmSync(A, B, { transB: true });
      assertClose(
        out,
        Array.from(C, (c, i) => c - P.data[i]),
        1e-12,
        1e-12,
        `${m}×${k}×${n}`,
      );
      assert.deepEqual(Array.from(host.subarray(0, 4)), [0, 0, 0, 0], 'nothing written outside the view');
    }
  });
});

describe('gramOfColumns', () => {
  it('equals XᵀX for shapes around the panel size', async () => {
    const rng = new Random(8);
    const { gramOfColumns } = await import('../../src/linalg/blockedCholesky');
    for (const [n, m, nb] of [
      [7, 5, 2],
      [300, 270, 128],
    ] as const) {
      const X = { rows: n, cols: m, data: rng.normals(n * m) };
      assertClose((await gramOfColumns(X, nb)).data, gemmSync(X, X, { transA: true }).data, 1e-12, 1e-11, `${n}×${m}`);
    }
  });
});
