/**
 * Inlay hints on a config's `heads` entry: after each layer's head count, that layer's heads with their
 * relevance score and rank ("h0 0.81 #2 · h1 0.59 #3"; THEORY.md section g). When the config does not
 * list heads per layer (a single number, or heads that come with the task), one hint lists every layer.
 */
import { InlayHintKind, MarkupKind, type InlayHint } from 'vscode-languageserver';
import type { ConfigDoc } from '../analysis/configs';
import { headsPlacement, headsTable, layerHeadsText, rankedHeads } from './heads';
import { endOf } from './ranges';

const TOOLTIP_HEAD =
  'Head relevance score (THEORY.md section g): the sum of |U₁| over the rows and columns of every attention path ' +
  'through the head, divided by the largest such sum. Rank 1 is the most relevant head; low scores are pruning candidates.\n\n';

/** The inlay hints of a config document (none until an analysis is done). */
export function configInlayHints(doc: ConfigDoc): InlayHint[] {
  const report = doc.state === 'done' ? doc.report : undefined;
  if (!report) return [];
  const L = report.settings.heads.length;
  const heads = rankedHeads(report);
  const place = headsPlacement(doc.outline, L);
  const hint = (span: typeof place.shared, label: string, layer?: number): InlayHint => ({
    position: endOf(span),
    label,
    kind: InlayHintKind.Parameter,
    paddingLeft: true,
    tooltip: { kind: MarkupKind.Markdown, value: TOOLTIP_HEAD + headsTable(report, layer) },
  });
  if (place.perLayer) return place.perLayer.map((span, l) => hint(span, layerHeadsText(heads, l), l));
  const all = Array.from({ length: L }, (_, l) => `L${l}: ${layerHeadsText(heads, l)}`).join(' | ');
  return [hint(place.shared, `heads [${report.settings.heads.join(', ')}] — ${all}`)];
}
