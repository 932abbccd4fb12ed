/**
 * Diagnostics of a config: every issue of `parseConfig` at its exact span, an analysis failure at the
 * entry it names, the analysis's warnings, and an information-level note on each head whose relevance
 * score is below the prunable threshold (docs/theory.md §g), placed on that layer's `heads` entry.
 */
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver';
import type { ConfigDoc } from '../documents/configs';
import { formatNumber } from '../../../../shared/format';
import { headsPlacement, percent, rankedHeads, scoreText } from './heads';
import { toRange } from './ranges';
import { describeCost } from '../../pipeline/resources';
import { headName } from '../../../../shared/format';
import { splitWarning } from '../../../../shared/format';

/** `source` of every diagnostic the server publishes. */
export const DIAGNOSTIC_SOURCE = 'attention-paths';

/**
 * The entry an analysis error is about, from how the pipeline words its messages ("heads: …",
 * "attention.params file …", "X_train …"); '' when it names none.
 */
export function errorPointer(message: string): string {
  if (/^heads\b|attention paths \(heads/.test(message)) return '/heads';
  if (/attention\.params|\bQ_\d|\bK_\d|\bW_\d/.test(message)) return '/attention/params';
  if (/attention\.model|attention\.kind "model"/.test(message)) return '/attention/model';
  if (/\b(X|y)_(train|test)\b|data file/.test(message)) return '/data';
  if (/\bwidths\b/.test(message)) return '/widths';
  if (/\bvariances\b/.test(message)) return '/variances';
  if (/temperature|T_B/.test(message)) return '/temperature';
  return '';
}

/**
 * All diagnostics of one config document.
 * @param doc the config's state
 * @param threshold heads with a relevance score strictly below this get an information diagnostic
 */
export function configDiagnostics(doc: ConfigDoc, threshold: number): Diagnostic[] {
  const out: Diagnostic[] = doc.parsed.issues.map((i) => ({
    range: toRange(i),
    severity: i.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
    source: DIAGNOSTIC_SOURCE,
    code: 'config',
    message: i.message,
    data: { pointer: i.pointer, ...(i.fix ? { fix: i.fix } : {}) },
  }));
  if (doc.state === 'error' && doc.error) {
    const pointer = doc.errorPointer ?? errorPointer(doc.error);
    const span = (pointer && (doc.outline.span(pointer) ?? doc.outline.span(pointer.replace(/\/[^/]*$/, '')))) || doc.outline.firstLine();
    out.push({
      range: toRange(span),
      severity: DiagnosticSeverity.Error,
      source: DIAGNOSTIC_SOURCE,
      code: 'analysis',
      message: `analysis failed: ${doc.error}`,
    });
  }
  if (doc.state === 'cancelled' && doc.declined) {
    // The user declined a long analysis: say what it would cost, on the key that costs the most time.
    const c = doc.declined;
    const pointer = c.timeKey === 'heads' ? '/heads' : c.shape.source === 'builtin' && (c.timeKey === 'P' || c.timeKey === 'P_test') ? `/${c.timeKey}` : '';
    const span = (pointer && doc.outline.span(pointer)) || doc.outline.firstLine();
    out.push({
      range: toRange(span),
      severity: DiagnosticSeverity.Information,
      source: DIAGNOSTIC_SOURCE,
      code: 'not-analysed',
      message: `not analysed: it needs ${describeCost(c)}; run "Attention Paths: Analyze Model or Config" to start it, or raise attentionPaths.confirmAboveSeconds`,
    });
  }
  const report = doc.state === 'done' ? doc.report : undefined;
  if (report?.warnings.length) {
    // What the analysis wants the user to know (a model outside the theory's class, a solver that did not
    // converge, …): on the attention entry when the config has one, else on the first line.
    const span = doc.outline.span('/attention/model') ?? doc.outline.span('/attention') ?? doc.outline.firstLine();
    // One line each (the hover on the entry has the details below its table).
    for (const w of report.warnings) {
      out.push({
        range: toRange(span),
        severity: DiagnosticSeverity.Warning,
        source: DIAGNOSTIC_SOURCE,
        code: 'analysis-warning',
        message: splitWarning(w).headline,
      });
    }
  }
  if (report) {
    const place = headsPlacement(doc.outline, report.settings.heads.length);
    const full = report.metrics;
    for (const h of rankedHeads(report)) {
      if (!(h.score < threshold)) continue;
      const effect =
        h.accSilenced !== undefined && h.egSilenced !== undefined
          ? ` Silencing it predicts accuracy ${percent(h.accSilenced)} (full model ${percent(full.acc_mean_predictor)}) and ε_g ${formatNumber(h.egSilenced)} (${formatNumber(full.eg_total)}).`
          : '';
      out.push({
        range: toRange(place.perLayer?.[h.layer] ?? place.shared),
        severity: DiagnosticSeverity.Information,
        source: DIAGNOSTIC_SOURCE,
        code: 'prunable-head',
        message: `${headName(h.layer, h.head)}: relevance score ${scoreText(h.score)} < ${threshold} (rank ${h.rank} of ${report.head_scores_ascending.length}), a pruning candidate.${effect}`,
        data: { layer: h.layer, head: h.head, score: h.score },
      });
    }
  }
  return out;
}
