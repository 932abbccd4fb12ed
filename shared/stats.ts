/**
 * Rank correlations (Pearson, Spearman with average ranks): the agreement of the theory's head ranking with the
 * measured effect of removing heads (shared/agreement.ts, the charts and the CLI summary) and the pruning
 * experiment of `train`. Pure functions, no Node import (shared/ contract).
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
  for (let i = 0; i < n;) {
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
