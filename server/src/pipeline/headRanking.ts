/**
 * Ranking heads for pruning and checking the ranking against measurement (docs/theory.md §g).
 *
 * The relevance score is max-normalized within one U₁, so it cannot rank heads of different layer windows against
 * each other, and on real models it often misranks heads of one U₁ too. The predicted effect of silencing a head —
 * the increase of the predicted ε_g on the test set when the head's paths are zeroed in U₁ — is in the units of the
 * task's error, so it ranks heads across windows. Pruning suggestions therefore order heads by it, least harmful
 * first; both rankings are compared with the measured drops wherever a model was measured.
 */
import type { HeadRemovalMeasured, HeadScore, HeadSilencing, Metrics, PruningCandidate, RankCorrelations } from '../../../shared/report';
import { spearman } from '../../../shared/stats';

const key = (h: { layer: number; head: number }) => `${h.layer}:${h.head}`;

/** Adds `delta_eg` and `delta_acc` (silenced minus `full`) to each silencing entry, in place; returns the array. */
export function addSilencingDeltas(silencing: HeadSilencing[], full: Metrics): HeadSilencing[] {
  for (const s of silencing) {
    s.delta_eg = s.eg_total - full.eg_total;
    s.delta_acc = s.acc_mean_predictor - full.acc_mean_predictor;
  }
  return silencing;
}

/**
 * Every head, least harmful to silence first: ascending `delta_eg`, ties broken by the lower relevance score, then
 * by layer and head.
 * @param scores relevance scores (any order); silencing with `delta_eg` (`addSilencingDeltas`).
 * @throws Error when a head has no silencing entry with `delta_eg`.
 */
export function pruningOrder(scores: HeadScore[], silencing: HeadSilencing[]): PruningCandidate[] {
  const byKey = new Map(silencing.map((s) => [key(s), s]));
  const rows = scores.map((s) => {
    const sil = byKey.get(key(s));
    if (!sil || sil.delta_eg === undefined) throw new Error(`pruning order: layer ${s.layer} · head ${s.head} has no predicted silencing effect`);
    return { s, d: sil.delta_eg };
  });
  rows.sort((a, b) => a.d - b.d || a.s.score - b.s.score || a.s.layer - b.s.layer || a.s.head - b.s.head);
  return rows.map(({ s, d }) => ({ layer: s.layer, head: s.head, delta_eg: d, ...(s.window !== undefined ? { window: s.window } : {}) }));
}

/**
 * Spearman rank correlations of the relevance score and of the predicted ε_g increase with the measured drop (see
 * `RankCorrelations`), over the heads of `scores` that were measured.
 * @returns undefined when fewer than 3 of them were measured.
 */
export function rankCorrelations(scores: HeadScore[], silencing: HeadSilencing[], measured: HeadRemovalMeasured): RankCorrelations | undefined {
  const m = new Map(measured.heads.filter((h) => h.value !== null).map((h) => [key(h), h.value!]));
  const sil = new Map(silencing.map((s) => [key(s), s.delta_eg]));
  const rows = scores.filter((s) => m.has(key(s)) && sil.get(key(s)) !== undefined);
  if (rows.length < 3) return undefined;
  const drop = rows.map((s) => (measured.metric === 'accuracy' ? measured.full - m.get(key(s))! : m.get(key(s))! - measured.full));
  return {
    score_vs_measured_drop: spearman(
      rows.map((s) => s.score),
      drop,
    ),
    predicted_vs_measured_drop: spearman(
      rows.map((s) => sil.get(key(s))!),
      drop,
    ),
    heads: rows.length,
  };
}
