/**
 * NumPy `.npz` archives: a ZIP of `.npy` members, as written by `numpy.savez` (stored) and
 * `numpy.savez_compressed` (deflate).
 */
import { writeFileSync } from 'node:fs';
import { decodeNpy, encodeNpy, isNpy, readFileBytes, type NpyArray, type NpyWriteDtype } from './npy';
import { readZip, writeZip } from './zip';

/**
 * Decodes an `.npz` archive into arrays.
 *
 * Members named `X.npy` become key `X`. As in `numpy.load`, a member without the `.npy` suffix is read as an
 * array only if its bytes start with the `.npy` magic; other members (readme files etc.) are ignored.
 *
 * @param bytes the whole archive.
 * @param name  archive name, used in every error message (`name: member X.npy: reason`).
 * @returns key → array (row-major Float64Array, see `NpyArray`), in archive order.
 * @throws Error for anything `readZip` or `decodeNpy` rejects, or when two members map to the same key.
 */
export function decodeNpz(bytes: Uint8Array, name: string): Map<string, NpyArray> {
  const members = readZip(bytes, name);
  const out = new Map<string, NpyArray>();
  for (const [member, data] of members) {
    const isNpyName = member.endsWith('.npy');
    if (!isNpyName && !isNpy(data)) continue;
    const key = isNpyName ? member.slice(0, -4) : member;
    if (out.has(key)) throw new Error(`${name}: two members hold the array '${key}'`);
    out.set(key, decodeNpy(data, `${name}: member ${member}`));
  }
  return out;
}

/**
 * Reads an `.npz` file (see `decodeNpz`).
 * @throws Error naming `path` when it cannot be read or is not a valid archive of `.npy` arrays.
 */
export function readNpz(path: string): Map<string, NpyArray> {
  return decodeNpz(readFileBytes(path), path);
}

/** Options for `encodeNpz` / `writeNpz`. */
export interface NpzWriteOptions {
  /** Deflate the members (like `numpy.savez_compressed`); default false (like `numpy.savez`). */
  compress?: boolean;
  /** Element type of every member; default `<f8`. */
  dtype?: NpyWriteDtype;
  /** Write members in Fortran (column-major) order; default false. */
  fortranOrder?: boolean;
}

type ArraysIn = Map<string, { shape: readonly number[]; data: ArrayLike<number> }> | Record<string, { shape: readonly number[]; data: ArrayLike<number> }>;

/**
 * Encodes arrays as an `.npz` archive; member `key.npy` per array.
 * @param arrays key → `{ shape, data }` (row-major data).
 * @throws Error when an array's shape does not match its data length.
 */
export function encodeNpz(arrays: ArraysIn, opts: NpzWriteOptions = {}): Uint8Array {
  const entries = arrays instanceof Map ? [...arrays.entries()] : Object.entries(arrays);
  const members: [string, Uint8Array][] = entries.map(([k, a]) => [`${k}.npy`, encodeNpy(a, opts)]);
  return writeZip(members, opts.compress ?? false);
}

/**
 * Writes an `.npz` file (see `encodeNpz`).
 * @throws Error when an array is inconsistent or the file cannot be written.
 */
export function writeNpz(path: string, arrays: ArraysIn, opts: NpzWriteOptions = {}): void {
  writeFileSync(path, encodeNpz(arrays, opts));
}
