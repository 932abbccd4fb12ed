/**
 * What "Prune heads..." writes. For a config that analyses an ONNX model: the pruned model, through the
 * same pipeline as `attention-paths prune` (pipeline/pruneModel.ts), run in a worker. For any other config
 * there is no model to prune, so a pruning plan: which heads to remove, their relevance scores, and the
 * theory's predicted effect of removing them together (docs/theory.md §g); the plan says that nothing was
 * measured instead of leaving a blank number.
 */
import type { HeadRef, PruneResult } from '../../../../shared/protocol';
import type { PruneSummary } from '../../pipeline/pruneModel';
import type { AnalysisReport, Metrics } from '../../../../shared/report';
import { writeFileSafely } from '../../io/atomic';
import { VERSION } from '../../version';
import { headName } from '../../../../shared/format';

/** Why a plan has no measured effect (shown to the user and written into the plan). */
export const NO_MEASURED_EFFECT = "nothing measured: this config has no model to prune (attention.kind model); the numbers are the theory's prediction";

/** The JSON of a pruning plan (what `writePrunePlan` writes). */
export interface PrunePlan {
  tool: 'attention-paths';
  version: string;
  kind: 'pruning-plan';
  config: string;
  task: AnalysisReport['task'];
  settings: AnalysisReport['settings'];
  removed: Array<HeadRef & { score: number; rank: number }>;
  before: Metrics;
  predicted: Metrics;
  measured: null;
  note: string;
}

/**
 * Builds and writes the plan.
 * @param output absolute path of the JSON file
 * @param overwrite replace an existing file (else WouldOverwriteError)
 * @throws Error when a head is not in the report; WouldOverwriteError (io/paths.ts) when the file exists
 */
export function writePrunePlan(
  configPath: string,
  uri: string,
  report: AnalysisReport,
  removed: HeadRef[],
  predicted: Metrics,
  output: string,
  overwrite: boolean,
): PruneResult {
  const ranked = [...report.head_scores_ascending].sort((a, b) => b.score - a.score || a.layer - b.layer || a.head - b.head);
  const rows = removed.map((h) => {
    const i = ranked.findIndex((r) => r.layer === h.layer && r.head === h.head);
    if (i < 0) throw new Error(`${headName(h.layer, h.head)} is not a head of this analysis (heads per layer [${report.settings.heads.join(', ')}], 0-based)`);
    return { layer: h.layer, head: h.head, score: ranked[i].score, rank: i + 1 };
  });
  const plan: PrunePlan = {
    tool: 'attention-paths',
    version: VERSION,
    kind: 'pruning-plan',
    config: configPath,
    task: report.task,
    settings: report.settings,
    removed: rows,
    before: report.metrics,
    predicted,
    measured: null,
    note: NO_MEASURED_EFFECT,
  };
  writeFileSafely(output, JSON.stringify(plan, null, 2) + '\n', overwrite);
  return {
    uri,
    wrote: 'plan',
    output,
    removed: rows.map(({ layer, head }) => ({ layer, head })),
    predicted: { before: report.metrics, after: predicted },
    notes: [NO_MEASURED_EFFECT],
  };
}

/** The protocol's view of a model pruning (`attention-paths prune`'s summary). */
export function modelPruneResult(uri: string, s: PruneSummary): PruneResult {
  const v = s.verification;
  const verification =
    'skipped' in v
      ? `not verified: ${v.skipped}`
      : `equals the original with these heads masked on ${v.examples} examples of ${v.data} (max |difference| ${v.maxAbsDiff.toExponential(1)}, allowed ${v.tolerance.toExponential(1)})`;
  const m = s.measured;
  return {
    uri,
    wrote: 'model',
    output: s.out,
    removed: s.removed.map(({ layer, head }) => ({ layer, head })),
    predicted: s.predicted,
    measured: m && { kind: m.before.kind, before: m.before.value, after: m.after.value, count: m.after.count },
    verification,
    comparison: s.comparison,
    notes: [
      ...(s.theory.ran || s.theory.reason === 'no labelled data' ? [] : [`theory ${s.theory.reason}`]),
      ...s.warnings.map((w) => `warning: ${w}`),
      ...s.notes,
      ...(m ? [] : ["nothing measured: the config's data has no labels (y, or y_train and y_test)"]),
    ],
  };
}
