/**
 * Loading a task (train/test sequences and ±1 labels) and fixed attention parameters from `.npz` or `.json`.
 *
 * Array names and shapes (docs/theory.md §a: `x ∈ R^{N0×T}`, a batch is [P, N0, T]):
 *  - `X_train` [P, N0, T], `y_train` [P], `X_test` [P_test, N0, T], `y_test` [P_test] (labels ±1);
 *  - Q/K form: `Q_l`, `K_l` [H_l, G, N0] for l = 1..L, `score[s,t] = (K x_s)·(Q x_t)/√G`;
 *  - W form:   `W_l` [H_l, N0, N0], `score[s,t] = x_sᵀ W x_t`.
 * Everything is validated; every error names the file, the array and the expected shape.
 */
import { basename } from 'node:path';
import { openArrayFile, type ArrayFile } from './source';
import type { NpyArray } from './npy';
import type { AttentionLayer, QKLayer, SequenceBatch, TaskData, WLayer } from './types';

/**
 * Loads a task file (inputs x ∈ R^{N0×T} per example, docs/theory.md §a; ±1 labels, section c).
 *
 * @param path `.npz` or `.json` file with `X_train` [P, N0, T], `y_train` [P], `X_test` [P_test, N0, T],
 *   `y_test` [P_test] (labels may also be stored as [P, 1]); or a golden-case JSON (`inputs.*`).
 * @returns TaskData with row-major batches. When the file also holds attention parameters (`Q_l`/`K_l` or
 *   `W_l`, or golden `attention_params`) they are loaded into `attention`; a readout named in the file
 *   goes into `readout`. `name` is the file's base name.
 * @throws Error naming the file and array when an array is missing, has the wrong rank or shape (train and
 *   test must share N0 and T; label lengths must equal P and P_test), holds NaN/±Infinity (with its flat
 *   and multi-index), has a label other than ±1 (with its index), or when the file holds both Q/K and W
 *   parameters.
 */
export function loadTaskFile(path: string): TaskData {
  const src = openArrayFile(path);
  const xTrain = need(src, 'X_train');
  if (xTrain.shape.length !== 3 || xTrain.shape.some((d) => d < 1)) {
    throw new Error(`${path}: X_train has shape ${fmt(xTrain.shape)}; expected [P, N0, T] with every dimension ≥ 1`);
  }
  const [P, N0, T] = xTrain.shape;
  const xTest = need(src, 'X_test');
  if (xTest.shape.length !== 3 || xTest.shape[0] < 1 || xTest.shape[1] !== N0 || xTest.shape[2] !== T) {
    throw new Error(`${path}: X_test has shape ${fmt(xTest.shape)}; expected [P_test, N0=${N0}, T=${T}] (N0 and T from X_train)`);
  }
  const Ptest = xTest.shape[0];
  const yTrain = labels(src, 'y_train', P, 'P', 'X_train');
  const yTest = labels(src, 'y_test', Ptest, 'P_test', 'X_test');
  requireFinite(path, 'X_train', xTrain);
  requireFinite(path, 'X_test', xTest);

  const hasQK = src.names().some((n) => LAYER_KEY.test(n) && n[0] !== 'W');
  const hasW = src.names().some((n) => LAYER_KEY.test(n) && n[0] === 'W');
  let attention: AttentionLayer[] | undefined;
  if (hasQK && hasW) {
    throw new Error(`${path}: holds both Q/K (Q_l, K_l) and W (W_l) attention parameters; keep one form, or load them with loadAttentionParams(path, kind)`);
  }
  if (src.attentionKind && ((src.attentionKind === 'qk' && hasW) || (src.attentionKind === 'w' && hasQK))) {
    throw new Error(`${path}: attention_kind is "${src.attentionKind}" but the parameters are in the other form`);
  }
  if (hasQK || hasW) attention = attentionFrom(src, hasQK ? 'qk' : 'w', N0, 'X_train');

  const task: TaskData = {
    name: basename(path),
    description: `${path}: P=${P}, P_test=${Ptest}, N0=${N0}, T=${T}${attention ? `, ${attention.length}-layer ${attention[0].kind} attention` : ''}`,
    train: batch(xTrain),
    yTrain,
    test: batch(xTest),
    yTest,
  };
  if (attention) task.attention = attention;
  if (src.readout) task.readout = src.readout;
  return task;
}

/**
 * Loads fixed attention parameters of every layer (docs/theory.md §a: Q/K form or W form, softmax over keys).
 *
 * @param path `.npz` or `.json` holding `Q_1`, `K_1`, `Q_2`, `K_2`, ... each [H_l, G_l, N0] (kind 'qk'), or
 *   `W_1`, `W_2`, ... each [H_l, N0, N0] (kind 'w'); golden-case JSON `attention_params` also works.
 *   Layer numbers start at 1 and are consecutive.
 * @param kind which form to read.
 * @param opts.N0 the input width the parameters must match (e.g. from a separate task file). When omitted,
 *   `X_train` in the same file sets it if present, else the first layer does.
 * @returns one QKLayer or WLayer per layer, first layer first; arrays row-major.
 * @throws Error naming the file and array for: no layer of that kind, a missing layer number or a Q without
 *   its K (or vice versa), wrong rank, K shape ≠ Q shape (so H_l and G agree), last dimension ≠ N0, W not
 *   [H, N0, N0], zero heads, or NaN/±Infinity (with its index).
 */
