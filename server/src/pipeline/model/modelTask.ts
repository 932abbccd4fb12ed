/**
 * The theory's inputs from a real model and a data file (`attention: { kind: model }`):
 * - x: the token representations entering the first attention block (`theoryClass.ts:findTheoryInput`; through a
 *   linear embedding back to the model input when there is one), captured as [P, N0, T] (x[p] = X[p]ᵀ for a
 *   [batch, T, N0] tensor);
 * - the fixed attention of layer l: block l's captured per-head probabilities, transposed from ONNX's
 *   [query, key] to the theory's A[s, t] = key s × query t (columns summing to 1);
 * - labels from the data file, and the train/test split:
 *   - keys `<input>_train` / `<input>_test` for every model input, with `y_train` / `y_test`: used as given;
 *   - for a model with a single input (whatever its name): the task-file keys `X_train` / `X_test` with
 *     `y_train` / `y_test`, used as given;
 *   - otherwise keys `<input>` for every model input and `y`: the first round(split · P) examples (in file order)
 *     train, the rest test (split defaults to 0.5).
 * Also: the readout the model applies (first/last/mean token, when recognizable), the theory-class check and, in
 * class, the model's effective value weights (docs/theory.md §f).
 *
 * Layer windows (pipeline/windows.ts): for a window starting at block a > 0, its x is the activation that feeds
 * block a's value projection (walked back through layout ops), captured in the same ONNX Runtime runs
 * (`windowInputs`).
 *
 * Token inputs: a model input that is an attention mask — named like `*mask*`, [batch, T] over the tokens the
 * first block attends, every value 0 or 1 — becomes the token mask of x (`SequenceBatch.tokenMask`), so the
 * theory's readout and path features skip padding tokens.
 */
import { basename } from 'node:path';
import type { FixedLayer, Readout, SequenceBatch, TaskData } from '../../data/types';
import type { DetectionResult } from '../../onnx/detect/blocks';
import { captureAttention, type BlockCapture } from '../../onnx/run/capture';
import { detectAttention } from '../../onnx/detect/detect';
import { checkInputs, readInputArrays, type ModelInputs } from '../../onnx/run/feeds';
import { mainCtx } from '../../onnx/edit/headMap';
import { readModel } from '../../onnx/format/read';
import type { HostArray } from '../../onnx/run/runtime';
import { checkTheoryClass, detectReadout, findTheoryInput, walkBack, type ClassCheck, type TheoryInput } from './theoryClass';
import { attrInts } from '../../onnx/format/graph';
import { isNum } from '../../onnx/shapes/dims';
import { shapeOf, traceOperand, type Ctx } from '../../onnx/detect/trace';
import type { AttentionBlock } from '../../onnx/detect/blocks';
import type { OnnxModel } from '../../onnx/format/types';
import type { ValueWeights } from '../../theory/weights';

/** Options of `modelTask`. */
export interface ModelTaskOptions {
  /** The `.onnx` file. */
  model: string;
  /** The data file (`.npz`/`.json`) keyed by input names, with labels. */
  data: string;
  /** Fraction of the examples used for training when the file holds one set (default 0.5). */
  split?: number;
  /** Examples per ONNX Runtime run (default 64). */
  batchSize?: number;
  /** Head counts for models whose shapes do not tell them. */
  heads?: number | number[];
  /**
   * Layer windows: called with the heads of every block once they are detected (before any run of the model; it may
   * throw to refuse the work), returns the first block of each window, whose x is captured as well (`windowInputs`).
   */
  windowStarts?: (heads: number[]) => number[];
  onProgress?: (message: string) => void;
}

/** The theory's input x of a layer window starting at `block` (see module doc). */
export interface WindowInput {
  block: number;
  input: TheoryInput & { N0: number; T: number; layout: string };
  train: SequenceBatch;
  test: SequenceBatch;
}

/** Per-block facts reported with a model analysis. */
export interface ModelBlockInfo {
  layer: number;
  form: string;
  heads: number;
  kvHeads: number;
  source: 'softmax' | 'recomputed';
  /** For fused operators: max |recomputed − ONNX Runtime| of the operator output. */
  checkMaxAbsError?: number;
  /** Queries with every key masked (all-zero attention), train + test. */
  maskedQueries: number;
}

