/**
 * Heads as the editor shows them: ranked by relevance (THEORY.md section g), with the predicted effect of
 * silencing each one, and where in a config each layer's heads are written.
 */
import type { ConfigOutline } from '../config/outline';
import type { Span } from '../config/positions';
import { formatNumber } from '../report/charts';
import type { AnalysisReport } from '../report/types';

/** One head with its rank (1 = most relevant) and the report's silencing prediction. */
export interface RankedHead {
  layer: number;
  head: number;
  /** Max-normalized relevance score in [0, 1]. */
  score: number;
  rank: number;
  /** Predicted accuracy of the mean predictor / ε_g with this head's paths zeroed in U₁. */
  accSilenced?: number;
  egSilenced?: number;
}

/**
 * Heads sorted by relevance, most relevant first (ties: lower layer, then lower head first). Windowed analyses
 * (docs/windows.md): window by window, ranked within each, since scores are normalized per window.
 */
export function rankedHeads(report: AnalysisReport): RankedHead[] {
  const sorted = [...report.head_scores_ascending].sort((a, b) => (a.window ?? 0) - (b.window ?? 0) || b.score - a.score || a.layer - b.layer || a.head - b.head);
  let rank = 0;
  return sorted.map((s, i) => {
    rank = i > 0 && sorted[i - 1].window !== s.window ? 1 : rank + 1;
    const sil = report.head_silencing.find((h) => h.layer === s.layer && h.head === s.head);
    return { layer: s.layer, head: s.head, score: s.score, rank, accSilenced: sil?.acc_mean_predictor, egSilenced: sil?.eg_total };
  });
}

/** A percentage with one decimal ("95.7%"). */
export function percent(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/** Score as the editor prints it: two decimals ("0.81"), three below 0.1 ("0.034"). */
export function scoreText(s: number): string {
  return s < 0.1 ? s.toFixed(3) : s.toFixed(2);
}

/** Where each layer's heads are written: the items of a `heads` list, else one span shared by all layers. */
export interface HeadsPlacement {
  /** One span per layer when `heads` is a list with one item per layer. */
  perLayer?: Span[];
  /** Otherwise the span all layers share: the `heads` value, or the `task` / `data` / `attention` value. */
  shared: Span;
  /** The pointer `shared` belongs to. */
  pointer: string;
}

/**
 * Finds where a config writes the heads of `layers` layers.
 * @param outline the config's outline
 * @param layers L, the number of attention layers of the analysis
 */
export function headsPlacement(outline: ConfigOutline, layers: number): HeadsPlacement {
  const items = outline.itemSpans('/heads');
  for (const pointer of ['/heads', '/attention', '/task', '/data']) {
    const span = outline.span(pointer);
    if (span) return { perLayer: items.length === layers ? items : undefined, shared: span, pointer };
  }
  return { shared: outline.firstLine(), pointer: '' };
}

/**
 * "h0 .82 #2, h1 .61 #3" for one layer's heads in head order. Kept short on purpose: VS Code truncates the
 * inlay hints of a line beyond 43 characters in total (editor.inlayHints.maximumLength), and a flow list
 * `heads: [2, 2]` puts every layer's hint on one line. The tooltip has the full table.
 */
export function layerHeadsText(heads: RankedHead[], layer: number): string {
  return heads
    .filter((h) => h.layer === layer)
    .sort((a, b) => a.head - b.head)
    .map((h) => `h${h.head} ${h.score.toFixed(2).replace(/^0\./, '.')} #${h.rank}`)
    .join(', ');
}

/** Markdown table of heads (rank, layer, head, score, predicted accuracy and ε_g when silenced). */
export function headsTable(report: AnalysisReport, layer?: number): string {
  const rows = rankedHeads(report).filter((h) => layer === undefined || h.layer === layer);
  const lines = ['| rank | layer | head | score | accuracy if silenced | ε_g if silenced |', '|---:|---:|---:|---:|---:|---:|'];
  for (const h of rows) {
    const acc = h.accSilenced === undefined ? '—' : percent(h.accSilenced);
    const eg = h.egSilenced === undefined ? '—' : formatNumber(h.egSilenced);
    lines.push(`| ${h.rank} | ${h.layer} | ${h.head} | ${scoreText(h.score)} | ${acc} | ${eg} |`);
  }
  return lines.join('\n');
}
