/**
 * Writing reports to disk: the JSON and the SVG charts rendered from the same Vega-Lite specs the
 * editor's webview shows. Files are written atomically (io/atomic.ts), and existing files are
 * never replaced unless the caller says so (io/paths.ts).
 */
import { join } from 'node:path';
import { writeFileSafely } from '../io/atomic';
import { checkOutputDir } from '../io/paths';
import type { AnalysisReport, SweepReport } from '../../../shared/report';
import { attentionMapsSpec, headRemovalSpec, headScoresSpec, pcOverlapSpec, sweepSpec, u1HeatmapSpec } from '../../../shared/charts';
import { renderSvg } from './svg';

/** Files `writeAnalysisReportDir` writes into its folder. */
export const ANALYSIS_REPORT_FILES = [
  'report.json',
  'u1-heatmap.svg',
  'u1-heatmap.vl.json',
  'head-scores.svg',
  'head-scores.vl.json',
  'pc-overlap.svg',
  'pc-overlap.vl.json',
  'head-removal.svg',
  'head-removal.vl.json',
  'attention-maps.svg',
  'attention-maps.vl.json',
];
/** Files `writeSweepReportDir` writes into its folder. */
export const SWEEP_REPORT_FILES = ['sweep.json', 'sweep.svg', 'sweep.vl.json'];

/**
 * A report as indented JSON, except `attention_maps`, whose thousands of weights stay on one line (the report
 * stays readable and about a third of the size).
 */
export function reportJson(report: AnalysisReport): string {
  if (!report.attention_maps) return JSON.stringify(report, null, 2);
  const MARK = '"__attention_maps__"';
  return JSON.stringify({ ...report, attention_maps: '__attention_maps__' }, null, 2).replace(MARK, JSON.stringify(report.attention_maps));
}

/**
 * Writes report.json and five charts as SVG with their Vega-Lite specs (*.vl.json) into `dir`
 * (`ANALYSIS_REPORT_FILES`): u1-heatmap (U₁), head-scores (relevance), pc-overlap (kernel PCs versus the labels,
 * the paper's Fig. 2c), head-removal (accuracy with each head removed, predicted and, for models, measured) and
 * attention-maps (every head's attention on the first test example).
 * @returns the paths written.
 * @throws WouldOverwriteError when one of these files exists and !force (nothing is written then); Error when
 *   the report has no `kernel_pc_overlap` (a report from before that field existed).
 */
export async function writeAnalysisReportDir(dir: string, report: AnalysisReport, force = false): Promise<string[]> {
  const charts = {
    'u1-heatmap': u1HeatmapSpec(report),
    'head-scores': headScoresSpec(report),
    'pc-overlap': pcOverlapSpec(report),
    'head-removal': headRemovalSpec(report),
    'attention-maps': attentionMapsSpec(report),
  };
  checkOutputDir(dir, ANALYSIS_REPORT_FILES, force);
  const svgs = await Promise.all(Object.values(charts).map((s) => renderSvg(s)));
  const written: string[] = [];
  const put = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSafely(p, text, force);
    written.push(p);
  };
  put('report.json', reportJson(report));
  Object.entries(charts).forEach(([name, spec], i) => {
    put(`${name}.svg`, svgs[i]);
    // The attention maps' data (thousands of weights) on one line per tile rather than one line per number.
    put(`${name}.vl.json`, name === 'attention-maps' ? JSON.stringify(spec) : JSON.stringify(spec, null, 2));
  });
  return written;
}

/**
 * Writes sweep.json, sweep.svg and sweep.vl.json into `dir`.
 * @throws WouldOverwriteError as above.
 */
export async function writeSweepReportDir(dir: string, report: SweepReport, force = false): Promise<string[]> {
  const spec = sweepSpec(report);
  checkOutputDir(dir, SWEEP_REPORT_FILES, force);
  const svg = await renderSvg(spec);
  const files: [string, string][] = [
    ['sweep.json', JSON.stringify(report, null, 2)],
    ['sweep.svg', svg],
    ['sweep.vl.json', JSON.stringify(spec, null, 2)],
  ];
  return files.map(([n, t]) => {
    const p = join(dir, n);
    writeFileSafely(p, t, force);
    return p;
  });
}
