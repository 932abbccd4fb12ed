/**
 * Sample-space and feature-space evaluation of the energy (theory/energySpace.ts) against the direct reference
 * `energy` (theory/action.ts) and each other, to 1e-9: on the golden cases, a case with P ≈ D, one with P < D
 * and one with P ≫ D — energy, gradient, Hessian–vector products (against central differences of the exact
 * gradient and the full Hessian), the full energy Hessian (against the reference `energyHessian`), predictor
 * mean and variance (against plain dense formulas written here), silenced heads (a singular U_1) and the
 * kernel-PC overlap (against the P × P decomposition).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { goldenFiles, loadGolden } from '../helpers/golden';
import { assertClose } from '../helpers/close';
import { randomSpd, smallProblem } from '../helpers/problem';
import { Random } from '../../src/util/random';
import { allLayerAttention } from '../../src/theory/attention';
import { pathCount, pathFeatures, pathTokenWeights } from '../../src/theory/paths';
import type { PathFeatures } from '../../src/theory/kernels';
import { energy } from '../../src/theory/action';
import { energyHessian } from '../../src/theory/hessian';
import { gpOrderParameters } from '../../src/theory/orderParams';
import { silenceHead } from '../../src/theory/relevance';
import { kernelPcOverlap } from '../../src/theory/pcOverlap';
import { chooseEnergySpace, createEnergyEvaluator, spaceForPredictions, type EnergyEvaluator } from '../../src/theory/energySpace';
import { psdFactor } from '../../src/theory/pathAlgebra';
import { type Matrix, maxAbs } from '../../src/linalg/matrix';
import { choleskySync, forwardSolve, backSolveTransposed } from '../../src/linalg/cholesky';

interface Case {
  name: string;
  train: PathFeatures;
  test: PathFeatures;
  y: Float64Array;
  T: number;
  heads: number[];
  U: Matrix;
}

/** ‖a − b‖_∞ ≤ tol·max(‖b‖_∞, floor): agreement relative to the array's scale. */
function assertScaled(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string, floor = 1e-300): void {
  const scale = Math.max(maxAbs(b), floor);
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= tol * scale)) assert.fail(`${what}[${i}]: ${a[i]} vs ${b[i]} (scale ${scale}, tol ${tol})`);
  }
}

/** Dense K between two feature sets by the definition (docs/theory.md §b). */
function denseKernel(A: PathFeatures, B: PathFeatures, U: Matrix): number[][] {
  const { features: N0, paths: Q } = A;
  const K: number[][] = [];
  for (let m = 0; m < A.count; m++) {
    const row: number[] = [];
    for (let n = 0; n < B.count; n++) {
      let s = 0;
      for (let i = 0; i < N0; i++)
        for (let a = 0; a < Q; a++) {
          const fa = A.data[(m * N0 + i) * Q + a];
          if (fa === 0) continue;
          for (let b = 0; b < Q; b++) s += fa * U.data[a * Q + b] * B.data[(n * N0 + i) * Q + b];
        }
      row.push(s);
    }
    K.push(row);
  }
  return K;
}

/** Predictor mean and variance by the formulas of docs/theory.md §e with dense matrices. */
function densePredict(c: Case, U: Matrix): { mean: number[]; variance: number[] } {
  const P = c.train.count;
  const K = denseKernel(c.train, c.train, U);
  const M = { rows: P, cols: P, data: Float64Array.from(K.flatMap((r, i) => r.map((v, j) => v + (i === j ? c.T : 0)))) };
  const L = choleskySync(M);
  const ks = denseKernel(c.train, c.test, U);
  const kss = denseKernel(c.test, c.test, U);
  const alpha = backSolveTransposed(L, forwardSolve(L, c.y));
  const mean: number[] = [];
  const variance: number[] = [];
  for (let t = 0; t < c.test.count; t++) {
    const col = ks.map((r) => r[t]);
    let m = 0;
    for (let i = 0; i < P; i++) m += col[i] * alpha[i];
    const v = forwardSolve(L, col);
    let s = 0;
    for (let i = 0; i < P; i++) s += v[i] * v[i];
    mean.push(m);
    variance.push(kss[t][t] - s);
  }
  return { mean, variance };
}

