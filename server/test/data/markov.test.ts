import { test } from 'node:test';
import assert from 'node:assert/strict';
import { markovAttention, markovSequences, markovTask, randomW, sameTokenW, uniformW } from '../../src/data/markov';
import { validateTaskData } from '../../src/data/load';
import { Random } from '../../src/util/random';
import type { SequenceBatch, WLayer } from '../../src/data/types';

const n = 200; // visible features
const S = 30; // Markov steps
const N0 = 231;
const T = 31;
const beta = 10;

/** Attention A[s,t] = softmax over keys s of x_sᵀ W x_t for sequence p (docs/theory.md §a), [T, T]. */
function attention(W: Float64Array, b: SequenceBatch, p: number): Float64Array {
  const D = b.features;
  const L = b.tokens;
  const x = (i: number, t: number) => b.data[(p * D + i) * L + t];
  const Wx = new Float64Array(D * L); // (W x)[i, t]
  for (let i = 0; i < D; i++)
    for (let j = 0; j < D; j++) {
      const w = W[i * D + j];
      if (w !== 0) for (let t = 0; t < L; t++) Wx[i * L + t] += w * x(j, t);
    }
  const score = new Float64Array(L * L);
  for (let s = 0; s < L; s++) for (let t = 0; t < L; t++) for (let i = 0; i < D; i++) score[s * L + t] += x(i, s) * Wx[i * L + t];
  const A = new Float64Array(L * L);
  for (let t = 0; t < L; t++) {
    let m = -Infinity;
    for (let s = 0; s < L; s++) m = Math.max(m, score[s * L + t]);
    let z = 0;
    for (let s = 0; s < L; s++) z += Math.exp(score[s * L + t] - m);
    for (let s = 0; s < L; s++) A[s * L + t] = Math.exp(score[s * L + t] - m) / z;
  }
  return Object.assign(A, { score });
}

const head = (layer: WLayer, h: number) => layer.W.subarray(h * N0 * N0, (h + 1) * N0 * N0);
/** q·x_t with q = (v+ − v−)/n: ±1 for a clean token. */
const qdot = (b: SequenceBatch, p: number, t: number) => {
  let s = 0;
  for (let i = 0; i < n; i++) s += (i < n / 2 ? Math.SQRT2 : -Math.SQRT2) * b.data[(p * N0 + i) * T + t];
  return s / n;
};

test('4-path task: shapes, labels, names, readout, heads [2, 2]', () => {
  const task = markovTask({ variant: '4paths', seed: 7 });
  validateTaskData(task);
  assert.deepEqual([task.train.count, task.train.features, task.train.tokens], [100, N0, T]);
  assert.deepEqual([task.test.count, task.test.features, task.test.tokens], [1000, N0, T]);
  assert.deepEqual(Array.from(task.yTrain), [...Array(50).fill(1), ...Array(50).fill(-1)]);
  assert.deepEqual(Array.from(task.yTest), [...Array(500).fill(1), ...Array(500).fill(-1)]);
  assert.equal(task.readout, 'last');
  assert.deepEqual(task.pathNames, ['g', 'a1', 'd', 'a2']);
  assert.deepEqual(task.headNames, [
    ['same_token', 'random'],
    ['uniform', 'random'],
  ]);
  assert.deepEqual(
    task.attention!.map((l) => [l.kind, l.heads]),
    [
      ['w', 2],
      ['w', 2],
    ],
  );
  const [l1, l2] = task.attention as WLayer[];
  assert.deepEqual(head(l1, 0), sameTokenW(n, S, beta));
  assert.deepEqual(head(l2, 0), uniformW(n, S, beta));
  assert.equal(l1.W.length, 2 * N0 * N0);
});

