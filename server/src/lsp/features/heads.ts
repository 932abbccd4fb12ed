/**
 * Heads as the editor shows them: ranked by relevance (docs/theory.md §g), with the predicted effect of
 * silencing each one, and where in a config each layer's heads are written.
 */
import type { ConfigOutline } from '../../config/outline';
import type { Span } from '../../config/positions';
import { formatNumber } from '../../../../shared/format';
import type { AnalysisReport } from '../../../../shared/report';
import { headInLayerName, headName, layerName } from '../../../../shared/format';

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
  const sorted = [...report.head_scores_ascending].sort(
    (a, b) => (a.window ?? 0) - (b.window ?? 0) || b.score - a.score || a.layer - b.layer || a.head - b.head,
  );
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

/** How much an inlay hint says per head (see `fitLayerHints`). */
export type HintDetail = 'scores' | 'ranks' | 'bars';

/**
 * VS Code truncates the inlay hints of one line beyond this many characters in total
 * (`editor.inlayHints.maximumLength`, default 43); a flow list `heads: [4, 4]` puts every layer's hint on one line.
 */
export const INLAY_LINE_BUDGET = 43;

const BARS = '▁▂▃▄▅▆▇█';

/** A relevance score in [0, 1] as one of eight bar glyphs (▁ lowest, █ = 1). */
export function scoreBar(score: number): string {
  return BARS[Math.max(0, Math.min(7, Math.floor(score * 8)))];
}

/**
 * One layer's heads in head order, at a level of detail:
 * `scores` "H0 .82 #2, H1 .61 #3" (score and rank), `ranks` "#2 #3" (rank only), `bars` "▆▄" (score as a bar).
 */
export function layerHeadsText(heads: RankedHead[], layer: number, detail: HintDetail = 'scores'): string {
  const inLayer = heads.filter((h) => h.layer === layer).sort((a, b) => a.head - b.head);
  switch (detail) {
    case 'scores':
      return inLayer.map((h) => `${headInLayerName(h.head)} ${h.score.toFixed(2).replace(/^0\./, '.')} #${h.rank}`).join(', ');
    case 'ranks':
      return inLayer.map((h) => `#${h.rank}`).join(' ');
    case 'bars':
      return inLayer.map((h) => scoreBar(h.score)).join('');
  }
}

/**
 * The most detailed form in which every head of every layer on one editor line fits `INLAY_LINE_BUDGET`
 * characters (VS Code's per-line limit), so that no head is cut off: `scores`, else `ranks`, else `bars`.
 * @param layers the layers whose hints share the line
 * @param prefixed whether each layer's text is preceded by its name ("L0 "), as when one hint lists all layers
 * @returns the detail and the texts, one per layer in `layers` order
 */
export function fitLayerHints(heads: RankedHead[], layers: number[], prefixed: boolean): { detail: HintDetail; texts: string[] } {
  let last: { detail: HintDetail; texts: string[] } | undefined;
  for (const detail of ['scores', 'ranks', 'bars'] as const) {
    const texts = layers.map((l) => (prefixed ? `${layerName(l)} ` : '') + layerHeadsText(heads, l, detail));
    // Each hint carries one character of padding; layers sharing one hint are joined by " · ".
    const total = texts.reduce((n, t) => n + t.length, 0) + (prefixed ? 3 * (texts.length - 1) + 1 : texts.length);
    last = { detail, texts };
    if (total <= INLAY_LINE_BUDGET) return last;
  }
  return last!;
}

/** Markdown table of heads (rank, head, score, predicted accuracy and ε_g when silenced; measured when there is one). */
export function headsTable(report: AnalysisReport, layer?: number): string {
  const rows = rankedHeads(report).filter((h) => layer === undefined || h.layer === layer);
  const m = report.head_removal_measured;
  const measured = (h: RankedHead) => {
    const row = m?.heads.find((x) => x.layer === h.layer && x.head === h.head);
    if (!row) return '—';
    if (row.value === null) return 'not measured';
    return m!.metric === 'accuracy' ? percent(row.value) : formatNumber(row.value);
  };
  const head = m ? ` measured ${m.metric === 'accuracy' ? 'accuracy' : 'MSE'} without it |` : '';
  const align = m ? '---:|' : '';
  const lines = [`| rank | head | score |${head} predicted accuracy if silenced | predicted ε_g if silenced |`, `|---:|:---|---:|${align}---:|---:|`];
  for (const h of rows) {
    const acc = h.accSilenced === undefined ? '—' : percent(h.accSilenced);
    const eg = h.egSilenced === undefined ? '—' : formatNumber(h.egSilenced);
    lines.push(`| ${h.rank} | ${headName(h.layer, h.head)} | ${scoreText(h.score)} |${m ? ` ${measured(h)} |` : ''} ${acc} | ${eg} |`);
  }
  return lines.join('\n');
}
