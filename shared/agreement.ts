/**
 * How far to trust the theory's numbers on a measured model (`attention: { kind: model }`): how the ranking of
 * heads agrees with what removing each head does to the real model, and how far the predicted full-model accuracy
 * is from the measured one (docs/theory.md §g pairs head scores with measured drops, as the paper's Fig. 3e).
 *
 * What the prediction is: the accuracy of the theory's Bayesian network — this model's captured attention held
 * fixed, the value weights those of the theory's posterior at the configured width and temperature — not of the
 * model's own trained weights. Agreement is therefore evidence, not a given.
 */
import type { AnalysisReport, MeasuredAgreement } from './report';
import { spearman } from './stats';

/** The sentence that says what the prediction is (charts, summary, hovers). */
export const PREDICTION_MEANS =
  "The prediction is the theory's Bayesian network on this model's captured attention (value weights from the theory's posterior at this width and temperature), not the trained model itself.";

/**
 * Agreement of prediction and measurement, from `head_silencing` and `head_removal_measured` (accuracy only).
 *  - `spearman_score_vs_measured_drop`: Spearman ρ between each head's relevance score and its measured accuracy
 *    drop (full − without the head); positive when more relevant heads cost more when removed;
 *  - `spearman_predicted_vs_measured_drop`: the same between the predicted drop (silenced in U₁) and the measured drop;
 *  - `gap`: measured − predicted accuracy of the full model (fractions, e.g. 0.109 = 10.9 points).
 * Correlations are null with fewer than 3 measured heads or when either side is constant.
 * @returns undefined when nothing was measured or the metric is not accuracy
 */
export function measuredAgreement(
  r: Pick<AnalysisReport, 'metrics' | 'head_scores_ascending' | 'head_silencing' | 'head_removal_measured'>,
): MeasuredAgreement | undefined {
  const m = r.head_removal_measured;
  if (!m || m.metric !== 'accuracy') return undefined;
  const rows = m.heads.flatMap((h) => {
    const score = r.head_scores_ascending.find((s) => s.layer === h.layer && s.head === h.head)?.score;
    const sil = r.head_silencing.find((s) => s.layer === h.layer && s.head === h.head);
    if (h.value === null || score === undefined || !sil) return [];
    // The predicted drop against the head's own full prediction (its window's, for layer windows: `delta_acc`).
    const predictedDrop = sil.delta_acc !== undefined ? -sil.delta_acc : r.metrics.acc_mean_predictor - sil.acc_mean_predictor;
    return [{ score, measuredDrop: m.full - h.value, predictedDrop }];
  });
  const rho = (a: number[], b: number[]) => (rows.length >= 3 ? spearman(a, b) : null);
  return {
    heads: rows.length,
    spearman_score_vs_measured_drop: rho(
      rows.map((x) => x.score),
      rows.map((x) => x.measuredDrop),
    ),
    spearman_predicted_vs_measured_drop: rho(
      rows.map((x) => x.predictedDrop),
      rows.map((x) => x.measuredDrop),
    ),
    predicted_full: r.metrics.acc_mean_predictor,
    measured_full: m.full,
    gap: m.full - r.metrics.acc_mean_predictor,
  };
}

const rhoText = (x: number | null) => (x === null ? 'undefined (too few heads, or no spread)' : `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`);
const points = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)} points`;

/**
 * The agreement in words, one or two sentences (plain text; '' when nothing was measured): the gap of the full
 * model's accuracy, the two rank correlations and what the prediction is.
 */
export function agreementSentence(r: AnalysisReport): string {
  const a = r.head_removal_measured?.agreement ?? measuredAgreement(r);
  if (!a) return '';
  return (
    `Measured ${(100 * a.measured_full).toFixed(1)}% against predicted ${(100 * a.predicted_full).toFixed(1)}% for the full model (${points(a.gap)}); ` +
    `rank correlation with the measured drop of removing each head (${a.heads} heads): relevance score ρ = ${rhoText(a.spearman_score_vs_measured_drop)}, ` +
    `predicted accuracy drop ρ = ${rhoText(a.spearman_predicted_vs_measured_drop)}` +
    (r.windows && r.windows.length > 1 ? " (the full model predicted by the last layer window, whose readout is the model's)" : '') +
    `. ${PREDICTION_MEANS}`
  );
}

/** `agreementSentence` for markdown hovers, with the heading "How far to trust it". */
export function agreementText(r: AnalysisReport): string {
  const s = agreementSentence(r);
  return s ? `**How far to trust it** — ${s}` : '';
}
