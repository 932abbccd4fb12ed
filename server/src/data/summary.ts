/**
 * What an `.npz` or `.npy` file holds, for the read-only array viewer: every array's name, stored dtype, shape,
 * min / max / mean (over finite values; non-finite ones counted), the label balance of label-like arrays (named
 * `y…` or `label…`, or 1-D with at most 10 distinct integer values) and a preview of the first entries. One array
 * that cannot be decoded (an object array, a bad header) is listed with its reason; the others still show.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { decodeNpy, readFileBytes } from './npy';
import { decodeNpzMembers } from './npz';
import type { ArraySummary, ArraysSummary } from '../../../shared/model';

export type { ArraySummary, ArraysSummary };

/** Files larger than this are not opened by the viewer (they would be decoded to float64 whole). */
export const MAX_VIEWER_BYTES = 512 * 1024 * 1024;
/** Preview: the first rows (first index) and, per row, the first columns of the rest flattened. */
export const PREVIEW_ROWS = 8;
export const PREVIEW_COLUMNS = 10;

function labelLike(name: string, shape: number[], data: Float64Array): Array<{ value: number; count: number }> | undefined {
  const named = /^(y|labels?|targets?)(_|$)/i.test(name);
  if (!named && shape.length !== 1) return undefined;
  const counts = new Map<number, number>();
  for (const v of data) {
    if (!Number.isInteger(v)) return undefined;
    counts.set(v, (counts.get(v) ?? 0) + 1);
    if (counts.size > 10) return undefined;
  }
  if (counts.size === 0) return undefined;
  return [...counts].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || a.value - b.value);
}

/** The summary of one decoded array. */
export function summarizeArray(name: string, shape: number[], data: Float64Array, dtype: string): ArraySummary {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let finite = 0;
  for (const v of data) {
    if (!Number.isFinite(v)) continue;
    finite++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const rows = shape.length === 0 ? 1 : shape[0];
  const perRow = shape.length === 0 ? 1 : shape.slice(1).reduce((a, b) => a * b, 1);
  const preview: number[][] = [];
  for (let r = 0; r < Math.min(rows, PREVIEW_ROWS); r++) preview.push(Array.from(data.subarray(r * perRow, r * perRow + Math.min(perRow, PREVIEW_COLUMNS))));
  const out: ArraySummary = { name, dtype, shape, count: data.length, nonFinite: data.length - finite, preview };
  if (finite) Object.assign(out, { min, max, mean: sum / finite });
  const labels = labelLike(name, shape, data);
  if (labels) out.labels = labels;
  return out;
}

/**
 * Summarizes an `.npz` (every member) or `.npy` file.
 * @returns the summary; a file that cannot be read gives `error` and no arrays (never throws for bad content)
 */
export function summarizeArraysFile(path: string): ArraysSummary {
  const kind = /\.npz$/i.test(path) ? 'npz' : 'npy';
  let bytes = 0;
  try {
    bytes = statSync(path).size;
    if (bytes > MAX_VIEWER_BYTES)
      return {
        file: path,
        kind,
        bytes,
        arrays: [],
        error: `the file is ${(bytes / 1024 ** 2).toFixed(0)} MB; the viewer opens files up to ${MAX_VIEWER_BYTES / 1024 ** 2} MB`,
      };
    const raw = readFileBytes(path);
    const fail = (name: string, error: string): ArraySummary => ({ name, dtype: '?', shape: [], count: 0, nonFinite: 0, preview: [], error });
    // Members are inflated bounded by their .npy headers (data/npz.ts), so a zip bomb is refused, not inflated.
    const arrays =
      kind === 'npz'
        ? decodeNpzMembers(raw, basename(path)).map((m) =>
            m.array ? summarizeArray(m.key, m.array.shape, m.array.data, m.array.dtype) : fail(m.key, m.error ?? 'unreadable'),
          )
        : [basename(path).replace(/\.npy$/i, '')].map((name) => {
            try {
              const a = decodeNpy(raw, basename(path));
              return summarizeArray(name, a.shape, a.data, a.dtype);
            } catch (e) {
              return fail(name, (e as Error).message.split('\n')[0]);
            }
          });
    return { file: path, kind, bytes, arrays };
  } catch (e) {
    return { file: path, kind, bytes, arrays: [], error: (e as Error).message.split('\n')[0] };
  }
}
