/**
 * Minimal, defensive ZIP reading and writing for `.npz` archives.
 *
 * Reading parses the central directory itself (so that every size, offset and count can be checked against
 * the archive length before anything is allocated, and so that CRC-32 can be verified), and inflates deflated
 * members with fflate's streaming `Inflate` a few kilobytes of input at a time, so that the reader decides how
 * many bytes it takes (a `.npz` reader stops at what the member's `.npy` header declares). Writing uses fflate's
 * `zipSync` with a fixed timestamp so the same arrays always give the same bytes.
 */
import { Inflate, zipSync, type Zippable } from 'fflate';

/** Largest member accepted (bytes, uncompressed). Larger members would not fit a Float64Array conversion anyway. */
const MAX_MEMBER_BYTES = 2 ** 31 - 1;
/** Deflate cannot expand better than about 1032:1; a member declaring more is corrupt or a zip bomb. */
const MAX_DEFLATE_RATIO = 1032;
/** Compressed bytes fed to the inflater at a time: one push yields at most ~8.5 MB (8 KiB · 1032). */
const INFLATE_STEP = 8192;

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;

/** One file member of a ZIP archive, located and checked but not yet inflated. */
export interface ZipMember {
  /** Member name as stored (UTF-8 when flagged, else latin-1). */
  name: string;
  /** `<archive>: member <name>`, the prefix of every error about it. */
  where: string;
  /** 0 stored, 8 deflate. */
  method: 0 | 8;
  /** CRC-32 the directory declares. */
  crc: number;
  /** Uncompressed size the central directory declares (bytes). */
  size: number;
  /** The member's compressed bytes (a view into the archive). */
  raw: Uint8Array;
}

/**
 * Lists the file members of a ZIP archive (stored or deflated) from its central directory, checking every size,
 * offset and count against the archive length. Nothing is inflated or copied.
 *
 * @param bytes the whole archive.
 * @param name  archive name for error messages.
 * @returns the members in central-directory order (directory entries skipped).
 * @throws Error naming the archive (and member) when the bytes are not a ZIP archive, the directory is truncated
 *   or inconsistent, a member is encrypted, uses a method other than stored/deflate, declares an impossible
 *   size (over `MAX_MEMBER_BYTES`, or more than deflate can produce from its compressed bytes); also on
 *   duplicate member names.
 */
