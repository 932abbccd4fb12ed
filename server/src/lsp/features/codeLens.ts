/**
 * Code lenses of a config file, on its first line: the predicted test accuracy and ε_g at finite width
 * next to the GP limit (docs/theory.md §c and §e), with "Show charts" and "Prune heads..." — or, while
 * there is no result, what the analysis is doing and why.
 */
import type { CodeLens, Command } from 'vscode-languageserver';
import type { ConfigDoc } from '../documents/configs';
import { Commands } from '../../../../shared/protocol';
import { formatNumber, notConvergedNote, widthLabel } from '../../../../shared/format';
import type { AnalysisReport } from '../../../../shared/report';
import { percent } from './heads';

/**
 * The headline of a report: "accuracy 95.7% (GP limit 82.5%) · ε_g 0.4275 (GP limit 0.744) at N = 10, T_B = 0.01".
 * Accuracy is that of the mean predictor on the test set; ε_g = bias + variance (docs/theory.md §e).
 */
export function headline(report: AnalysisReport): string {
  const ws = report.windows;
  if (ws && ws.length > 1) {
    // Each window predicts on its own: one accuracy per window (docs/windows.md).
    const solver = report.solver.converged ? '' : ' · solver did not converge in every window';
    return (
      `Predicted test accuracy by layer window: ${ws.map((w) => `${w.layers[0]}–${w.layers[1]} ${percent(w.metrics.acc_mean_predictor)}`).join(', ')} ` +
      `(GP limit ${ws.map((w) => percent(w.gp_metrics.acc_mean_predictor)).join(', ')}) at ${widthLabel(report.settings.widths)}, T_B = ${formatNumber(report.settings.temperature)}${solver}`
    );
  }
  const m = report.metrics;
  const gp = report.gp.metrics;
  const note = notConvergedNote(report.solver);
  const solver = note ? ` · ${note}` : '';
  return (
    `Predicted test accuracy ${percent(m.acc_mean_predictor)} (GP limit ${percent(gp.acc_mean_predictor)}) · ` +
    `ε_g ${formatNumber(m.eg_total)} (GP limit ${formatNumber(gp.eg_total)}) at ${widthLabel(report.settings.widths)}, T_B = ${formatNumber(report.settings.temperature)}${solver}`
  );
}

/** Lens actions that act on a report (the same for configs and the Python lines of a model). */
export function reportActions(uri: string): Command[] {
  return [
    { title: 'Show charts', command: Commands.showCharts, arguments: [uri] },
    { title: 'Prune heads...', command: Commands.pruneHeads, arguments: [uri] },
  ];
}

/** The code lenses of a config document, on its first line. */
export function configCodeLenses(doc: ConfigDoc): CodeLens[] {
  const range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
  const lens = (title: string, command: string, args: unknown[] = [doc.uri]): CodeLens => ({ range, command: { title, command, arguments: args } });
  const errors = doc.parsed.issues.filter((i) => i.severity === 'error').length;
  switch (doc.state) {
    case 'done':
      if (!doc.report) return [];
      return [lens(headline(doc.report), Commands.showCharts), ...reportActions(doc.uri).map((command) => ({ range, command }))];
    case 'queued':
    case 'running': {
      const what = doc.progress ? doc.progress.message : doc.state === 'queued' ? 'waiting for a worker' : 'starting';
      return [lens(`$(sync~spin) Attention Paths: analyzing… ${what}`, Commands.showOutput)];
    }
    case 'error':
      return [lens(`Attention Paths: analysis failed — ${doc.error ?? 'see the output'}`, Commands.showOutput), lens('Analyze again', Commands.analyze)];
    case 'cancelled':
      return [lens('Attention Paths: analysis cancelled — Analyze again', Commands.analyze)];
    case 'invalid':
      return [lens(`Attention Paths: fix ${errors} config error${errors === 1 ? '' : 's'} to analyse`, 'workbench.actions.view.problems', [])];
    case 'restricted':
      return [lens('Attention Paths: no analysis in Restricted Mode (trust this workspace to run it)', 'workbench.trust.manage', [])];
    case 'idle':
      return [lens('Attention Paths: Analyze', Commands.analyze)];
  }
}
