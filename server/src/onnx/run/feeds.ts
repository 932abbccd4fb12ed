/**
 * Data for running a model: arrays keyed by graph-input name, read from `.npz` / `.json` (keys = ONNX input
 * names), a single `.npy` (one-input models), or ONNX backend-test folders (`test_data_set_<n>/input_<i>.pb`
 * TensorProtos, matched to inputs by the tensor's name, else by position). Every array is checked against the
 * input's declared shape: fixed dims must match, a symbolic dim (`dim_param`) must have the same size in every
 * input that uses it. The batch dim is dim 0 of the first input when that is symbolic (or anonymous); inputs
 * whose dim 0 is the same symbol are *batched*: they share the example count P and are cut into batches along
 * axis 0; the others (caches, lookup tables) are passed whole to every run. When some input declares no shape at
 * all, nothing is batched (one run over all the data), since its batch axis is unknown.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { onnx } from 'onnx-proto';
import { openArrayFile } from '../../data/source';
import { readNpy } from '../../data/npy';
import { toFloat64, wrapTensor } from '../format/tensor';
import type { HostArray } from './runtime';
import type { DimSpec, OnnxModel, OnnxValueInfo } from '../format/types';

/** Checked inputs for a model. */
export interface ModelInputs {
  /** Graph input name → array (float64 values; converted to the declared type when fed). */
  arrays: Map<string, HostArray>;
  /** Inputs cut into batches along axis 0. */
  batched: Set<string>;
  /** Number of examples P (axis 0 of the batched inputs; the whole first dim when none is batched). */
  count: number;
  /** Where the data came from (for messages). */
  source: string;
}

