/**
 * Running ONNX models in ONNX Runtime (`onnxruntime-node`, CPU execution provider).
 *
 * Arrays cross this boundary as `HostArray`s: row-major `Float64Array` values with explicit dims, whatever the
 * element type the model declares. Feeds are converted to the declared element type of each graph input
 * (float32, float64, float16, int8…int64, uint8…uint64, bool); fetched tensors come back as float64 (float16 and
 * bfloat16 decoded, bool as 0/1, int64 through Number). A `ModelRunner` holds one inference session and is reused
 * for every batch it runs; sessions run with one intra-op thread and warnings silenced, so several runners can
 * share a small machine and stderr stays clean.
 */
import { DataType } from '../format/types';
import { dataTypeName, encodeNumbers, ortElementType } from '../format/tensor';
import { bfloat16ToNumber, halfToNumber } from '../../util/float16';

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;
type OrtTensor = import('onnxruntime-node').Tensor;

/** A dense array on the host: row-major values and dims (`[]` for a scalar). */
export interface HostArray {
  dims: number[];
  data: Float64Array;
}

let ortModule: Ort | null | undefined;
let ortError = '';

/**
 * The one loader of `onnxruntime-node` (model runs here, the float64 products of linalg/ortGemm.ts, the train
 * command's check of its export): loaded once, with ONNX Runtime's own log silenced.
 * @returns the module, or null when ONNX Runtime cannot be loaded on this platform.
 */
export function ortIfAvailable(): Ort | null {
  if (ortModule === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      ortModule = require('onnxruntime-node') as Ort;
      // ONNX Runtime's own log goes to stderr: nothing belongs there (its errors come back as exceptions with reasons).
      ortModule.env.logLevel = 'fatal';
    } catch (e) {
      ortModule = null;
      ortError = e instanceof Error ? e.message.split('\n')[0] : String(e);
    }
  }
  return ortModule;
}

/**
 * The `onnxruntime-node` module.
 * @throws Error when ONNX Runtime cannot be loaded on this platform (the reason is included).
 */
export function loadOrt(): Ort {
  const ort = ortIfAvailable();
  if (!ort) throw new Error(`ONNX Runtime (onnxruntime-node) is not available on this machine: ${ortError}`);
  return ort;
}

/**
 * Converts a host array to an ORT tensor of ONNX element type `elemType`.
 * @throws Error for element types ONNX Runtime's JS API cannot feed (strings, bfloat16, 4-bit, float8), or for
 *   integer types when a value is not an integer.
 */
export function toOrtTensor(a: HostArray, elemType: number, name: string): OrtTensor {
  const ort = loadOrt();
  const type = ortElementType(elemType);
  if (!type) throw new Error(`input '${name}': element type ${dataTypeName(elemType)} cannot be fed from numeric data`);
  const data = encodeNumbers(elemType, a.data, `input '${name}'`);
  return new ort.Tensor(type as 'float32', data as Float32Array, a.dims);
}

/** An ORT tensor's values as a host array (float64). */
export function fromOrtTensor(t: OrtTensor, name: string): HostArray {
  const dims = [...t.dims].map(Number);
  const d = t.data as unknown;
  let data: Float64Array;
  if (t.type === 'float16') data = Float64Array.from(d as Uint16Array, halfToNumber);
  else if ((t.type as string) === 'bfloat16') data = Float64Array.from(d as Uint16Array, bfloat16ToNumber);
  else if (d instanceof BigInt64Array || d instanceof BigUint64Array) data = Float64Array.from(d as ArrayLike<bigint>, Number);
  else if (d instanceof Float64Array) data = new Float64Array(d);
  else if (ArrayBuffer.isView(d)) data = Float64Array.from(d as unknown as ArrayLike<number>);
  else throw new Error(`output '${name}' has element type ${t.type}, which has no numeric values`);
  return { dims, data };
}

/** Options of a `ModelRunner`. */
export interface RunnerOptions {
  /** Intra-op threads (default 1). */
  threads?: number;
  /** ORT graph optimization level (default `all`). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

/**
 * One ONNX Runtime session over serialized model bytes, reused for every run.
 * `inputTypes` gives the ONNX element type of each graph input (feeds are converted to it).
 */
export class ModelRunner {
  readonly label: string;
  private readonly session: Promise<Session>;
  private readonly inputTypes: Map<string, number>;

  private constructor(label: string, session: Promise<Session>, inputTypes: Map<string, number>) {
    this.label = label;
    this.session = session;
    this.inputTypes = inputTypes;
  }

  /**
   * Creates a session (asynchronously; errors surface on the first `run` or on `ready()`).
   * @param bytes serialized ModelProto (external data must already be inlined).
   * @param inputTypes element type per graph input name.
   * @param label names the model in error messages.
   */
  static create(bytes: Uint8Array, inputTypes: Map<string, number>, label: string, opts: RunnerOptions = {}): ModelRunner {
    const ort = loadOrt();
    const session = ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      intraOpNumThreads: opts.threads ?? 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: opts.optimization ?? 'all',
      logSeverityLevel: 4,
      enableCpuMemArena: false,
    });
    // Keep an unobserved rejection from crashing the process; `ready`/`run` report it.
    session.catch(() => undefined);
    return new ModelRunner(label, session, inputTypes);
  }

  /**
   * Waits for the session.
   * @throws Error `<label>: ONNX Runtime cannot load the model: <reason>`.
   */
  async ready(): Promise<Session> {
    try {
      return await this.session;
    } catch (e) {
      throw new Error(`${this.label}: ONNX Runtime cannot load the model: ${firstLine(e)}`, { cause: e });
    }
  }

  /**
   * Runs the model once.
   * @param feeds graph input name → array (converted to the input's declared element type).
   * @param fetches names of the graph outputs to return.
   * @returns fetched arrays (float64).
   * @throws Error naming the model when a feed is missing or of an unfeedable type, or ONNX Runtime fails.
   */
  async run(feeds: Map<string, HostArray>, fetches: string[]): Promise<Map<string, HostArray>> {
    const s = await this.ready();
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const name of s.inputNames) {
      const a = feeds.get(name);
      if (!a) throw new Error(`${this.label}: no data for the model input '${name}'`);
      ortFeeds[name] = toOrtTensor(a, this.inputTypes.get(name) ?? DataType.FLOAT, name);
    }
    let out: Record<string, OrtTensor>;
    try {
      out = (await s.run(ortFeeds, fetches)) as Record<string, OrtTensor>;
    } catch (e) {
      throw new Error(`${this.label}: ONNX Runtime failed to run the model: ${firstLine(e)}`, { cause: e });
    }
    const res = new Map<string, HostArray>();
    for (const f of fetches) {
      const t = out[f];
      if (!t) throw new Error(`${this.label}: ONNX Runtime did not return '${f}'`);
      res.set(f, fromOrtTensor(t, f));
      t.dispose?.();
    }
    return res;
  }

  /** Names of the session's graph inputs and outputs. */
  async io(): Promise<{ inputs: string[]; outputs: string[] }> {
    const s = await this.ready();
    return { inputs: [...s.inputNames], outputs: [...s.outputNames] };
  }

  /** Releases the native session. */
  async release(): Promise<void> {
    try {
      const s = await this.session;
      await s.release();
    } catch {
      // a session that never loaded has nothing to release
    }
  }
}

function firstLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0].replace(/^Error:\s*/, '');
}
