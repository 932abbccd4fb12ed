/**
 * Gradient-descent training (train/trainer.ts): Adam on the MSE reduces the loss on a small Markov task, is
 * deterministic for a seed, and refuses bad hyperparameters with a clear message.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { selectBackend } from '../../src/train/backend';
import { initParams, type NetworkShape } from '../../src/train/model';
import { accuracy, checkTrainOptions, evaluate, mse, permutation, trainNetwork } from '../../src/train/trainer';
import { Random } from '../../src/util/random';
import { smallMarkov } from './helpers';

const task = smallMarkov(60, 20, 1);
const shape: NetworkShape = { N0: task.train.features, T: task.train.tokens, heads: [2, 2], G: 4, widths: [6, 6, 6], readout: 'last' };

before(async () => {
  await selectBackend('auto');
});

describe('training on a small Markov task', () => {
  it('reduces the training MSE well below its initial value and fits the training labels', async () => {
    const r = await trainNetwork(shape, task.train, task.yTrain, { epochs: 40, learningRate: 0.02, batchSize: 20, seed: 4 });
    try {
      assert.equal(r.steps, 40 * 3);
      assert.equal(r.lossCurve.length, 41);
      assert.ok(r.finalLoss < 0.5 * r.initialLoss, `MSE ${r.initialLoss} → ${r.finalLoss}`);
      assert.ok(r.lossCurve[39] < r.lossCurve[0], 'the per-epoch loss decreased');
      const ev = evaluate(r.net, task.train, task.yTrain);
      assert.ok(Math.abs(ev.mse - r.finalLoss) < 1e-12, 'the final loss is the full-batch training MSE');
      assert.ok(ev.accuracy > 0.8, `training accuracy ${ev.accuracy}`);
    } finally {
      r.net.dispose();
    }
  });

  it('is deterministic for a seed and changes with the seed', async () => {
    const run = async (seed: number) => {
      const r = await trainNetwork(shape, task.train, task.yTrain, { epochs: 3, learningRate: 0.01, batchSize: 25, seed });
      const out = { curve: r.lossCurve, a: r.net.params().a };
      r.net.dispose();
      return out;
    };
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.curve, c.curve);
  });

  it('starts from given parameters when asked', async () => {
    const init = initParams(shape, 123);
    const r = await trainNetwork(shape, task.train, task.yTrain, { epochs: 1, learningRate: 1e-9, batchSize: 60, seed: 0, init });
    try {
      const p = r.net.params();
      for (let i = 0; i < p.a.length; i++) assert.ok(Math.abs(p.a[i] - init.a[i]) < 1e-6);
    } finally {
      r.net.dispose();
    }
  });
});

describe('metrics and helpers', () => {
  it('mse, accuracy (0 counts as wrong) and a seeded permutation', () => {
    assert.equal(mse([1, -1, 0.5], [1, 1, -1]), (0 + 4 + 2.25) / 3);
    assert.equal(accuracy([0.2, -3, 0, 1], [1, -1, 1, -1]), 0.5);
    const p = permutation(new Random(1), 10);
    assert.deepEqual(
      [...p].sort((x, y) => x - y),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.deepEqual(permutation(new Random(1), 10), p);
    assert.throws(() => mse([1], [1, 2]), /1 predictions for 2 labels/);
  });

  it('bad hyperparameters and mismatched data are errors that name the problem', async () => {
    const ok = { epochs: 1, learningRate: 0.01, batchSize: 10, seed: 0 };
    assert.throws(() => checkTrainOptions({ ...ok, epochs: 0 }), /epochs = 0/);
    assert.throws(() => checkTrainOptions({ ...ok, learningRate: -1 }), /learning rate = -1/);
    assert.throws(() => checkTrainOptions({ ...ok, learningRate: Infinity }), /learning rate = Infinity/);
    assert.throws(() => checkTrainOptions({ ...ok, batchSize: 2.5 }), /batch size = 2\.5/);
    await assert.rejects(trainNetwork({ ...shape, N0: 9 }, task.train, task.yTrain, ok), /expects N0 = 9/);
    await assert.rejects(trainNetwork(shape, task.train, task.yTrain.subarray(1), ok), /60 examples but 59 labels/);
  });

  it('stops when aborted', async () => {
    const c = new AbortController();
    c.abort(new Error('stop now'));
    await assert.rejects(trainNetwork(shape, task.train, task.yTrain, { epochs: 5, learningRate: 0.01, batchSize: 20, seed: 0, signal: c.signal }), /stop now/);
  });
});