test('2-path task: heads [2, 1] with a W = 0 head, out-of-plane noise 5, paths g and d', () => {
  const task = markovTask({ variant: '2paths', seed: 7, P: 20, P_test: 40 });
  assert.deepEqual(task.pathNames, ['g', 'd']);
  assert.deepEqual(
    task.attention!.map((l) => l.heads),
    [2, 1],
  );
  const [l1, l2] = task.attention as WLayer[];
  assert.ok(
    head(l1, 1).every((v) => Object.is(v, 0)),
    'second layer-1 head is exactly W = 0',
  );
  assert.deepEqual(l2.W, uniformW(n, S, beta));
  // W = 0 and the uniform head give exactly uniform attention, on noisy input too.
  for (const W of [head(l1, 1), l2.W]) {
    const A = attention(W, task.train, 3);
    for (const a of A) assert.equal(a, 1 / T);
  }
  assert.match(task.description, /out-of-plane=5/);
});

test('BOS column is zero in the features and every token carries its one-hot position', () => {
  const { train, test } = markovTask({ variant: '4paths', seed: 3, P_test: 10 });
  for (const b of [train, test]) {
    for (let p = 0; p < b.count; p++) {
      for (let i = 0; i < n; i++) assert.equal(b.data[(p * N0 + i) * T + 0], 0);
      for (let k = 0; k <= S; k++) for (let t = 0; t < T; t++) assert.equal(b.data[(p * N0 + n + k) * T + t], k === t ? 1 : 0);
    }
  }
});

test('Markov statistics: stay ≈ 0.7 for label +1, ≈ 0.3 for −1; first state uniform; states readable from q·x', () => {
  const noise = { parallel: 1, perpendicular: 1, outOfPlane: 1 };
  const { batch, y, states } = markovSequences(new Random(11), { count: 2000, steps: S, visible: n, noise });
  let stay = [0, 0];
  let moves = [0, 0];
  let firstPlus = 0;
  for (let p = 0; p < 2000; p++) {
    const c = y[p] === 1 ? 0 : 1;
    if (states[p * S] === 1) firstPlus++;
    for (let j = 1; j < S; j++) {
      moves[c]++;
      if (states[p * S + j] === states[p * S + j - 1]) stay[c]++;
    }
  }
  // 29 000 transitions per class: standard error ≈ 0.003.
  assert.ok(Math.abs(stay[0] / moves[0] - 0.7) < 0.015, `stay(+1) = ${stay[0] / moves[0]}`);
  assert.ok(Math.abs(stay[1] / moves[1] - 0.3) < 0.015, `stay(−1) = ${stay[1] / moves[1]}`);
  assert.ok(Math.abs(firstPlus / 2000 - 0.5) < 0.04, `first state +1 fraction ${firstPlus / 2000}`);
  // q·x_t = state ± N(0, 0.1²): the sign recovers every hidden state.
  for (let p = 0; p < 2000; p += 7) for (let j = 0; j < S; j++) assert.equal(Math.sign(qdot(batch, p, j + 1)), states[p * S + j]);
  stay = [0, 0];
  moves = [0, 0];
  // The same on the task's own test set, through q·x only.
  const task = markovTask({ variant: '4paths', seed: 5 });
  for (let p = 0; p < 1000; p++) {
    const c = task.yTest[p] === 1 ? 0 : 1;
    for (let t = 2; t < T; t++) {
      moves[c]++;
      if (Math.sign(qdot(task.test, p, t)) === Math.sign(qdot(task.test, p, t - 1))) stay[c]++;
    }
  }
  assert.ok(Math.abs(stay[0] / moves[0] - 0.7) < 0.02, `test stay(+1) = ${stay[0] / moves[0]}`);
  assert.ok(Math.abs(stay[1] / moves[1] - 0.3) < 0.02, `test stay(−1) = ${stay[1] / moves[1]}`);
});

