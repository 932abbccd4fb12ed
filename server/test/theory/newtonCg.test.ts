/**
 * The many-path solver (docs/theory.md §d): exact Hessian–vector products against central differences
 * of the exact gradient, Newton–CG against the L-BFGS + dense-Newton solver on small cases, and a
 * many-path case converged to 1e-9.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { smallProblem, randomSpd } from '../helpers/problem';
import { assertClose } from '../helpers/close';
import { Random } from '../../src/util/random';
import type { Matrix } from '../../src/linalg/matrix';
import { energy, entropy } from '../../src/theory/action';
import { orderParameterSizes } from '../../src/theory/orderParams';
import { entropyCurvature } from '../../src/theory/entropyHessian';
import { sampleSpaceEnergy } from '../../src/theory/sampleEnergy';
import { minimizeAction } from '../../src/theory/solver';
import { gaugePreconditioner } from '../../src/theory/newtonCg';
import { spdInverse, spdInverseSync } from '../../src/linalg/cholesky';

function randomSymmetric(rng: Random, n: number): Matrix {
  const data = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      const v = rng.normal();
      data[i * n + j] = v;
      data[j * n + i] = v;
    }
  return { rows: n, cols: n, data };
}

const shifted = (U: Matrix, d: Matrix, t: number): Matrix => ({ rows: U.rows, cols: U.cols, data: U.data.map((v, i) => v + t * d.data[i]) });

describe('exact Hessian–vector products', () => {
  for (const heads of [[3], [2, 2], [2, 1, 2], [2, 2, 2]]) {
    it(`entropy and energy HVPs match central differences of the gradient (heads [${heads}])`, async () => {
      const widths = Array(heads.length + 1)
        .fill(0)
        .map((_, i) => 5 + 2 * i);
      const p = await smallProblem(80 + heads.length, heads, { widths, P: 12, N0: 4 });
      const rng = new Random(11 + heads.length);
      const Us = orderParameterSizes(heads).map((n) => randomSpd(rng, n));
      const dUs = Us.map((U) => randomSymmetric(rng, U.rows));
      const h = 1e-5;
      // entropy: all levels, one direction in every level at once
      const an = await entropyCurvature(p.settings, Us).apply(dUs);
      const gp = entropy(
        p.settings,
        Us.map((U, l) => shifted(U, dUs[l], h)),
        true,
      ).grads!;
      const gm = entropy(
        p.settings,
        Us.map((U, l) => shifted(U, dUs[l], -h)),
        true,
      ).grads!;
      for (let l = 0; l < Us.length; l++) {
        const fd = gp[l].data.map((v, i) => (v - gm[l].data[i]) / (2 * h));
        const scale = Math.max(...fd.map(Math.abs));
        assertClose(an[l].data, fd, 1e-6, 1e-7 * scale, `entropy HVP, level ${l + 1}`);
      }
      // energy
      const ev = sampleSpaceEnergy(p.train, p.y, p.settings.temperature);
      const U1 = Us[0];
      await ev.evaluate(U1, true);
      const he = await ev.hessianVectorProduct(U1, dUs[0]);
      const ep = (await energy(p.train, p.y, p.settings.temperature, shifted(U1, dUs[0], h), true)).grad!;
      const em = (await energy(p.train, p.y, p.settings.temperature, shifted(U1, dUs[0], -h), true)).grad!;
      const fd = ep.data.map((v, i) => (v - em.data[i]) / (2 * h));
      assertClose(he.data, fd, 1e-6, 1e-7 * Math.max(...fd.map(Math.abs)), 'energy HVP');
      // the product at a point other than the cached one refactors instead of reusing the cache
      const other = shifted(U1, dUs[0], 0.01);
      const direct = await sampleSpaceEnergy(p.train, p.y, p.settings.temperature).hessianVectorProduct(other, dUs[0]);
      assertClose((await ev.hessianVectorProduct(other, dUs[0])).data, direct.data, 1e-12, 1e-12, 'HVP after moving');
    });
  }
});

describe('float32 Hessian–vector products and the blocked inverse', () => {
  it('the float32 energy HVP agrees with the float64 one to 1e-5 of its size', async () => {
    const p = await smallProblem(91, [4, 4], { P: 30, N0: 6, T: 5 });
    const rng = new Random(2);
    const U1 = randomSpd(rng, 16);
    const dU = randomSymmetric(rng, 16);
    const h64 = await sampleSpaceEnergy(p.train, p.y, p.settings.temperature, { hessianPrecision: 'float64' }).hessianVectorProduct(U1, dU);
    const h32 = await sampleSpaceEnergy(p.train, p.y, p.settings.temperature, { hessianPrecision: 'float32' }).hessianVectorProduct(U1, dU);
    const size = Math.max(...h64.data.map(Math.abs));
    assertClose(h32.data, h64.data, 0, 1e-5 * size, 'float32 HVP');
    assert.ok(
      h32.data.some((v, i) => v !== h64.data[i]),
      'the float32 path ran',
    );
  });
  it('spdInverse (blocked) equals spdInverseSync', async () => {
    const M = randomSpd(new Random(4), 230);
    const a = await spdInverse(M);
    const b = spdInverseSync(M);
    assertClose(a.inv.data, b.inv.data, 1e-10, 1e-12, 'inverse');
    assertClose(a.logDet, b.logDet, 1e-12, 0, 'ln det');
  });
});

describe('gauge preconditioner', () => {
  for (const heads of [[3], [2, 3], [2, 2, 3]]) {
    it(`is symmetric positive definite, and U r U / c_1 for one layer (heads [${heads}])`, async () => {
      const s = { heads, widths: heads.map((_, i) => 5 + i).concat([9]), variances: Array(heads.length + 2).fill(1), temperature: 0.1 };
      const rng = new Random(heads.length);
      const Us = orderParameterSizes(heads).map((n) => randomSpd(rng, n));
      const M = gaugePreconditioner(
        s,
        Us,
        Us.map((U) => spdInverseSync(U).inv),
      );
      const a = Us.map((U) => randomSymmetric(rng, U.rows));
      const b = Us.map((U) => randomSymmetric(rng, U.rows));
      const dot = (x: Matrix[], y: Matrix[]) => x.reduce((t, m, l) => t + m.data.reduce((u, v, i) => u + v * y[l].data[i], 0), 0);
      const Ma = await M(a);
      const Mb = await M(b);
      assertClose(dot(a, Mb), dot(Ma, b), 1e-12, 0, '⟨a, M⁻¹b⟩ = ⟨M⁻¹a, b⟩');
      assert.ok(dot(a, Ma) > 0 && dot(b, Mb) > 0);
      if (heads.length === 1) {
        const U = Us[0].data;
        const n = Us[0].rows;
        const want = new Float64Array(n * n);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            let t = 0;
            for (let k = 0; k < n; k++) for (let m = 0; m < n; m++) t += U[i * n + k] * a[0].data[k * n + m] * U[m * n + j];
            want[i * n + j] = t / (5 / 9);
          }
        assertClose(Ma[0].data, want, 1e-12, 1e-12, 'U r U / c');
      }
    });
  }
});

describe('Newton–CG', () => {
  const cases: { heads: number[]; widths?: number[]; seed: number; T?: number }[] = [
    { heads: [3], seed: 1 },
    { heads: [2, 2], seed: 2 },
    { heads: [2, 1, 2], widths: [6, 9, 4, 12], seed: 3 },
    { heads: [2, 2, 2], seed: 4, T: 5 },
  ];
  for (const c of cases) {
    it(`gives the same U as L-BFGS + dense Newton to 1e-8 (heads [${c.heads}])`, async () => {
      const p = await smallProblem(100 + c.seed, c.heads, { P: 20, N0: 5, T: c.T ?? 4, widths: c.widths });
      const ref = await minimizeAction(p.settings, p.train, p.y, { tolerance: 1e-11, method: 'lbfgs' });
      const ncg = await minimizeAction(p.settings, p.train, p.y, { tolerance: 1e-11, method: 'newton-cg' });
      assert.ok(ref.converged, `reference: ${ref.stopReason}`);
      assert.ok(ncg.converged, `Newton–CG: ${ncg.stopReason}`);
      assert.match(ncg.method, /Newton–CG/);
      assert.ok(ncg.newtonSteps! > 0 && ncg.cgIterations! >= ncg.newtonSteps!);
      for (let l = 0; l < ref.Us.length; l++) assertClose(ncg.Us[l].data, ref.Us[l].data, 1e-8, 1e-8, `U_${l + 1}`);
      assertClose(ncg.action.value, ref.action.value, 1e-12, 1e-12, 'S');
    });
  }

  it('converges to 1e-9 on a many-path case (heads [4, 4, 4], 64 paths)', async () => {
    const p = await smallProblem(7, [4, 4, 4], { P: 24, N0: 6, T: 6, widths: [8, 8, 8, 8], temperature: 0.02 });
    const sol = await minimizeAction(p.settings, p.train, p.y, { tolerance: 1e-9 });
    assert.match(sol.method, /Newton–CG/, 'auto picks Newton–CG for 64 paths');
    assert.ok(sol.converged, sol.stopReason);
    assert.ok(sol.maxGradNormalized < 1e-9);
    // a saddle point, not just a small gradient: every U_l stays positive definite (entropy evaluates)
    assert.ok(Number.isFinite(entropy(p.settings, sol.Us, false).value));
  });

  it('converges to 1e-9 with float32 Hessian–vector products', async () => {
    const p = await smallProblem(7, [4, 4, 4], { P: 24, N0: 6, T: 6, widths: [8, 8, 8, 8], temperature: 0.02 });
    const ref = await minimizeAction(p.settings, p.train, p.y, { tolerance: 1e-10 });
    const energy = sampleSpaceEnergy(p.train, p.y, p.settings.temperature, { hessianPrecision: 'float32' });
    const sol = await minimizeAction(p.settings, p.train, p.y, { tolerance: 1e-10, newtonCgEnergy: energy });
    assert.ok(sol.converged, sol.stopReason);
    for (let l = 0; l < 3; l++) assertClose(sol.Us[l].data, ref.Us[l].data, 1e-8, 1e-9, `U_${l + 1}`);
  });

  it('reports an unconverged solve as such (maxIterations: 3)', async () => {
    const p = await smallProblem(7, [4, 4, 4], { P: 24, N0: 6, T: 6, widths: [8, 8, 8, 8], temperature: 0.02 });
    const sol = await minimizeAction(p.settings, p.train, p.y, { tolerance: 1e-9, maxIterations: 3 });
    assert.equal(sol.converged, false);
    assert.equal(sol.iterations, 3);
    assert.match(sol.stopReason, /iteration limit 3/);
    assert.ok(sol.maxGradNormalized >= 1e-9);
  });
});
