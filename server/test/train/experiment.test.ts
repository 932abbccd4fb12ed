/**
 * The pruning experiment's pieces (train/experiment.ts): single-head removals against a direct computation, the
 * class-balanced theory subset, the theory on trained Q/K against the project's `analyze` with the same Q/K file,
 * and the comparison of scores with drops and of U_1 with U_GD.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config/defaults';
import { writeNpz } from '../../src/data/npz';
import { analyze } from '../../src/pipeline/analyze';
import type { AnalysisReport } from '../../../shared/report';
import { orderParametersFromWeights } from '../../src/theory/weights';
import { selectBackend } from '../../src/train/backend';
import { balancedSubset, comparePruning, singleHeadRemoval, theoryForNetwork } from '../../src/train/experiment';
import { TfNetwork, initParams, valueWeights, type NetworkShape } from '../../src/train/model';
import { attentionArrays } from '../../src/train/run';
import { accuracy, mse } from '../../src/train/trainer';
import { spearman } from '../../../shared/stats';
import { oracleOutputs, smallMarkov } from './helpers';

before(async () => {
  await selectBackend('auto');
});

describe('single-head removal on a labelled set', () => {
  it('matches the accuracy and MSE of the direct computation for every head; one-head layers are skipped', async () => {
    const task = smallMarkov(40, 2, 8);
    const shape: NetworkShape = { N0: task.train.features, T: task.train.tokens, heads: [2, 1, 3], G: 3, widths: [5, 4, 4, 3], readout: 'last' };
    const p = initParams(shape, 6);
    const net = new TfNetwork(p);
    try {
      const r = singleHeadRemoval(net, task.train, task.yTrain);
      assert.deepEqual(r.skippedLayers, [1]);
      assert.deepEqual(
        r.removals.map((x) => `${x.layer}:${x.head}`),
        ['0:0', '0:1', '2:0', '2:1', '2:2'],
      );
      const full = await oracleOutputs(p, task.train);
      assert.equal(r.accuracy, accuracy(full, task.yTrain));
      for (const x of r.removals) {
        const H = shape.heads[x.layer];
        const gains = shape.heads.map((Hl, l) => Array.from({ length: Hl }, (_, h) => (l !== x.layer ? 1 : h === x.head ? 0 : Math.sqrt(H / (H - 1)))));
        const f = await oracleOutputs(p, task.train, gains);
        assert.equal(x.accuracy, accuracy(f, task.yTrain), `accuracy without ${x.layer}:${x.head}`);
        assert.ok(Math.abs(x.mse - mse(f, task.yTrain)) < 1e-4 * Math.max(1, x.mse), `MSE without ${x.layer}:${x.head}`);
        assert.ok(Math.abs(x.drop - (r.accuracy - x.accuracy)) < 1e-15);
        assert.ok(Math.abs(x.mseIncrease - (x.mse - r.mse)) < 1e-12);
      }
    } finally {
      net.dispose();
    }
  });
});

describe('balanced theory subset', () => {
  it('takes the first examples of each class, in order', () => {
    const X = { count: 6, features: 1, tokens: 1, data: Float64Array.from([0, 1, 2, 3, 4, 5]) };
    const y = Float64Array.from([1, -1, -1, 1, 1, -1]);
    const s = balancedSubset(X, y, 4);
    assert.deepEqual(Array.from(s.X.data), [0, 1, 2, 3]);
    assert.deepEqual(Array.from(s.y), [1, -1, -1, 1]);
    assert.equal(balancedSubset(X, y, 6).X, X);
    assert.throws(() => balancedSubset(X, Float64Array.from([1, 1, 1, 1, 1, -1]), 4), /has 5 and 1/);
    assert.throws(() => balancedSubset(X, y, 1), /need an integer ≥ 2/);
  });
});

describe('the theory with trained Q/K', () => {
  it('equals analyze() on the same data with the written attention.npz as Q/K parameters', async () => {
    const task = smallMarkov(24, 30, 9);
    const shape: NetworkShape = { N0: task.train.features, T: task.train.tokens, heads: [2, 2], G: 3, widths: [4, 4, 4], readout: 'last' };
    const p = initParams(shape, 12);
    const dir = mkdtempSync(join(tmpdir(), 'ap-train-exp-'));
    const data = join(dir, 'task.npz');
    const att = join(dir, 'attention.npz');
    writeNpz(data, {
      X_train: { shape: [24, shape.N0, shape.T], data: task.train.data },
      y_train: { shape: [24], data: task.yTrain },
      X_test: { shape: [30, shape.N0, shape.T], data: task.test.data },
      y_test: { shape: [30], data: task.yTest },
    });
    writeNpz(att, attentionArrays(p));
    const config = { ...defaultConfig(), task: undefined, data, readout: 'last' as const };
    const mine = await theoryForNetwork(config, task, p);
    const ref = await analyze({ ...config, attention: { kind: 'qk', params: att } });
    assert.deepEqual(mine.head_scores_ascending, ref.head_scores_ascending);
    assert.deepEqual(mine.U, ref.U);
    assert.deepEqual(mine.metrics, ref.metrics);
    assert.match(mine.settings.attention_kind, /trained by gradient descent/);
  });
});

describe('comparing theory and measurement', () => {
  const shape: NetworkShape = { N0: 4, T: 3, heads: [2, 2], G: 2, widths: [3, 3, 3], readout: 'last' };
  const p = initParams(shape, 2);
  const U1 = orderParametersFromWeights(valueWeights(p)).Us[0];
  const rows = (m: { rows: number; cols: number; data: Float64Array }) =>
    Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
  const report = {
    settings: { heads: [2, 2] },
    U: [rows({ ...U1, data: U1.data.map((v) => 3 * v) })],
    head_scores_ascending: [
      { layer: 1, head: 0, score: 0.2 },
      { layer: 0, head: 1, score: 0.5 },
      { layer: 0, head: 0, score: 0.7 },
      { layer: 1, head: 1, score: 1 },
    ],
    head_silencing: [
      { layer: 1, head: 0, delta_eg: 0 },
      { layer: 0, head: 1, delta_eg: 0.02 },
      { layer: 0, head: 0, delta_eg: 0.01 },
      { layer: 1, head: 1, delta_eg: 0.3 },
    ],
  } as unknown as AnalysisReport;
  const removal = (layer: number, head: number, drop: number, mseIncrease: number) => ({
    layer,
    head,
    accuracy: 0.9 - drop,
    drop,
    mse: 0.3 + mseIncrease,
    mseIncrease,
  });

  it('orders heads by score, correlates score with drop, and compares U_1 with U_GD by pattern', () => {
    const c = comparePruning(report, [removal(0, 0, 0.05, 0.2), removal(0, 1, 0.01, 0.1), removal(1, 0, 0.0, 0.3), removal(1, 1, 0.09, 0.4)], p);
    assert.deepEqual(
      c.heads.map((h) => `${h.layer}:${h.head}`),
      ['1:0', '0:1', '0:0', '1:1'],
    );
    assert.deepEqual(
      c.heads.map((h) => h.drop),
      [0, 0.01, 0.05, 0.09],
    );
    assert.equal(c.spearmanScoreVsDrop, 1);
    assert.equal(c.spearmanScoreVsMseIncrease, spearman([0.2, 0.5, 0.7, 1], [0.3, 0.1, 0.2, 0.4]));
    // The predicted ε_g increases rank the heads 1:0 < 0:0 < 0:1 < 1:1 against drops 1:0 < 0:1 < 0:0 < 1:1.
    assert.ok(Math.abs(c.spearmanPredictedVsDrop! - 0.8) < 1e-12);
    assert.equal(
      comparePruning({ ...report, head_silencing: undefined } as unknown as AnalysisReport, [removal(0, 0, 0.05, 0.2), removal(0, 1, 0.01, 0.1)], p)
        .spearmanPredictedVsDrop,
      null,
    );
    // The theory's U here is 3 × U_GD: identical pattern.
    assert.ok(Math.abs(c.uPattern.pearson! - 1) < 1e-12 && Math.abs(c.uPattern.cosine! - 1) < 1e-12);
    assert.deepEqual(c.U_GD, rows(U1));
  });

  it('reports an undefined correlation when no removal changes the accuracy, and refuses other heads', () => {
    const c = comparePruning(report, [removal(0, 0, 0, 0.1), removal(0, 1, 0, 0.2), removal(1, 0, 0, 0.3), removal(1, 1, 0, 0.4)], p);
    assert.equal(c.spearmanScoreVsDrop, null);
    assert.throws(
      () => comparePruning({ ...report, settings: { heads: [4] } } as unknown as AnalysisReport, [], p),
      /theory has heads \[4\] but the network \[2,2\]/,
    );
  });
});