/** What `modelTask` returns. */
export interface ModelTask {
  task: TaskData;
  layers: FixedLayer[];
  model: OnnxModel;
  detection: DetectionResult;
  input: TheoryInput & { N0: number; T: number; layout: string };
  blocks: ModelBlockInfo[];
  split: { train: number; test: number; rule: string };
  /** Readout found in the model (null when not recognized). */
  modelReadout: Readout | null;
  theoryClass: ClassCheck;
  /** Effective value weights when the model is in the theory's class. */
  valueWeights?: ValueWeights;
  /** x of each requested layer window, in the order `windowStarts` gave (block 0: the task's own x). */
  windowInputs: WindowInput[];
  /** The model input read as the token mask, with the number of padding tokens (train + test), when there is one. */
  tokenMask?: { input: string; padding: number; tokens: number };
  warnings: string[];
}

function labelsOf(arrays: Map<string, HostArray>, key: string, count: number, source: string): Float64Array {
  const a = arrays.get(key);
  if (!a) throw new Error(`${source}: no labels '${key}' (the data has: ${[...arrays.keys()].join(', ')})`);
  if (!(a.data.length === count && (a.dims.length === 1 || (a.dims.length === 2 && a.dims[1] === 1)))) {
    throw new Error(`${source}: ${key} has shape [${a.dims.join(', ')}]; expected [${count}] (one label per example)`);
  }
  for (let i = 0; i < a.data.length; i++) {
    const v = a.data[i];
    if (v !== 1 && v !== -1)
      throw new Error(`${source}: ${key}[${i}] = ${v}; labels must be +1 or -1${v === 0 ? ' (0/1 labels? map them with y = 2·y − 1)' : ''}`);
  }
  return Float64Array.from(a.data);
}

/** Splits the data file into train and test inputs and labels (see module doc). */
export function splitModelData(
  model: OnnxModel,
  arrays: Map<string, HostArray>,
  source: string,
  split = 0.5,
): { train: ModelInputs; test: ModelInputs; yTrain: Float64Array; yTest: Float64Array; rule: string } {
  const names = model.graph.inputs.map((i) => i.name);
  // A single-input model also takes the task-file keys X_train/X_test (with y_train/y_test), whatever its input's name.
  if (names.length === 1 && !(arrays.has(`${names[0]}_train`) && arrays.has(`${names[0]}_test`)) && arrays.has('X_train') && arrays.has('X_test')) {
    const n = names[0];
    const aliased = new Map(arrays);
    aliased.set(`${n}_train`, arrays.get('X_train')!);
    aliased.set(`${n}_test`, arrays.get('X_test')!);
    const train = checkInputs(model, aliased, source, { keySuffix: '_train' });
    const test = checkInputs(model, aliased, source, { keySuffix: '_test' });
    return {
      train,
      test,
      yTrain: labelsOf(arrays, 'y_train', train.count, source),
      yTest: labelsOf(arrays, 'y_test', test.count, source),
      rule: `X_train/X_test (the task-file keys) as the model input ${n}, as given in the data file`,
    };
  }
  const explicit = names.every((n) => arrays.has(`${n}_train`) && arrays.has(`${n}_test`));
  if (explicit) {
    const train = checkInputs(model, arrays, source, { keySuffix: '_train' });
    const test = checkInputs(model, arrays, source, { keySuffix: '_test' });
    return {
      train,
      test,
      yTrain: labelsOf(arrays, 'y_train', train.count, source),
      yTest: labelsOf(arrays, 'y_test', test.count, source),
      rule: `${names.map((n) => `${n}_train/${n}_test`).join(', ')} as given in the data file`,
    };
  }
  if (!names.every((n) => arrays.has(n))) {
    const missing = names.filter((n) => !arrays.has(n));
    throw new Error(
      `${source}: the model's inputs are ${names.join(', ')}; the data has neither ${missing.join(', ')} nor ${names.map((n) => `${n}_train/${n}_test`).join(', ')} (it has: ${[...arrays.keys()].join(', ')})`,
    );
  }
  if (!(split > 0 && split < 1)) throw new Error(`split must be between 0 and 1 (got ${split})`);
  const all = checkInputs(model, arrays, source);
  if (all.batched.size === 0)
    throw new Error(
      `${source}: the model's inputs have a fixed batch size, so the examples cannot be split into train and test sets; give ${names.map((n) => `${n}_train/${n}_test`).join(', ')}`,
    );
  const y = labelsOf(arrays, 'y', all.count, source);
  const P = Math.round(split * all.count);
  if (P < 1 || P >= all.count) throw new Error(`${source}: splitting ${all.count} examples at ${split} leaves an empty train or test set`);
  const part = (a: number, b: number): ModelInputs => {
    const out = new Map<string, HostArray>();
    for (const [n, x] of all.arrays) {
      if (!all.batched.has(n)) {
        out.set(n, x);
        continue;
      }
      const row = x.dims.slice(1).reduce((p, q) => p * q, 1);
      out.set(n, { dims: [b - a, ...x.dims.slice(1)], data: x.data.slice(a * row, b * row) });
    }
    return { arrays: out, batched: all.batched, count: b - a, source };
  };
  return {
    train: part(0, P),
    test: part(P, all.count),
    yTrain: y.slice(0, P),
    yTest: y.slice(P),
    rule: `first ${P} of ${all.count} examples train, the other ${all.count - P} test (split ${split}, file order)`,
  };
}