export function listZip(bytes: Uint8Array, name: string): ZipMember[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = bytes.length;
  const u32 = (o: number) => v.getUint32(o, true);
  const u16 = (o: number) => v.getUint16(o, true);
  const u64 = (o: number) => {
    const x = v.getBigUint64(o, true);
    return x > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(x);
  };

  // End of central directory: 22 bytes plus a comment of at most 65 535 bytes, searched backwards.
  let eocd = -1;
  for (let e = len - 22; e >= 0 && e >= len - 22 - 65535; e--) {
    if (u32(e) === SIG_EOCD) {
      eocd = e;
      break;
    }
  }
  if (eocd < 0) {
    const npy = len >= 6 && bytes[0] === 0x93 && bytes[1] === 0x4e;
    throw new Error(
      npy ? `${name}: this is a single .npy array, not a .npz (ZIP) archive` : `${name}: not a ZIP/.npz archive (no end-of-central-directory record found)`,
    );
  }
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // ZIP64 (NumPy writes it for members near 4 GiB): the locator sits just before the EOCD record.
    const loc = eocd - 20;
    if (loc < 0 || u32(loc) !== SIG_LOCATOR64) throw new Error(`${name}: ZIP64 archive without a ZIP64 locator`);
    const z = u64(loc + 8);
    if (!(z + 56 <= len) || u32(z) !== SIG_EOCD64) throw new Error(`${name}: ZIP64 end-of-directory record missing or truncated`);
    count = u64(z + 32);
    cdSize = u64(z + 40);
    cdOffset = u64(z + 48);
  }
  if (!(cdOffset + cdSize <= len)) {
    throw new Error(`${name}: truncated ZIP archive (central directory at ${cdOffset}+${cdSize} lies beyond ${len} bytes)`);
  }
  if (count * 46 > cdSize) {
    throw new Error(`${name}: corrupt ZIP archive (${count} entries cannot fit a ${cdSize}-byte central directory)`);
  }

  const out: ZipMember[] = [];
  const seen = new Set<string>();
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    if (p + 46 > cdOffset + cdSize || u32(p) !== SIG_CENTRAL) {
      throw new Error(`${name}: corrupt ZIP central directory (entry ${k} at offset ${p})`);
    }
    const flags = u16(p + 8);
    const method = u16(p + 10);
    const crc = u32(p + 16);
    let csize = u32(p + 20);
    let usize = u32(p + 24);
    const nameLen = u16(p + 28);
    const extraLen = u16(p + 30);
    const commentLen = u16(p + 32);
    let localOff = u32(p + 42);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > cdOffset + cdSize) throw new Error(`${name}: corrupt ZIP central directory (entry ${k} overruns it)`);
    const member = new TextDecoder(flags & 0x800 ? 'utf-8' : 'latin1').decode(bytes.subarray(p + 46, p + 46 + nameLen));
    if (csize === 0xffffffff || usize === 0xffffffff || localOff === 0xffffffff) {
      // ZIP64 extra field (id 1): the 8-byte values that overflowed, in the order usize, csize, offset.
      let e = p + 46 + nameLen;
      const end = e + extraLen;
      let found = false;
      while (e + 4 <= end) {
        const id = u16(e);
        const sz = u16(e + 2);
        if (e + 4 + sz > end) break;
        if (id === 1) {
          let q = e + 4;
          const take = () => {
            if (q + 8 > e + 4 + sz) throw new Error(`${name}: member ${member}: short ZIP64 extra field`);
            const x = u64(q);
            q += 8;
            return x;
          };
          if (usize === 0xffffffff) usize = take();
          if (csize === 0xffffffff) csize = take();
          if (localOff === 0xffffffff) localOff = take();
          found = true;
          break;
        }
        e += 4 + sz;
      }
      if (!found) throw new Error(`${name}: member ${member}: ZIP64 sizes without a ZIP64 extra field`);
    }
    p = next;
    if (member.endsWith('/')) continue; // directory entry
    const where = `${name}: member ${member}`;
    if (flags & 1) throw new Error(`${where} is encrypted; encrypted archives are not supported`);
    if (method !== 0 && method !== 8) throw new Error(`${where} uses ZIP compression method ${method}; only stored (0) and deflate (8) are supported`);
    if (seen.has(member)) throw new Error(`${name}: duplicate member name ${member}`);
    seen.add(member);
    if (!(localOff + 30 <= len) || u32(localOff) !== SIG_LOCAL) {
      throw new Error(`${where}: local header missing at offset ${localOff} (truncated or corrupt archive)`);
    }
    const dataStart = localOff + 30 + u16(localOff + 26) + u16(localOff + 28);
    if (!(dataStart + csize <= len)) {
      throw new Error(`${where}: truncated (declares ${csize} compressed bytes at offset ${dataStart}, archive has ${len} bytes)`);
    }
    if (usize > MAX_MEMBER_BYTES) throw new Error(`${where} declares ${usize} bytes uncompressed; at most ${MAX_MEMBER_BYTES} accepted`);
    if (method === 0 && csize !== usize) throw new Error(`${where}: stored member with compressed size ${csize} ≠ size ${usize}`);
    if (method === 8 && usize > csize * MAX_DEFLATE_RATIO + 1024) {
      throw new Error(`${where} declares ${usize} bytes from ${csize} compressed bytes, impossible for deflate (corrupt or zip bomb)`);
    }
    out.push({ name: member, where, method, crc, size: usize, raw: bytes.subarray(dataStart, dataStart + csize) });
  }
  return out;
}