export function loadAttentionParams(path: string, kind: 'qk' | 'w', opts: { N0?: number } = {}): AttentionLayer[] {
  const src = openArrayFile(path);
  if (opts.N0 !== undefined) return attentionFrom(src, kind, opts.N0, 'the task');
  const x = src.get('X_train');
  if (x && x.shape.length === 3) return attentionFrom(src, kind, x.shape[1], 'X_train');
  return attentionFrom(src, kind, undefined, 'layer 1');
}

/**
 * Checks an in-memory task the way `loadTaskFile` checks a file: shapes consistent, labels ±1, values finite,
 * attention shapes matching N0 and T.
 *
 * @param task  the task ([P, N0, T] batches, see `SequenceBatch`).
 * @param label prefix for error messages (e.g. the task name).
 * @throws Error naming the array and the index of the first problem.
 */
export function validateTaskData(task: TaskData, label: string = task.name): void {
  const { train, test } = task;
  for (const [n, b] of [
    ['train', train],
    ['test', test],
  ] as const) {
    if (b.data.length !== b.count * b.features * b.tokens) {
      throw new Error(`${label}: ${n} data has ${b.data.length} entries; expected [${b.count}, ${b.features}, ${b.tokens}]`);
    }
    requireFinite(label, n === 'train' ? 'X_train' : 'X_test', { shape: [b.count, b.features, b.tokens], data: b.data, dtype: '<f8' });
  }
  if (test.features !== train.features || test.tokens !== train.tokens) {
    throw new Error(
      `${label}: X_test has shape [${test.count}, ${test.features}, ${test.tokens}]; expected [P_test, N0=${train.features}, T=${train.tokens}] (N0 and T from X_train)`,
    );
  }
  checkLabels(label, 'y_train', task.yTrain, train.count, 'P');
  checkLabels(label, 'y_test', task.yTest, test.count, 'P_test');
  const N0 = train.features;
  const T = train.tokens;
  (task.attention ?? []).forEach((layer, i) => {
    const l = i + 1;
    if (layer.kind === 'qk') {
      const n = layer.heads * layer.G * N0;
      if (layer.Q.length !== n || layer.K.length !== n) throw new Error(`${label}: Q_${l}/K_${l} must have shape [H=${layer.heads}, G=${layer.G}, N0=${N0}]`);
      requireFinite(label, `Q_${l}`, { shape: [layer.heads, layer.G, N0], data: layer.Q, dtype: '<f8' });
      requireFinite(label, `K_${l}`, { shape: [layer.heads, layer.G, N0], data: layer.K, dtype: '<f8' });
    } else if (layer.kind === 'w') {
      if (layer.W.length !== layer.heads * N0 * N0) throw new Error(`${label}: W_${l} must have shape [H=${layer.heads}, N0=${N0}, N0=${N0}]`);
      requireFinite(label, `W_${l}`, { shape: [layer.heads, N0, N0], data: layer.W, dtype: '<f8' });
    } else {
      if (layer.train.length !== train.count * layer.heads * T * T || layer.test.length !== test.count * layer.heads * T * T) {
        throw new Error(`${label}: fixed attention of layer ${l} must have shapes [P, H=${layer.heads}, T=${T}, T] and [P_test, H, T, T]`);
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------

/** Names of attention parameter arrays: Q_l, K_l or W_l with a layer number written without leading zeros. */
const LAYER_KEY = /^([QKW])_(0|[1-9]\d*)$/;

function need(src: ArrayFile, name: string): NpyArray {
  const a = src.get(name);
  if (!a) {
    const have = src.names();
    throw new Error(`${src.path}: array ${name} is missing (the file has: ${have.length ? have.join(', ') : 'no arrays'})`);
  }
  return a;
}

function labels(src: ArrayFile, name: string, n: number, sym: string, from: string): Float64Array {
  const a = need(src, name);
  const ok = (a.shape.length === 1 && a.shape[0] === n) || (a.shape.length === 2 && a.shape[0] === n && a.shape[1] === 1);
  if (!ok) throw new Error(`${src.path}: ${name} has shape ${fmt(a.shape)}; expected [${sym}=${n}] (${sym} from ${from})`);
  checkLabels(src.path, name, a.data, n, sym);
  return a.data;
}

function checkLabels(label: string, name: string, y: Float64Array, n: number, sym: string): void {
  if (y.length !== n) throw new Error(`${label}: ${name} has ${y.length} labels; expected [${sym}=${n}]`);
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 1 && y[i] !== -1) {
      const hint = y[i] === 0 ? ' (0/1 labels? map them with y = 2·y − 1)' : '';
      throw new Error(`${label}: ${name}[${i}] = ${y[i]}; labels must be +1 or -1${hint}`);
    }
  }
}

/** Throws when `a` holds NaN or ±Infinity, naming the flat index and the multi-index. */
function requireFinite(label: string, name: string, a: NpyArray): void {
  const d = a.data;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) {
      throw new Error(
        `${label}: ${name} has a non-finite value (${d[i]}) at flat index ${i}, i.e. ${name}[${unravel(i, a.shape).join('][')}] (shape ${fmt(a.shape)})`,
      );
    }
  }
}

function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = flat % shape[k];
    flat = Math.floor(flat / shape[k]);
  }
  return idx;
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function batch(a: NpyArray): SequenceBatch {
  return { count: a.shape[0], features: a.shape[1], tokens: a.shape[2], data: a.data };
}

