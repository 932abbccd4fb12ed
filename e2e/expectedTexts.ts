/**
 * What the editor shows for an analysed config, built from its analysis report by the functions the language
 * server, the client and the charts use (code lens headline, inlay hints, heatmap title, attention-map tile titles)
 * or, where those are inlined in editor-only code, from the report's numbers in the shared formats — so the
 * in-editor tests (e2e/host) and the UI checks (e2e/ui.mjs) compare the screen with the pipeline's results, not with
 * literal numbers: a deliberate change of the numerics changes both sides together.
 *
 * `textsOf(report)` takes a report the server sent (the in-editor tests); `expectedTexts(configPath)` in
 * expectedRun.ts runs the analysis itself for the UI checks (the pipeline is deterministic: the server computes the
 * same report).
 */
import { headline } from '../server/src/lsp/features/codeLens';
import { fitLayerHints, rankedHeads, scoreText } from '../server/src/lsp/features/heads';
import { u1HeatmapSpec } from '../shared/charts';
import { headName, pct } from '../shared/format';
import type { AnalysisReport } from '../shared/report';

/** One head as the editor writes it. */
export interface ExpectedHead {
  layer: number;
  head: number;
  name: string;
  /** Rank by relevance, 1 = most relevant. */
  rank: number;
  /** The prune pick list's description: "predicted 93.5% (full 96.5%) · relevance 0.138 · #4". */
  pickDescription: string;
  /** The prunable-head diagnostic's first sentence: "L1·H1: relevance score .14 < 0.2 (rank 4 of 4)". */
  diagnostic: (threshold: number) => string;
  /** The attention-map tile title: "L0·H0 · relevance 0.82 (#2)". */
  tileTitle: string;
  /** Predicted accuracy with this head silenced (the value a one-head pruning plan predicts). */
  accSilenced: number;
}

export interface ExpectedTexts {
  report: AnalysisReport;
  /** The analysis code lens title. */
  lens: string;
  /** The inlay hint of each layer of `heads: [...]` written on one line (as the fixture writes it). */
  hints: string[];
  /** The U₁ heatmap's title. */
  heatmapTitle: string;
  /** Finite-width predicted accuracy. */
  accuracy: number;
  heads: ExpectedHead[];
  /** The notification after pruning `heads` alone: "Removing L1·H1; predicted accuracy 96.5% → 93.5%". */
  pruneToastStart: (head: { layer: number; head: number }) => string;
}

/** The texts for a report (see module doc). */
export function textsOf(report: AnalysisReport): ExpectedTexts {
  const L = report.settings.heads.length;
  const ranked = rankedHeads(report);
  const byScore = [...report.head_scores_ascending].sort((a, b) => b.score - a.score || a.layer - b.layer || a.head - b.head);
  const full = report.metrics;
  const heads: ExpectedHead[] = byScore.map((h, i) => {
    const sil = report.head_silencing.find((s) => s.layer === h.layer && s.head === h.head)!;
    const r = ranked.find((x) => x.layer === h.layer && x.head === h.head)!;
    return {
      layer: h.layer,
      head: h.head,
      name: headName(h.layer, h.head),
      rank: i + 1,
      pickDescription: `predicted ${pct(sil.acc_mean_predictor)} (full ${pct(full.acc_mean_predictor)}) · relevance ${h.score.toFixed(3)} · #${i + 1}`,
      diagnostic: (threshold) => `${headName(h.layer, h.head)}: relevance score ${scoreText(h.score)} < ${threshold} (rank ${r.rank} of ${byScore.length})`,
      tileTitle: `${headName(h.layer, h.head)} · relevance ${h.score.toFixed(2)} (#${i + 1})`,
      accSilenced: sil.acc_mean_predictor,
    };
  });
  const title = u1HeatmapSpec(report).title as string | { text: string | string[] };
  const heatmapTitle = typeof title === 'string' ? title : Array.isArray(title.text) ? title.text[0] : title.text;
  return {
    report,
    lens: headline(report),
    hints: fitLayerHints(
      ranked,
      Array.from({ length: L }, (_, l) => l),
      false,
    ).texts,
    heatmapTitle,
    accuracy: full.acc_mean_predictor,
    heads,
    pruneToastStart: (h) =>
      `Removing ${headName(h.layer, h.head)}; predicted accuracy ${pct(full.acc_mean_predictor)} → ${pct(heads.find((x) => x.layer === h.layer && x.head === h.head)!.accSilenced)}`,
  };
}
