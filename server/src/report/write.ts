/**
 * Writing reports to disk: the JSON and the SVG charts rendered from the same Vega-Lite specs the
 * editor's webview shows. Files are written atomically (temp file + rename), and existing files are
 * never replaced unless the caller says so.
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { AnalysisReport, SweepReport } from '../../../shared/report';
import { attentionMapsSpec, headRemovalSpec, headScoresSpec, pcOverlapSpec, sweepSpec, u1HeatmapSpec } from '../../../shared/charts';
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
  'attention-maps.svg',
  'attention-maps.vl.json',
];
/** Files `writeSweepReportDir` writes into its folder. */
export const SWEEP_REPORT_FILES = ['sweep.json', 'sweep.svg', 'sweep.vl.json'];

/** Node's message without the code prefix and the path suffix ("EACCES: permission denied, mkdir 'x'" → "permission denied"). */
function reasonOf(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split(',')[0].replace(/^[A-Z]+: /, '');
}

/** Kernel file systems (statfs magic numbers) where files cannot be created: proc, sysfs, devpts, cgroup, … */
const VIRTUAL_FS: Record<number, string> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x1cd1: 'devpts',
  0x64626720: 'debugfs',
  0x74726163: 'tracefs',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x73636673: 'securityfs',
  0x42494e4d: 'binfmt_misc',
  0xcafe4a11: 'bpf',
  0x6165676c: 'pstore',
};

/** The name of the virtual file system holding `dir`, or undefined (also when it cannot be told). */
function virtualFs(dir: string): string | undefined {
  try {
    return VIRTUAL_FS[statfsSync(dir).type];
  } catch {
    return undefined;
  }
}

/**
 * Creates folder `dir` and its missing parents one at a time (Node 20's recursive mkdir loops forever on
 * /proc). @throws Error "cannot create folder X: reason" on the first failure.
 */
export function makeFolder(dir: string): void {
  const abs = resolve(dir);
  const missing: string[] = [];
  let d = abs;
  while (!existsSync(d)) {
    missing.unshift(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  if (existsSync(d) && !statSync(d).isDirectory()) throw new Error(`cannot create folder ${abs}: ${d} is not a folder`);
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && statSync(m).isDirectory()) continue;
      throw new Error(`cannot create folder ${m}: ${reasonOf(e)}`);
    }
  }
}

/** The nearest existing folder at or above `dir`, which must be writable for `dir` to be created. */
function checkWritableAncestor(path: string, start = dirname(path)): void {
  let d = start;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  if (!statSync(d).isDirectory()) throw new Error(`cannot write ${path}: ${d} is not a folder`);
  const fs = virtualFs(d);
  if (fs) throw new Error(`cannot write ${path}: ${d} is on the virtual file system ${fs}`);
  try {
    accessSync(d, constants.W_OK);
  } catch {
    throw new Error(`cannot write ${path}: the folder ${d} is not writable`);
  }
}

/** `path` made absolute with symbolic links resolved (for a missing path: its nearest existing parent's). */
function canonicalPath(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    const up = dirname(abs);
    return up === abs ? abs : join(canonicalPath(up), basename(abs));
  }
}

/** True when `a` and `b` name the same file: the same canonical path, or (hard links) the same device and inode. */
export function samePath(a: string, b: string): boolean {
  if (canonicalPath(a) === canonicalPath(b)) return true;
  try {
    const [sa, sb] = [statSync(a), statSync(b)];
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/** A path a command reads or writes, with how the user named it (for messages), e.g. `--json m.onnx`. */
export interface LabelledPath {
  label: string;
  path: string;
}

/**
 * The files an input stands for: the file itself, or for a folder its files and those of its subfolders one
 * level down (data folders: input_<i>.pb, test_data_set_<n>/…).
 */
export function inputFiles(label: string, path: string): LabelledPath[] {
  const out: LabelledPath[] = [{ label, path }];
  try {
    if (!statSync(path).isDirectory()) return out;
    for (const n of readdirSync(path)) {
      const p = join(path, n);
      out.push({ label, path: p });
      if (statSync(p).isDirectory()) for (const m of readdirSync(p)) out.push({ label, path: join(p, m) });
    }
  } catch {
    // unreadable: the command reports that when it reads it
  }
  return out;
}

/**
 * Refuses, before any work and whatever --force says, an output that is one of the command's inputs or
 * another of its outputs. @throws Error with a one-line reason.
 */
export function checkOutputsDistinct(outputs: LabelledPath[], inputs: LabelledPath[]): void {
  outputs.forEach((o, i) => {
    for (const inp of inputs) {
      if (samePath(o.path, inp.path)) {
        const what = resolve(inp.path) === resolve(o.path) ? inp.label : `${inp.label} (${resolve(inp.path)})`;
        throw new Error(`${o.label} would replace ${what}, which this command reads; choose another output path`);
      }
    }
    for (const prev of outputs.slice(0, i)) {
      if (samePath(o.path, prev.path)) throw new Error(`${o.label} and ${prev.label} are the same file (${resolve(o.path)}); choose different output paths`);
    }
  });
}

/**
 * Checks, before any work, that `path` can be written: not a folder, not an existing file unless
 * `force`, in a writable place. @throws WouldOverwriteError or Error saying why.
 */
export function checkOutputFile(path: string, force: boolean): void {
  if (existsSync(path)) {
    if (statSync(path).isDirectory()) throw new Error(`cannot write ${path}: it is a folder`);
    if (!force) throw new WouldOverwriteError(path);
    const fs = virtualFs(dirname(path));
    if (fs) throw new Error(`cannot write ${path}: ${dirname(path)} is on the virtual file system ${fs}`);
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
    const fs = virtualFs(dir);
    if (fs) throw new Error(`cannot write into ${dir}: it is on the virtual file system ${fs}`);
    for (const n of names) checkOutputFile(join(dir, n), force);
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      throw new Error(`cannot write into ${dir}: the folder is not writable`);
    }
  } else checkWritableAncestor(dir, dir);
}

/**
 * Writes `text` to `path` atomically (a temporary file renamed over it; removed again if anything
 * fails). @throws WouldOverwriteError when the file exists and !force; Error "cannot write PATH: …".
 */
export function writeFileSafely(path: string, text: string, force = false): void {
  checkOutputFile(path, force);
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  makeFolder(dirname(path));
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    // Node's messages name the temporary file ("EACCES: permission denied, open '….tmp-…'"): keep the reason only.
    throw new Error(`cannot write ${path}: ${reasonOf(e)}`);
  }
}


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
