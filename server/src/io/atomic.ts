/**
 * The one staged atomic writer: every file of an output (a report's file, a pruned model and its external data,
 * a trained model's folder) is written to a temporary file beside its target, flushed to disk (fsync) and closed;
 * only when all are written are they renamed into place, in order. A failure removes the temporaries, so a
 * target is either its old self or completely new, never a partial file.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { checkOutputFile, makeFolder, reasonOf } from './paths';

/** One file of a staged write: its bytes, its text, or a function writing to the open temporary file. */
export interface StagedFile {
  path: string;
  data: Uint8Array | string | ((fd: number) => void);
}

/** The temporary file beside `path`. */
function tempPath(path: string): string {
  return `${path}.tmp-${process.pid}-${Date.now()}`;
}

/**
 * Writes `files` atomically as a group (the folders must exist; paths are checked by the caller, io/paths.ts).
 * Functions are called in order, each before the next file is opened.
 * @returns the paths written, in order.
 * @throws the first I/O error (every temporary removed, no target touched unless the renames had begun).
 */
export function writeStaged(files: StagedFile[]): string[] {
  const temps: [string, string][] = [];
  try {
    for (const f of files) {
      const tmp = tempPath(f.path);
      const fd = openSync(tmp, 'w');
      temps.push([tmp, f.path]);
      try {
        if (typeof f.data === 'function') f.data(fd);
        else writeSync(fd, typeof f.data === 'string' ? Buffer.from(f.data) : f.data);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    const written: string[] = [];
    for (const [tmp, final] of temps) {
      renameSync(tmp, final);
      written.push(final);
    }
    return written;
  } catch (e) {
    for (const [tmp] of temps) {
      try {
        if (existsSync(tmp)) unlinkSync(tmp);
      } catch {
        // best effort
      }
    }
    throw e;
  }
}

/**
 * Writes `text` to `path` atomically (`writeStaged`), creating its folder.
 * @throws WouldOverwriteError when the file exists and !force; Error "cannot write PATH: …".
 */
export function writeFileSafely(path: string, text: string, force = false): void {
  checkOutputFile(path, force);
  makeFolder(dirname(path));
  try {
    writeStaged([{ path, data: text }]);
  } catch (e) {
    // Node's messages name the temporary file ("EACCES: permission denied, open '….tmp-…'"): keep the reason only.
    throw new Error(`cannot write ${path}: ${reasonOf(e)}`, { cause: e });
  }
}
