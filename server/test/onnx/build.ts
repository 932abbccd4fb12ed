/**
 * Test helpers: fixture paths, and a small ONNX model builder on onnx-proto (protobufjs) for synthetic models in
 * the export styles the detector must handle (BERT/ViT/PyTorch shapes, scale on the query, cross-attention,
 * grouped-query repeats, fused operators with outside projections, fully dynamic shapes).
 */
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { Random } from '../../src/util/random';

export const FIXTURES = join(__dirname, '..', '..', '..', 'test-fixtures');
export const NODE_TESTS = join(FIXTURES, 'onnx', 'onnx-node-tests');
export const OPENVINO = join(FIXTURES, 'onnx', 'openvino-com-microsoft');
export const TORCH = join(FIXTURES, 'onnx-torch');

export type AttrValue = number | number[] | string | { f: number } | { floats: number[] } | { g: onnx.IGraphProto } | { t: onnx.ITensorProto };

function attr(name: string, v: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: Buffer.from(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('f' in v) return { name, type: T.FLOAT, f: v.f };
  if ('floats' in v) return { name, type: T.FLOATS, floats: v.floats };
  if ('g' in v) return { name, type: T.GRAPH, g: v.g };
  return { name, type: T.TENSOR, t: v.t };
}

/** A float32 tensor stored as raw little-endian bytes. */
export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  const f = Float32Array.from(values);
  return { name, dims, dataType: 1, rawData: new Uint8Array(f.buffer) };
}

/** An int64 tensor stored in int64_data. */
export function int64Tensor(name: string, dims: number[], values: number[]): onnx.ITensorProto {
  return { name, dims, dataType: 7, int64Data: values };
}

function valueInfo(name: string, shape: (number | string | null)[] | null, elemType: number): onnx.IValueInfoProto {
  const tensorType: onnx.TypeProto.ITensor = { elemType };
  if (shape) tensorType.shape = { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})) };
  return { name, type: { tensorType } };
}

export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly inits: onnx.ITensorProto[] = [];
  readonly inputs: onnx.IValueInfoProto[] = [];
  readonly outputs: onnx.IValueInfoProto[] = [];
  private n = 0;
  readonly rng: Random;

  constructor(seed = 1) {
    this.rng = new Random(seed);
  }

  input(name: string, shape: (number | string | null)[] | null, elemType = 1): string {
    this.inputs.push(valueInfo(name, shape, elemType));
    return name;
  }

  output(name: string, shape: (number | string | null)[] | null = null, elemType = 1): string {
    this.outputs.push(valueInfo(name, shape, elemType));
    return name;
  }

  /** A float initializer with the given values (default: seeded normals scaled by 1/√dims[0]). */
  weight(name: string, dims: number[], values?: ArrayLike<number>): string {
    const n = dims.reduce((a, b) => a * b, 1);
    const v = values ?? Array.from({ length: n }, () => this.rng.normal() / Math.sqrt(dims[0]));
    this.inits.push(floatTensor(name, dims, v));
    return name;
  }

  ints(name: string, values: number[], dims: number[] = [values.length]): string {
    this.inits.push(int64Tensor(name, dims, values));
    return name;
  }

  scalar(name: string, value: number): string {
    this.inits.push(floatTensor(name, [], [value]));
    return name;
  }

  /** Adds a node; returns its output names (`count` fresh names unless `outs` is given). */
  node(
    op: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    opts: { outs?: string[]; count?: number; domain?: string; name?: string } = {},
  ): string[] {
    const id = this.n++;
    const outs = opts.outs ?? Array.from({ length: opts.count ?? 1 }, (_, i) => `${op}_${id}_out${i}`);
    this.nodes.push({
      name: opts.name ?? `${op}_${id}`,
      opType: op,
      domain: opts.domain ?? '',
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)),
    });
    return outs;
  }

  one(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: { out?: string; domain?: string; name?: string } = {}): string {
    return this.node(op, inputs, attrs, { outs: opts.out ? [opts.out] : undefined, domain: opts.domain, name: opts.name })[0];
  }

  graph(name = 'g'): onnx.IGraphProto {
    return { name, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs };
  }
}

