/**
 * Golden cases, deterministic fields (rtol 1e-9, atol 1e-12): attention, path token weights and
 * features, path-pair kernels, GP kernel and order parameters, action and gradient at the GP point,
 * GP predictor and metrics.
 */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { GOLDEN_CASES, goldenFiles, loadGolden } from '../helpers/golden';
import { assertClose, flat } from '../helpers/close';
import { allLayerAttention } from '../../src/theory/attention';
import { pathCount, pathTokenWeights, pathFeatures } from '../../src/theory/paths';
import { pathPairKernel, renormalizedKernel } from '../../src/theory/kernels';
import { gpOrderParameters, gpScale } from '../../src/theory/orderParams';
import { action } from '../../src/theory/action';
import { predict, testMetrics } from '../../src/theory/predictor';
import { toRows } from '../../src/linalg/matrix';

const RTOL = 1e-9;
const ATOL = 1e-12;

/** Cases whose tests were registered (each describe adds its file once its tests exist). */
const ran = new Set<string>();
for (const file of goldenFiles()) {
  describe(`golden ${file}: deterministic`, async () => {
    const g = loadGolden(file);
    const e = g.expected;
    const Q = pathCount(g.settings.heads);
    const attTrain = await allLayerAttention(g.train, g.attention, 'train');
    const attTest = await allLayerAttention(g.test, g.attention, 'test');
    const cTrain = pathTokenWeights(attTrain, g.readout);
    const cTest = pathTokenWeights(attTest, g.readout);
    const s0 = g.settings.variances[0];
    const train = { count: g.train.count, features: g.train.features, paths: Q, data: pathFeatures(g.train, cTrain, Q, s0) };
    const test = { count: g.test.count, features: g.test.features, paths: Q, data: pathFeatures(g.test, cTest, Q, s0) };

    it('attention of train examples 0 and 1', () => {
      for (let l = 0; l < attTrain.length; l++) {
        const A = attTrain[l];
        const size = A.heads * A.tokens * A.tokens;
        assertClose(A.data.subarray(0, 2 * size), flat(e.attention_train_examples_0_1[l]), RTOL, ATOL, `A layer ${l}`);
      }
    });
    it('path token weights and features of train example 0', () => {
      const T = g.train.tokens;
      assertClose(cTrain.subarray(0, Q * T), flat(e.path_token_weights_train_0), RTOL, ATOL, 'c');
      assertClose(train.data.subarray(0, g.train.features * Q), flat(e.path_features_train_0), RTOL, ATOL, 'phi');
    });
    it('path-pair kernels', () => {
      for (const key of Object.keys(e.path_pair_kernels_train)) {
        const [a, b] = key.split(',').map(Number);
        assertClose(pathPairKernel(train, a, train, b).data, flat(e.path_pair_kernels_train[key]), RTOL, ATOL, `C(${key})`);
      }
      assertClose(pathPairKernel(train, 0, test, 0).data, flat(e.path_pair_kernels_train0_test0), RTOL, ATOL, 'C(train0,test0)');
    });
    it('GP scale, order parameters and kernel', async () => {
      assertClose(gpScale(g.settings), e.gp_scale, RTOL, ATOL, 'gp_scale');
      const Ugp = gpOrderParameters(g.settings);
      assert.equal(Ugp.length, e.U_gp.length);
      Ugp.forEach((U, l) => assertClose(U.data, flat(e.U_gp[l]), RTOL, ATOL, `U_gp[${l}]`));
      const K = await renormalizedKernel(train, train, Ugp[0]);
      const first4 = toRows(K)
        .slice(0, 4)
        .map((r) => r.slice(0, 4));
      assertClose(flat(first4), flat(e.gp_kernel_train_first4), RTOL, ATOL, 'gp kernel');
    });
    it('action and gradient at the GP point', async () => {
      const r = await action(g.settings, train, g.yTrain, gpOrderParameters(g.settings), true);
      assertClose(r.value / r.maxWidth, e.action_at_gp_normalized, RTOL, ATOL, 'S/maxN');
      r.grads!.forEach((G, l) =>
        assertClose(
          G.data.map((v) => v / r.maxWidth),
          flat(e.grad_at_gp_normalized[l]),
          RTOL,
          ATOL,
          `grad U_${l + 1}`,
        ),
      );
    });
    it('GP predictor and metrics', async () => {
      const pred = await predict(train, test, g.yTrain, gpOrderParameters(g.settings)[0], g.settings.temperature);
      assertClose(pred.mean, e.predictor_mean_test_gp, RTOL, ATOL, 'mean');
      assertClose(pred.variance, e.predictor_var_test_gp, RTOL, ATOL, 'var');
      const m = testMetrics(pred, g.yTest);
      for (const k of Object.keys(e.metrics_gp)) assertClose((m as unknown as Record<string, number>)[k], e.metrics_gp[k], RTOL, ATOL, k);
    });
    ran.add(file);
  });
}

// Top-level tests run in order: this one after every case above.
test('every golden case ran', () => {
  assert.deepEqual([...ran].sort(), GOLDEN_CASES);
});