/** [count, H, Tq, Tk] (ONNX, rows = queries) → [count, H, Tk, Tq] (theory, columns = queries). */
function toTheoryLayout(c: BlockCapture): Float64Array {
  const { count, heads: H, queries: Tq, keys: Tk } = c;
  const out = new Float64Array(count * H * Tk * Tq);
  for (let b = 0; b < count * H; b++) {
    const o = b * Tq * Tk;
    for (let t = 0; t < Tq; t++) for (let s = 0; s < Tk; s++) out[o + s * Tq + t] = c.probs[o + t * Tk + s];
  }
  return out;
}

/**
 * A captured x tensor → [P, N0, T]. The features lie on `featureAxis` (last when null); of the two other axes, the
 * one of size `count` is the batch and the one of size T the tokens (`batchAxis` decides when both sizes agree).
 */
function toSequences(
  a: HostArray,
  count: number,
  T: number,
  name: string,
  batchAxis: number,
  featureAxis: number | null,
): { data: Float64Array; N0: number; layout: string } {
  const d = a.dims;
  if (d.length !== 3) throw new Error(`the input of the first attention block ('${name}') has shape [${d.join(', ')}]; expected [batch, tokens, features]`);
  const f = featureAxis ?? 2;
  const [i, j] = [0, 1, 2].filter((k) => k !== f);
  const fits = (b: number, t: number) => d[b] === count && d[t] === T;
  let b: number;
  if (fits(i, j) && !fits(j, i)) b = i;
  else if (fits(j, i) && !fits(i, j)) b = j;
  else if (fits(i, j)) b = batchAxis === j ? j : i;
  else {
    const shape = (bb: number) => `[${[0, 1, 2].map((k) => (k === f ? 'N0' : k === bb ? count : T)).join(', ')}]`;
    throw new Error(`the input of the first attention block ('${name}') has shape [${d.join(', ')}], which is neither ${shape(i)} nor ${shape(j)}`);
  }
  const t = b === i ? j : i;
  const N0 = d[f];
  const stride = [d[1] * d[2], d[2], 1];
  const out = new Float64Array(count * N0 * T);
  for (let p = 0; p < count; p++)
    for (let tt = 0; tt < T; tt++) {
      const src = p * stride[b] + tt * stride[t];
      for (let k = 0; k < N0; k++) out[(p * N0 + k) * T + tt] = a.data[src + k * stride[f]];
    }
  const layout = `[${[0, 1, 2].map((k) => (k === f ? 'features' : k === b ? 'batch' : 'tokens')).join(', ')}]`;
  return { data: out, N0, layout };
}

/** The axis of `source` that ends up as `start`'s last axis, through Transposes and identity-like ops; null otherwise. */
function featureAxisThrough(ctx: Ctx, start: string, source: string): number | null {
  const w = walkBack(ctx, start);
  const r = shapeOf(ctx, start)?.length;
  if (w.tensor !== source || r === undefined) return null;
  let ax = r - 1;
  for (const n of w.path) {
    if (n.opType === 'Transpose') {
      const perm = attrInts(n, 'perm');
      ax = perm ? perm[ax] : r - 1 - ax;
    } else if (n.opType !== 'Identity' && n.opType !== 'Cast' && n.opType !== 'Dropout') return null;
  }
  return ax;
}

/**
 * Where the x of a window starting at `block` comes from: the activation feeding the block's value projection
 * (else the tensor its value operand is traced back to), walked back through layout ops.
 */