export interface ModelOptions {
  ir?: number;
  opsets?: Record<string, number>;
  producer?: string;
}

/** Serializes a graph as a ModelProto. */
export function modelBytes(graph: onnx.IGraphProto, o: ModelOptions = {}): Uint8Array {
  const opsets = o.opsets ?? { '': 17 };
  const m = onnx.ModelProto.create({
    irVersion: o.ir ?? 8,
    producerName: o.producer ?? 'attention-paths-test',
    opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
    graph,
  });
  return onnx.ModelProto.encode(m).finish();
}

export interface MhaOptions {
  /** Hidden size E, heads H (E divisible by H), key/value heads (GQA when < H). */
  E?: number;
  H?: number;
  kvH?: number;
  T?: number;
  /** Keys/values from a second input `mem` of length S (cross-attention). */
  cross?: boolean;
  S?: number;
  /** Where 1/√d is applied. */
  scale?: 'scores-div' | 'scores-mul' | 'query' | 'query+key' | 'none';
  /** Additive mask: none, [B,1,1,S] padding mask, a per-head [B,H,T,S] bias input, a constant per-head [1,H,T,S]
   *  bias (T5-style relative position bias), or a HF-style extended mask computed from an int64 [B,S] input. */
  mask?: 'none' | 'padding' | 'per-head' | 'const-per-head' | 'hf';
  /** Opset (default 17); below 13, Unsqueeze takes `axes` as an attribute and Softmax uses axis 3. */
  opset?: number;
  /** Output projection as Gemm(transB) on [B·T, E] instead of MatMul. */
  gemmOut?: boolean;
  /** `bnsh` (BERT: Reshape [0,0,H,d] + Transpose) or `packed` (ViT/timm: one [E,3E] projection, Gather). */
  style?: 'bnsh' | 'packed';
  seed?: number;
}

/**
 * One unfused multi-head attention block (Q/K/V projections with biases, head split, scaled scores, optional
 * mask, Softmax, P·V, head merge, output projection) over input `x` [batch, T, E]. Batch is symbolic.
 * Weight names: Wq, Wk, Wv, Wo (or Wqkv for `packed`), biases bq, bk, bv, bo.
 */
