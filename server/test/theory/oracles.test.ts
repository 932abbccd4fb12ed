/**
 * The test oracles of docs/theory.md §h, as property tests on seeded random problems.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { smallProblem, randomSpd } from '../helpers/problem';
import { assertClose } from '../helpers/close';
import { loadGolden } from '../helpers/golden';
import { Random } from '../../src/util/random';
import { action, energy, entropy } from '../../src/theory/action';
import { minimizeAction } from '../../src/theory/solver';
import { closedFormUa, gpOrderParameters, gpScale, orderParameterSizes, TheorySettings } from '../../src/theory/orderParams';
import { renormalizedKernel, pathPairKernel } from '../../src/theory/kernels';
import { predict } from '../../src/theory/predictor';
import { symmetricEigen } from '../../src/linalg/eigen';
import { spdInverseSync, choleskySync } from '../../src/linalg/cholesky';
import { Matrix, identity, zeros, trace } from '../../src/linalg/matrix';
import { networkOutput, orderParametersFromWeights, ValueWeights } from '../../src/theory/weights';
import { pathCount, pathHeads, pathFeatures, pathTokenWeights, pathIndex } from '../../src/theory/paths';
import { allLayerAttention, readoutWeights } from '../../src/theory/attention';

describe('h.1 GP limit', () => {
  it('U_a at the GP value of U_L equals σa² exactly, for any widths and variances', () => {
    const rng = new Random(1);
    for (let k = 0; k < 20; k++) {
      const heads = [1 + rng.int(3), 1 + rng.int(3)];
      const s: TheorySettings = {
        heads,
        widths: [1 + rng.int(50), 1 + rng.int(50), 1 + rng.int(50)],
        variances: [0.5 + rng.uniform(), 0.5 + rng.uniform(), 0.5 + rng.uniform(), 0.5 + rng.uniform()],
        temperature: 0.1,
      };
      const UL = gpOrderParameters(s)[1];
      assertClose(closedFormUa(s, trace(UL)), s.variances[3], 1e-14, 0, 'U_a');
    }
  });
  it('at the GP point the entropy gradient vanishes for l ≥ 2, and for U_1 only the energy pulls', async () => {
    const p = await smallProblem(3, [2, 3, 2], { widths: [5, 8, 6, 9], variances: [1.3, 0.7, 1.1, 0.9, 1.2] });
    const ent = entropy(p.settings, gpOrderParameters(p.settings), true);
    for (const G of ent.grads!) assertClose(G.data, new Float64Array(G.data.length), 0, 1e-12, 'entropy grad');
  });
  it('as N → ∞ at fixed P, the minimizer tends to the GP order parameters', async () => {
    const p = await smallProblem(4, [2, 2], { widths: [1e7, 1e7, 1e7] });
    const sol = await minimizeAction(p.settings, p.train, p.y, { tolerance: 1e-10 });
    const gp = gpOrderParameters(p.settings);
    sol.Us.forEach((U, l) => assertClose(U.data, gp[l].data, 0, 1e-4, `U_${l + 1}`));
    assertClose(sol.action.Ua, p.settings.variances[3], 1e-5, 0, 'U_a');
  });
});

/** Root of the scalar BKR equation for H = L = 1, found by bisection on the eigenvalues of K₀ = C₁₁. */
function scalarOracle(s: TheorySettings, C: Matrix, y: Float64Array): number {
  const { values, vectors } = symmetricEigen(C);
  const P = y.length;
  const r = Array.from(values, (_, i) => {
    let v = 0;
    for (let m = 0; m < P; m++) v += vectors.data[m * P + i] * y[m];
    return v * v;
  });
  const N1 = s.widths[0];
  const s1 = s.variances[1];
  const T = s.temperature;
  const F = (u: number) => {
    let f = N1 / (s1 * closedFormUa(s, u)) - N1 / u;
    for (let i = 0; i < P; i++) {
      const d = u * values[i] + T;
      f += values[i] / d - (r[i] * values[i]) / (d * d);
    }
    return f;
  };
  let lo = 1e-8;
  let hi = 1e3;
  assert.ok(F(lo) < 0 && F(hi) > 0, 'bracket');
  for (let k = 0; k < 200; k++) {
    const mid = 0.5 * (lo + hi);
    if (F(mid) < 0) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

describe('h.2 single head, single layer: scalar BKR root', () => {
  it('golden case 4: the independent root equals scalar_oracle_u and the solver', async () => {
    const g = loadGolden('case4_L1_H1_scalar_oracle.json');
    const c = pathTokenWeights(await allLayerAttention(g.train, g.attention, 'train'), g.readout);
    const train = { count: g.train.count, features: g.train.features, paths: 1, data: pathFeatures(g.train, c, 1, g.settings.variances[0]) };
    const C = await renormalizedKernel(train, train, identity(1));
    const u = scalarOracle(g.settings, C, g.yTrain);
    assertClose(u, g.expected.scalar_oracle_u, 1e-10, 0, 'oracle');
    const sol = await minimizeAction(g.settings, train, g.yTrain);
    assertClose(sol.Us[0].data[0], u, 1e-9, 0, 'solver');
  });
  for (const seed of [11, 12, 13]) {
    it(`random problem ${seed}`, async () => {
      const p = await smallProblem(seed, [1], { widths: [4 + seed, 9], variances: [1.2, 0.8, 1.5], temperature: 0.03 });
      const C = await renormalizedKernel(p.train, p.train, identity(1));
      const u = scalarOracle(p.settings, C, p.y);
      const sol = await minimizeAction(p.settings, p.train, p.y);
      assertClose(sol.Us[0].data[0], u, 1e-8, 0, 'u');
    });
  }
});

describe('h.3 L = 1 fixed point', () => {
  it('U_1 = [I/(σ1² U_a) + (1/N_1) Σ B C]⁻¹ at the minimizer', async () => {
    const p = await smallProblem(21, [3], { widths: [6, 11], variances: [1, 1.4, 0.6] });
    const sol = await minimizeAction(p.settings, p.train, p.y);
    assert.ok(sol.converged);
    const en = await energy(p.train, p.y, p.settings.temperature, sol.Us[0], true);
    const n = 3;
    const M = zeros(n, n);
    for (let i = 0; i < n * n; i++)
      M.data[i] = (i % (n + 1) === 0 ? 1 / (p.settings.variances[1] * sol.action.Ua) : 0) + en.grad!.data[i] / p.settings.widths[0];
    assertClose(spdInverseSync(M).inv.data, sol.Us[0].data, 1e-8, 1e-10, 'fixed point');
  });
});

describe('h.4 head-permutation equivariance', () => {
  it('permuting the heads of a layer permutes U_1 and U_2 the same way', async () => {
    const heads = [2, 3];
    const p = await smallProblem(31, heads);
    const perm = [2, 0, 1]; // new head h of layer 2 is old head perm[h]
    const layers = p.layers.map((l, i) => {
      if (i !== 1 || l.kind !== 'qk') return l;
      const GN = l.G * p.X.features;
      const Q = new Float64Array(l.Q.length);
      const K = new Float64Array(l.K.length);
      perm.forEach((old, h) => {
        Q.set(l.Q.subarray(old * GN, (old + 1) * GN), h * GN);
        K.set(l.K.subarray(old * GN, (old + 1) * GN), h * GN);
      });
      return { ...l, Q, K };
    });
    const c = pathTokenWeights(await allLayerAttention(p.X, layers, 'train'), 'last');
    const train2 = { ...p.train, data: pathFeatures(p.X, c, 6, 1) };
    const a = await minimizeAction(p.settings, p.train, p.y);
    const b = await minimizeAction(p.settings, train2, p.y);
    const mapPath = (i: number) => {
      const [h1, h2] = pathHeads(i, heads);
      return pathIndex([h1, perm[h2]], heads);
    };
    for (let i = 0; i < 6; i++)
      for (let j = 0; j < 6; j++) assertClose(b.Us[0].data[i * 6 + j], a.Us[0].data[mapPath(i) * 6 + mapPath(j)], 1e-7, 1e-9, `U_1[${i},${j}]`);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) assertClose(b.Us[1].data[i * 3 + j], a.Us[1].data[perm[i] * 3 + perm[j]], 1e-7, 1e-9, `U_2[${i},${j}]`);
    assertClose(b.action.value, a.action.value, 1e-12, 0, 'S');
  });
});

function priorWeights(rng: Random, s: TheorySettings): ValueWeights {
  const L = s.heads.length;
  const N = s.widths;
  const V = s.heads.map((H, l) => Array.from({ length: H }, () => rng.normals(N[l + 1] * N[l], Math.sqrt(s.variances[l + 1]))));
  return { widths: N, V, a: rng.normals(N[L], Math.sqrt(s.variances[L + 1])) };
}

describe('h.5 prior mean of the weight overlaps', () => {
  it('the prior average of U_l (from sampled value weights) equals the GP values', () => {
    const s: TheorySettings = { heads: [2, 2], widths: [6, 5, 4], variances: [1, 1.5, 0.8, 1.2], temperature: 0.1 };
    const rng = new Random(5);
    const M = 4000;
    const sizes = orderParameterSizes(s.heads);
    const sum = sizes.map((n) => new Float64Array(n * n));
    let ua = 0;
    for (let k = 0; k < M; k++) {
      const { Us, Ua } = orderParametersFromWeights(priorWeights(rng, s));
      Us.forEach((U, l) => U.data.forEach((v, i) => (sum[l][i] += v / M)));
      ua += Ua / M;
    }
    // Monte-Carlo error: entries are O(gp scale) with relative spread O(1/√(N M)) — 0.06 absolute is > 5σ here.
    sum.forEach((S, l) => assertClose(S, gpOrderParameters(s)[l].data, 0, 0.06 * gpScale(s, l + 1), `E[U_${l + 1}]`));
    assertClose(ua, s.variances[3], 0.03, 0, 'E[U_a]');
  });
});

describe('h.6 exact V⁰ marginalization', () => {
  it('Cov over V⁰ of the network output equals K_U with U from the other weights (exact, by linearity)', async () => {
    const p = await smallProblem(41, [2, 2], { P: 3, N0: 4, T: 3, widths: [5, 4, 3], variances: [1.7, 1.2, 0.9, 1.1], readout: 'mean' });
    const s = p.settings;
    const rng = new Random(7);
    const w = priorWeights(rng, s);
    const { Us } = orderParametersFromWeights(w);
    const K = await renormalizedKernel(p.train, p.train, Us[0]);
    // f is linear in V⁰, so Cov(f(x), f(x')) = σ0² Σ_ij ∂f/∂V⁰_ij(x) ∂f/∂V⁰_ij(x').
    const N1 = s.widths[0];
    const N0 = p.X.features;
    const T = p.X.tokens;
    const grads = Array.from({ length: p.X.count }, (_, m) => {
      const x = p.X.data.subarray(m * N0 * T, (m + 1) * N0 * T);
      const att = p.att.map((A) => A.data.subarray(m * A.heads * T * T, (m + 1) * A.heads * T * T));
      const last = p.att[p.att.length - 1];
      const r = readoutWeights(last, 'mean').subarray(m * last.heads * T, (m + 1) * last.heads * T);
      const g = new Float64Array(N1 * N0);
      for (let k = 0; k < N1 * N0; k++) {
        const V0 = new Float64Array(N1 * N0);
        V0[k] = 1;
        g[k] = networkOutput(x, N0, T, att, r, V0, w);
      }
      return g;
    });
    for (let a = 0; a < 3; a++)
      for (let b = 0; b < 3; b++) {
        let c = 0;
        for (let k = 0; k < N1 * N0; k++) c += grads[a][k] * grads[b][k];
        assertClose(s.variances[0] * c, K.data[a * 3 + b], 1e-12, 1e-14, `K(${a},${b})`);
      }
  });
  it('and by Monte Carlo over V⁰ draws', async () => {
    const p = await smallProblem(42, [2, 1], { P: 2, N0: 3, T: 3, widths: [4, 3, 3], variances: [1, 1, 1, 1] });
    const rng = new Random(8);
    const w = priorWeights(rng, p.settings);
    const K = await renormalizedKernel(p.train, p.train, orderParametersFromWeights(w).Us[0]);
    const N0 = 3;
    const T = 3;
    const M = 40000;
    const acc = [0, 0, 0];
    for (let k = 0; k < M; k++) {
      const V0 = rng.normals(4 * N0);
      const f = [0, 1].map((m) => {
        const att = p.att.map((A) => A.data.subarray(m * A.heads * T * T, (m + 1) * A.heads * T * T));
        const last = p.att[1];
        const r = readoutWeights(last, 'last').subarray(m * last.heads * T, (m + 1) * last.heads * T);
        return networkOutput(p.X.data.subarray(m * N0 * T, (m + 1) * N0 * T), N0, T, att, r, V0, w);
      });
      acc[0] += (f[0] * f[0]) / M;
      acc[1] += (f[0] * f[1]) / M;
      acc[2] += (f[1] * f[1]) / M;
    }
    // Standard error of a second moment with M = 40000 draws is about √(2/M) ≈ 0.7% of the scale; allow 5%.
    const scale = Math.max(K.data[0], K.data[3]);
    assertClose(acc[0], K.data[0], 0, 0.05 * scale, 'K00');
    assertClose(acc[1], K.data[1], 0, 0.05 * scale, 'K01');
    assertClose(acc[2], K.data[3], 0, 0.05 * scale, 'K11');
  });
});

describe('h.7 structural checks', () => {
  it('attention columns and path token weights sum to 1; U_l PD; K_U PSD; predictor variance ≥ 0', async () => {
    for (const [seed, heads] of [
      [51, [2, 2]],
      [52, [3, 1, 2]],
      [53, [4]],
    ] as [number, number[]][]) {
      const p = await smallProblem(seed, heads, { P: 20, T: 5 });
      const T = 5;
      for (const A of p.att)
        for (let b = 0; b < A.count * A.heads; b++)
          for (let t = 0; t < T; t++) {
            let s = 0;
            for (let k = 0; k < T; k++) s += A.data[b * T * T + k * T + t];
            assertClose(s, 1, 1e-14, 0, 'column sum');
          }
      const Q = pathCount(heads);
      for (let b = 0; b < 20 * Q; b++) {
        let s = 0;
        for (let t = 0; t < T; t++) s += p.c[b * T + t];
        assertClose(s, 1, 1e-13, 0, 'path weight sum');
      }
      const sol = await minimizeAction(p.settings, p.train, p.y);
      assert.ok(sol.converged, sol.stopReason);
      for (const U of sol.Us) choleskySync(U);
      assert.ok(sol.action.Ua > 0);
      const K = await renormalizedKernel(p.train, p.train, sol.Us[0]);
      const ev = symmetricEigen(K).values;
      assert.ok(ev[0] >= -1e-12 * ev[ev.length - 1], `K_U min eigenvalue ${ev[0]}`);
      const pred = await predict(p.train, p.test, p.y, sol.Us[0], p.settings.temperature);
      for (const v of pred.variance) assert.ok(v >= -1e-12, `variance ${v}`);
      // a path-pair kernel of an input with itself is PSD too
      const C = pathPairKernel(p.train, 0, p.train, 0);
      assert.ok(symmetricEigen(C).values[0] >= -1e-12);
    }
  });
});

describe('h.8 finite differences', () => {
  for (const heads of [[3], [2, 2], [2, 1, 2]]) {
    it(`analytic gradient matches central differences of S (heads [${heads}])`, async () => {
      const p = await smallProblem(60 + heads.length, heads, {
        widths: Array(heads.length + 1)
          .fill(0)
          .map((_, i) => 5 + 2 * i),
      });
      const rng = new Random(9);
      const Us = orderParameterSizes(heads).map((n) => randomSpd(rng, n));
      const r = await action(p.settings, p.train, p.y, Us, true);
      for (let l = 0; l < Us.length; l++) {
        const n = Us[l].rows;
        for (let i = 0; i < n; i++)
          for (let j = 0; j <= i; j++) {
            const h = 1e-5;
            const shift = async (d: number) => {
              const V = Us.map((U) => ({ ...U, data: U.data.slice() }));
              V[l].data[i * n + j] += d;
              if (i !== j) V[l].data[j * n + i] += d;
              return (await action(p.settings, p.train, p.y, V, false)).value;
            };
            const fd = ((await shift(h)) - (await shift(-h))) / (2 * h);
            const an = (i === j ? 1 : 2) * r.grads![l].data[i * n + j];
            assertClose(an, fd, 1e-7, 1e-7 * Math.abs(r.value) * 1e-3, `∂S/∂U_${l + 1}[${i},${j}]`);
          }
      }
    });
  }
});
