/**
 * Test helpers for capture, pruning and model analysis: synthetic fused-operator models with their projections
 * outside the operator, a model of the theory's own class, an independent head mask (zeroing a head's rows of the
 * output projection weight directly in the protobuf), and input builders.
 */
import { onnx } from 'onnx-proto';
import { GraphBuilder, modelBytes } from './build';
import { checkInputs, type ModelInputs } from '../../src/onnx/run/feeds';
import type { HostArray } from '../../src/onnx/run/runtime';
import type { OnnxModel } from '../../src/onnx/format/types';
import { Random } from '../../src/util/random';

/** Deterministic normal inputs. */
export function normal(dims: number[], seed = 11): HostArray {
  const r = new Random(seed);
  return { dims, data: Float64Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r.normal()) };
}

/** Checked inputs from a plain record. */
export function inputs(model: OnnxModel, arrays: Record<string, HostArray>): ModelInputs {
  return checkInputs(model, new Map(Object.entries(arrays)), 'test data');
}

/**
 * The model with head `h` of an output projection weight zeroed, for each h in `heads`: rows [h·dv, (h+1)·dv) of a
 * [in, out] weight (axis 0) or the same columns of a [out, in] weight (axis 1). Independent of `insertHeadMask`.
 */
export function zeroOutputHeads(bytes: Uint8Array, weight: string, axis: 0 | 1, dv: number, heads: number[], scaleKept = 1): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  const t = m.graph!.initializer!.find((x) => x.name === weight);
  if (!t) throw new Error(`no initializer ${weight}`);
  const dims = (t.dims as number[]).map(Number);
  const raw = t.rawData!;
  const f = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const zero = new Set<number>();
  for (const h of heads) for (let i = 0; i < dv; i++) zero.add(h * dv + i);
  for (let r = 0; r < dims[0]; r++)
    for (let c = 0; c < dims[1]; c++) {
      const k = axis === 0 ? r : c;
      f[r * dims[1] + c] = zero.has(k) ? 0 : f[r * dims[1] + c] * scaleKept;
    }
  t.rawData = new Uint8Array(f.buffer);
  return onnx.ModelProto.encode(m).finish();
}

/** ai.onnx Attention (opset 23) on 3-D projected inputs: q/k/v MatMul+bias, optional per-head constant mask, output MatMul. */
export function onnxAttention3d(o: { H?: number; kvH?: number; causal?: boolean; perHeadMask?: boolean } = {}): Uint8Array {
  const H = o.H ?? 4;
  const kvH = o.kvH ?? H;
  const d = 8;
  const E = H * d;
  const T = 6;
  const g = new GraphBuilder(21);
  g.input('x', ['batch', T, E]);
  const proj = (n: string, w: number) => g.one('Add', [g.one('MatMul', ['x', g.weight(`W${n}`, [E, w])], {}, { name: `${n}_proj` }), g.weight(`b${n}`, [w])]);
  const ins = [proj('q', E), proj('k', kvH * d), proj('v', kvH * d)];
  if (o.perHeadMask) ins.push(g.weight('attn_bias', [1, H, T, T]));
  const y = g.one('Attention', ins, { q_num_heads: H, kv_num_heads: kvH, ...(o.causal ? { is_causal: 1 } : {}) }, { name: 'attn' });
  g.one('MatMul', [y, g.weight('Wo', [E, E])], {}, { out: 'y', name: 'o_proj' });
  g.output('y', ['batch', T, E]);
  return modelBytes(g.graph(), { ir: 10, opsets: { '': 23 } });
}

