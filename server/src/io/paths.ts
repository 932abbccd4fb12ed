/**
 * Path safety of every file the project writes (reports, pruning plans, pruned models, trained models), shared by
 * the CLI and the language server: outputs checked before any work — never a folder, never an existing file
 * unless the caller forces it, never one of the command's inputs, never on a virtual file system — and folders
 * created one level at a time. A file that exists is always refused with `WouldOverwriteError`.
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, realpathSync, statSync, statfsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** Thrown when writing would replace a file the user owns. */
export class WouldOverwriteError extends Error {
  constructor(public readonly path: string) {
    super(`${path} already exists; not overwriting it (pass --force to replace it)`);
    this.name = 'WouldOverwriteError';
  }
}

/**
 * True for the refusal to replace an existing file, also when it crossed a job-process boundary (the job's error
 * keeps the class name), so the CLI and the language server classify it alike.
 */
export function isWouldOverwrite(e: unknown): e is Error {
  if (!(e instanceof Error)) return false;
  const x = e as Error & { jobName?: unknown; originalName?: unknown };
  return (
    e instanceof WouldOverwriteError || x.name === 'WouldOverwriteError' || x.jobName === 'WouldOverwriteError' || x.originalName === 'WouldOverwriteError'
  );
}

/** Node's message without the code prefix and the path suffix ("EACCES: permission denied, mkdir 'x'" → "permission denied"). */
export function reasonOf(e: unknown): string {
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
      throw new Error(`cannot create folder ${m}: ${reasonOf(e)}`, { cause: e });
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
