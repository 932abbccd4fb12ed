/**
 * Rank statistics of the pruning experiment against values computed with scipy.stats (1.x): rankdata (average
 * ties), spearmanr, pearsonr.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { patternSimilarity } from '../../src/util/stats';
import { averageRanks, pearson, spearman } from '../../../shared/stats';

describe('ranks and correlations (reference: scipy.stats)', () => {
  it('average ranks with ties', () => {
    // scipy.stats.rankdata([3,1,4,1,5,9,2,6,5,3])
    assert.deepEqual(Array.from(averageRanks([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])), [4.5, 1.5, 6, 1.5, 7.5, 10, 3, 9, 7.5, 4.5]);
  });

  it('Spearman correlation, with and without ties', () => {
    // scipy.stats.spearmanr([1,2,3,4,5],[5,6,7,8,7]).correlation
    assert.ok(Math.abs(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])! - 0.8207826816681233) < 1e-14);
    // scipy.stats.spearmanr([3,1,4,1,5,9,2,6,5,3],[2,7,1,8,2,8,1,8,2,8]).correlation
    assert.ok(Math.abs(spearman([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], [2, 7, 1, 8, 2, 8, 1, 8, 2, 8])! - 0.13471506281091267) < 1e-14);
    assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 1000]), 1);
    assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  });

  it('Pearson correlation; undefined (null) for constant input', () => {
    // scipy.stats.pearsonr([1,2,3,4],[2,1,4,3])[0]
    assert.ok(Math.abs(pearson([1, 2, 3, 4], [2, 1, 4, 3])! - 0.6) < 1e-15);
    assert.equal(pearson([1, 2, 3], [5, 5, 5]), null);
    assert.equal(spearman([0.1, 0.1, 0.1], [1, 2, 3]), null);
    assert.throws(() => pearson([1], [2]), /at least 2 pairs/);
    assert.throws(() => pearson([1, 2], [2, 3, 4]), /2 values against 3/);
    assert.throws(() => spearman([1, NaN], [1, 2]), /not finite/);
  });

  it('pattern similarity of symmetric matrices: scale-free, sign-sensitive', () => {
    const A = [2, -1, 0.5, -1, 3, 0, 0.5, 0, 1];
    const scaled = A.map((v) => 7 * v);
    const s = patternSimilarity(A, scaled, 3);
    assert.ok(Math.abs(s.pearson! - 1) < 1e-14 && Math.abs(s.cosine! - 1) < 1e-14);
    const neg = patternSimilarity(
      A,
      A.map((v) => -v),
      3,
    );
    assert.ok(Math.abs(neg.cosine! + 1) < 1e-14 && Math.abs(neg.pearson! + 1) < 1e-14);
    // Upper triangle (with diagonal) of A is [2, -1, 0.5, 3, 0, 1]; of B = identity it is [1, 0, 0, 1, 0, 1].
    const I = [1, 0, 0, 0, 1, 0, 0, 0, 1];
    const p = patternSimilarity(A, I, 3);
    assert.ok(Math.abs(p.pearson! - pearson([2, -1, 0.5, 3, 0, 1], [1, 0, 0, 1, 0, 1])!) < 1e-15);
    assert.ok(Math.abs(p.cosine! - 6 / Math.sqrt((4 + 1 + 0.25 + 1 + 9 + 0.25 + 1) * 3)) < 1e-15);
    assert.throws(() => patternSimilarity(A, [1, 2], 3), /3×3/);
  });
});