/** ai.onnx Attention with 4-D inputs: heads split by Reshape [0,0,H,d] + Transpose, merged back before Wo. */
export function onnxAttention4d(o: { H?: number; kvH?: number } = {}): Uint8Array {
  const H = o.H ?? 4;
  const kvH = o.kvH ?? H;
  const d = 8;
  const E = H * d;
  const T = 5;
  const g = new GraphBuilder(22);
  g.input('x', ['batch', T, E]);
  const split = (n: string, heads: number) =>
    g.one('Transpose', [g.one('Reshape', [g.one('MatMul', ['x', g.weight(`W${n}`, [E, heads * d])]), g.ints(`shape_${n}`, [0, 0, heads, d])])], {
      perm: [0, 2, 1, 3],
    });
  const y = g.one('Attention', [split('q', H), split('k', kvH), split('v', kvH)], {}, { name: 'attn' });
  const merged = g.one('Reshape', [g.one('Transpose', [y], { perm: [0, 2, 1, 3] }), g.ints('merge', [0, 0, E])]);
  g.one('Add', [g.one('MatMul', [merged, g.weight('Wo', [E, E])], {}, { name: 'o_proj' }), g.weight('bo', [E])], {}, { out: 'y' });
  g.output('y', ['batch', T, E]);
  return modelBytes(g.graph(), { ir: 10, opsets: { '': 23 } });
}

/** com.microsoft MultiHeadAttention with outside projections, an in-operator bias and a per-head attention bias. */
export function msMha(): Uint8Array {
  const H = 4;
  const d = 8;
  const E = H * d;
  const T = 6;
  const g = new GraphBuilder(23);
  g.input('x', ['batch', T, E]);
  const q = g.one('MatMul', ['x', g.weight('Wq', [E, E])]);
  const k = g.one('MatMul', ['x', g.weight('Wk', [E, E])]);
  const v = g.one('MatMul', ['x', g.weight('Wv', [E, E])]);
  const y = g.one(
    'MultiHeadAttention',
    [q, k, v, g.weight('qkv_bias', [3 * E]), '', g.weight('rel_bias', [1, H, T, T])],
    { num_heads: H },
    { domain: 'com.microsoft', name: 'mha' },
  );
  g.one('MatMul', [y, g.weight('Wo', [E, E])], {}, { out: 'y', name: 'o_proj' });
  g.output('y', ['batch', T, E]);
  return modelBytes(g.graph(), { opsets: { '': 17, 'com.microsoft': 1 } });
}

/** com.microsoft Attention (merged QKV weight inside the operator) followed by an output MatMul. */
export function msAttention(o: { unidirectional?: boolean; mask?: boolean } = {}): Uint8Array {
  const H = 4;
  const d = 4;
  const E = H * d;
  const T = 5;
  const g = new GraphBuilder(24);
  g.input('x', ['batch', T, E]);
  const ins = ['x', g.weight('Wqkv', [E, 3 * E]), g.weight('bqkv', [3 * E])];
  if (o.mask) ins.push(g.input('mask_index', ['batch', T], 6));
  const y = g.one('Attention', ins, { num_heads: H, ...(o.unidirectional ? { unidirectional: 1 } : {}) }, { domain: 'com.microsoft', name: 'attn' });
  g.one('MatMul', [y, g.weight('Wo', [E, E])], {}, { out: 'y', name: 'o_proj' });
  g.output('y', ['batch', T, E]);
  return modelBytes(g.graph(), { opsets: { '': 17, 'com.microsoft': 1 } });
}

/** com.microsoft GroupQueryAttention (4 query heads, 2 key/value heads) with separate outside projections. */
export function msGqa(o: { packed?: boolean } = {}): Uint8Array {
  const H = 4;
  const kvH = 2;
  const d = 8;
  const E = H * d;
  const T = 6;
  const g = new GraphBuilder(25);
  g.input('x', ['batch', T, E]);
  g.input('seqlens_k', ['batch'], 6);
  g.input('total_sequence_length', [], 6);
  let ins: string[];
  if (o.packed) {
    const qkv = g.one('MatMul', ['x', g.weight('Wqkv', [E, (H + 2 * kvH) * d])], {}, { name: 'qkv_proj' });
    ins = [qkv, '', '', '', '', 'seqlens_k', 'total_sequence_length'];
  } else {
    const q = g.one('MatMul', ['x', g.weight('Wq', [E, H * d])]);
    const k = g.one('MatMul', ['x', g.weight('Wk', [E, kvH * d])]);
    const v = g.one('MatMul', ['x', g.weight('Wv', [E, kvH * d])]);
    ins = [q, k, v, '', '', 'seqlens_k', 'total_sequence_length'];
  }
  const y = g.one('GroupQueryAttention', ins, { num_heads: H, kv_num_heads: kvH }, { domain: 'com.microsoft', name: 'gqa' });
  g.one('MatMul', [y, g.weight('Wo', [E, E])], {}, { out: 'y', name: 'o_proj' });
  g.output('y', ['batch', T, E]);
  return modelBytes(g.graph(), { opsets: { '': 17, 'com.microsoft': 1 } });
}

