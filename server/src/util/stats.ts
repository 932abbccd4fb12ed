/**
 * Rank and pattern statistics: head scores against measured accuracy drops (docs/theory.md §g) and the
 * pattern of the theory's U against U from a network's own weights (section f). Used by the pruning
 * experiment of `train` and by the `model` section of analysis reports.
 */

/**
 * Fractional ranks (1-based; tied values share the mean of their ranks), as `scipy.stats.rankdata(method='average')`.
 * @throws Error for NaN or infinite values.
 */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  for (let i = 0; i < n; i++) if (!Number.isFinite(x[i])) throw new Error(`ranks: value ${x[i]} at index ${i} is not finite`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && x[order[j + 1]] === x[order[i]]) j++;
    const mean = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[order[k]] = mean;
    i = j + 1;
  }
  return r;
}

/**
 * Pearson correlation Σ(x−x̄)(y−ȳ)/√(Σ(x−x̄)² Σ(y−ȳ)²).
 * @returns null when either input is constant (the correlation is undefined).
 * @throws Error when the lengths differ or are below 2, or a value is not finite.
 */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number | null {
  const n = x.length;
  if (y.length !== n) throw new Error(`correlation: ${n} values against ${y.length}`);
  if (n < 2) throw new Error(`correlation: need at least 2 pairs, got ${n}`);
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(x[i]) || !Number.isFinite(y[i])) throw new Error(`correlation: pair ${i} (${x[i]}, ${y[i]}) is not finite`);
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  // Constant inputs: exactly zero spread, or spread at rounding level relative to the values.
  const tiny = (s: number, m: number) => s <= 1e-24 * n * Math.max(1, m * m);
  if (tiny(sxx, mx) || tiny(syy, my)) return null;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/**
 * Spearman rank correlation: the Pearson correlation of the average ranks (ties handled as in
 * `scipy.stats.spearmanr`).
 * @returns null when either input is constant.
 * @throws Error as `pearson`.
 */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number | null {
  if (x.length !== y.length) throw new Error(`spearman: ${x.length} values against ${y.length}`);
  return pearson(averageRanks(x), averageRanks(y));
}

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
