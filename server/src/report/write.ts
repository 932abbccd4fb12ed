/**
 * Writing reports to disk: the JSON and the SVG charts rendered from the same Vega-Lite specs the
 * editor's webview shows. Files are written atomically (temp file + rename), and existing files are
 * never replaced unless the caller says so.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AnalysisReport, SweepReport } from './types';
import { headScoresSpec, sweepSpec, u1HeatmapSpec } from './charts';
import { renderSvg } from './svg';

/** Thrown when writing would replace a file the user owns. */
export class WouldOverwriteError extends Error {
  constructor(public readonly path: string) {
    super(`${path} already exists; not overwriting it (pass --force to replace it)`);
    this.name = 'WouldOverwriteError';
  }
}

/**
 * Writes `text` to `path` atomically. @throws WouldOverwriteError when the file exists and !force.
 */
export function writeFileSafely(path: string, text: string, force = false): void {
  if (!force && existsSync(path)) throw new WouldOverwriteError(path);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function checkDir(dir: string, names: string[], force: boolean): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`${dir} exists and is not a folder`);
  if (!force && existsSync(dir)) {
    const present = readdirSync(dir).filter((f) => names.includes(f));
    if (present.length) throw new WouldOverwriteError(join(dir, present[0]));
  }
}

/**
 * Writes report.json, u1-heatmap.svg, head-scores.svg and the Vega-Lite specs (*.vl.json) into `dir`.
 * @returns the paths written.
 * @throws WouldOverwriteError when one of these files exists and !force (nothing is written then).
 */
export async function writeAnalysisReportDir(dir: string, report: AnalysisReport, force = false): Promise<string[]> {
  const charts = { 'u1-heatmap': u1HeatmapSpec(report), 'head-scores': headScoresSpec(report) };
  const names = ['report.json', ...Object.keys(charts).flatMap((n) => [`${n}.svg`, `${n}.vl.json`])];
  checkDir(dir, names, force);
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
  checkDir(dir, ['sweep.json', 'sweep.svg', 'sweep.vl.json'], force);
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
