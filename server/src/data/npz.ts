/**
 * NumPy `.npz` archives: a ZIP of `.npy` members, as written by `numpy.savez` (stored) and
 * `numpy.savez_compressed` (deflate).
 */
import { writeFileSync } from 'node:fs';
import {
  decodeNpy,
  encodeNpy,
  isNpy,
  npySizeMismatch,
  NpyValueSink,
  readFileBytes,
  readNpyHeader,
  type NpyArray,
  type NpyHeader,
  type NpyWriteDtype,
} from './npy';
import { crc32Update, listZip, memberChunks, writeZip, type ZipMember } from './zip';

/**
 * Decodes an `.npz` archive into arrays.
 *
 * Members named `X.npy` become key `X`. As in `numpy.load`, a member without the `.npy` suffix is read as an
 * array only if its bytes start with the `.npy` magic; other members (readme files etc.) are ignored.
 *
 * Each member is inflated as a stream: its `.npy` header is read from the first inflated bytes, the size it
 * declares (header plus data) must equal the uncompressed size of the ZIP directory, inflation stops at that many
 * bytes, and the data go straight into the member's Float64Array. So a member that inflates to gigabytes
 * behind a header of a few bytes is refused after those few bytes, and the memory used is the arrays' own plus
 * one inflated chunk (≤ 8.5 MB) — never the declared uncompressed size of a member that turns out to be bogus.
 *
 * @param bytes the whole archive.
 * @param name  archive name, used in every error message (`name: member X.npy: reason`).
 * @returns key → array (row-major Float64Array, see `NpyArray`), in archive order.
 * @throws Error for anything `listZip` or `readNpyHeader` rejects, a member whose inflated size disagrees with
 *   its header or the ZIP directory (more or fewer bytes), corrupt deflate data, a CRC-32 mismatch, or two members
 *   mapping to the same key.
 */
export function decodeNpz(bytes: Uint8Array, name: string): Map<string, NpyArray> {
  const out = new Map<string, NpyArray>();
  for (const m of listZip(bytes, name)) {
    const isNpyName = m.name.endsWith('.npy');
    const key = isNpyName ? m.name.slice(0, -4) : m.name;
    const a = decodeMember(m, isNpyName);
    if (!a) continue;
    if (out.has(key)) throw new Error(`${name}: two members hold the array '${key}'`);
    out.set(key, a);
  }
  return out;
}

/**
 * Decodes each `.npy` member of an `.npz` archive on its own, for the array viewer: one member that cannot be
 * decoded gives its reason and the others still come. Each member is inflated as in `decodeNpz` (bounded by its
 * `.npy` header, so a zip bomb is refused after one chunk).
 * @returns per member in archive order: its key (name without `.npy`) and the array, or why it could not be read
 * @throws Error for an archive `listZip` rejects (not a ZIP, a bad directory)
 */
export function decodeNpzMembers(bytes: Uint8Array, name: string): Array<{ key: string; array?: NpyArray; error?: string }> {
  const out: Array<{ key: string; array?: NpyArray; error?: string }> = [];
  for (const m of listZip(bytes, name)) {
    const isNpyName = m.name.endsWith('.npy');
    const key = isNpyName ? m.name.slice(0, -4) : m.name;
    try {
      const a = decodeMember(m, isNpyName);
      if (a) out.push({ key, array: a });
    } catch (e) {
      out.push({ key, error: (e instanceof Error ? e.message : String(e)).split('\n')[0] });
    }
  }
  return out;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/** True while the bytes seen so far agree with the `.npy` magic (all of it, or as much as there is). */
function startsLikeNpy(b: Uint8Array): boolean {
  for (let i = 0; i < Math.min(b.length, MAGIC.length); i++) if (b[i] !== MAGIC[i]) return false;
  return true;
}

/** One member as an array; null for a member without the `.npy` suffix that does not start with the magic. */
function decodeMember(m: ZipMember, isNpyName: boolean): NpyArray | null {
  // A stored member is all there: check its CRC first, so that corruption is named as such.
  if (m.method === 0 && crc32Update(0, m.raw) !== m.crc) throw new Error(`${m.where}: CRC-32 mismatch (corrupt archive)`);
  let prefix = new Uint8Array(0);
  let header: NpyHeader | null = null;
  let sink: NpyValueSink | null = null;
  let crc = 0;
  let total = 0;
  // Until the header is known the limit is the directory's size; after it, the header's (they must agree).
  const chunks = memberChunks(m);
  for (const c of chunks) {
    crc = crc32Update(crc, c);
    total += c.length;
    if (!header) {
      const joined = new Uint8Array(prefix.length + c.length);
      joined.set(prefix);
      joined.set(c, prefix.length);
      prefix = joined;
      if (!isNpyName && !startsLikeNpy(prefix)) return null;
      header = readNpyHeader(prefix, m.where);
      if (!header) continue;
      if (header.totalBytes !== m.size) {
        throw new Error(`${m.where}: ${npySizeMismatch(header, m.size - header.dataStart, 'are declared by the ZIP directory')}`);
      }
      sink = new NpyValueSink(header, m.where);
      sink.write(prefix.subarray(header.dataStart));
      prefix = new Uint8Array(0);
    } else {
      sink!.write(c);
    }
  }
  if (!header) {
    if (!isNpyName && !isNpy(prefix)) return null;
    // The member ended inside its header.
    return decodeNpy(prefix, m.where);
  }
  if (total !== m.size) throw new Error(`${m.where}: inflated to ${total} bytes, but the ZIP directory declares ${m.size}`);
  if (crc !== m.crc) throw new Error(`${m.where}: CRC-32 mismatch (corrupt archive)`);
  return sink!.finish();
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
