/**
 * The Cholesky factor of shift·I + Φ W Φᵀ computed together with L⁻¹Φ (linalg/gramCholesky.ts) against the plain JS
 * factorization of the explicit matrix: sizes below, at and across the 128 and 256 block edges, D = 0 (M = shift·I),
 * a W that is not the identity, reused arrays, non-finite features and a negative pivot in a later block.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../../src/util/random';
import { gemmSync } from '../../src/linalg/gemm';
import { choleskySync, NotPositiveDefiniteError } from '../../src/linalg/cholesky';
import { NonFiniteEntryError, blockedCholesky, gramPanels, logDetBlocked, solveLowerBlocked } from '../../src/linalg/blockedCholesky';
import { gramCholeskyWithSolve, type TimesW } from '../../src/linalg/gramCholesky';
import type { Matrix } from '../../src/linalg/matrix';
import { assertClose } from '../helpers/close';

/** Φ [n, D], a symmetric positive-definite W [D, D], the rows of Φ W, and M = shift·I + Φ W Φᵀ. */
function problem(rng: Random, n: number, D: number, shift: number) {
  const Phi: Matrix = { rows: n, cols: D, data: rng.normals(n * D) };
  const A = { rows: D, cols: D, data: rng.normals(D * D) };
  const W = gemmSync(A, A, { transB: true });
  for (let i = 0; i < D; i++) W.data[i * D + i] += 1;
  for (let i = 0; i < D * D; i++) W.data[i] /= Math.max(1, D);
  const PW = gemmSync(Phi, W);
  const M = gemmSync(PW, Phi, { transB: true });
  for (let i = 0; i < n; i++) M.data[i * n + i] += shift;
  const timesW: TimesW = async (r0, r1, out) => {
    out.set(PW.data.subarray(r0 * D, r1 * D));
    return out;
  };
  return { Phi, W, M, timesW };
}

function identityTimes(Phi: Matrix): TimesW {
  return async (r0, r1, out) => {
    out.set(Phi.data.subarray(r0 * Phi.cols, r1 * Phi.cols));
    return out;
  };
}

