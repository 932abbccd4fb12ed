/**
 * Float64 Gemm through ONNX Runtime's CPU engine: one tiny ONNX graph per (transA, transB) pair,
 * built once with onnx-proto and kept as a session. This is the only place the numerics call ORT.
 */
import type { Matrix } from './matrix';

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;

let ort: Ort | null | undefined;
const sessions = new Map<string, Promise<Session>>();

function loadOrt(): Ort | null {
  if (ort === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      ort = require('onnxruntime-node') as Ort;
      // ONNX Runtime's own log goes to stderr: nothing belongs there (its errors come back as exceptions with reasons).
      ort.env.logLevel = 'fatal';
    } catch {
      ort = null; // no native engine on this platform: every product falls back to JS loops
    }
  }
  return ort;
}

/** Whether ONNX Runtime's native engine could be loaded (else all products run in JS). */
export function ortAvailable(): boolean {
  return process.env.ATTENTION_PATHS_NO_ORT !== '1' && loadOrt() !== null;
}

function gemmModelBytes(transA: boolean, transB: boolean): Uint8Array {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { onnx } = require('onnx-proto') as typeof import('onnx-proto');
  const DOUBLE = 11;
  const vi = (name: string) =>
    onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType: DOUBLE, shape: { dim: [{ dimParam: `${name}_rows` }, { dimParam: `${name}_cols` }] } } },
    });
  const node = onnx.NodeProto.create({
    opType: 'Gemm',
    input: ['A', 'B'],
    output: ['C'],
    attribute: [
      { name: 'transA', type: onnx.AttributeProto.AttributeType.INT, i: transA ? 1 : 0 },
      { name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: transB ? 1 : 0 },
    ],
  });
  const graph = onnx.GraphProto.create({ name: 'gemm', node: [node], input: [vi('A'), vi('B')], output: [vi('C')] });
  const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph });
  return onnx.ModelProto.encode(model).finish();
}

function session(transA: boolean, transB: boolean): Promise<Session> {
  const key = `${+transA}${+transB}`;
  let s = sessions.get(key);
  if (!s) {
    const o = loadOrt()!;
    s = o.InferenceSession.create(gemmModelBytes(transA, transB), {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      enableCpuMemArena: false,
      logSeverityLevel: 4,
    });
    sessions.set(key, s);
  }
  return s;
}

/** op(A)·op(B) in ONNX Runtime; returns the row-major result data. */
export async function ortGemm(A: Matrix, B: Matrix, transA: boolean, transB: boolean): Promise<Float64Array> {
  const o = loadOrt()!;
  const s = await session(transA, transB);
  const out = await s.run({
    A: new o.Tensor('float64', A.data, [A.rows, A.cols]),
    B: new o.Tensor('float64', B.data, [B.rows, B.cols]),
  });
  return out.C.data as Float64Array;
}

