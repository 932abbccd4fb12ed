/**
 * The tfjs network (train/model.ts) against the independent float64 forward pass of docs/theory.md §a
 * (theory/attention.ts + theory/weights.ts networkOutput), for every readout, several depths and head counts, with
 * and without head removal; plus the parameter layouts and input checks.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { selectBackend } from '../../src/train/backend';
import {
  TfNetwork,
  checkShape,
  columnsToHeads,
  headsToColumns,
  initParams,
  parameterCount,
  removalGains,
  unitGains,
  type NetworkShape,
} from '../../src/train/model';
import { maxAbs, maxAbsDiff, oracleOutputs, smallMarkov } from './helpers';

const task = smallMarkov(12, 2, 3);
const base = { N0: task.train.features, T: task.train.tokens, G: 4 };

before(async () => {
  await selectBackend('auto');
});

describe('forward pass equals the float64 oracle (docs/theory.md §a)', () => {
  const cases: [string, NetworkShape][] = [
    ['L = 2, heads [2, 2], last', { ...base, heads: [2, 2], widths: [6, 5, 4], readout: 'last' }],
    ['L = 2, heads [3, 2], first', { ...base, heads: [3, 2], widths: [5, 6, 3], readout: 'first' }],
    ['L = 2, heads [2, 3], mean', { ...base, heads: [2, 3], widths: [4, 4, 7], readout: 'mean' }],
    ['L = 1, heads [3], last', { ...base, heads: [3], widths: [6, 5], readout: 'last' }],
    ['L = 3, heads [2, 1, 2], mean', { ...base, heads: [2, 1, 2], widths: [5, 4, 6, 3], readout: 'mean' }],
  ];
  for (const [name, shape] of cases) {
    it(name, async () => {
      const p = initParams(shape, 11);
      const net = new TfNetwork(p);
      try {
        const f = net.predict(task.train);
        const oracle = await oracleOutputs(p, task.train);
        assert.ok(maxAbs(oracle) > 0.1, 'outputs are not trivially small');
        const d = maxAbsDiff(f, oracle);
        assert.ok(d <= 2e-5 * Math.max(1, maxAbs(oracle)), `max |tfjs − oracle| = ${d}`);
      } finally {
        net.dispose();
      }
    });
  }
});

describe('single-head removal with rescaling', () => {
  it('equals the oracle with V^l_h zeroed and the other heads of the layer × √(H/(H−1))', async () => {
    const shape: NetworkShape = { ...base, heads: [3, 2], widths: [5, 6, 4], readout: 'last' };
    const p = initParams(shape, 5);
    const net = new TfNetwork(p);
    try {
      const full = net.predict(task.train);
      for (const [l, h] of [
        [0, 0],
        [0, 2],
        [1, 1],
      ]) {
        const g = removalGains(shape.heads, l, h);
        const H = shape.heads[l];
        assert.deepEqual(
          g[l].map((v) => +v.toFixed(12)),
          Array.from({ length: H }, (_, k) => (k === h ? 0 : +Math.sqrt(H / (H - 1)).toFixed(12))),
        );
        assert.deepEqual(g[1 - l], new Array(shape.heads[1 - l]).fill(1));
        // Direct computation: the oracle on weights where head h of layer l is zeroed and the others rescaled.
        const direct = await oracleOutputs(
          {
            ...p,
            V: p.V.map((layer, ll) => layer.map((Vh, hh) => (ll !== l ? Vh : hh === h ? Vh.map(() => 0) : Vh.map((v) => v * Math.sqrt(H / (H - 1)))))),
          },
          task.train,
        );
        const f = net.predict(task.train, g);
        assert.ok(maxAbsDiff(f, direct) <= 2e-5 * Math.max(1, maxAbs(direct)), `removal ${l}:${h}: ${maxAbsDiff(f, direct)}`);
        assert.ok(maxAbsDiff(f, full) > 1e-3, `removing ${l}:${h} changes the output`);
      }
      // Unit gains are the full network.
      assert.equal(maxAbsDiff(net.predict(task.train, unitGains(shape.heads)), full), 0);
    } finally {
      net.dispose();
    }
  });

  it('refuses layers with one head and heads that do not exist', () => {
    assert.throws(() => removalGains([2, 1], 1, 0), /single head/);
    assert.throws(() => removalGains([2, 2], 2, 0), /layer 2 does not exist/);
    assert.throws(() => removalGains([2, 2], 0, 2), /heads 0\.\.1, not 2/);
  });
});

describe('parameter layouts', () => {
  it('headsToColumns and columnsToHeads are inverse, column h·rows + r holding row r of head h', () => {
    const H = 3;
    const rows = 2;
    const cols = 4;
    const W = Array.from({ length: H }, (_, h) => Float64Array.from({ length: rows * cols }, (_, i) => 100 * h + i));
    const M = headsToColumns(W, H, rows, cols);
    // head 2, row 1, column 3 → entry [3, 2·2 + 1]
    assert.equal(M[3 * H * rows + 2 * rows + 1], 200 + 1 * cols + 3);
    assert.deepEqual(columnsToHeads(M, H, rows, cols), W);
  });

  it('params() returns the parameters the network was built from, and the count is right', () => {
    const shape: NetworkShape = { ...base, heads: [2, 3], widths: [5, 4, 3], readout: 'mean' };
    const p = initParams(shape, 2);
    const net = new TfNetwork(p);
    try {
      const q = net.params();
      assert.deepEqual(q.Q, p.Q);
      assert.deepEqual(q.K, p.K);
      assert.deepEqual(q.V0, p.V0);
      assert.deepEqual(q.V, p.V);
      assert.deepEqual(q.a, p.a);
      const n = net.variables().reduce((s, v) => s + v.size, 0);
      assert.equal(parameterCount(shape), n);
    } finally {
      net.dispose();
    }
  });

  it('initialization is seeded: same seed same weights, Q/K with variance 1/N0 and values with variance 1', () => {
    const shape: NetworkShape = { N0: 50, T: 4, G: 20, heads: [4], widths: [40, 30], readout: 'last' };
    const a = initParams(shape, 9);
    const b = initParams(shape, 9);
    const c = initParams(shape, 10);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.Q, c.Q);
    const variance = (x: Float64Array) => x.reduce((s, v) => s + v * v, 0) / x.length;
    assert.ok(Math.abs(variance(a.Q[0]) * 50 - 1) < 0.1, `Q variance × N0 = ${variance(a.Q[0]) * 50}`);
    assert.ok(Math.abs(variance(a.V0) - 1) < 0.1);
  });
});

describe('bad shapes and inputs', () => {
  it('names the offending field', () => {
    const ok: NetworkShape = { ...base, heads: [2, 2], widths: [4, 4, 4], readout: 'last' };
    assert.throws(() => checkShape({ ...ok, G: 0 }), /G = 0/);
    assert.throws(() => checkShape({ ...ok, heads: [] }), /at least one layer/);
    assert.throws(() => checkShape({ ...ok, heads: [2, 1.5] }), /H_2 = 1\.5/);
    assert.throws(() => checkShape({ ...ok, widths: [4, 4] }), /L \+ 1 = 3 entries/);
    assert.throws(() => checkShape({ ...ok, widths: [4, 4, -1] }), /N_a = -1/);
    assert.throws(() => checkShape({ ...ok, readout: 'max' as never }), /readout/);
    const p = initParams(ok, 1);
    assert.throws(() => new TfNetwork({ ...p, V0: p.V0.subarray(1) }), /V0 has .* expected \[4, 14\]/);
    assert.throws(() => new TfNetwork({ ...p, a: Float64Array.from([1, NaN, 0, 0]) }), /a holds NaN/);
  });

  it('refuses data of the wrong size', () => {
    const p = initParams({ ...base, heads: [2], widths: [3, 3], readout: 'last' }, 1);
    const net = new TfNetwork(p);
    try {
      assert.throws(() => net.predict({ ...task.train, features: task.train.features - 1 }), /expects N0 = 14/);
    } finally {
      net.dispose();
    }
  });
});