async function goldenCase(file: string): Promise<Case> {
  const g = loadGolden(file);
  const Q = pathCount(g.settings.heads);
  const feats = async (X: typeof g.train, which: 'train' | 'test'): Promise<PathFeatures> => ({
    count: X.count,
    features: X.features,
    paths: Q,
    data: pathFeatures(X, pathTokenWeights(await allLayerAttention(X, g.attention, which), g.readout), Q, g.settings.variances[0]),
  });
  return {
    name: file,
    train: await feats(g.train, 'train'),
    test: await feats(g.test, 'test'),
    y: g.yTrain,
    T: g.settings.temperature,
    heads: g.settings.heads,
    U: randomSpd(new Random(11), Q),
  };
}

async function syntheticCase(name: string, heads: number[], P: number, N0: number, T = 0.05): Promise<Case> {
  const p = await smallProblem(5 + P, heads, { P, Pt: 7, N0, T: 4, temperature: T });
  return { name, train: p.train, test: p.test, y: p.y, T, heads, U: randomSpd(new Random(P), p.train.paths) };
}

const cases: Promise<Case>[] = [
  ...goldenFiles().map(goldenCase),
  syntheticCase('P ≈ D (P 40, N0 10, heads [2, 2])', [2, 2], 40, 10),
  syntheticCase('P < D (P 12, N0 9, heads [3])', [3], 12, 9),
  syntheticCase('P ≫ D (P 300, N0 3, heads [2, 2])', [2, 2], 300, 3, 0.01),
];

async function both(c: Case): Promise<[EnergyEvaluator, EnergyEvaluator]> {
  const s = await createEnergyEvaluator(c.train, c.y, c.T, 'sample');
  const f = await createEnergyEvaluator(c.train, c.y, c.T, 'feature');
  assert.equal(s.space, 'sample');
  assert.equal(f.space, 'feature');
  return [s, f];
}

/** U_1 points to test at: GP, random SPD, and one with a silenced head (singular). */
function points(c: Case): [string, Matrix][] {
  const gp = gpOrderParameters({ heads: c.heads, widths: c.heads.map(() => 5).concat(5), variances: Array(c.heads.length + 2).fill(1), temperature: c.T })[0];
  const out: [string, Matrix][] = [
    ['GP', gp],
    ['random SPD', c.U],
  ];
  if (c.train.paths > 1) out.push(['head (0, 0) silenced', silenceHead(c.U, c.heads, 0, 0)]);
  return out;
}

