/**
 * Large P with small D = N0·H_tot runs in feature space end to end without any P × P or P_test × P array: the
 * whole analysis (attention, path features, solve, predictor, GP limit, head silencing, kernel PCs) on P = 5000,
 * P_test = 2000, with every Float64Array allocated tracked (the products run in JS for this, as with
 * `computeBackend: js`, since ONNX Runtime checks its inputs' class). A P × P array would be 25·10⁶ entries, a
 * P_test × P one 10⁷; the bound below is 5·10⁵.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig } from '../../src/config/defaults';
import { prepareWithAttention } from '../../src/pipeline/prepare';
import { analyzePrepared } from '../../src/pipeline/analyzePrepared';
import { randomQKAttention } from '../../src/data/mnist';
import { Random } from '../../src/util/random';
import type { TaskData } from '../../src/data/types';
import { estimateMemoryBytes } from '../../src/pipeline/resources';
import { gemmBackend, setGemmBackend } from '../../src/linalg/gemm';

describe('feature space at large P', () => {
  it('analyses P = 5000 (D = 20) without allocating anything of size P × P or P_test × P', async () => {
    const rng = new Random(9);
    const P = 5000;
    const Pt = 2000;
    const N0 = 10;
    const T = 4;
    const batch = (n: number) => ({ count: n, features: N0, tokens: T, data: rng.normals(n * N0 * T) });
    const task: TaskData = { name: 'scale', description: 'test', train: batch(P), test: batch(Pt), yTrain: new Float64Array(P), yTest: new Float64Array(Pt) };
    // labels from the mean token's first feature plus noise: learnable, not trivial
    const label = (X: TaskData['train'], y: Float64Array) => {
      for (let m = 0; m < X.count; m++) {
        let s = 0;
        for (let t = 0; t < T; t++) s += X.data[m * N0 * T + t];
        y[m] = s + 0.5 * rng.normal() >= 0 ? 1 : -1;
      }
    };
    label(task.train, task.yTrain);
    label(task.test, task.yTest);
    const config = { ...defaultConfig(), task: undefined, widths: 20, readout: 'mean' as const };
    const layers = randomQKAttention(rng, [2], 3, N0);
    const Orig = Float64Array;
    let largest = 0;
    class Tracked extends Orig {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      constructor(...args: any[]) {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        super(...(args as [any]));
        if (this.length > largest) largest = this.length;
      }
    }
    (globalThis as { Float64Array: unknown }).Float64Array = Tracked;
    const backend = gemmBackend();
    setGemmBackend('js');
    let r;
    try {
      const p = await prepareWithAttention(config, task, layers, 'random-qk');
      r = await analyzePrepared(p, config);
    } finally {
      (globalThis as { Float64Array: unknown }).Float64Array = Orig;
      setGemmBackend(backend);
    }
    assert.equal(r.solver.space, 'feature');
    assert.ok(r.solver.converged, r.solver.stop_reason);
    assert.ok(r.metrics.acc_mean_predictor > 0.6, `accuracy ${r.metrics.acc_mean_predictor}`);
    assert.equal(r.kernel_pc_overlap!.finite.eigenvalues.length, 30);
    assert.ok(largest > 0 && largest <= 5e5, `largest Float64Array allocated: ${largest} entries`);
    // and the memory estimate counts D × D, not P × P, for this problem
    assert.ok(estimateMemoryBytes({ P, P_test: Pt, N0, T, heads: [2] }) < 8 * 2e6, 'memory estimate');
    assert.ok(estimateMemoryBytes({ P, P_test: Pt, N0, T, heads: [2], space: 'sample' }) > 8 * P * P, 'sample-space estimate');
  });
});
