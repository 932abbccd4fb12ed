/**
 * Float64 Gemm through ONNX Runtime's CPU engine: one tiny ONNX graph per (transA, transB) pair,
 * built once with onnx-proto and kept as a session. This is the only place the numerics call ORT.
 */
import type { Matrix, Matrix32 } from './matrix';

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

function gemmModelBytes(transA: boolean, transB: boolean, elemType: number): Uint8Array {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { onnx } = require('onnx-proto') as typeof import('onnx-proto');
  const vi = (name: string) =>
    onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType, shape: { dim: [{ dimParam: `${name}_rows` }, { dimParam: `${name}_cols` }] } } },
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

/** ONNX element types: 11 = double, 1 = float. */
function session(transA: boolean, transB: boolean, elemType = 11): Promise<Session> {
  const key = `${+transA}${+transB}${elemType}`;
  let s = sessions.get(key);
  if (!s) {
    const o = loadOrt()!;
    s = o.InferenceSession.create(gemmModelBytes(transA, transB, elemType), {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      enableCpuMemArena: false,
      logSeverityLevel: 4,
      // Idle intra-op threads sleep instead of spinning: on a machine shared with the editor (and the
      // language server's other workers) spinning burned ~30% extra CPU per product for no speed-up.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
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

/** op(A)·op(B) in float32 in ONNX Runtime (its MLAS SGEMM, about twice the float64 rate here). */
export async function ortGemm32(A: Matrix32, B: Matrix32, transA: boolean, transB: boolean): Promise<Float32Array> {
  const o = loadOrt()!;
  const s = await session(transA, transB, 1);
  const out = await s.run({
    A: new o.Tensor('float32', A.data, [A.rows, A.cols]),
    B: new o.Tensor('float32', B.data, [B.rows, B.cols]),
  });
  return out.C.data as Float32Array;
}