test('noise: variance 1 along e∥ and e⊥, out-of-plane variance per direction = strength² (1 or 25)', () => {
  for (const [variant, out] of [
    ['4paths', 1],
    ['2paths', 5],
  ] as const) {
    const { batch, states } = markovSequences(new Random(21), { count: 400, steps: S, visible: n, noise: { parallel: 1, perpendicular: 1, outOfPlane: out } });
    let par = 0;
    let perp = 0;
    let rest = 0;
    let count = 0;
    const r = new Float64Array(n);
    for (let p = 0; p < 400; p++) {
      for (let j = 0; j < S; j++) {
        const plus = states[p * S + j] === 1;
        let a = 0;
        let b = 0;
        let sq = 0;
        for (let i = 0; i < n; i++) {
          r[i] = batch.data[(p * N0 + i) * T + j + 1] - (i < n / 2 === plus ? Math.SQRT2 : 0);
          a += r[i] / Math.sqrt(n);
          b += (i < n / 2 ? r[i] : -r[i]) / Math.sqrt(n);
          sq += r[i] * r[i];
        }
        par += a * a;
        perp += b * b;
        rest += sq - a * a - b * b;
        count++;
      }
    }
    // 12 000 tokens: relative standard error ≈ 1.3% (1-D) and ≈ 0.1% (198-D).
    assert.ok(Math.abs(par / count - 1) < 0.06, `${variant} e∥ variance ${par / count}`);
    assert.ok(Math.abs(perp / count - 1) < 0.06, `${variant} e⊥ variance ${perp / count}`);
    assert.ok(Math.abs(rest / count / (n - 2) / (out * out) - 1) < 0.01, `${variant} out-of-plane variance ${rest / count / (n - 2)}`);
  }
});

test('same_token W: exact block structure (feature q qᵀ, shift [s, s+1], BOS row 1.5, cross blocks 0) × β', () => {
  const W = sameTokenW(n, S, beta);
  const q = (i: number) => (i < n / 2 ? Math.SQRT2 : -Math.SQRT2) / n;
  for (let i = 0; i < N0; i++)
    for (let j = 0; j < N0; j++) {
      const w = W[i * N0 + j];
      if (i < n && j < n) assert.equal(w, beta * q(i) * q(j));
      else if (i < n || j < n) assert.equal(w, 0, `cross block [${i}, ${j}]`);
      else {
        const s = i - n;
        const t = j - n;
        const want = s === 0 ? (t >= 1 ? 1.5 * beta : 0) : t === s + 1 ? beta : 0;
        assert.equal(w, want, `position block [${s}, ${t}]`);
      }
    }
  // q·v± = ±1.
  let qv = 0;
  for (let i = 0; i < n / 2; i++) qv += q(i) * Math.SQRT2;
  assert.ok(Math.abs(qv - 1) < 1e-14);
});

test('same_token head on clean input: query t reads key t−1 when the states match, BOS otherwise', () => {
  const clean = { parallel: 0, perpendicular: 0, outOfPlane: 0 };
  const { batch, states } = markovSequences(new Random(4), { count: 6, steps: S, visible: n, noise: clean });
  const W = sameTokenW(n, S, beta);
  let matches = 0;
  let mismatches = 0;
  for (let p = 0; p < 6; p++) {
    const A = attention(W, batch, p);
    const score = (A as unknown as { score: Float64Array }).score;
    for (let t = 1; t < T; t++) {
      let best = 0;
      for (let s = 1; s < T; s++) if (A[s * T + t] > A[best * T + t]) best = s;
      assert.ok(Math.abs(score[0 * T + t] - 15) < 1e-12, 'BOS score 1.5·β');
      if (t >= 2 && states[p * S + t - 1] === states[p * S + t - 2]) {
        matches++;
        assert.equal(best, t - 1);
        assert.ok(A[(t - 1) * T + t] > 0.99, `A[${t - 1},${t}] = ${A[(t - 1) * T + t]}`);
        assert.ok(Math.abs(score[(t - 1) * T + t] - 20) < 1e-12);
      } else {
        mismatches++;
        assert.equal(best, 0, `query ${t} of sequence ${p} should read BOS`);
        assert.ok(A[0 * T + t] > 0.8, `A[0,${t}] = ${A[0 * T + t]}`);
        if (t >= 2) assert.ok(Math.abs(score[(t - 1) * T + t]) < 1e-12);
      }
      let colSum = 0;
      for (let s = 0; s < T; s++) colSum += A[s * T + t];
      assert.ok(Math.abs(colSum - 1) < 1e-12);
    }
  }
  assert.ok(matches > 20 && mismatches > 20, `both cases exercised (${matches}, ${mismatches})`);
});