describe('Cholesky with L⁻¹Φ in Gram–Schmidt form', () => {
  for (const [n, D, block] of [
    [1, 3, 256],
    [5, 0, 256],
    [127, 40, 128],
    [128, 40, 256],
    [129, 40, 128],
    [300, 17, 256],
    [513, 64, 256],
    [520, 300, 384],
  ] as const) {
    it(`n = ${n}, D = ${D}, block ${block}: L Lᵀ = M, L X = Φ, the diagonal blocks' inverses, equal to the plain factor`, async () => {
      const rng = new Random(n * 31 + D);
      const shift = 0.7;
      const { Phi, M, timesW } = problem(rng, n, D, shift);
      const { factor, X } = await gramCholeskyWithSolve(Phi, timesW, shift, { block });
      const ref = choleskySync(M);
      assertClose(factor.L.data, ref.data, 1e-10, 1e-12, 'L');
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) assert.equal(factor.L.data[i * n + j], 0, `L[${i}, ${j}] above the diagonal`);
      let ld = 0;
      for (let i = 0; i < n; i++) ld += 2 * Math.log(ref.data[i * n + i]);
      assertClose(logDetBlocked(factor), ld, 1e-12, 0, 'ln det');
      assert.equal(X.rows, n);
      assert.equal(X.cols, D);
      if (D > 0) assertClose(gemmSync(ref, X).data, Phi.data, 1e-10, 1e-10, 'L X = Φ');
      // the stored inverses are those of L's 128-wide diagonal blocks, so the blocked solves work with this factor
      assert.equal(factor.nb, 128);
      assert.equal(factor.diagInv.length, Math.ceil(n / 128));
      const B = { rows: n, cols: 3, data: rng.normals(n * 3) };
      const Y = await solveLowerBlocked(factor, B);
      assertClose(gemmSync(ref, Y).data, B.data, 1e-10, 1e-10, 'solveLowerBlocked with this factor');
    });
  }

  it('equals the panel factorization followed by the forward solve (P = 600, D = 700: several outer blocks)', async () => {
    const rng = new Random(5);
    const n = 600;
    const D = 700;
    const Phi = { rows: n, cols: D, data: rng.normals(n * D) };
    const shift = 0.01;
    const classic = await blockedCholesky(n, gramPanels(Phi, shift));
    const Xc = await solveLowerBlocked(classic, Phi);
    const { factor, X } = await gramCholeskyWithSolve(Phi, identityTimes(Phi), shift);
    assertClose(factor.L.data, classic.L.data, 1e-11, 1e-12, 'L');
    assertClose(X.data, Xc.data, 1e-10, 1e-12, 'L⁻¹Φ');
    assertClose(logDetBlocked(factor), logDetBlocked(classic), 1e-13, 0, 'ln det');
  });

  it('writes into the arrays of a discarded call (reuse) exactly what fresh ones hold', async () => {
    const rng = new Random(11);
    const a = problem(rng, 300, 50, 0.5);
    const b = problem(rng, 300, 50, 0.2);
    const first = await gramCholeskyWithSolve(a.Phi, a.timesW, 0.5);
    const fresh = await gramCholeskyWithSolve(b.Phi, b.timesW, 0.2);
    const reused = await gramCholeskyWithSolve(b.Phi, b.timesW, 0.2, { reuseL: first.factor.L.data, reuseX: first.X.data });
    assert.equal(reused.factor.L.data, first.factor.L.data);
    assert.equal(reused.X.data, first.X.data);
    assert.deepEqual(Array.from(reused.factor.L.data), Array.from(fresh.factor.L.data));
    assert.deepEqual(Array.from(reused.X.data), Array.from(fresh.X.data));
  });

  it('names the first non-finite entry of a diagonal block: a NaN feature in the first block and one in a later block', async () => {
    for (const row of [3, 300]) {
      const rng = new Random(row);
      const { Phi, timesW } = problem(rng, 400, 20, 0.5);
      Phi.data[row * 20 + 7] = NaN;
      const PW = new Float64Array(400 * 20);
      await timesW(0, 400, PW);
      PW.fill(NaN, row * 20, (row + 1) * 20);
      const withNaN: TimesW = async (r0, r1, out) => {
        out.set(PW.subarray(r0 * 20, r1 * 20));
        return out;
      };
      await assert.rejects(gramCholeskyWithSolve(Phi, withNaN, 0.5), (e: unknown) => {
        assert.ok(e instanceof NonFiniteEntryError, String(e));
        // the NaN row of Φ makes row and column `row` of the block non-finite; the scan meets one of them first
        assert.ok(e.row === row || e.col === row, `(${e.row}, ${e.col})`);
        return true;
      });
    }
  });

  it('reports a negative pivot in a later block by its global index', async () => {
    // M = I − 2 e_260 e_260ᵀ: Φ = e_260 (D = 1), W = [−2], shift 1; the pivot at 260 is −1
    const n = 400;
    const Phi = { rows: n, cols: 1, data: new Float64Array(n) };
    Phi.data[260] = 1;
    const timesW: TimesW = async (r0, r1, out) => {
      for (let r = r0; r < r1; r++) out[r - r0] = -2 * Phi.data[r];
      return out;
    };
    await assert.rejects(gramCholeskyWithSolve(Phi, timesW, 1), (e: unknown) => {
      assert.ok(e instanceof NotPositiveDefiniteError, String(e));
      assert.equal(e.pivot, 260);
      assertClose(e.value, -1, 1e-12, 0, 'pivot');
      return true;
    });
  });

  it('refuses a block that is not a multiple of 128', async () => {
    const Phi = { rows: 10, cols: 2, data: new Float64Array(20) };
    await assert.rejects(gramCholeskyWithSolve(Phi, identityTimes(Phi), 1, { block: 200 }), /multiple of 128/);
  });
});