/**
 * A network of the theory's class (docs/theory.md §a): L layers of H heads whose queries and keys are computed
 * from the input x [batch, T, N0] itself, values from the previous layer's output (no bias, residual or
 * normalization), heads merged by the output projection; readout of the last token by a vector a (no bias).
 */
export function theoryClassModel(o: { L?: number; H?: number; N0?: number; N?: number; T?: number; readout?: 'last' | 'first' | 'mean' } = {}): Uint8Array {
  const L = o.L ?? 2;
  const H = o.H ?? 2;
  const N0 = o.N0 ?? 6;
  const N = o.N ?? 8;
  const T = o.T ?? 5;
  const G = 4;
  const g = new GraphBuilder(31);
  g.input('x', ['batch', T, N0]);
  let z = 'x';
  let width = N0;
  for (let l = 0; l < L; l++) {
    const split = (t: string, d: number, name: string) =>
      g.one('Transpose', [g.one('Reshape', [t, g.ints(`shape_${name}${l}`, [0, 0, H, d])])], { perm: [0, 2, 1, 3] });
    const q = split(g.one('MatMul', ['x', g.weight(`Wq${l}`, [N0, H * G])], {}, { name: `q${l}` }), G, 'q');
    const k = g.one('Transpose', [split(g.one('MatMul', ['x', g.weight(`Wk${l}`, [N0, H * G])], {}, { name: `k${l}` }), G, 'k')], { perm: [0, 1, 3, 2] });
    const v = split(g.one('MatMul', [z, g.weight(`Wv${l}`, [width, H * N])], {}, { name: `v${l}` }), N, 'v');
    const s = g.one('Div', [g.one('MatMul', [q, k]), g.scalar(`sqrtG${l}`, Math.sqrt(G))]);
    const p = g.one('Softmax', [s], { axis: -1 }, { name: `softmax${l}` });
    const c = g.one('Reshape', [g.one('Transpose', [g.one('MatMul', [p, v])], { perm: [0, 2, 1, 3] }), g.ints(`merge${l}`, [0, 0, H * N])]);
    z = g.one('MatMul', [c, g.weight(`Wo${l}`, [H * N, N])], {}, { name: `o${l}` });
    width = N;
  }
  const ro = o.readout ?? 'last';
  const tok =
    ro === 'mean'
      ? g.one('ReduceMean', [z], { axes: [1], keepdims: 0 }, { name: 'pool' })
      : g.one('Gather', [z, g.ints('tok', [ro === 'first' ? 0 : T - 1], [])], { axis: 1 }, { name: 'pool' });
  g.one('MatMul', [tok, g.weight('a', [width, 1])], {}, { out: 'y', name: 'readout' });
  g.output('y', ['batch', 1]);
  return modelBytes(g.graph(), { opsets: { '': 17 } });
}

/** PyTorch nn.MultiheadAttention as other torch versions export it: packed in_proj split with Split, heads folded
 *  into the batch axis with run-time Reshape shapes (Shape → Gather → Mul by the head count → Concat). */
