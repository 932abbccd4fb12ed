/**
 * The words and numbers the palette commands show (notifications, quick-pick details, the output channel), and the
 * parsing of what the user types. No `vscode` import, so they are unit-tested in Node (client/test/).
 */
import * as path from 'node:path';
import { headList, num, pct } from '../../shared/format';
import { isWidth, WIDTH_RANGE } from '../../shared/width';
import type { AnalysisReport, InspectModelResult, PruneResult } from '../../shared/protocol';

/** Percentages and 4-digit numbers are written as everywhere else (shared/format.ts). */
export { num, pct };

/** The finite-width prediction next to the GP limit, as the code lens says it. */
export function summary(r: AnalysisReport): string {
  return `accuracy ${pct(r.metrics.acc_mean_predictor)} (GP limit ${pct(r.gp.metrics.acc_mean_predictor)}), ε_g ${num(r.metrics.eg_total)} (GP limit ${num(r.gp.metrics.eg_total)})`;
}

/**
 * "10, 30,100" → [10, 30, 100]; undefined unless every entry is a width N from 1 to 1e15 (shared/width.ts: the rule of
 * the CLI's `--widths`, the config schema and the server's sweep request; N may be fractional). Empty entries
 * ("10,30,") are skipped while the user types.
 */
export function parseWidths(text: string): number[] | undefined {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const widths = parts.map(Number);
  return widths.length && widths.every(isWidth) ? widths : undefined;
}

/** One sentence: what was removed, measured effect (when there is one) and predicted effect. */
export function pruneMessage(r: PruneResult): string {
  const names = headList(r.removed);
  const parts = [`Removing ${names}`];
  if (r.measured) {
    const f = r.measured.kind === 'accuracy' ? pct : num;
    parts.push(`measured ${r.measured.kind} ${f(r.measured.before)} → ${f(r.measured.after)} (${r.measured.count} test examples)`);
  }
  if (r.predicted) {
    parts.push(
      `predicted accuracy ${pct(r.predicted.before.acc_mean_predictor)} → ${pct(r.predicted.after.acc_mean_predictor)}, ` +
        `ε_g ${num(r.predicted.before.eg_total)} → ${num(r.predicted.after.eg_total)}`,
    );
  }
  const c = r.comparison;
  if (c) {
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
    const side = [
      `parameters ${c.original.parameters.toLocaleString('en-US')} → ${c.pruned.parameters.toLocaleString('en-US')}`,
      `file ${kb(c.original.file_bytes)} → ${kb(c.pruned.file_bytes)}`,
    ];
    if (c.original.latency && c.pruned.latency) {
      side.push(`latency ${c.original.latency.median_ms.toFixed(2)} → ${c.pruned.latency.median_ms.toFixed(2)} ms per batch of ${c.original.latency.batch}`);
    }
    parts.push(side.join(', '));
  }
  const written = r.wrote === 'model' ? `Pruned model written to ${path.basename(r.output)}.` : `Plan written to ${path.basename(r.output)} (${r.notes[0]}).`;
  return `${parts.join('; ')}. ${written}`;
}

/** What the Sweep Width box says while its text is not a list of widths. */
export const WIDTHS_HINT = `give widths N ${WIDTH_RANGE} separated by commas, e.g. 10,30,100`;

/**
 * What "Analyze Model or Config" says about a model no config names yet: the reason when the model cannot be read
 * (advice about data for it would mislead), else how to get relevance for it, with the config it can create.
 */
export function modelAnalysisMessage(
  modelName: string,
  info: Pick<InspectModelResult, 'error' | 'analysisNote' | 'createConfig'>,
): { kind: 'error' | 'info'; text: string; create?: string } {
  if (info.error) return { kind: 'error', text: `${modelName} cannot be analysed: ${info.error}` };
  const create = info.createConfig ? `Create ${path.basename(info.createConfig.config)}` : undefined;
  return { kind: 'info', text: info.analysisNote, ...(create ? { create } : {}) };
}
