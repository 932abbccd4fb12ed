/** Path features built one example at a time equal the reference construction (docs/theory.md §b). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { smallProblem } from '../helpers/problem';
import { pathCount, pathFeatures, pathFeaturesFromAttention, pathTokenWeights } from '../../src/theory/paths';

describe('pathFeaturesFromAttention', () => {
  for (const heads of [[3], [2, 3], [2, 1, 3], [3, 2, 2, 2]])
    for (const readout of ['first', 'last', 'mean'] as const) {
      it(`equals pathFeatures(pathTokenWeights(…)) (heads [${heads}], readout ${readout})`, async () => {
        const p = await smallProblem(40 + heads.length, heads, { P: 7, N0: 4, T: 5, readout });
        const Q = pathCount(heads);
        const want = pathFeatures(p.X, pathTokenWeights(p.att, readout), Q, 1.7);
        const got = await pathFeaturesFromAttention(p.X, p.att, readout, 1.7);
        assert.equal(got.length, want.length);
        for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-15 * (1 + Math.abs(want[i])), `entry ${i}: ${got[i]} vs ${want[i]}`);
      });
    }
});