export function foldedSplitModel(): Uint8Array {
  const E = 32;
  const H = 4;
  const d = 8;
  const g = new GraphBuilder(3);
  g.input('x', ['batch', 6, E]);
  const xt = g.one('Transpose', ['x'], { perm: [1, 0, 2] });
  const proj = g.one('Add', [g.weight('in_proj_bias', [3 * E]), g.one('MatMul', [xt, g.weight('in_proj_T', [E, 3 * E])], {}, { name: 'in_proj' })]);
  const [q0, k0, v0] = g.node('Split', [proj], { axis: -1 }, { count: 3 });
  const shape = g.one('Shape', [xt]);
  const T = g.one('Unsqueeze', [g.one('Gather', [shape, g.ints('i0', [0], [])], { axis: 0 }), g.ints('ax0', [0])]);
  const BH = g.one('Unsqueeze', [g.one('Mul', [g.one('Gather', [shape, g.ints('i1', [1], [])], { axis: 0 }), g.ints('nh', [H], [])]), g.ints('ax1', [0])]);
  const target = g.one('Concat', [T, BH, g.ints('hd', [d])], { axis: 0 });
  const fold = (t: string) => g.one('Transpose', [g.one('Reshape', [t, target])], { perm: [1, 0, 2] });
  const q = g.one('Div', [fold(q0), g.scalar('sq', Math.sqrt(d))]);
  const k = g.one('Transpose', [g.one('Reshape', [k0, target])], { perm: [1, 2, 0] });
  const v = fold(v0);
  const p = g.one('Softmax', [g.one('MatMul', [q, k])], { axis: -1 }, { name: 'sm' });
  const c = g.one('Transpose', [g.one('MatMul', [p, v])], { perm: [1, 0, 2] });
  const flat = g.one('Reshape', [c, g.ints('flat', [-1, E])]);
  const o = g.one('Gemm', [flat, g.weight('out_proj.weight', [E, E]), g.weight('out_proj.bias', [E])], { transB: 1 }, { name: 'out_proj' });
  const back = g.one('Reshape', [o, g.ints('back', [6, -1, E])]);
  g.one('Transpose', [back], { perm: [1, 0, 2] }, { out: 'y' });
  g.output('y', ['batch', 6, E]);
  return modelBytes(g.graph(), { opsets: { '': 13 } });
}

/**
 * A ViT-style classifier as `torch.onnx.export` writes one whose attention is `nn.MultiheadAttention` (not
 * batch_first) behind a Conv2d patch stem: pixels [batch, 1, 8, 8] → Conv2d(1, E, 2, stride 2) → flatten(2) →
 * transpose → [batch, 16, E], a class token expanded to the batch (`cls.expand(B, -1, -1)`), learned positions,
 * then `layers` post-LN encoder layers whose attention computes every Reshape target and the packed in_proj Slice
 * bounds from Shape ops at run time (head dim = E / H, batch × H folded heads), and a readout of the class token
 * (or the token mean) by a Linear to one logit. T = 17 tokens.
 * Weight names per layer l: `l{l}.in_proj` [E, 3E] (x @ W), `l{l}.in_proj_bias`, `l{l}.out_proj.weight` [E, E]
 * (Gemm transB), `l{l}.out_proj.bias`.
 */
