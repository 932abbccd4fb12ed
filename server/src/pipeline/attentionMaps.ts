/**
 * The attention maps a report carries for the attention-map chart: every head's attention on the first few test
 * examples (shared/report.ts `AttentionMaps`), taken from the attention the theory uses (docs/theory.md §a).
 */
import type { LayerAttention } from '../theory/attention';
import type { AttentionMaps } from '../../../shared/report';

/** Examples kept at most. */
export const ATTENTION_MAP_EXAMPLES = 8;
/** Numbers kept at most over all examples, layers and heads (about 350 KB of JSON). */
export const ATTENTION_MAP_BUDGET = 65536;

/**
 * The first K test examples' attention, K = min(8, P_test, ⌊budget / (H_tot·T²)⌋).
 * @param test the attention of every layer on the test set, A [P_test, H, T, T] with A[p, h, s, t] = weight of key s
 *   for query t (theory/attention.ts)
 * @param yTest the test labels
 * @returns maps transposed to [query t][key s], rounded to 3 decimals
 */
export function attentionMaps(test: LayerAttention[], yTest: ArrayLike<number>, source: AttentionMaps['source']): AttentionMaps {
  const T = test[0]?.tokens ?? 0;
  const Htot = test.reduce((n, l) => n + l.heads, 0);
  const perExample = Htot * T * T;
  const P = test[0]?.count ?? 0;
  const K = perExample === 0 ? 0 : Math.min(ATTENTION_MAP_EXAMPLES, P, Math.floor(ATTENTION_MAP_BUDGET / perExample));
  const examples = Array.from({ length: K }, (_, k) => k);
  const layers = test.map((A, l) => ({
    layer: l,
    heads: A.heads,
    maps: examples.map((p) =>
      Array.from({ length: A.heads }, (_, h) => {
        const base = (p * A.heads + h) * T * T;
        const m = new Array<number>(T * T);
        for (let t = 0; t < T; t++) for (let s = 0; s < T; s++) m[t * T + s] = Math.round(1000 * A.data[base + s * T + t]) / 1000;
        return m;
      }),
    ),
  }));
  const out: AttentionMaps = { source, T, examples, labels: examples.map((p) => yTest[p]), layers };
  if (K === 0) {
    out.omitted =
      P === 0
        ? 'there are no test examples'
        : `one example's maps would hold ${perExample} numbers (H_tot·T² = ${Htot}·${T}²), more than the ${ATTENTION_MAP_BUDGET} a report keeps`;
  }
  return out;
}