function windowTheoryInput(ctx: Ctx, block: AttentionBlock): TheoryInput {
  let start = block.weights.value?.input ?? null;
  if (!start && block.v) {
    const tr = traceOperand(ctx, block.v.name);
    start = tr.projection?.input ?? tr.source;
  }
  if (!start) throw new Error(`block ${block.index} has no value input to take a window's input x from`);
  const x = walkBack(ctx, start).tensor;
  const s = shapeOf(ctx, x);
  let batchAxis = 0;
  if (s) {
    const sym = s.findIndex((d) => d !== null && !isNum(d));
    if (sym >= 0) batchAxis = sym;
  }
  return { tensor: x, embedding: null, blockInput: x, batchAxis, featureAxis: featureAxisThrough(ctx, start, x) };
}

/**
 * The model input that masks padding tokens (see module doc), as [P, T] masks of the train and test sets, or null.
 * An input named `attention_mask` is preferred over other `*mask*` names; inputs that fail the checks are skipped.
 */
function findTokenMask(model: OnnxModel, train: ModelInputs, test: ModelInputs, T: number): { input: string; train: Float64Array; test: Float64Array } | null {
  const names = model.graph.inputs.map((i) => i.name).filter((n) => /mask/i.test(n));
  names.sort((a, b) => Number(b === 'attention_mask') - Number(a === 'attention_mask'));
  for (const n of names) {
    const a = train.arrays.get(n);
    const b = test.arrays.get(n);
    const fits = (m: HostArray | undefined, count: number) =>
      !!m && m.dims.length === 2 && m.dims[0] === count && m.dims[1] === T && m.data.every((v) => v === 0 || v === 1);
    if (fits(a, train.count) && fits(b, test.count)) return { input: n, train: Float64Array.from(a!.data), test: Float64Array.from(b!.data) };
  }
  return null;
}

/**
 * Builds the theory's task from a model and a labelled data file (see module doc).
 * @throws Error with the file and reason for unreadable models, models without attention, data that does not
 *   fit the model, unlabelled data, cross-attention (T_q ≠ T_k) or blocks whose key length differs from x's tokens.
 */
