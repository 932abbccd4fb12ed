/**
 * Rank and pattern statistics: head scores against measured accuracy drops (docs/theory.md §g) and the
 * pattern of the theory's U against U from a network's own weights (section f). Used by the pruning
 * experiment of `train` and by the `model` section of analysis reports.
 */

import { pearson } from '../../../shared/stats';

/**
 * How similar two symmetric matrices are in pattern (docs/theory.md §f compares only U's pattern):
 *  - `pearson`: correlation of the entries on and above the diagonal (centered, scale-free);
 *  - `cosine`: ⟨A, B⟩_F / (‖A‖_F ‖B‖_F) over all entries (uncentered, scale-free, sign-sensitive).
 * @param a, b [n, n] row-major.
 * @throws Error when the sizes differ or are not square.
 */
export function patternSimilarity(a: ArrayLike<number>, b: ArrayLike<number>, n: number): { pearson: number | null; cosine: number | null } {
  if (a.length !== n * n || b.length !== n * n) throw new Error(`pattern similarity: expected two ${n}×${n} matrices, got ${a.length} and ${b.length} entries`);
  const ua: number[] = [];
  const ub: number[] = [];
  for (let i = 0; i < n; i++)
    for (let j = i; j < n; j++) {
      ua.push(a[i * n + j]);
      ub.push(b[i * n + j]);
    }
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n * n; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return { pearson: ua.length >= 2 ? pearson(ua, ub) : null, cosine: aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : null };
}
