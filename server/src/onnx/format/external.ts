/**
 * External tensor data (TensorProto `data_location = EXTERNAL`, `external_data` keys `location`, `offset`,
 * `length`; spec: onnx/docs/ExternalData.md). Locations are relative paths that must stay inside the model's
 * folder: absolute paths, `..` segments that climb out, and symlinks whose target lies outside are refused —
 * a model file must not be able to make the reader open arbitrary files.
 */
import { closeSync, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, normalize, posix, relative, resolve, win32 } from 'node:path';
import { OnnxReadError } from './errors';
import type { ExternalLocation } from './types';

/** True when `child` (absolute) is `root` or lies below it. */
function inside(root: string, child: string): boolean {
  const rel = relative(root, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Resolves and checks an external-data location against the model folder (lexically; the file is not touched).
 * @throws OnnxReadError(`external-data`) for absolute locations or ones that climb out of `dir`.
 */
export function resolveLocation(file: string, dir: string, tensor: string, location: string): string {
  const bad = (why: string) => new OnnxReadError(file, 'external-data', `tensor '${tensor}' points to '${location}', ${why}`);
  if (location === '') throw bad('an empty location');
  if (location.includes('\0')) throw bad('which contains a NUL byte');
  // Either platform's absolute forms are refused on every platform (a model may come from anywhere).
  if (isAbsolute(location) || posix.isAbsolute(location) || win32.isAbsolute(location) || /^[a-zA-Z]:/.test(location)) {
    throw bad("an absolute path; external data must be a relative path inside the model's folder");
  }
  const norm = normalize(location.replace(/\\/g, '/'));
  const full = resolve(dir, norm);
  if (!inside(resolve(dir), full) || norm.split(/[\\/]/).includes('..')) {
    throw bad(`which is outside the model's folder ${dir}`);
  }
  return full;
}

/**
 * Checks that the external file exists, is a regular file whose real path (symlinks resolved) is inside the
 * model folder, and is long enough for `[offset, offset + length)`.
 * @throws OnnxReadError(`external-data`) naming the tensor and the problem.
 */
export function checkExternalFile(file: string, dir: string, tensor: string, loc: ExternalLocation): void {
  const bad = (why: string) => new OnnxReadError(file, 'external-data', `tensor '${tensor}' points to '${loc.location}', ${why}`);
  let st;
  try {
    st = statSync(loc.path);
  } catch {
    throw bad(`which does not exist in ${dir}`);
  }
  if (!st.isFile()) throw bad('which is not a regular file');
  let real: string;
  let realDir: string;
  try {
    real = realpathSync(loc.path);
    realDir = realpathSync(dir);
  } catch {
    throw bad('whose real path cannot be resolved');
  }
  if (!inside(realDir, real)) throw bad(`a link to ${real}, which is outside the model's folder`);
  if (loc.length !== null && loc.offset + loc.length > st.size) {
    throw bad(`which has ${st.size} bytes, fewer than offset ${loc.offset} + length ${loc.length}`);
  }
  if (loc.offset > st.size) throw bad(`which has ${st.size} bytes, fewer than offset ${loc.offset}`);
}

/**
 * Reads `byteLength` bytes of a tensor's external data (re-checking containment first, since the folder may
 * have changed since the model was opened).
 * @throws OnnxReadError(`external-data`) when the file is missing, escapes the folder or is too short.
 */
export function readExternal(file: string, dir: string, tensor: string, loc: ExternalLocation, byteLength: number): Uint8Array {
  if (loc.length !== null && loc.length < byteLength) {
    throw new OnnxReadError(file, 'external-data', `tensor '${tensor}' declares length ${loc.length} bytes, but its shape and type need ${byteLength}`);
  }
  checkExternalFile(file, dir, tensor, { ...loc, length: byteLength });
  const fd = openSync(loc.path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (loc.offset + byteLength > size) {
      throw new OnnxReadError(file, 'external-data', `tensor '${tensor}': '${loc.location}' is shorter than its data`);
    }
    const buf = Buffer.allocUnsafe(byteLength);
    let got = 0;
    while (got < byteLength) {
      const n = readSync(fd, buf, got, byteLength - got, loc.offset + got);
      if (n <= 0) break;
      got += n;
    }
    if (got < byteLength) {
      throw new OnnxReadError(file, 'external-data', `tensor '${tensor}': '${loc.location}' ended after ${got} bytes`);
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, byteLength);
  } finally {
    closeSync(fd);
  }
}