test('random head: block scales p·β/n, p·β, p·β/√n; perturbation 0 draws nothing and gives W = 0', () => {
  const rng = new Random(99);
  const W = randomW(rng, n, S, beta, 1);
  const rms = (f: (i: number, j: number) => boolean) => {
    let s = 0;
    let c = 0;
    for (let i = 0; i < N0; i++)
      for (let j = 0; j < N0; j++)
        if (f(i, j)) {
          s += W[i * N0 + j] ** 2;
          c++;
        }
    return Math.sqrt(s / c);
  };
  assert.ok(Math.abs(rms((i, j) => i < n && j < n) / (beta / n) - 1) < 0.03);
  assert.ok(Math.abs(rms((i, j) => i >= n && j >= n) / beta - 1) < 0.1);
  assert.ok(Math.abs(rms((i, j) => i < n !== j < n) / (beta / Math.sqrt(n)) - 1) < 0.05);
  const before = new Random(5);
  const after = new Random(5);
  assert.ok(randomW(after, n, S, beta, 0).every((v) => Object.is(v, 0)));
  assert.equal(after.uniform(), before.uniform(), 'no draws for perturbation 0');
  // A p = 1 random head does not attend uniformly.
  const { train } = markovTask({ variant: '4paths', seed: 1, P: 2, P_test: 2 });
  const A = attention(W, train, 0);
  assert.ok(Math.max(...A) > 0.2);
});

test('seeds: deterministic; train, test and heads are separate streams; options validated', () => {
  const a = markovTask({ variant: '4paths', seed: 12, P: 10, P_test: 20 });
  const b = markovTask({ variant: '4paths', seed: 12, P: 10, P_test: 20 });
  assert.deepEqual(a, b);
  const c = markovTask({ variant: '4paths', seed: 13, P: 10, P_test: 20 });
  assert.notDeepEqual(a.train.data, c.train.data);
  assert.notDeepEqual(a.attention, c.attention);
  // Changing P_test leaves the train set and the heads alone.
  const d = markovTask({ variant: '4paths', seed: 12, P: 10, P_test: 40 });
  assert.deepEqual(d.train, a.train);
  assert.deepEqual(d.attention, a.attention);
  assert.notDeepEqual(a.train.data, a.test.data.subarray(0, a.train.data.length));
  // Smaller instances keep the layout: n + S + 1 features, S + 1 tokens.
  const small = markovTask({ variant: '2paths', seed: 1, P: 4, P_test: 2, T: 5, N0: 10 });
  assert.deepEqual([small.train.features, small.train.tokens], [16, 6]);
  assert.deepEqual(
    markovAttention('2paths', new Random(1), 10, 5, 10).layers.map((l) => l.W.length),
    [2 * 256, 256],
  );
  assert.throws(() => markovTask({ variant: '4paths', seed: 1, P: 7 }), /P = 7; it must be a positive even integer/);
  assert.throws(() => markovTask({ variant: '4paths', seed: 1, P_test: 0 }), /P_test = 0/);
  assert.throws(() => markovTask({ variant: '4paths', seed: 1, N0: 7 }), /N0 = 7 visible features; need an even integer ≥ 4/);
  assert.throws(() => markovTask({ variant: '4paths', seed: 1, T: 1 }), /T = 1 Markov steps/);
});