describe('energy in sample and feature space', () => {
  for (const pc of cases) {
    it('energy and gradient agree with the reference to 1e-9', async () => {
      const c = await pc;
      const [s, f] = await both(c);
      for (const [label, U] of points(c)) {
        const ref = await energy(c.train, c.y, c.T, U, true);
        for (const ev of [s, f]) {
          const r = await ev.evaluate(U, true);
          const what = `${c.name}, ${label}, ${ev.space}`;
          assertClose(r.value, ref.value, 1e-9, 0, `${what}: energy`);
          assertClose(r.logDet, ref.logDet, 1e-9, 1e-9 * Math.abs(ref.value), `${what}: ln det`);
          assertClose(r.quad, ref.quad, 1e-9, 0, `${what}: quad`);
          assertScaled(r.grad!.data, ref.grad!.data, 1e-9, `${what}: gradient`);
        }
      }
    });

    it('one evaluator moved back and forth between points (its L and L⁻¹Φ written over) equals fresh evaluators', async () => {
      const c = await pc;
      const pts = points(c).map(([, U]) => U);
      const [s] = await both(c);
      for (const U of [...pts, ...pts.slice().reverse(), pts[0]]) {
        const got = await s.evaluate(U, true);
        const [fresh] = await both(c);
        const want = await fresh.evaluate(U, true);
        assert.equal(got.value, want.value);
        assert.deepEqual(Array.from(got.grad!.data), Array.from(want.grad!.data));
        assert.deepEqual(Array.from((await s.predict(c.test, U)).variance), Array.from((await fresh.predict(c.test, U)).variance));
      }
    });

    it('Hessian–vector products match central differences and the full Hessian', async () => {
      const c = await pc;
      const Q = c.train.paths;
      const rng = new Random(4);
      const dU = { rows: Q, cols: Q, data: new Float64Array(Q * Q) };
      for (let a = 0; a < Q; a++)
        for (let b = 0; b <= a; b++) {
          const v = rng.normal();
          dU.data[a * Q + b] = v;
          dU.data[b * Q + a] = v;
        }
      const h = 1e-6;
      const shifted = (sign: number) => ({ rows: Q, cols: Q, data: c.U.data.map((v, i) => v + sign * h * dU.data[i]) });
      const gp = (await energy(c.train, c.y, c.T, shifted(1), true)).grad!.data;
      const gm = (await energy(c.train, c.y, c.T, shifted(-1), true)).grad!.data;
      const fd = gp.map((v, i) => (v - gm[i]) / (2 * h));
      const [s, f] = await both(c);
      const hs = await s.hessianVectorProduct(c.U, dU);
      const hf = await f.hessianVectorProduct(c.U, dU);
      assertScaled(hs.data, fd, 1e-6, `${c.name}: sample HVP vs differences`);
      assertScaled(hf.data, hs.data, 1e-9, `${c.name}: feature vs sample HVP`);
      // The full Hessian applied to dU's symmetric entries is the same product.
      const H = await f.energyHessian(c.U);
      const Href = await energyHessian(c.train, c.y, c.T, c.U);
      assertScaled(H.data, Href.data, 1e-9, `${c.name}: feature-space Hessian vs reference`);
      assertScaled((await s.energyHessian(c.U)).data, Href.data, 1e-9, `${c.name}: sample-space Hessian vs reference`);
    });

    it('predictor mean and variance (also with a silenced head) agree with dense formulas', async () => {
      const c = await pc;
      const [s, f] = await both(c);
      for (const [label, U] of points(c)) {
        const ref = densePredict(c, U);
        for (const ev of [s, f]) {
          const pr = await ev.predict(c.test, U);
          assertScaled(pr.mean, ref.mean, 1e-9, `${c.name}, ${label}, ${ev.space}: mean`);
          assertScaled(pr.variance, ref.variance, 1e-9, `${c.name}, ${label}, ${ev.space}: variance`, Math.max(...ref.variance.map(Math.abs)));
        }
        // after a gradient (the sample space then predicts from the cached L⁻¹Φ)
        await s.evaluate(U, true);
        assertScaled((await s.predict(c.test, U)).variance, ref.variance, 1e-9, `${c.name}, ${label}: sample variance from L⁻¹Φ`);
      }
    });

    it('kernel-PC overlap agrees with the P × P decomposition', async () => {
      const c = await pc;
      const P = c.train.count;
      const rank = Math.min(P, c.train.features * c.train.paths);
      const k = Math.min(30, P);
      const ref = await kernelPcOverlap(c.train, c.y, c.U, k);
      for (const ev of await both(c)) {
        const got = await ev.kernelPcOverlap(c.U, k);
        const what = `${c.name}, ${ev.space}`;
        assert.equal(got.eigenvalues.length, k);
        const within = Math.min(k, rank);
        // Only simple eigenvalues within the rank have unique overlaps; compare cumulative sums there.
        assertScaled(got.eigenvalues.slice(0, within), ref.eigenvalues.slice(0, within), 1e-9, `${what}: eigenvalues`);
        assertClose(got.cumulative.slice(0, within), ref.cumulative.slice(0, within), 0, 1e-9, `${what}: cumulative overlap`);
        assert.ok(Math.abs(got.cumulative[k - 1] - ref.cumulative[k - 1]) < 1e-9 || k > rank, `${what}: total overlap`);
      }
    });
  }

  it('U_1 = 0 (every path silenced): E = P ln T_B + |y|²/T_B, a zero predictor, a zero kernel', async () => {
    const c = await cases[0];
    const Q = c.train.paths;
    const zero = { rows: Q, cols: Q, data: new Float64Array(Q * Q) };
    let yy = 0;
    for (const v of c.y) yy += v * v;
    for (const ev of await both(c)) {
      const r = await ev.evaluate(zero, true);
      assertClose(r.value, c.train.count * Math.log(c.T) + yy / c.T, 1e-12, 0, `${ev.space}: energy`);
      const pr = await ev.predict(c.test, zero);
      assert.deepEqual(
        [...pr.mean, ...pr.variance].every((v) => v === 0),
        true,
        `${ev.space}: predictor`,
      );
      const pc = await ev.kernelPcOverlap(zero, 3);
      assertClose(pc.eigenvalues, [0, 0, 0], 0, 1e-15, `${ev.space}: eigenvalues`);
      // the eigenbasis of K_U = 0 is arbitrary; the feature space takes one vector along y
      if (ev.space === 'feature') assertClose(pc.overlap, [1, 0, 0], 1e-12, 0, 'feature: overlap');
    }
  });

  // Only the kernel's diagonal blocks are scanned for NaN/∞ (a non-finite feature of row r makes K_U[r, r] non-finite,
  // and by Cauchy–Schwarz an off-diagonal entry overflows only with a diagonal one); anything else would still meet a
  // NaN or −∞ pivot in row r. Never a number.
  for (const [where, row, value] of [
    ['in the first diagonal block', 5, Number.NaN],
    ['below the first diagonal block (row 300 of 400)', 300, Number.POSITIVE_INFINITY],
    ['below the first diagonal block (row 200 of 400)', 200, Number.NaN],
    ['that overflows the kernel (row 390 of 400)', 390, 1e200],
  ] as const) {
    it(`a non-finite or overflowing path feature ${where} is refused with one line naming its row`, async () => {
      const p = await smallProblem(3, [2, 2], { P: 400, Pt: 5, N0: 3, T: 4, temperature: 0.05 });
      const data = p.train.data.slice();
      data[row * p.train.features * p.train.paths + 1] = value;
      const ev = await createEnergyEvaluator({ ...p.train, data }, p.y, 0.05, 'sample');
      const U = randomSpd(new Random(4), p.train.paths);
      await assert.rejects(ev.evaluate(U, true), (e: unknown) => {
        const m = /^training kernel K_U has a non-finite entry at \((\d+), (\d+)\)$/.exec(String((e as Error).message));
        assert.ok(m && (Number(m[1]) === row || Number(m[2]) === row), String(e));
        return true;
      });
    });
  }

  it('psdFactor reproduces positive semi-definite matrices and drops zero rows', () => {
    const U = randomSpd(new Random(2), 5);
    const S = silenceHead(U, [5], 0, 2);
    for (const M of [U, S]) {
      const F = psdFactor(M);
      const FF = new Float64Array(25);
      for (let a = 0; a < 5; a++) for (let b = 0; b < 5; b++) for (let k = 0; k < F.cols; k++) FF[a * 5 + b] += F.data[a * F.cols + k] * F.data[b * F.cols + k];
      assertScaled(FF, M.data, 1e-14, 'F Fᵀ');
    }
    assert.equal(psdFactor(S).cols, 4);
    assert.throws(() => psdFactor({ rows: 2, cols: 2, data: Float64Array.from([1, 2, 2, 1]) }), /not positive semi-definite/);
  });

  it('chooses the feature space for P ≫ D and the sample space for P ≤ D', () => {
    assert.equal(chooseEnergySpace(20000, 50, 4).space, 'feature');
    assert.equal(chooseEnergySpace(2000, 200, 16).space, 'sample');
    assert.equal(chooseEnergySpace(100, 231, 4).space, 'sample');
    assert.equal(chooseEnergySpace(2000, 200, 16, 'feature').space, 'feature');
    // memory decides when the cheaper space does not fit
    assert.equal(chooseEnergySpace(5000, 1000, 4).space, 'feature');
    assert.equal(chooseEnergySpace(5000, 1000, 4, 'auto', 700e6).space, 'sample');
    // predictions after a sample-space solve: G once beats a P × P factorization per head for P 2000, D 3200 …
    const heads16 = [16, ...Array(8).fill(12)];
    assert.equal(spaceForPredictions(2000, 1000, 200, 16, heads16, 'sample'), 'feature');
    // … but not for the Markov task (P 100, D 924), nor without the memory for D × D
    assert.equal(spaceForPredictions(100, 1000, 231, 4, [4, 2, 2, 2, 2], 'sample'), 'sample');
    assert.equal(spaceForPredictions(2000, 1000, 200, 16, heads16, 'sample', 100e6), 'sample');
    assert.equal(spaceForPredictions(2000, 1000, 200, 16, heads16, 'feature'), 'feature');
  });
});
