/**
 * A small on-disk cache of pipeline stages whose inputs do not change when only the solve's settings do: the
 * attention and path features (they depend on the data, the attention, the readout and σ0², not on the widths,
 * the other variances, the temperature or the solver) and the measured head removal of a model (model, data,
 * split). A width, temperature or variance edit in the editor then re-runs the solve only.
 *
 * Entries live in one folder (`ATTENTION_PATHS_CACHE_DIR`, default `<OS temp>/attention-paths-cache-v1`), one
 * file per entry named by the stage and a SHA-256 of what the stage depends on (including the bytes of every input
 * file and the tool version), written atomically, so that the language server's jobs — worker threads or child
 * processes alike — share it. The folder is kept under `maxBytes` (default 1 GiB) by removing the entries used
 * least recently; an entry over a quarter of that is not stored. A file that cannot be read or parsed counts as a
 * miss; a cache that cannot be written is skipped. Nothing here changes a result: a hit returns exactly the bytes
 * that were computed.
 *
 * File layout: 4-byte little-endian length n, n bytes of JSON `{ meta, arrays: [{ offset, length }] }`, then the
 * Float64Array payloads (8-byte aligned, little-endian as the machine writes them).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What a cache entry holds: JSON-able metadata and named float64 arrays. */
export interface StageEntry {
  meta: unknown;
  arrays: Float64Array[];
}

export interface StageCacheOptions {
  /** Folder of the entries. */
  dir?: string;
  /** Total size kept, in bytes. */
  maxBytes?: number;
}

/** The cache folder: $ATTENTION_PATHS_CACHE_DIR, else a folder in the OS temp folder. */
export function defaultCacheDir(): string {
  return process.env.ATTENTION_PATHS_CACHE_DIR || join(tmpdir(), 'attention-paths-cache-v1');
}

/** SHA-256 (hex) of a file's bytes, or of a folder's files (names and digests, sorted); "missing:CODE" when unreadable. */
export async function digestPath(path: string): Promise<string> {
  try {
    const st = await stat(path);
    if (st.isDirectory()) {
      const names = (await readdir(path)).sort();
      const parts = await Promise.all(names.map(async (n) => `${n}:${await digestPath(join(path, n))}`));
      return createHash('sha256').update(parts.join('\n')).digest('hex');
    }
  } catch (e) {
    return `missing:${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`;
  }
  return new Promise((resolve) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', (e: NodeJS.ErrnoException) => resolve(`missing:${e.code ?? 'unreadable'}`));
  });
}

/** A key from any JSON-able value (object keys sorted). */
export function stageKey(value: unknown): string {
  const sorted = JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
  return createHash('sha256').update(sorted).digest('hex');
}

function encode(e: StageEntry): Buffer {
  let offset = 0;
  const layout = e.arrays.map((a) => {
    const at = offset;
    offset += a.byteLength;
    return { offset: at, length: a.length };
  });
  const head = Buffer.from(JSON.stringify({ meta: e.meta, arrays: layout }), 'utf8');
  const start = Math.ceil((4 + head.length) / 8) * 8;
  const out = Buffer.alloc(start + offset);
  out.writeUInt32LE(head.length, 0);
  head.copy(out, 4);
  for (const [i, a] of e.arrays.entries()) Buffer.from(a.buffer, a.byteOffset, a.byteLength).copy(out, start + layout[i].offset);
  return out;
}

function decode(buf: Buffer): StageEntry {
  const n = buf.readUInt32LE(0);
  const head = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as { meta: unknown; arrays: Array<{ offset: number; length: number }> };
  const start = Math.ceil((4 + n) / 8) * 8;
  const arrays = head.arrays.map(({ offset, length }) => {
    if (start + offset + 8 * length > buf.length) throw new Error('truncated cache entry');
    // Copied out: the entry's arrays must not share (or pin) the file's buffer.
    const a = new Float64Array(length);
    Buffer.from(a.buffer).set(buf.subarray(start + offset, start + offset + 8 * length));
    return a;
  });
  return { meta: head.meta, arrays };
}

/**
 * The cached entry of `stage` under `key`, else `compute()`'s, which is then stored.
 * @returns the entry and whether it came from the cache
 * @throws what `compute` throws (nothing is stored then)
 */
export async function cachedStage(
  stage: string,
  key: string,
  compute: () => Promise<StageEntry>,
  opts: StageCacheOptions = {},
): Promise<{ entry: StageEntry; reused: boolean }> {
  const dir = opts.dir ?? defaultCacheDir();
  const maxBytes = opts.maxBytes ?? 1024 ** 3;
  const file = join(dir, `${stage}-${key}.bin`);
  try {
    const entry = decode(await readFile(file));
    const now = new Date();
    await utimes(file, now, now).catch(() => undefined); // least recently used goes first
    return { entry, reused: true };
  } catch {
    // a miss (or an unreadable entry): compute
  }
  const entry = await compute();
  const bytes = encode(entry);
  if (bytes.length <= maxBytes / 4) {
    try {
      await mkdir(dir, { recursive: true });
      const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
      await writeFile(tmp, bytes);
      await rename(tmp, file);
      await prune(dir, maxBytes);
    } catch {
      // no cache today (read-only temp folder, full disk): the result stands
    }
  }
  return { entry, reused: false };
}

/** Removes the least recently used entries until the folder holds at most `maxBytes`. */
async function prune(dir: string, maxBytes: number): Promise<void> {
  const files = await Promise.all(
    (await readdir(dir))
      .filter((n) => n.endsWith('.bin'))
      .map(async (n) => {
        const st = await stat(join(dir, n)).catch(() => undefined);
        return st ? { path: join(dir, n), size: st.size, used: st.mtimeMs } : undefined;
      }),
  );
  const known = files.filter((f): f is NonNullable<typeof f> => !!f).sort((a, b) => b.used - a.used);
  let total = 0;
  for (const f of known) {
    total += f.size;
    if (total > maxBytes) await rm(f.path, { force: true });
  }
}
