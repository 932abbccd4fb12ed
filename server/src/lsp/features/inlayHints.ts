/**
 * Inlay hints on a config's `heads` entry: after each layer's head count, that layer's heads in head order with
 * their relevance score and rank ("H0 .82 #2, H1 .61 #3"; docs/theory.md §g). When the config does not list
 * heads per layer (a single number, or heads that come with the task or the model), one hint lists every layer
 * ("L0 #8 #7 #2 #5 · L1 #1 #3 #6 #4"). Every head of every layer is always shown: when the hints of a line would
 * pass VS Code's per-line limit (`INLAY_LINE_BUDGET`) they drop to ranks, then to score bars ("▆▄▇▁"). The full
 * table is in each hint's tooltip.
 */
import { InlayHintKind, MarkupKind, type InlayHint, type InlayHintLabelPart } from 'vscode-languageserver';
import type { ConfigDoc } from '../documents/configs';
import { fitLayerHints, headsPlacement, headsTable, rankedHeads, type HintDetail } from './heads';
import { endOf } from './ranges';
import { layerName } from '../../../../shared/format';

const LEGEND: Record<HintDetail, string> = {
  scores: 'Each head in head order: relevance score and rank (#1 = most relevant).',
  ranks: 'Each head in head order: its rank by relevance (#1 = most relevant); the scores are in the table.',
  bars: 'Each head in head order: its relevance score as a bar (▁ low … █ = 1, the most relevant head).',
};

const TOOLTIP_HEAD =
  'Head relevance score (docs/theory.md §g): the sum of |U₁| over the rows and columns of every attention path ' +
  'through the head, divided by the largest such sum. Low scores are pruning candidates.';

/** The inlay hints of a config document (none until an analysis is done). */
export function configInlayHints(doc: ConfigDoc): InlayHint[] {
  const report = doc.state === 'done' ? doc.report : undefined;
  if (!report) return [];
  const L = report.settings.heads.length;
  const heads = rankedHeads(report);
  const place = headsPlacement(doc.outline, L);
  const tooltip = (detail: HintDetail, layer?: number) => ({
    kind: MarkupKind.Markdown,
    value: `${TOOLTIP_HEAD} ${LEGEND[detail]}\n\n${layer === undefined ? '' : `**${layerName(layer)}**\n\n`}${headsTable(report, layer)}`,
  });
  const layers = Array.from({ length: L }, (_, l) => l);
  if (place.perLayer) {
    const spans = place.perLayer;
    // Hints of the layers written on the same line share that line's budget.
    const byLine = new Map<number, number[]>();
    for (const l of layers) byLine.set(spans[l].endLine, [...(byLine.get(spans[l].endLine) ?? []), l]);
    const out: InlayHint[] = [];
    for (const group of byLine.values()) {
      const { detail, texts } = fitLayerHints(heads, group, false);
      group.forEach((l, i) =>
        out.push({ position: endOf(spans[l]), label: texts[i], kind: InlayHintKind.Parameter, paddingLeft: true, tooltip: tooltip(detail, l) }),
      );
    }
    return out.sort((a, b) => a.position.line - b.position.line || a.position.character - b.position.character);
  }
  const { detail, texts } = fitLayerHints(heads, layers, true);
  const label: InlayHintLabelPart[] = [];
  texts.forEach((t, l) => {
    if (l > 0) label.push({ value: ' · ' });
    label.push({ value: t, tooltip: tooltip(detail, l) });
  });
  return [{ position: endOf(place.shared), label, kind: InlayHintKind.Parameter, paddingLeft: true, tooltip: tooltip(detail) }];
}