export function vitStyleModel(o: { layers?: number; H?: number; E?: number; readout?: 'cls' | 'mean'; seed?: number } = {}): Uint8Array {
  const L = o.layers ?? 2;
  const H = o.H ?? 4;
  const E = o.E ?? 32;
  const g = new GraphBuilder(o.seed ?? 41);
  g.input('pixels', ['batch', 1, 8, 8]);
  const conv = g.one(
    'Conv',
    ['pixels', g.weight('patch.weight', [E, 1, 2, 2]), g.weight('patch.bias', [E])],
    { kernel_shape: [2, 2], strides: [2, 2] },
    { name: 'patch' },
  );
  // flatten(2): Reshape to Concat(Shape(conv)[0:2], [-1]).
  const convShape = g.one('Shape', [conv]);
  const lead = g.one('Slice', [convShape, g.ints('c0', [0]), g.ints('c2', [2]), g.ints('c_ax', [0])]);
  const flat = g.one('Reshape', [conv, g.one('Concat', [lead, g.ints('minus1', [-1])], { axis: 0 })]);
  const patches = g.one('Transpose', [flat], { perm: [0, 2, 1] });
  // cls.expand(B, -1, -1): the target's -1 entries replaced by 1 with Where(Equal(target, -1)).
  const B = g.one('Unsqueeze', [g.one('Gather', [g.one('Shape', ['pixels']), g.ints('i0', [0], [])], { axis: 0 }), g.ints('u0', [0])]);
  const target = g.one('Concat', [B, g.ints('m11', [-1, -1])], { axis: 0 });
  const fixed = g.one('Where', [g.one('Equal', [target, g.ints('neg1', [-1], [])]), g.ints('one', [1], []), target]);
  const cls = g.one('Expand', [g.weight('cls_token', [1, 1, E]), fixed]);
  let h = g.one('Add', [g.one('Concat', [cls, patches], { axis: 1 }), g.weight('pos_embed', [1, 17, E])], {}, { name: 'embed' });
  const dimOf = (t: string, i: number) => g.one('Gather', [g.one('Shape', [t]), g.ints(`g${g.nodes.length}`, [i], [])], { axis: 0 });
  const un = (t: string) => g.one('Unsqueeze', [t, g.ints(`u${g.nodes.length}`, [0])]);
  for (let l = 0; l < L; l++) {
    const xt = g.one('Transpose', [h], { perm: [1, 0, 2] });
    const T = dimOf(xt, 0);
    const Bd = dimOf(xt, 1);
    const hd = g.one('Cast', [g.one('Div', [dimOf(xt, 2), g.ints(`nh${l}`, [H], [])])], { to: 7 });
    const proj = g.one('Add', [
      g.weight(`l${l}.in_proj_bias`, [3 * E]),
      g.one('MatMul', [xt, g.weight(`l${l}.in_proj`, [E, 3 * E])], {}, { name: `l${l}.in_proj` }),
    ]);
    // Packed in_proj Slice bounds from Shape(proj)[-1]: (D + 2) / 3 · k.
    const D = g.one('Gather', [g.one('Shape', [proj]), g.ints(`last${l}`, [-1])], { axis: 0 });
    const third = g.one('Div', [g.one('Add', [D, g.ints(`two${l}`, [2])]), g.ints(`three${l}`, [3])]);
    const at = (k: number) => (k === 0 ? g.ints(`z${l}`, [0]) : g.one('Mul', [third, g.ints(`k${l}_${k}`, [k])]));
    const bounds = [at(0), at(1), at(2), at(3)];
    const part = (k: number) => g.one('Slice', [proj, bounds[k], bounds[k + 1], g.ints(`ax${l}_${k}`, [-1])]);
    const BH = g.one('Mul', [Bd, g.ints(`nh2${l}`, [H], [])]);
    const fold = (t: string) => g.one('Reshape', [t, g.one('Concat', [un(T), un(BH), un(hd)], { axis: 0 })]);
    const q = g.one('Div', [g.one('Transpose', [fold(part(0))], { perm: [1, 0, 2] }), g.scalar(`sq${l}`, Math.sqrt(E / H))]);
    const k = g.one('Transpose', [fold(part(1))], { perm: [1, 2, 0] });
    const v = g.one('Transpose', [fold(part(2))], { perm: [1, 0, 2] });
    const p = g.one('Softmax', [g.one('MatMul', [q, k])], { axis: -1 }, { name: `l${l}.softmax` });
    const c = g.one('Transpose', [g.one('MatMul', [p, v])], { perm: [1, 0, 2] });
    const flatC = g.one('Reshape', [c, g.one('Concat', [un(g.one('Mul', [T, Bd])), un(dimOf(xt, 2))], { axis: 0 })]);
    const out = g.one(
      'Gemm',
      [flatC, g.weight(`l${l}.out_proj.weight`, [E, E]), g.weight(`l${l}.out_proj.bias`, [E])],
      { transB: 1 },
      { name: `l${l}.out_proj` },
    );
    const back = g.one('Transpose', [g.one('Reshape', [out, g.one('Concat', [un(T), un(Bd), un(dimOf(xt, 2))], { axis: 0 })])], { perm: [1, 0, 2] });
    h = g.one(
      'LayerNormalization',
      [g.one('Add', [h, back]), g.weight(`l${l}.ln.weight`, [E], Array(E).fill(1)), g.weight(`l${l}.ln.bias`, [E], Array(E).fill(0))],
      { axis: -1 },
    );
  }
  const tok =
    o.readout === 'mean'
      ? g.one('ReduceMean', [h], { axes: [1], keepdims: 0 }, { name: 'pool' })
      : g.one('Gather', [h, g.ints('cls_index', [0], [])], { axis: 1 }, { name: 'pool' });
  g.one('Gemm', [tok, g.weight('head.weight', [1, E]), g.weight('head.bias', [1])], { transB: 1 }, { out: 'logit', name: 'head' });
  g.output('logit', ['batch', 1]);
  return modelBytes(g.graph(), { opsets: { '': 17 } });
}