/** Reads every layer of `kind` from `src`; `N0` fixed by the caller or (when undefined) by layer 1. */
function attentionFrom(src: ArrayFile, kind: 'qk' | 'w', N0: number | undefined, n0From: string): AttentionLayer[] {
  const path = src.path;
  const letters = kind === 'qk' ? ['Q', 'K'] : ['W'];
  const numbers = new Map<string, number[]>();
  for (const n of src.names()) {
    const m = LAYER_KEY.exec(n);
    if (!m || !letters.includes(m[1])) continue;
    const arr = numbers.get(m[1]) ?? [];
    arr.push(Number(m[2]));
    numbers.set(m[1], arr);
  }
  const all = [...new Set([...numbers.values()].flat())].sort((a, b) => a - b);
  if (all.length === 0) {
    const other = src.names().filter((n) => LAYER_KEY.test(n));
    throw new Error(
      `${path}: no ${kind === 'qk' ? 'Q_1/K_1' : 'W_1'} attention parameters found` +
        (other.length ? ` (the file has ${other.join(', ')}: the other form?)` : ''),
    );
  }
  if (all[0] !== 1) throw new Error(`${path}: attention layers are numbered from 1; found ${letters[0]}_${all[0]} first`);
  const L = all[all.length - 1];
  for (let l = 1; l <= L; l++) {
    for (const c of letters) {
      if (!(numbers.get(c) ?? []).includes(l)) {
        const found = letters.flatMap((x) => (numbers.get(x) ?? []).map((k) => `${x}_${k}`)).sort();
        throw new Error(
          `${path}: ${c}_${l} is missing (found ${found.join(', ')}); layers must be numbered 1..L without gaps, with every ${letters.join(' and ')}`,
        );
      }
    }
  }
  let width = N0;
  let widthFrom = n0From;
  const layers: AttentionLayer[] = [];
  for (let l = 1; l <= L; l++) {
    if (kind === 'qk') {
      const Q = src.get(`Q_${l}`) as NpyArray;
      const K = src.get(`K_${l}`) as NpyArray;
      if (Q.shape.length !== 3) throw new Error(`${path}: Q_${l} has shape ${fmt(Q.shape)}; expected [H_${l}, G, N0] (rank 3)`);
      if (width === undefined) {
        width = Q.shape[2];
        widthFrom = `Q_1`;
      }
      if (Q.shape.length !== 3 || Q.shape[0] < 1 || Q.shape[1] < 1 || Q.shape[2] !== width) {
        throw new Error(`${path}: Q_${l} has shape ${fmt(Q.shape)}; expected [H_${l}, G, N0=${width}] (N0 from ${widthFrom})`);
      }
      if (K.shape.length !== 3 || K.shape[0] !== Q.shape[0] || K.shape[1] !== Q.shape[1] || K.shape[2] !== width) {
        throw new Error(`${path}: K_${l} has shape ${fmt(K.shape)}; expected [H_${l}=${Q.shape[0]}, G=${Q.shape[1]}, N0=${width}] (H_${l} and G from Q_${l})`);
      }
      requireFinite(path, `Q_${l}`, Q);
      requireFinite(path, `K_${l}`, K);
      const layer: QKLayer = { kind: 'qk', heads: Q.shape[0], G: Q.shape[1], Q: Q.data, K: K.data };
      layers.push(layer);
    } else {
      const W = src.get(`W_${l}`) as NpyArray;
      if (W.shape.length !== 3) throw new Error(`${path}: W_${l} has shape ${fmt(W.shape)}; expected [H_${l}, N0, N0] (rank 3)`);
      if (width === undefined) {
        width = W.shape[2];
        widthFrom = 'W_1';
      }
      if (W.shape.length !== 3 || W.shape[0] < 1 || W.shape[1] !== width || W.shape[2] !== width) {
        throw new Error(`${path}: W_${l} has shape ${fmt(W.shape)}; expected [H_${l}, N0=${width}, N0=${width}] (N0 from ${widthFrom})`);
      }
      requireFinite(path, `W_${l}`, W);
      const layer: WLayer = { kind: 'w', heads: W.shape[0], W: W.data };
      layers.push(layer);
    }
  }
  return layers;
}
