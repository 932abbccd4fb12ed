/**
 * Backend selection (train/backend.ts): tfjs-node-gpu when it loads and registers its backend, otherwise the
 * WebAssembly backend, otherwise the JavaScript CPU backend, with the reason for each fallback; explicit requests
 * that cannot be met are errors. Training works on the fallback backends (their gradients are registered without
 * tfjs-node-gpu), and wasm and cpu agree.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { describeLoadFailure, loadNodeGpu, selectBackend } from '../../src/train/backend';
import { TfNetwork, initParams, type NetworkShape } from '../../src/train/model';
import { trainNetwork } from '../../src/train/trainer';
import { maxAbsDiff, smallMarkov } from './helpers';

const notInstalled = () => {
  const e = new Error("Cannot find module '@tensorflow/tfjs-node-gpu'\nRequire stack:\n- x.js") as Error & { code: string };
  e.code = 'MODULE_NOT_FOUND';
  throw e;
};
const noBinding = () => {
  throw new Error(
    'The Node.js native addon module (tfjs_binding.node) can not be found at path: /p/node_modules/@tensorflow/tfjs-node-gpu/lib/napi-v8/tfjs_binding.node. \nPlease run command ...',
  );
};

describe('backend selection', () => {
  it('falls back to wasm when tfjs-node-gpu is not installed, saying so', async () => {
    const b = await selectBackend('auto', notInstalled);
    assert.equal(b.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.equal(b.deterministic, true);
    assert.deepEqual(b.fallbacks, ['@tensorflow/tfjs-node-gpu is not installed (optional dependency)']);
  });

  it('falls back when the package is installed without its native binding (install script denied)', async () => {
    const b = await selectBackend('auto', noBinding);
    assert.equal(b.name, 'wasm');
    assert.match(
      b.fallbacks[0],
      /installed without a usable native binding \(\/p\/node_modules\/@tensorflow\/tfjs-node-gpu\/lib\/napi-v8\/tfjs_binding\.node\)/,
    );
  });

  it('falls back when the package loads but registers no backend', async () => {
    const b = await selectBackend('auto', () => ({}));
    assert.equal(b.name, 'wasm');
    assert.match(b.fallbacks[0], /registered no "tensorflow" backend/);
  });

  it('uses what is installed here: tfjs-node-gpu if it loads, else a fallback with the real reason', async () => {
    let loads = true;
    try {
      loadNodeGpu();
    } catch (e) {
      loads = false;
      assert.match(describeLoadFailure(e), /not installed|without a usable native binding|failed to load/);
    }
    const b = await selectBackend('auto');
    if (loads && tf.findBackendFactory('tensorflow')) assert.equal(b.name, 'tensorflow');
    else {
      assert.equal(b.name, 'wasm');
      assert.equal(b.fallbacks.length, 1);
    }
  });

  it('an explicit gpu request that cannot be met is an error naming the reason and the way out', async () => {
    await assert.rejects(selectBackend('gpu', notInstalled), /backend gpu: @tensorflow\/tfjs-node-gpu is not installed.*--backend auto/);
    await assert.rejects(selectBackend('fast' as never), /backend must be one of auto, gpu, wasm, cpu/);
  });

  it('cpu and wasm can be chosen, and the same network gives the same outputs on both (float32 rounding)', async () => {
    const task = smallMarkov(10, 2, 5);
    const shape: NetworkShape = { N0: task.train.features, T: task.train.tokens, heads: [2, 2], G: 3, widths: [4, 4, 4], readout: 'mean' };
    const p = initParams(shape, 3);
    const outputs: Float64Array[] = [];
    for (const name of ['cpu', 'wasm'] as const) {
      const b = await selectBackend(name);
      assert.equal(b.name, name);
      assert.equal(tf.getBackend(), name);
      assert.deepEqual(b.fallbacks, []);
      const net = new TfNetwork(p);
      outputs.push(net.predict(task.train));
      net.dispose();
    }
    assert.ok(maxAbsDiff(outputs[0], outputs[1]) < 1e-5, `cpu vs wasm: ${maxAbsDiff(outputs[0], outputs[1])}`);
  });

  it('training runs on the CPU backend without tfjs-node-gpu (gradients registered by @tensorflow/tfjs)', async () => {
    await selectBackend('cpu');
    const task = smallMarkov(20, 2, 6);
    const shape: NetworkShape = { N0: task.train.features, T: task.train.tokens, heads: [2], G: 3, widths: [4, 4], readout: 'last' };
    const r = await trainNetwork(shape, task.train, task.yTrain, { epochs: 8, learningRate: 0.05, batchSize: 20, seed: 1 });
    r.net.dispose();
    assert.ok(r.finalLoss < r.initialLoss, `${r.initialLoss} → ${r.finalLoss}`);
  });
});