export function buildMha(o: MhaOptions = {}): { bytes: Uint8Array; builder: GraphBuilder } {
  const E = o.E ?? 32;
  const H = o.H ?? 4;
  const kvH = o.kvH ?? H;
  const T = o.T ?? 6;
  const S = o.cross ? (o.S ?? 5) : T;
  const d = E / H;
  const opset = o.opset ?? 17;
  const g = new GraphBuilder(o.seed ?? 7);
  const x = g.input('x', ['batch', T, E]);
  const src = o.cross ? g.input('mem', ['batch', S, E]) : x;
  const s = 1 / Math.sqrt(d);
  let q: string, k: string, v: string;
  if (o.style === 'packed') {
    // timm ViT: qkv = x @ W [E, 3E] + b → Reshape [B, T, 3, H, d] → Transpose [2, 0, 3, 1, 4] → Gather 0/1/2.
    const qkv = g.one('Add', [g.one('MatMul', [x, g.weight('Wqkv', [E, 3 * E])]), g.weight('bqkv', [3 * E])]);
    const r = g.one('Reshape', [qkv, g.ints('shape_qkv', [0, 0, 3, H, d])]);
    const t = g.one('Transpose', [r], { perm: [2, 0, 3, 1, 4] });
    [q, k, v] = [0, 1, 2].map((i) => g.one('Gather', [t, g.ints(`idx${i}`, [i], [])], { axis: 0 }));
    k = g.one('Transpose', [k], { perm: [0, 1, 3, 2] });
  } else {
    const proj = (name: string, input: string, width: number) =>
      g.one('Add', [g.one('MatMul', [input, g.weight(`W${name}`, [E, width])], {}, { name: `${name}_proj` }), g.weight(`b${name}`, [width])]);
    const split = (t: string, heads: number, name: string) =>
      g.one('Transpose', [g.one('Reshape', [t, g.ints(`shape_${name}`, [0, 0, heads, d])])], { perm: [0, 2, 1, 3] });
    q = split(proj('q', x, E), H, 'q');
    k = split(proj('k', src, kvH * d), kvH, 'k');
    v = split(proj('v', src, kvH * d), kvH, 'v');
    if (kvH !== H) {
      // Llama-style repeat_kv: [B, kvH, S, d] → Unsqueeze(2) → Expand [.., H/kvH, ..] → Reshape [B, H, S, d].
      const rep = (t: string, name: string) =>
        g.one('Reshape', [
          g.one('Expand', [g.one('Unsqueeze', [t, g.ints(`ax_${name}`, [2])]), g.ints(`rep_${name}`, [1, 1, H / kvH, 1, 1])]),
          g.ints(`shape_rep_${name}`, [0, H, -1, d]),
        ]);
      k = rep(k, 'k');
      v = rep(v, 'v');
    }
    k = g.one('Transpose', [k], { perm: [0, 1, 3, 2] });
  }
  if (o.scale === 'query') q = g.one('Mul', [q, g.scalar('q_scale', s)], {}, { name: 'q_scale_mul' });
  if (o.scale === 'query+key') {
    q = g.one('Mul', [q, g.scalar('qk_scale_q', Math.sqrt(s))]);
    k = g.one('Mul', [k, g.scalar('qk_scale_k', Math.sqrt(s))]);
  }
  let scores = g.one('MatMul', [q, k], {}, { name: 'scores' });
  if (o.scale === undefined || o.scale === 'scores-div') scores = g.one('Div', [scores, g.scalar('sqrt_d', Math.sqrt(d))]);
  if (o.scale === 'scores-mul') scores = g.one('Mul', [scores, g.scalar('inv_sqrt_d', s)]);
  if (o.mask === 'padding') scores = g.one('Add', [scores, g.input('mask', ['batch', 1, 1, S])]);
  if (o.mask === 'per-head') scores = g.one('Add', [scores, g.input('bias', ['batch', H, T, S])]);
  if (o.mask === 'const-per-head') scores = g.one('Add', [scores, g.weight('rel_bias', [1, H, T, S])]);
  if (o.mask === 'hf') {
    // HF BERT: (1 - mask[:, None, None, :].float()) * -10000, added to the scores.
    const m = g.input('attention_mask', ['batch', S], 7);
    const u = opset < 13 ? g.one('Unsqueeze', [m], { axes: [1, 2] }) : g.one('Unsqueeze', [m, g.ints('mask_axes', [1, 2])]);
    const ext = g.one('Mul', [g.one('Sub', [g.scalar('one', 1), g.one('Cast', [u], { to: 1 })]), g.scalar('neg', -10000)]);
    scores = g.one('Add', [scores, ext], {}, { name: 'add_mask' });
  }
  const p = g.one('Softmax', [scores], { axis: opset < 13 ? 3 : -1 }, { name: 'softmax' });
  const c = g.one('MatMul', [p, v], {}, { name: 'context' });
  const merged = g.one('Reshape', [g.one('Transpose', [c], { perm: [0, 2, 1, 3] }), g.ints('shape_merge', [0, 0, E])]);
  let y: string;
  if (o.gemmOut) {
    const flat = g.one('Reshape', [merged, g.ints('shape_flat', [-1, E])]);
    const gm = g.one('Gemm', [flat, g.weight('Wo', [E, E]), g.weight('bo', [E])], { transB: 1 }, { name: 'out_proj' });
    y = g.one('Reshape', [gm, g.ints('shape_back', [-1, T, E])], {}, { out: 'y' });
  } else {
    y = g.one('Add', [g.one('MatMul', [merged, g.weight('Wo', [E, E])], {}, { name: 'out_proj' }), g.weight('bo', [E])], {}, { out: 'y' });
  }
  g.output(y, ['batch', T, E]);
  return { bytes: modelBytes(g.graph('mha'), { opsets: { '': opset } }), builder: g };
}
