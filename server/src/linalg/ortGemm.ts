/**
 * Float64 Gemm through ONNX Runtime's CPU engine: one tiny ONNX graph per kind of product (transA, transB,
 * alpha, whether a C term is added, thread count), built once with onnx-proto and kept as a session. This is
 * the only place the numerics call ORT.
 *
 * Sessions never spin: ORT's default is to keep its pool threads busy-waiting between runs, which on a shared
 * 2-core machine takes the CPU from the language server's main thread and from the other process(es) running
 * (measured here under load: a 2000³ product 1.6× faster without spinning). Products with two dimensions ≤ 32
 * (e.g. [P·N0, Q]·[Q, Q], purely memory-bound) and products under 0.03 GFLOP run on one thread, where the pool's
 * synchronization costs more than it gains (measured under load: 82 ms against 550 ms for [400000, 16]·[16, 16];
 * unloaded 1.25× at best). A product with one small dimension still gains from the pool when the other two are
 * large (measured unloaded on 2 cores: [8, 3200]·[3200, 3200] 22 ms on one thread, 7 ms on the pool;
 * [128, 128]·[128, 3200] 3.8 ms against 2.1 ms); see `useSingleThread`.
 */
import type { Matrix, Matrix32 } from './matrix';
import { ortIfAvailable } from '../onnx/run/runtime';

type Session = import('onnxruntime-node').InferenceSession;

const sessions = new Map<string, Promise<Session>>();

/** Whether ONNX Runtime's native engine could be loaded (onnx/run/runtime.ts, its one loader; else all products run in JS; gemm.ts's backend decides whether it is used). */
export function ortAvailable(): boolean {
  return ortIfAvailable() !== null;
}

/** What one ORT product computes: out = alpha·op(A)·op(B) (+ C when `addC`, i.e. beta = 1). */
export interface OrtGemmKind {
  transA: boolean;
  transB: boolean;
  /** Factor of the product (default 1). */
  alpha?: number;
  /** Add a C input of the output's shape (beta = 1). */
  addC?: boolean;
  /** One thread (memory-bound products) or ORT's pool (default). */
  singleThread?: boolean;
  /** Float32 inputs and output (MLAS SGEMM) instead of float64. */
  float32?: boolean;
}

function gemmModelBytes(k: OrtGemmKind): Uint8Array {
  const elemType = k.float32 ? 1 : 11; // ONNX element types: 11 = double, 1 = float
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { onnx } = require('onnx-proto') as typeof import('onnx-proto');
  const vi = (name: string) =>
    onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType, shape: { dim: [{ dimParam: `${name}_rows` }, { dimParam: `${name}_cols` }] } } },
    });
  const INT = onnx.AttributeProto.AttributeType.INT;
  const FLOAT = onnx.AttributeProto.AttributeType.FLOAT;
  const node = onnx.NodeProto.create({
    opType: 'Gemm',
    input: k.addC ? ['A', 'B', 'C'] : ['A', 'B'],
    output: ['Y'],
    attribute: [
      { name: 'transA', type: INT, i: k.transA ? 1 : 0 },
      { name: 'transB', type: INT, i: k.transB ? 1 : 0 },
      { name: 'alpha', type: FLOAT, f: k.alpha ?? 1 },
      { name: 'beta', type: FLOAT, f: 1 },
    ],
  });
  const inputs = k.addC ? [vi('A'), vi('B'), vi('C')] : [vi('A'), vi('B')];
  const graph = onnx.GraphProto.create({ name: 'gemm', node: [node], input: inputs, output: [vi('Y')] });
  const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph });
  return onnx.ModelProto.encode(model).finish();
}

