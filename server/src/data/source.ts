/**
 * A file of named arrays, whatever its format: `.npz` (NumPy) or `.json` (nested arrays).
 *
 * JSON files come in two layouts:
 *  - flat: `{ "X_train": [[[...]]], "y_train": [...], "Q_1": [...], ... }` (plus optional `"readout"`);
 *  - golden-case layout (`test-fixtures/golden/*.json`): `{ "inputs": { X_train, y_train, X_test, y_test,
 *    readout, attention_kind, attention_params: [{Q, K} | {W}, ...] } }`, whose layer list is exposed
 *    as `Q_1`, `K_1`, `Q_2`, ... or `W_1`, ... so that both layouts read the same way.
 * JSON arrays are converted lazily, so unrelated keys (widths, expected results) are never touched.
 */
import { jsonSyntaxError } from '../config/jsonSyntax';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeNpz } from './npz';
import { readFileBytes, readNpy, type NpyArray } from './npy';
import type { Readout } from './types';

/** Named arrays read from one file. */
export interface ArrayFile {
  /** The path as given (used in error messages). */
  path: string;
  /** Every array name the file offers. */
  names(): string[];
  /** The array called `name` (row-major, see `NpyArray`), or undefined when absent. Throws when present but malformed. */
  get(name: string): NpyArray | undefined;
  /** Readout named in the file (golden `inputs.readout`, or a top-level `"readout"` in JSON), if any. */
  readout?: Readout;
  /** Attention form named in the file (golden `inputs.attention_kind`), if any. */
  attentionKind?: 'qk' | 'w';
}

/** Deepest nesting accepted for a JSON array (a [H, G, N0] weight nests 3 deep). */
const MAX_JSON_RANK = 32;

/**
 * Opens a `.npz` or `.json` file of arrays (the format is taken from the extension, or sniffed from the
 * first bytes when the extension is neither), or a folder of `.npy` files (one array per file, named
 * after the file: `X_train.npy` → `X_train`).
 * @throws Error naming the file when it cannot be read or parsed, or is of another format.
 */
export function openArrayFile(path: string): ArrayFile {
  if (isDirectory(path)) return npyFolder(path);
  const bytes = readFileBytes(path);
  const lower = path.toLowerCase();
  const looksZip = bytes.length >= 2 && bytes[0] === 0x50 && bytes[1] === 0x4b; // "PK"
  if (lower.endsWith('.npz') || (!lower.endsWith('.json') && looksZip)) {
    const arrays = decodeNpz(bytes, path);
    return { path, names: () => [...arrays.keys()], get: (n) => arrays.get(n) };
  }
  const text = new TextDecoder('utf-8').decode(bytes);
  if (lower.endsWith('.json') || /^\s*[{[]/.test(text.slice(0, 64))) return jsonArrayFile(path, text);
  throw new Error(`${path}: unsupported file type (expected a .npz archive or a .json file)`);
}

function jsonArrayFile(path: string, text: string): ArrayFile {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    const hint = /\b(NaN|-?Infinity)\b/.test(text) ? ' (the file contains NaN/Infinity literals, which JSON does not allow and the data must not contain)' : '';
    // The engine's JSON.parse message names no line; the strict checker gives the place and the reason in words.
    const err = jsonSyntaxError(text);
    if (!err) throw e;
    const before = text.slice(0, err.offset);
    const line = before.split('\n').length;
    const column = err.offset - before.lastIndexOf('\n');
    throw new Error(`${path}:${line}:${column}: not valid JSON: ${err.message}${hint}`, { cause: e });
  }
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    throw new Error(`${path}: expected a JSON object of named arrays at the top level`);
  }
  const top = root as Record<string, unknown>;
  // Golden-case layout keeps everything under "inputs".
  const golden = top.inputs !== null && typeof top.inputs === 'object' && !Array.isArray(top.inputs);
  const obj = (golden ? top.inputs : top) as Record<string, unknown>;
  const raw = new Map<string, unknown>();
  for (const [k, v] of Object.entries(obj)) {
    if (k !== 'attention_params' && Array.isArray(v)) raw.set(k, v);
  }
  const prefix = golden ? 'inputs.' : '';
  let attentionKind: 'qk' | 'w' | undefined;
  const kind = obj.attention_kind;
  if (kind !== undefined) {
    if (kind !== 'qk' && kind !== 'w') throw new Error(`${path}: ${prefix}attention_kind is ${JSON.stringify(kind)}; expected "qk" or "w"`);
    attentionKind = kind;
  }
  if (obj.attention_params !== undefined) {
    const list = obj.attention_params;
    if (!Array.isArray(list)) throw new Error(`${path}: ${prefix}attention_params is not a list of layers`);
    list.forEach((layer: unknown, l: number) => {
      const where = `${path}: ${prefix}attention_params[${l}]`;
      if (layer === null || typeof layer !== 'object' || Array.isArray(layer)) throw new Error(`${where} is not an object`);
      const entries = Object.entries(layer as Record<string, unknown>);
      if (entries.length === 0) throw new Error(`${where} is empty; expected {Q, K} or {W}`);
      for (const [k, v] of entries) {
        if (k !== 'Q' && k !== 'K' && k !== 'W') throw new Error(`${where} has the unexpected key '${k}'; expected Q, K or W`);
        raw.set(`${k}_${l + 1}`, v);
      }
    });
  }
  let readout: Readout | undefined;
  if (obj.readout !== undefined) {
    const r = obj.readout;
    if (r !== 'first' && r !== 'last' && r !== 'mean') throw new Error(`${path}: ${prefix}readout is ${JSON.stringify(r)}; expected "first", "last" or "mean"`);
    readout = r;
  }
  const cache = new Map<string, NpyArray>();
  return {
    path,
    names: () => [...raw.keys()],
    get(name: string): NpyArray | undefined {
      const hit = cache.get(name);
      if (hit) return hit;
      if (!raw.has(name)) return undefined;
      const a = nestedToArray(raw.get(name), `${path}: ${name}`);
      cache.set(name, a);
      return a;
    },
    readout,
    attentionKind,
  };
}