export async function modelTask(opts: ModelTaskOptions): Promise<ModelTask> {
  const model = readModel(opts.model);
  const detection = detectAttention(model, opts.heads !== undefined ? { heads: opts.heads } : {});
  if (detection.blocks.length === 0) throw new Error(`${opts.model}: ${detection.summary}`);
  const unknown = detection.blocks.filter((b) => b.queryHeads === null);
  if (unknown.length) throw new Error(`${opts.model}: the head count of block ${unknown[0].index} cannot be read from the model; give heads in the config`);
  const starts = opts.windowStarts ? opts.windowStarts(detection.blocks.map((b) => b.queryHeads!)) : [];
  const warnings: string[] = [];
  const arrays = readInputArrays(opts.data, model);
  const sp = splitModelData(model, arrays, opts.data, opts.split ?? 0.5);
  const ctx = mainCtx(model);
  const x = findTheoryInput(ctx, detection.blocks[0]);
  const winX = new Map(starts.filter((a) => a > 0).map((a) => [a, windowTheoryInput(ctx, detection.blocks[a])] as const));
  const requests = [x, ...winX.values()].filter((t, i, all) => all.findIndex((u) => u.tensor === t.tensor) === i);
  const capture = async (inputs: ModelInputs, what: string) => {
    opts.onProgress?.(`running ${basename(opts.model)} on ${inputs.count} ${what} examples`);
    return captureAttention(model, inputs, {
      detection,
      batchSize: opts.batchSize,
      tensors: requests.map((t) => ({ name: t.tensor, batchAxis: t.batchAxis })),
    });
  };
  const cTrain = await capture(sp.train, 'train');
  const cTest = await capture(sp.test, 'test');
  const layers: FixedLayer[] = [];
  const T = cTrain.blocks[0].keys;
  for (const [i, b] of cTrain.blocks.entries()) {
    const bt = cTest.blocks[i];
    if (b.queries !== b.keys) {
      throw new Error(
        `${opts.model}: block ${b.index} attends ${b.queries} queries to ${b.keys} keys (cross-attention or a cache); the theory needs self-attention over the same T tokens`,
      );
    }
    if (b.keys !== T) throw new Error(`${opts.model}: block ${b.index} attends over ${b.keys} tokens but block 0 over ${T}`);
    layers.push({ kind: 'fixed', heads: b.heads, train: toTheoryLayout(b), test: toTheoryLayout(bt) });
  }
  const xs = (c: typeof cTrain, count: number, t: TheoryInput = x) => toSequences(c.tensors.get(t.tensor)!, count, T, t.tensor, t.batchAxis, t.featureAxis);
  const xTrain = xs(cTrain, sp.train.count);
  const xTest = xs(cTest, sp.test.count);
  const mask = findTokenMask(model, sp.train, sp.test, T);
  const batch = (c: { data: Float64Array; N0: number }, count: number, m?: Float64Array): SequenceBatch => ({
    count,
    features: c.N0,
    tokens: T,
    data: c.data,
    ...(m ? { tokenMask: m } : {}),
  });
  const windowInputs: WindowInput[] = starts.map((a) => {
    const t = winX.get(a);
    if (!t)
      return {
        block: 0,
        input: { ...x, N0: xTrain.N0, T, layout: xTrain.layout },
        train: batch(xTrain, sp.train.count, mask?.train),
        test: batch(xTest, sp.test.count, mask?.test),
      };
    const tr = xs(cTrain, sp.train.count, t);
    const te = xs(cTest, sp.test.count, t);
    return {
      block: a,
      input: { ...t, N0: tr.N0, T, layout: tr.layout },
      train: batch(tr, sp.train.count, mask?.train),
      test: batch(te, sp.test.count, mask?.test),
    };
  });
  const blocks: ModelBlockInfo[] = cTrain.blocks.map((b, i) => {
    const info: ModelBlockInfo = {
      layer: b.index,
      form: b.form,
      heads: b.heads,
      kvHeads: b.kvHeads,
      source: b.source,
      maskedQueries: b.maskedRows + cTest.blocks[i].maskedRows,
    };
    const err = Math.max(b.check?.maxAbsError ?? -1, cTest.blocks[i].check?.maxAbsError ?? -1);
    if (err >= 0) info.checkMaxAbsError = err;
    if (info.maskedQueries)
      warnings.push(`layer ${b.index}: ${info.maskedQueries} queries have every key masked (zero attention); their attention columns do not sum to 1`);
    return info;
  });
  for (const r of cTrain.repairs) warnings.push(r);
  const found = detectReadout(ctx, T);
  // With the token mask of x known, the theory's "last" is the last unmasked token too (readoutWeights).
  if (found?.mask && found.readout === 'last' && !mask) {
    warnings.push(
      `the model reads the last non-padding token (positions from '${found.mask}', ${found.node}); the theory's readout "last" is token T−1 of every sequence, which differs for padded ones`,
    );
  }
  const theoryClass = checkTheoryClass(ctx, detection, x, found);
  if (!theoryClass.inClass) {
    // Headline, then the details on the next line (report/warnings.ts): the editor shows the first line only.
    const n = theoryClass.reasons.length;
    warnings.push(
      `the model is outside the theory's class (${n} reason${n === 1 ? '' : 's'}); the theory is applied to its captured attention with its own Bayesian value weights\n` +
        `The theory's class: attention from the input, a linear value path, no residual, MLP or LayerNorm. Here: ${theoryClass.reasons.join('; ')}.`,
    );
  }
  if (x.embedding) {
    warnings.push(
      `the model's input '${x.tensor}' enters through a linear embedding; the theory takes '${x.tensor}' as its input and the embedding as its input-layer weights\n` +
        `The first block reads '${x.blockInput}', the linear embedding '${x.embedding.weight.node}' of '${x.tensor}' (the theory's V⁰).`,
    );
  }
  const name = basename(opts.model);
  const task: TaskData = {
    name,
    description: `${name} on ${basename(opts.data)}: P=${sp.train.count}, P_test=${sp.test.count}, N0=${xTrain.N0}, T=${T}, ${layers.length} captured layer(s) with heads [${layers.map((l) => l.heads).join(', ')}]`,
    train: batch(xTrain, sp.train.count, mask?.train),
    yTrain: sp.yTrain,
    test: batch(xTest, sp.test.count, mask?.test),
    yTest: sp.yTest,
    attention: layers,
  };
  if (found) task.readout = found.readout;
  return {
    task,
    layers,
    model,
    detection,
    input: { ...x, N0: xTrain.N0, T, layout: xTrain.layout },
    blocks,
    split: { train: sp.train.count, test: sp.test.count, rule: sp.rule },
    modelReadout: found?.readout ?? null,
    theoryClass,
    valueWeights: theoryClass.weights,
    windowInputs,
    ...(mask
      ? { tokenMask: { input: mask.input, padding: [...mask.train, ...mask.test].filter((v) => v === 0).length, tokens: mask.train.length + mask.test.length } }
      : {}),
    warnings,
  };
}
