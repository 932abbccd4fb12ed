/**
 * Writing reports to disk: the JSON and the SVG charts rendered from the same Vega-Lite specs the
 * editor's webview shows. Files are written atomically (temp file + rename), and existing files are
 * never replaced unless the caller says so.
 */
import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AnalysisReport, SweepReport } from './types';
import { headRemovalSpec, headScoresSpec, pcOverlapSpec, sweepSpec, u1HeatmapSpec } from './charts';
import { renderSvg } from './svg';

/** Thrown when writing would replace a file the user owns. */
export class WouldOverwriteError extends Error {
  constructor(public readonly path: string) {
    super(`${path} already exists; not overwriting it (pass --force to replace it)`);
    this.name = 'WouldOverwriteError';
  }
}

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
];
/** Files `writeSweepReportDir` writes into its folder. */
export const SWEEP_REPORT_FILES = ['sweep.json', 'sweep.svg', 'sweep.vl.json'];

/** The nearest existing folder at or above `dir`, which must be writable for `dir` to be created. */
function checkWritableAncestor(path: string): void {
  let d = dirname(path);
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  if (!statSync(d).isDirectory()) throw new Error(`cannot write ${path}: ${d} is not a folder`);
  try {
    accessSync(d, constants.W_OK);
  } catch {
    throw new Error(`cannot write ${path}: the folder ${d} is not writable`);
  }
}

/**
 * Checks, before any work, that `path` can be written: not a folder, not an existing file unless
 * `force`, in a writable place. @throws WouldOverwriteError or Error saying why.
 */
export function checkOutputFile(path: string, force: boolean): void {
  if (existsSync(path)) {
    if (statSync(path).isDirectory()) throw new Error(`cannot write ${path}: it is a folder`);
    if (!force) throw new WouldOverwriteError(path);
    try {
      accessSync(path, constants.W_OK);
    } catch {
      throw new Error(`cannot write ${path}: the file is not writable`);
    }
    return;
  }
  checkWritableAncestor(path);
}

/**
 * Checks that `names` can be written into folder `dir` (created if missing).
 * @throws WouldOverwriteError when one exists and !force; Error when dir is a file or not writable.
 */
export function checkOutputDir(dir: string, names: string[], force: boolean): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new Error(`cannot write into ${dir}: it exists and is not a folder`);
    for (const n of names) checkOutputFile(join(dir, n), force);
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      throw new Error(`cannot write into ${dir}: the folder is not writable`);
    }
  } else checkWritableAncestor(join(dir, 'x'));
}

/**
 * Writes `text` to `path` atomically (a temporary file renamed over it; removed again if anything
 * fails). @throws WouldOverwriteError when the file exists and !force; Error "cannot write PATH: …".
 */
export function writeFileSafely(path: string, text: string, force = false): void {
  checkOutputFile(path, force);
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    // Node's messages name the temporary file ("EACCES: permission denied, open '….tmp-…'"): keep the reason only.
    const reason = (e as Error).message.split(',')[0].replace(/^[A-Z]+: /, '');
    throw new Error(`cannot write ${path}: ${reason}`);
  }
}


/**
 * Writes report.json and four charts as SVG with their Vega-Lite specs (*.vl.json) into `dir`
 * (`ANALYSIS_REPORT_FILES`): u1-heatmap (U₁), head-scores (relevance), pc-overlap (kernel PCs versus the labels,
 * the paper's Fig. 2c) and head-removal (accuracy with each head removed, predicted and, for models, measured).
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
  };
  checkOutputDir(dir, ANALYSIS_REPORT_FILES, force);
  const svgs = await Promise.all(Object.values(charts).map((s) => renderSvg(s)));
  const written: string[] = [];
  const put = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSafely(p, text, force);
    written.push(p);
  };
  put('report.json', JSON.stringify(report, null, 2));
  Object.entries(charts).forEach(([name, spec], i) => {
    put(`${name}.svg`, svgs[i]);
    put(`${name}.vl.json`, JSON.stringify(spec, null, 2));
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
