/**
 * Results cached by content: the key of a job is a SHA-256 over what determines its result — the job
 * kind, the validated config (defaults applied, paths absolute), the tool version, and the bytes of every
 * file the config reads (data, attention parameters, model). Editing a comment in a config, or saving a
 * file unchanged, therefore reuses the result; changing a data file on disk does not.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { AnalysisConfig } from '../../config/types';
import { VERSION } from '../../version';

/** JSON with object keys sorted, so that equal configs hash equally whatever their key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

/**
 * SHA-256 (hex) of a file's bytes, read as a stream so the server's main thread never holds or blocks on a
 * large file. A missing or unreadable file hashes to "missing:<reason>" (the job itself then reports it).
 */
export function fileDigest(path: string): Promise<string> {
  return new Promise((resolve) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => h.update(chunk))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', (e: NodeJS.ErrnoException) => resolve(`missing:${e.code ?? e.message}`));
  });
}

/** Absolute paths of the files a config reads. */
export function configInputs(config: AnalysisConfig): string[] {
  return [config.data, config.attention?.params, config.attention?.model].filter((p): p is string => typeof p === 'string');
}

/**
 * The cache key of a job on a config: kind + extra job parameters + config + version + input file bytes.
 * `source` (the config's own path) is left out: two files with the same content share results.
 */
export async function contentKey(kind: string, config: AnalysisConfig, extra: unknown = null): Promise<string> {
  const { source: _source, ...rest } = config;
  void _source;
  const files = await Promise.all(configInputs(config).map(async (p) => [p, await fileDigest(p)]));
  return createHash('sha256')
    .update(stableJson({ kind, version: VERSION, config: rest, extra, files }))
    .digest('hex');
}

/** A small least-recently-used map (results are a few MB at most; the limit bounds the server's memory). */
export class LruCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly capacity: number) {}

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }

  get size(): number {
    return this.map.size;
  }
}