/**
 * A member's uncompressed bytes, chunk by chunk, never more than `limit` bytes in all: deflated members are
 * inflated by fflate's streaming `Inflate`, fed `INFLATE_STEP` compressed bytes at a time, so one chunk is at most
 * about `INFLATE_STEP · 1032` bytes however the member was crafted; a stored member comes as one view. The caller
 * may stop early (break out of the loop): nothing more is inflated.
 *
 * @param limit most bytes accepted (default: the size the directory declares); the chunk that would pass it
 *   throws instead of being yielded.
 * @throws Error naming the member when the deflate data are corrupt or the member inflates past `limit`.
 */
export function* memberChunks(m: ZipMember, limit = m.size): Generator<Uint8Array, void, undefined> {
  const over = () =>
    new Error(`${m.where}: inflates to more than the ${limit} bytes declared for it (corrupt archive or a zip bomb); nothing beyond them was read`);
  if (m.method === 0) {
    if (m.raw.length > limit) throw over();
    yield m.raw;
    return;
  }
  const pending: Uint8Array[] = [];
  const inflater = new Inflate((chunk) => {
    if (chunk.length) pending.push(chunk);
  });
  let total = 0;
  const n = m.raw.length;
  for (let off = 0; off < n || off === 0; off += INFLATE_STEP) {
    const end = Math.min(n, off + INFLATE_STEP);
    try {
      inflater.push(m.raw.subarray(off, end), end === n);
    } catch (e) {
      throw new Error(`${m.where}: deflate data are corrupt (${(e as Error).message})`, { cause: e });
    }
    while (pending.length) {
      const c = pending.shift()!;
      total += c.length;
      if (total > limit) throw over();
      yield c;
    }
    if (n === 0) break;
  }
}

/**
 * Extracts every file member of a ZIP archive (stored or deflated), each inflated with `memberChunks` into a
 * buffer of its declared size (so memory stays bounded by what the directory declares) and CRC-checked.
 *
 * @param bytes the whole archive.
 * @param name  archive name for error messages.
 * @returns member name → uncompressed bytes, in central-directory order (directory entries skipped).
 * @throws Error as `listZip`, and when a member fails to inflate, inflates to more or fewer bytes than declared,
 *   or fails its CRC-32 check.
 */
export function readZip(bytes: Uint8Array, name: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const m of listZip(bytes, name)) {
    const data = new Uint8Array(m.size);
    let at = 0;
    for (const c of memberChunks(m)) {
      data.set(c, at);
      at += c.length;
    }
    if (at !== m.size) throw new Error(`${m.where}: inflated to ${at} bytes, expected ${m.size}`);
    if (crc32(data) !== m.crc) throw new Error(`${m.where}: CRC-32 mismatch (corrupt archive)`);
    out.set(m.name, data);
  }
  return out;
}

/**
 * Builds a ZIP archive (what `numpy.savez` / `savez_compressed` produce).
 *
 * @param members  name → bytes, written in iteration order.
 * @param compress deflate members (level 6) when true, store them when false (default, like `numpy.savez`).
 * @returns the archive bytes; identical inputs give identical bytes (fixed 1980-01-01 timestamps).
 */
export function writeZip(members: Iterable<[string, Uint8Array]>, compress = false): Uint8Array {
  const files: Zippable = {};
  for (const [n, b] of members) {
    if (Object.prototype.hasOwnProperty.call(files, n)) throw new Error(`writeZip: duplicate member name ${n}`);
    files[n] = b;
  }
  return zipSync(files, { level: compress ? 6 : 0, mtime: new Date(1980, 0, 1) });
}

let crcTable: Uint32Array | null = null;

/** CRC-32 (IEEE 802.3, as in ZIP) of `data`. */
export function crc32(data: Uint8Array): number {
  return crc32Update(0, data);
}

/**
 * Continues a CRC-32 over more bytes: `crc32Update(crc32Update(0, a), b)` equals `crc32` of `a` then `b`.
 * @param crc the CRC-32 of the bytes so far (0 for none).
 */
export function crc32Update(crc: number, data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const t = crcTable;
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