/**
 * A network of the theory's class whose heads are summed, with no output projection (docs/theory.md §a):
 * z^l = c_l Σ_h A^l_h-weighted (z^{l−1} W_V,h), queries and keys from the input x [batch, T, N0] at every layer,
 * readout of one token (or the mean) by a vector a. The head sum is `ReduceSum` over the head axis of the context
 * [batch, H, T, N] (`reducesum`), or a `Split` along it with the parts squeezed and added by an `Add` chain
 * (`split-add`) or one `Sum` (`split-sum`); the constant c_l = 1/√(H_l N_l) multiplies the context before the sum,
 * the sum after it, or is absent (`scale`). Value weights `Wv{l}` [width, H·N]; no biases.
 */
export function summedHeadsModel(
  o: {
    L?: number;
    H?: number;
    N0?: number;
    N?: number;
    T?: number;
    form?: 'reducesum' | 'split-add' | 'split-sum';
    scale?: 'before' | 'after' | 'none';
    readout?: 'last' | 'first' | 'mean';
    seed?: number;
  } = {},
): Uint8Array {
  const L = o.L ?? 2;
  const H = o.H ?? 3;
  const N0 = o.N0 ?? 6;
  const N = o.N ?? 8;
  const T = o.T ?? 5;
  const G = 4;
  const form = o.form ?? 'reducesum';
  const g = new GraphBuilder(o.seed ?? 37);
  g.input('x', ['batch', T, N0]);
  let z = 'x';
  let width = N0;
  for (let l = 0; l < L; l++) {
    const split = (t: string, d: number, name: string) =>
      g.one('Transpose', [g.one('Reshape', [t, g.ints(`shape_${name}${l}`, [0, 0, H, d])])], { perm: [0, 2, 1, 3] });
    const q = split(g.one('MatMul', ['x', g.weight(`Wq${l}`, [N0, H * G])], {}, { name: `q${l}` }), G, 'q');
    const k = g.one('Transpose', [split(g.one('MatMul', ['x', g.weight(`Wk${l}`, [N0, H * G])], {}, { name: `k${l}` }), G, 'k')], { perm: [0, 1, 3, 2] });
    const v = split(g.one('MatMul', [z, g.weight(`Wv${l}`, [width, H * N])], {}, { name: `v${l}` }), N, 'v');
    const p = g.one('Softmax', [g.one('Div', [g.one('MatMul', [q, k]), g.scalar(`sqrtG${l}`, Math.sqrt(G))])], { axis: -1 }, { name: `softmax${l}` });
    let c = g.one('MatMul', [p, v], {}, { name: `context${l}` }); // [B, H, T, N]
    const c_l = g.scalar(`c${l}`, 1 / Math.sqrt(H * width));
    if (o.scale === 'before') c = g.one('Mul', [c, c_l]);
    let sum: string;
    if (form === 'reducesum') sum = g.one('ReduceSum', [c, g.ints(`head_axis${l}`, [1])], { keepdims: 0 }, { name: `head_sum${l}` });
    else {
      const parts = g.node('Split', [c], { axis: 1 }, { count: H, name: `head_split${l}` }).map((t) => g.one('Squeeze', [t, g.ints(`sq${l}_${t}`, [1])]));
      if (form === 'split-sum') sum = g.one('Sum', parts, {}, { name: `head_sum${l}` });
      else sum = parts.slice(1).reduce((acc, t) => g.one('Add', [acc, t]), parts[0]);
    }
    z = (o.scale ?? 'after') === 'after' ? g.one('Mul', [sum, c_l]) : sum;
    width = N;
  }
  const ro = o.readout ?? 'last';
  const tok =
    ro === 'mean'
      ? g.one('ReduceMean', [z], { axes: [1], keepdims: 0 }, { name: 'pool' })
      : g.one('Gather', [z, g.ints('tok', [ro === 'first' ? 0 : T - 1], [])], { axis: 1 }, { name: 'pool' });
  g.one('MatMul', [tok, g.weight('a', [width, 1])], {}, { out: 'y', name: 'readout' });
  g.output('y', ['batch', 1]);
  return modelBytes(g.graph(), { opsets: { '': 17 } });
}
