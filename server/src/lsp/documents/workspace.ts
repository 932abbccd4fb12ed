/**
 * Finding the config files of a workspace (so their problems show before they are opened). Walks the
 * folders asynchronously, skipping dependency, build and hidden folders, with caps on depth and count so
 * a huge workspace cannot stall the server.
 */
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { isConfigFileName } from '../../../../shared/protocol';

const SKIP = new Set(['node_modules', 'dist', 'out', 'build', '__pycache__', 'venv', '.venv']);

/**
 * Absolute paths of the config files (`protocol.ts` CONFIG_GLOBS) under `roots`.
 * @param maxDepth folder levels below a root that are searched
 * @param maxFiles stop after this many config files
 */
export async function findConfigFiles(roots: string[], maxDepth = 8, maxFiles = 500): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > maxDepth || out.length >= maxFiles) return;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // unreadable folder: nothing to report there
    }
    for (const e of entries) {
      if (out.length >= maxFiles) return;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP.has(e.name) && !e.name.startsWith('.')) await walk(p, depth + 1);
      } else if (e.isFile() && isConfigFileName(e.name)) out.push(p);
    }
  };
  for (const r of roots) await walk(r, 0);
  return out.sort();
}
