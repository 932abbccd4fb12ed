/**
 * What survives a restart of the language server (a crash or the Restart Server command): the reports of the
 * latest analyses, by content key (`cache.ts`), and which config files were analysed (URI → key), in the
 * folder the extension gives the server (VS Code's workspace storage). After a restart the server restores
 * each of those configs from its report when the content is unchanged, or analyses it again, so its
 * diagnostics, code lens, charts and the model view's relevance come back.
 *
 * Files are written atomically (temporary file, then rename) and read defensively: a missing, partial or
 * foreign file counts as absent, never as an error. The number of reports kept is bounded.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { AnalysisReport } from '../../../../shared/report';
import { VERSION } from '../../version';

/** Reports kept on disk (least recently written are removed first). */
const MAX_REPORTS = 64;
/** A content key: the hex SHA-256 of `contentKey`. */
const KEY = /^[0-9a-f]{64}$/;

export class AnalysisStore {
  private readonly reportsDir: string;
  private readonly indexFile: string;
  private analysed: Record<string, string> = {};

  /** @param dir the storage folder (created when missing) */
  constructor(dir: string) {
    this.reportsDir = path.join(dir, 'reports');
    this.indexFile = path.join(dir, 'analysed.json');
    mkdirSync(this.reportsDir, { recursive: true });
    try {
      const raw = JSON.parse(readFileSync(this.indexFile, 'utf8')) as { version?: string; analysed?: Record<string, string> };
      if (raw && typeof raw.analysed === 'object' && raw.analysed) {
        this.analysed = Object.fromEntries(Object.entries(raw.analysed).filter(([u, k]) => typeof u === 'string' && typeof k === 'string' && KEY.test(k)));
      }
    } catch {
      this.analysed = {};
    }
  }

  /** The config URIs that had a successful analysis, with the content key of the latest. */
  analysedConfigs(): Array<{ uri: string; key: string }> {
    return Object.entries(this.analysed).map(([uri, key]) => ({ uri, key }));
  }

  /** The stored report of content key `key`, or undefined. */
  loadReport(key: string): AnalysisReport | undefined {
    if (!KEY.test(key)) return undefined;
    try {
      const r = JSON.parse(readFileSync(path.join(this.reportsDir, `${key}.json`), 'utf8')) as { version?: string; report?: AnalysisReport };
      return r.version === VERSION && r.report && typeof r.report === 'object' ? r.report : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Stores a report (written asynchronously, off the server's request handling) and records that `uri` was analysed
   * with it. Resolves with the reason when it could not be stored (disk full, read-only), never rejects.
   */
  async save(uri: string, key: string, report: AnalysisReport): Promise<string | undefined> {
    if (!KEY.test(key)) return `not a content key: ${key}`;
    try {
      const file = path.join(this.reportsDir, `${key}.json`);
      const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await writeFile(tmp, JSON.stringify({ version: VERSION, report }));
      await rename(tmp, file);
      this.analysed[uri] = key;
      this.writeIndex();
      this.prune();
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  }

  /** Records that `uri` was analysed with the report of `key` (already stored, e.g. by a config with the same content). */
  record(uri: string, key: string): void {
    if (this.analysed[uri] === key || !KEY.test(key)) return;
    this.analysed[uri] = key;
    try {
      this.writeIndex();
    } catch {
      // the index is rewritten with the next save
    }
  }

  /** Forgets a config (its file was deleted). */
  forget(uri: string): void {
    if (!(uri in this.analysed)) return;
    delete this.analysed[uri];
    try {
      this.writeIndex();
    } catch {
      // the index is rewritten with the next save
    }
  }

  private writeIndex(): void {
    atomicWrite(this.indexFile, JSON.stringify({ version: VERSION, analysed: this.analysed }));
  }

  private prune(): void {
    const files = readdirSync(this.reportsDir).filter((f) => f.endsWith('.json'));
    if (files.length <= MAX_REPORTS) return;
    const keep = new Set(Object.values(this.analysed).map((k) => `${k}.json`));
    const byAge = files
      .filter((f) => !keep.has(f))
      .map((f) => ({ f, t: statSync(path.join(this.reportsDir, f)).mtimeMs }))
      .sort((a, b) => a.t - b.t);
    for (const { f } of byAge.slice(0, files.length - MAX_REPORTS)) {
      try {
        unlinkSync(path.join(this.reportsDir, f));
      } catch {
        // removed by another server of the same workspace
      }
    }
  }
}

function atomicWrite(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