function session(k: OrtGemmKind): Promise<Session> {
  const key = `${+k.transA}${+k.transB}|${k.alpha ?? 1}|${+!!k.addC}|${+!!k.singleThread}|${+!!k.float32}`;
  let s = sessions.get(key);
  if (!s) {
    const o = ortIfAvailable()!;
    s = o.InferenceSession.create(gemmModelBytes(k), {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      enableCpuMemArena: false,
      logSeverityLevel: 4,
      executionMode: 'sequential',
      interOpNumThreads: 1,
      ...(k.singleThread ? { intraOpNumThreads: 1 } : {}),
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    });
    sessions.set(key, s);
  }
  return s;
}

/** Whether a product of shape [m, k]·[k, n] runs on one thread (see module doc). */
export function useSingleThread(m: number, k: number, n: number): boolean {
  const skinny = +(m <= 32) + +(k <= 32) + +(n <= 32);
  return skinny >= 2 || 2 * m * k * n < 3e7;
}

/**
 * op(A)·op(B) in float32 in ONNX Runtime (its MLAS SGEMM, about twice the float64 rate here). `out`, when given,
 * receives the result (exactly [m, n]; must not overlap A or B) and is returned: repeated products of one shape
 * then reuse one buffer instead of a fresh allocation, whose first touch costs ~0.35 ms per MB here.
 */
export async function ortGemm32(A: Matrix32, B: Matrix32, transA: boolean, transB: boolean, out?: Float32Array): Promise<Float32Array> {
  const o = ortIfAvailable()!;
  const m = transA ? A.cols : A.rows;
  const n = transB ? B.rows : B.cols;
  const k = transA ? A.rows : A.cols;
  const s = await session({ transA, transB, float32: true, singleThread: useSingleThread(m, k, n) });
  const feeds = {
    A: new o.Tensor('float32', A.data, [A.rows, A.cols]),
    B: new o.Tensor('float32', B.data, [B.rows, B.cols]),
  };
  return (await runGemm(s, feeds, 'float32', m, n, out)) as Float32Array;
}

/** Runs a Gemm session: into `out` ([m, n], given as the output tensor) when there is one, else into a new array. */
async function runGemm(
  s: Session,
  feeds: Record<string, import('onnxruntime-node').Tensor>,
  type: 'float32' | 'float64',
  m: number,
  n: number,
  out?: Float32Array | Float64Array,
): Promise<Float32Array | Float64Array> {
  if (!out) return (await s.run(feeds)).Y.data as Float32Array | Float64Array;
  const o = ortIfAvailable()!;
  await s.run(feeds, { Y: type === 'float32' ? new o.Tensor('float32', out as Float32Array, [m, n]) : new o.Tensor('float64', out as Float64Array, [m, n]) });
  return out;
}

/** op(A)·op(B) in ONNX Runtime; returns the row-major result data. */
export async function ortGemm(A: Matrix, B: Matrix, transA: boolean, transB: boolean): Promise<Float64Array> {
  const m = transA ? A.cols : A.rows;
  const n = transB ? B.rows : B.cols;
  const k = transA ? A.rows : A.cols;
  return ortGemmInto(A, B, { transA, transB, singleThread: useSingleThread(m, k, n) });
}

/**
 * out = alpha·op(A)·op(B) (+ C) in ONNX Runtime. A, B and C may be views (subarrays) of larger arrays; `out`,
 * when given, is written in place (a view of exactly the output's size) and returned, else a new array is.
 * `out` must not overlap A, B or C.
 */
export async function ortGemmInto(A: Matrix, B: Matrix, kind: OrtGemmKind, C?: Float64Array, out?: Float64Array): Promise<Float64Array> {
  const o = ortIfAvailable()!;
  const s = await session({ ...kind, addC: C !== undefined });
  const m = kind.transA ? A.cols : A.rows;
  const n = kind.transB ? B.rows : B.cols;
  const feeds: Record<string, import('onnxruntime-node').Tensor> = {
    A: new o.Tensor('float64', A.data, [A.rows, A.cols]),
    B: new o.Tensor('float64', B.data, [B.rows, B.cols]),
  };
  if (C !== undefined) feeds.C = new o.Tensor('float64', C, [m, n]);
  return (await runGemm(s, feeds, 'float64', m, n, out)) as Float64Array;
}