function fmtShape(s: readonly (number | string | null)[]): string {
  return `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

/** Reads one serialized TensorProto file (`input_0.pb`) as a named host array. */
export function readTensorFile(path: string): { name: string; array: HostArray } {
  let p: onnx.TensorProto;
  try {
    p = onnx.TensorProto.decode(readFileSync(path));
  } catch (e) {
    throw new Error(`${path}: not a serialized ONNX TensorProto (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  const t = wrapTensor(p, basename(path), null);
  let data: Float64Array;
  try {
    data = toFloat64(t);
  } catch (e) {
    throw new Error(`${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return { name: p.name ?? '', array: { dims: t.dims, data: data.length === t.size ? data : data.slice(0, t.size) } };
}

/** Reads `input_<i>.pb` (or `output_<i>.pb`) files of a backend-test data folder, in index order. */
export function readTensorFolder(dir: string, prefix: 'input' | 'output'): { name: string; array: HostArray }[] {
  const re = new RegExp(`^${prefix}_(\\d+)\\.pb$`);
  const files = readdirSync(dir)
    .map((f) => ({ f, m: re.exec(f) }))
    .filter((x) => x.m)
    .sort((a, b) => Number(a.m![1]) - Number(b.m![1]));
  return files.map((x) => readTensorFile(join(dir, x.f)));
}

/**
 * Reads raw arrays for a model from a file or folder (not yet checked against the model).
 * @param path `.npz`/`.json` (keys = input names), `.npy` (the model must have one input), a
 *   `test_data_set_*` folder, or a folder holding one (the first, by name).
 * @throws Error naming the file when it cannot be read.
 */
export function readInputArrays(path: string, model: OnnxModel): Map<string, HostArray> {
  if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
  if (statSync(path).isDirectory()) {
    let dir = path;
    if (!readdirSync(dir).some((f) => /^input_\d+\.pb$/.test(f))) {
      const sets = readdirSync(dir)
        .filter((f) => /^test_data_set_\d+$/.test(f))
        .sort();
      if (!sets.length) throw new Error(`${path}: holds neither input_<i>.pb files nor a test_data_set_<n> folder`);
      dir = join(dir, sets[0]);
    }
    const files = readTensorFolder(dir, 'input');
    const names = model.graph.inputs.map((i) => i.name);
    const out = new Map<string, HostArray>();
    files.forEach(({ name, array }, i) => {
      const key = name && names.includes(name) ? name : names[i];
      if (key === undefined) throw new Error(`${dir}: input_${i}.pb has no matching model input (the model has ${names.length})`);
      out.set(key, array);
    });
    return out;
  }
  if (path.toLowerCase().endsWith('.npy')) {
    const inputs = model.graph.inputs;
    if (inputs.length !== 1) {
      throw new Error(
        `${path}: a .npy file holds one array, but the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); use a .npz keyed by input name`,
      );
    }
    const a = readNpy(path);
    return new Map([[inputs[0].name, { dims: a.shape, data: a.data }]]);
  }
  const f = openArrayFile(path);
  const out = new Map<string, HostArray>();
  for (const n of f.names()) {
    const a = f.get(n)!;
    out.set(n, { dims: a.shape, data: a.data });
  }
  return out;
}

/**
 * The batch dim: dim 0 of the first graph input, when it is symbolic or anonymous (undefined when it is fixed,
 * or the first input declares no shape).
 */
function batchDim(model: OnnxModel): DimSpec | undefined {
  const first = model.graph.inputs[0];
  if (!first || !first.shape || first.shape.length === 0) return undefined;
  const d = first.shape[0];
  return typeof d === 'number' ? undefined : d;
}

/** True when an input is cut into batches: its dim 0 is the model's batch dim (same `dim_param`, or anonymous). */
function isBatchedInput(v: OnnxValueInfo, batch: DimSpec | undefined): boolean {
  if (batch === undefined || !v.shape || v.shape.length === 0) return false;
  return v.shape[0] === batch;
}

/**
 * Checks arrays against the model's graph inputs.
 * @param arrays name → array; names that are not graph inputs are ignored (labels and such).
 * @param source names the data in messages.
 * @param opts.keySuffix read input `n` from key `n + suffix` (e.g. `_train`).
 * @returns the inputs, which are batched, and the example count.
 * @throws Error naming the input and both shapes when an input is missing, a rank or fixed dim differs, a
 *   symbolic dim has different sizes in two inputs, or batched inputs disagree on the example count.
 */
export function checkInputs(model: OnnxModel, arrays: Map<string, HostArray>, source: string, opts: { keySuffix?: string } = {}): ModelInputs {
  const suffix = opts.keySuffix ?? '';
  const out = new Map<string, HostArray>();
  const symbols = new Map<string, { size: number; where: string }>();
  const batched = new Set<string>();
  let count: number | null = null;
  let countFrom = '';
  const batch = batchDim(model);
  for (const v of model.graph.inputs) {
    const key = v.name + suffix;
    const a = arrays.get(key);
    if (!a) {
      const have = [...arrays.keys()];
      throw new Error(
        `${source}: no array '${key}' for the model input '${v.name}'${v.shape ? ` ${fmtShape(v.shape)}` : ''} (the data has: ${have.length ? have.join(', ') : 'nothing'})`,
      );
    }
    if (a.data.length !== a.dims.reduce((x, y) => x * y, 1)) throw new Error(`${source}: '${key}' has ${a.data.length} values for shape ${fmtShape(a.dims)}`);
    const bad = a.data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) {
      const at: number[] = [];
      let r = bad;
      for (let i = a.dims.length - 1; i >= 0; i--) {
        at.unshift(r % a.dims[i]);
        r = Math.floor(r / a.dims[i]);
      }
      const what = Number.isNaN(a.data[bad]) ? 'NaN' : a.data[bad] > 0 ? 'Infinity' : '-Infinity';
      throw new Error(`${source}: input '${key}' has ${what} at ${fmtShape(at)}`);
    }
    const decl: DimSpec[] | null = v.shape;
    if (decl) {
      if (decl.length !== a.dims.length) {
        throw new Error(
          `${source}: '${key}' has shape ${fmtShape(a.dims)}, but the model input '${v.name}' is ${fmtShape(decl)} (rank ${decl.length}, got ${a.dims.length})`,
        );
      }
      decl.forEach((d, i) => {
        if (typeof d === 'number' && d !== a.dims[i]) {
          throw new Error(`${source}: '${key}' has shape ${fmtShape(a.dims)}, but the model input '${v.name}' is ${fmtShape(decl)} (dim ${i} must be ${d})`);
        }
        if (typeof d === 'string') {
          const prev = symbols.get(d);
          if (prev && prev.size !== a.dims[i]) {
            throw new Error(`${source}: '${key}' has ${d} = ${a.dims[i]} (dim ${i} of ${fmtShape(a.dims)}), but ${prev.where} has ${d} = ${prev.size}`);
          }
          if (!prev) symbols.set(d, { size: a.dims[i], where: `'${key}'` });
        }
      });
    }
    if (isBatchedInput(v, batch) && a.dims.length > 0) {
      batched.add(v.name);
      if (count === null) {
        count = a.dims[0];
        countFrom = key;
      } else if (a.dims[0] !== count) {
        throw new Error(`${source}: '${key}' has ${a.dims[0]} examples (dim 0) but '${countFrom}' has ${count}; batched inputs must agree`);
      }
    }
    out.set(v.name, a);
  }
  if (model.graph.inputs.some((v) => !v.shape)) {
    batched.clear();
    count = null;
  }
  if (count === null) {
    const first = model.graph.inputs[0];
    count = first ? (out.get(first.name)!.dims[0] ?? 1) : 1;
  }
  if (count < 1) throw new Error(`${source}: the data holds no examples`);
  return { arrays: out, batched, count, source };
}

/** Rows [start, end) of the batched inputs (the others whole). */
export function sliceInputs(inputs: ModelInputs, start: number, end: number): Map<string, HostArray> {
  const out = new Map<string, HostArray>();
  for (const [name, a] of inputs.arrays) {
    if (!inputs.batched.has(name)) {
      out.set(name, a);
      continue;
    }
    const row = a.dims.slice(1).reduce((x, y) => x * y, 1);
    out.set(name, { dims: [end - start, ...a.dims.slice(1)], data: a.data.subarray(start * row, end * row) });
  }
  return out;
}

/**
 * Loads and checks model inputs from a path (see `readInputArrays`, `checkInputs`).
 * @throws Error with the file, input and shapes named.
 */
export function loadModelInputs(path: string, model: OnnxModel): ModelInputs {
  return checkInputs(model, readInputArrays(path, model), path);
}

/** Most values `syntheticInputs` makes for one input (2^24 doubles, 128 MB). */
const MAX_SYNTHETIC_VALUES = 2 ** 24;

/**
 * Random inputs for a model whose inputs are all floating point with shapes known up to the batch dim
 * (standard normal values, a fixed seed): enough to check that two versions of the model compute the same function.
 * @param count examples along the batch dim.
 * @returns the inputs, or the reason they cannot be made (integer inputs such as token ids or masks, unknown dims).
 */
export function syntheticInputs(model: OnnxModel, count: number, seed = 1): ModelInputs | { reason: string } {
  const batch = batchDim(model);
  let state = seed >>> 0 || 1;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const arrays = new Map<string, HostArray>();
  for (const v of model.graph.inputs) {
    if (![1, 10, 11, 16].includes(v.elemType)) return { reason: `input '${v.name}' is not floating point (random values would not be meaningful)` };
    if (!v.shape) return { reason: `input '${v.name}' declares no shape` };
    const dims: number[] = [];
    for (const [i, d] of v.shape.entries()) {
      if (typeof d === 'number') dims.push(d);
      else if (i === 0 && batch !== undefined && d === batch) dims.push(count);
      else return { reason: `input '${v.name}' has the dynamic dim ${d ?? '?'} besides the batch` };
    }
    if (dims.some((d) => !Number.isSafeInteger(d) || d < 0))
      return { reason: `input '${v.name}' declares the shape [${dims.join(', ')}], which holds a negative dimension` };
    const n = dims.reduce((a, b) => a * b, 1);
    // Random inputs are a check, not a workload: a declared shape beyond this asks for --data instead of gigabytes.
    if (n > MAX_SYNTHETIC_VALUES)
      return { reason: `input '${v.name}' [${dims.join(', ')}] would take ${n} random values (more than ${MAX_SYNTHETIC_VALUES}); give data` };
    arrays.set(v.name, { dims, data: Float64Array.from({ length: n }, normal) });
  }
  return checkInputs(model, arrays, 'random inputs');
}