/**
 * Converts a nested JSON array (rectangular, numbers at the leaves) to a row-major array.
 *
 * @param value a number or nested arrays; the shape is read from the first element at each depth.
 * @param label prefix for error messages (e.g. `data.json: X_train`).
 * @returns `{ shape, data, dtype: '<f8' }`.
 * @throws Error naming the first ragged sub-array or non-number leaf by its index path, e.g.
 *   `data.json: X_train[3][1] has 4 entries; expected 5`.
 */
export function nestedToArray(value: unknown, label: string): NpyArray {
  const shape: number[] = [];
  let v: unknown = value;
  while (Array.isArray(v)) {
    if (shape.length >= MAX_JSON_RANK) throw new Error(`${label} is nested more than ${MAX_JSON_RANK} deep`);
    shape.push(v.length);
    if (v.length === 0) break;
    v = v[0];
  }
  // Two passes: check the whole structure first, allocate after. The shape comes from the first entries
  // only, so a hostile file (one long first row, then short rows) must not get its product allocated.
  let data = new Float64Array(0);
  let pos = 0;
  const walk = (x: unknown, depth: number, index: string, write: boolean): void => {
    if (depth === shape.length) {
      if (typeof x !== 'number') {
        const what = x === null ? 'null (a NaN or Infinity written as null?)' : Array.isArray(x) ? 'an array' : JSON.stringify(x);
        throw new Error(`${label}${index} is ${what}; expected a number (shape [${shape.join(', ')}])`);
      }
      if (write) data[pos++] = x;
      return;
    }
    if (!Array.isArray(x)) {
      throw new Error(`${label}${index} is ${x === null ? 'null' : typeof x}; expected an array of ${shape[depth]} entries (array is ragged)`);
    }
    if (x.length !== shape[depth]) {
      throw new Error(
        `${label}${index} has ${x.length} entries; expected ${shape[depth]} (array is ragged; shape [${shape.join(', ')}] from the first entries)`,
      );
    }
    for (let i = 0; i < x.length; i++) walk(x[i], depth + 1, write ? '' : `${index}[${i}]`, write);
  };
  walk(value, 0, '', false);
  data = new Float64Array(shape.reduce((a, b) => a * b, 1));
  walk(value, 0, '', true);
  return { shape, data, dtype: '<f8' };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // missing: readFileBytes reports it with the file's name
  }
}

/** A folder of `.npy` files as named arrays; each file is read when first asked for. */
function npyFolder(path: string): ArrayFile {
  const files = new Map(
    readdirSync(path)
      .filter((f) => f.toLowerCase().endsWith('.npy'))
      .map((f) => [f.slice(0, -4), join(path, f)] as const),
  );
  if (files.size === 0) throw new Error(`${path}: folder holds no .npy files (expected X_train.npy, y_train.npy, X_test.npy, y_test.npy)`);
  const cache = new Map<string, NpyArray>();
  return {
    path,
    names: () => [...files.keys()],
    get: (n) => {
      const f = files.get(n);
      if (!f) return undefined;
      if (!cache.has(n)) cache.set(n, readNpy(f));
      return cache.get(n);
    },
  };
}
