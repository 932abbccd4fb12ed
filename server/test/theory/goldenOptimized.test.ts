/**
 * Golden cases, fields after minimization (rtol 1e-5, atol 1e-7, solver converged to 1e-9):
 * order parameters, action parts, renormalized kernel, predictor, metrics, head scores and silencing.
 */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { GOLDEN_CASES, goldenFiles, loadGolden } from '../helpers/golden';
import { assertClose, flat } from '../helpers/close';
import { allLayerAttention } from '../../src/theory/attention';
import { pathCount, pathTokenWeights, pathFeatures } from '../../src/theory/paths';
import { renormalizedKernel } from '../../src/theory/kernels';
import { minimizeAction } from '../../src/theory/solver';
import { predict, testMetrics } from '../../src/theory/predictor';
import { toRows } from '../../src/linalg/matrix';
import { headScores, silenceHead } from '../../src/theory/relevance';

const RTOL = 1e-5;
const ATOL = 1e-7;

/** Cases whose tests were registered (each describe adds its file once its tests exist). */
const ran = new Set<string>();
for (const file of goldenFiles()) {
  describe(`golden ${file}: optimized`, async () => {
    const g = loadGolden(file);
    const e = g.expected;
    const Q = pathCount(g.settings.heads);
    const s0 = g.settings.variances[0];
    const feats = async (X: typeof g.train, which: 'train' | 'test') => ({
      count: X.count,
      features: X.features,
      paths: Q,
      data: pathFeatures(X, pathTokenWeights(await allLayerAttention(X, g.attention, which), g.readout), Q, s0),
    });
    const train = await feats(g.train, 'train');
    const test = await feats(g.test, 'test');
    const sol = await minimizeAction(g.settings, train, g.yTrain, { tolerance: 1e-9 });

    it('converges to max |grad| < 1e-9', () => {
      assert.ok(sol.converged, `not converged: ${sol.stopReason}`);
      assert.ok(sol.maxGradNormalized < 1e-9);
    });
    it('order parameters U_opt and U_a', () => {
      sol.Us.forEach((U, l) => assertClose(U.data, flat(e.U_opt[l]), RTOL, ATOL, `U_${l + 1}`));
      assertClose(sol.action.Ua, e.U_a_opt, RTOL, ATOL, 'U_a');
    });
    it('action parts', () => {
      const a = sol.action;
      assertClose(a.value / a.maxWidth, e.action_opt_normalized, RTOL, ATOL, 'normalized');
      assertClose(a.value, e.action_opt_raw, RTOL, ATOL, 'raw');
      assertClose(a.entropy, e.entropy_opt_raw, RTOL, ATOL, 'entropy');
      assertClose(a.energy, e.energy_opt_raw, RTOL, ATOL, 'energy');
      assert.equal(a.maxWidth, e.max_width);
    });
    it('renormalized kernel, predictor and metrics', async () => {
      const K = await renormalizedKernel(train, train, sol.Us[0]);
      assertClose(
        flat(
          toRows(K)
            .slice(0, 4)
            .map((r) => r.slice(0, 4)),
        ),
        flat(e.renormalized_kernel_train_first4),
        RTOL,
        ATOL,
        'K',
      );
      const pred = await predict(train, test, g.yTrain, sol.Us[0], g.settings.temperature);
      assertClose(pred.mean, e.predictor_mean_test, RTOL, ATOL, 'mean');
      assertClose(pred.variance, e.predictor_var_test, RTOL, ATOL, 'var');
      const m = testMetrics(pred, g.yTest);
      for (const k of ['eg_bias', 'eg_variance', 'eg_total']) assertClose((m as unknown as Record<string, number>)[k], e.metrics[k], RTOL, ATOL, k);
      assert.equal(m.acc_mean_predictor, e.metrics.acc_mean_predictor);
    });
    it('head scores (order exact) and head silencing', async () => {
      const scores = headScores(sol.Us[0], g.settings.heads);
      assert.deepEqual(
        scores.map((s) => [s.layer, s.head]),
        e.head_scores_ascending.map((s: { layer: number; head: number }) => [s.layer, s.head]),
      );
      assertClose(
        scores.map((s) => s.score),
        e.head_scores_ascending.map((s: { score: number }) => s.score),
        RTOL,
        ATOL,
        'scores',
      );
      for (const [i, s] of scores.entries()) {
        const pred = await predict(train, test, g.yTrain, silenceHead(sol.Us[0], g.settings.heads, s.layer, s.head), g.settings.temperature);
        const m = testMetrics(pred, g.yTest);
        const want = e.head_silencing[i];
        assert.deepEqual([want.layer, want.head], [s.layer, s.head]);
        assertClose(m.eg_total, want.eg_total, RTOL, ATOL, `silenced ${s.layer}:${s.head} eg`);
        assert.equal(m.acc_mean_predictor, want.acc_mean_predictor);
      }
    });
    ran.add(file);
  });
}

// Top-level tests run in order: this one after every case above.
test('every golden case ran', () => {
  assert.deepEqual([...ran].sort(), GOLDEN_CASES);
});
