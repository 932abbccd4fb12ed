/**
 * Fused attention operators. Input/attribute semantics are taken from the operator specs:
 * - ai.onnx `Attention` (opset 23/24; onnx/docs/Operators.md): Q [B, Hq, S, d] or [B, S, Hq·d] with `q_num_heads`,
 *   K [B, Hkv, L, d] or [B, L, Hkv·d] with `kv_num_heads`, V [B, Hkv, L, dv] or [B, L, Hkv·dv]; inputs 3 attn_mask
 *   (broadcast to [B, Hq, S, L+P]), 4/5 past_key/past_value, 6 nonpad_kv_seqlen (24); outputs Y, present_key,
 *   present_value, qk_matmul_output; attributes is_causal, scale (default 1/√d), softcap.
 * - com.microsoft `Attention` (onnxruntime docs/ContribOperators.md): input [B, S, in], merged weights
 *   [in, q + k + v] (`qkv_hidden_sizes`, else three equal parts), bias, mask_index, past [2, B, N, P, d],
 *   attention_bias [B|1, N|1, S, T]; attributes num_heads, unidirectional, scale.
 * - com.microsoft `MultiHeadAttention`: query [B, S, D] or packed [B, S, N, 3, d]; key [B, L, D], packed KV
 *   [B, L, N, 2, d] or BNSH [B, N, L, d]; value [B, L, Dv] or [B, N, L, dv]; bias [D + D + Dv]; key_padding_mask;
 *   attention_bias; past_key/past_value; attribute num_heads (K/V use the same count).
 * - com.microsoft `GroupQueryAttention`: query [B, S, N·d] or packed [B, S, (N + 2·Nkv)·d]; key/value
 *   [B, L, Nkv·d]; past_key/past_value [B, Nkv, P, d]; seqlens_k, total_sequence_length, cos/sin caches,
 *   position_ids, attention_bias; attributes num_heads, kv_num_heads, do_rotary, local_window_size, softcap, scale.
 */
import { attrFloat, attrInt, attrInts, label } from '../format/graph';
import { type Dim, isNum } from '../shapes/dims';
import type { OnnxNode } from '../format/types';
import type { AttentionBlock, AttentionForm, ProjectionRef } from './blocks';
import { type Ctx, findOutputProjection, maskRef, numAt, shapeOf, tensorRef, traceOperand } from './trace';

/** Other attention-like contrib ops: recognized, but not analyzed (reported as rejected candidates). */
export const OTHER_FUSED = new Set([
  'DecoderAttention',
  'DecoderMaskedMultiHeadAttention',
  'DecoderMaskedSelfAttention',
  'LongformerAttention',
  'PackedAttention',
  'PackedMultiHeadAttention',
  'PagedAttention',
  'QAttention',
  'QOrderedAttention',
  'QOrderedLongformerAttention',
  'SparseAttention',
]);

function input(n: OnnxNode, i: number): string | null {
  return n.inputs[i] ? n.inputs[i] : null;
}

function output(n: OnnxNode, i: number): string | null {
  return n.outputs[i] ? n.outputs[i] : null;
}

function div(a: Dim | number | null, b: number | null): number | null {
  if (!isNum(a) || b === null || b === 0) return null;
  const q = a / b;
  return Number.isInteger(q) ? q : null;
}

function emptyBlock(ctx: Ctx, n: OnnxNode, form: AttentionForm): AttentionBlock {
  return {
    index: 0,
    form,
    graph: ctx.graph.path,
    nodes: { fused: label(n), softmax: null, scoreMatMul: null, contextMatMul: null, outputProjection: null, layout: [] },
    q: null,
    k: null,
    v: null,
    probs: null,
    context: null,
    queryHeads: null,
    kvHeads: null,
    groupSize: null,
    headSizeQK: null,
    headSizeV: null,
    hiddenSize: null,
    vHiddenSize: null,
    inputSize: null,
    headsFrom: null,
    headLayout: 'fused',
    cross: null,
    causal: false,
    scale: null,
    scalePlacement: 'default',
    weights: { query: null, key: null, value: null, output: null },
    masks: [],
    kvCache: null,
    confidence: 'high',
    notes: [],
  };
}

/** Projection feeding an operator input (x @ W [+ b] → Reshape/Transpose → op), or null. */
function upstream(ctx: Ctx, t: string | null): { proj: ProjectionRef | null; layout: OnnxNode[]; source: string | null } {
  if (!t) return { proj: null, layout: [], source: null };
  const tr = traceOperand(ctx, t);
  return { proj: tr.projection, layout: tr.path, source: tr.projection?.input ?? tr.source };
}

/** Fills sizes, scale, output projection, upstream projections and confidence common to all fused forms. */
function finish(ctx: Ctx, n: OnnxNode, b: AttentionBlock, qkv: [string | null, string | null, string | null], outTensor: string | null): AttentionBlock {
  if (b.queryHeads !== null && b.kvHeads) b.groupSize = b.queryHeads / b.kvHeads;
  if (b.queryHeads !== null && b.headSizeQK !== null) b.hiddenSize = b.queryHeads * b.headSizeQK;
  if (b.queryHeads !== null && b.headSizeV !== null) b.vHiddenSize = b.queryHeads * b.headSizeV;
  const s = attrFloat(n, 'scale');
  if (s !== undefined && s !== 0) {
    b.scale = s;
    b.scalePlacement = 'attribute';
  } else if (b.headSizeQK) {
    b.scale = 1 / Math.sqrt(b.headSizeQK);
    b.scalePlacement = 'default';
  }
  const [q, k, v] = qkv.map((t) => upstream(ctx, t));
  if (!b.weights.query && q.proj) b.weights.query = q.proj;
  if (!b.weights.key && k.proj) b.weights.key = k.proj;
  if (!b.weights.value && v.proj) b.weights.value = v.proj;
  b.nodes.layout.push(...[...q.layout, ...k.layout, ...v.layout].filter((x) => x.opType === 'Reshape' || x.opType === 'Transpose').map(label));
  if (b.cross === null && q.source && k.source) {
    if (q.proj && k.proj) b.cross = q.proj.input !== k.proj.input;
    else if (q.source === k.source) b.cross = false;
  }
  if (b.inputSize === null && b.weights.query) {
    const w = b.weights.query.weight;
    const d = w.shape?.[w.layout === 'in,out' ? 0 : 1];
    if (typeof d === 'number') b.inputSize = d;
  }
  if (outTensor) {
    b.context = tensorRef(ctx, outTensor);
    const out = findOutputProjection(ctx, outTensor);
    b.weights.output = out.proj;
    b.nodes.outputProjection = out.proj?.weight.node ?? null;
    b.nodes.layout.push(...out.path.map(label));
    if (!out.proj) b.notes.push(`no output projection found: ${out.why}`);
  }
  if (b.queryHeads === null) {
    b.notes.push('the head count cannot be inferred; pass it as an override (heads)');
    b.confidence = 'low';
  } else if (b.headSizeQK === null || b.headSizeV === null) {
    b.notes.push('head sizes cannot be inferred (inputs without static shapes)');
    b.confidence = 'medium';
  }
  return b;
}

/** ai.onnx Attention (opset 23, 24). */
export function onnxAttention(ctx: Ctx, n: OnnxNode): AttentionBlock {
  const b = emptyBlock(ctx, n, 'ai.onnx.Attention');
  const [Q, K, V] = [input(n, 0), input(n, 1), input(n, 2)];
  const qs = Q ? shapeOf(ctx, Q) : null;
  const ks = K ? shapeOf(ctx, K) : null;
  const vs = V ? shapeOf(ctx, V) : null;
  b.q = Q ? tensorRef(ctx, Q) : null;
  b.k = K ? tensorRef(ctx, K) : null;
  b.v = V ? tensorRef(ctx, V) : null;
  const qAttr = attrInt(n, 'q_num_heads');
  const kvAttr = attrInt(n, 'kv_num_heads');
  const rank = qs?.length ?? null;
  if (rank === 4) {
    b.queryHeads = numAt(qs, 1);
    b.kvHeads = numAt(ks, 1);
    b.headSizeQK = numAt(qs, 3) ?? numAt(ks, 3);
    b.headSizeV = numAt(vs, 3);
    b.headsFrom = b.queryHeads !== null ? 'shape' : null;
    if (qAttr !== undefined || kvAttr !== undefined) b.notes.push('q_num_heads/kv_num_heads are set but the inputs are 4-D; the shapes decide');
  } else if (rank === 3 || (rank === null && qAttr !== undefined)) {
    b.queryHeads = qAttr ?? null;
    b.kvHeads = kvAttr ?? null;
    b.headsFrom = qAttr !== undefined ? 'attribute' : null;
    b.headSizeQK = div(qs?.[2] ?? null, b.queryHeads) ?? div(ks?.[2] ?? null, b.kvHeads);
    b.headSizeV = div(vs?.[2] ?? null, b.kvHeads);
    if (rank === 3 && qAttr === undefined) b.notes.push('3-D inputs without q_num_heads/kv_num_heads');
    const dk = div(ks?.[2] ?? null, b.kvHeads);
    if (b.headSizeQK !== null && dk !== null && dk !== b.headSizeQK) b.notes.push(`Q head size ${b.headSizeQK} differs from K head size ${dk}`);
  } else b.notes.push('Q has no static rank');
  b.causal = attrInt(n, 'is_causal', 0) === 1;
  const softcap = attrFloat(n, 'softcap', 0);
  if (softcap) b.notes.push(`softcap ${softcap}`);
  const mode = attrInt(n, 'qk_matmul_output_mode', 0);
  if (output(n, 3)) b.notes.push(`qk_matmul_output is produced (mode ${mode})`);
  const mask = input(n, 3);
  if (mask) {
    const isBool = ctx.shapes.get(mask)?.elemType === 9;
    b.masks.push(maskRef(ctx, mask, n, isBool ? 'bool' : 'additive', 4));
  }
  if (input(n, 6)) b.notes.push(`nonpad_kv_seqlen '${input(n, 6)}' limits the keys per batch entry`);
  if (input(n, 4) || input(n, 5) || output(n, 1) || output(n, 2)) {
    b.kvCache = { pastKey: input(n, 4), pastValue: input(n, 5), presentKey: output(n, 1), presentValue: output(n, 2) };
  }
  const sq = rank === 4 ? numAt(qs, 2) : numAt(qs, 1);
  const sk = rank === 4 ? numAt(ks, 2) : numAt(ks, 1);
  if (sq !== null && sk !== null && sq !== sk && !b.kvCache) b.cross = true;
  return finish(ctx, n, b, [Q, K, V], output(n, 0));
}

/** com.microsoft Attention (merged QKV projection inside the operator). */
export function msAttention(ctx: Ctx, n: OnnxNode): AttentionBlock {
  const b = emptyBlock(ctx, n, 'com.microsoft.Attention');
  const [X, W, B] = [input(n, 0), input(n, 1), input(n, 2)];
  const N = attrInt(n, 'num_heads');
  b.queryHeads = N ?? null;
  b.kvHeads = N ?? null;
  b.headsFrom = N !== undefined ? 'attribute' : null;
  b.q = X ? tensorRef(ctx, X) : null;
  const ws = W ? shapeOf(ctx, W) : null;
  const sizes = attrInts(n, 'qkv_hidden_sizes');
  let parts: [number, number, number] | null = null;
  if (sizes && sizes.length === 3) parts = [sizes[0], sizes[1], sizes[2]];
  else {
    const total = numAt(ws, 1);
    if (total !== null && total % 3 === 0) parts = [total / 3, total / 3, total / 3];
  }
  if (parts && N) {
    b.headSizeQK = div(parts[0], N);
    b.headSizeV = div(parts[2], N);
  }
  const inputSize = numAt(ws, 0) ?? numAt(X ? shapeOf(ctx, X) : null, -1);
  b.inputSize = inputSize;
  if (W) {
    const ranges: [number, number][] | null = parts
      ? [
          [0, parts[0]],
          [parts[0], parts[0] + parts[1]],
          [parts[0] + parts[1], parts[0] + parts[1] + parts[2]],
        ]
      : null;
    const mk = (i: number): ProjectionRef => ({
      weight: {
        ...tensorRef(ctx, W),
        layout: 'in,out',
        layoutText: '[in, q+k+v] merged QKV weight (com.microsoft Attention)',
        headAxis: 1,
        range: ranges ? ranges[i] : null,
        node: label(n),
      },
      bias: B ? { ...tensorRef(ctx, B), range: ranges ? ranges[i] : null, node: label(n) } : null,
      input: X ?? '',
    });
    b.weights.query = mk(0);
    b.weights.key = mk(1);
    b.weights.value = mk(2);
  }
  b.cross = false;
  b.causal = attrInt(n, 'unidirectional', 0) === 1;
  const maskIdx = input(n, 3);
  if (maskIdx) {
    const s = shapeOf(ctx, maskIdx);
    b.masks.push({ ...maskRef(ctx, maskIdx, n, s && s.length <= 1 ? 'index' : 'key-padding', 4), carriesHeadAxis: false, headAxis: null });
  }
  const bias = input(n, 5);
  if (bias) b.masks.push(maskRef(ctx, bias, n, 'bias', 4));
  if (input(n, 4) || output(n, 1)) {
    b.kvCache = { pastKey: input(n, 4), pastValue: input(n, 4), presentKey: output(n, 1), presentValue: output(n, 1) };
    b.notes.push('past/present hold keys and values stacked on axis 0: [2, batch, heads, length, head size]');
  }
  if (attrInt(n, 'do_rotary', 0)) b.notes.push('rotary position embedding inside the operator');
  if (!parts) b.notes.push('the merged weight has no static shape; head sizes are unknown');
  const out = finish(ctx, n, b, [null, null, null], output(n, 0));
  return out;
}

/** com.microsoft MultiHeadAttention. */
export function msMultiHeadAttention(ctx: Ctx, n: OnnxNode): AttentionBlock {
  const b = emptyBlock(ctx, n, 'com.microsoft.MultiHeadAttention');
  const [Q, K, V, B] = [input(n, 0), input(n, 1), input(n, 2), input(n, 3)];
  const N = attrInt(n, 'num_heads');
  b.queryHeads = N ?? null;
  b.kvHeads = N ?? null;
  b.headsFrom = N !== undefined ? 'attribute' : null;
  const qs = Q ? shapeOf(ctx, Q) : null;
  const ks = K ? shapeOf(ctx, K) : null;
  const vs = V ? shapeOf(ctx, V) : null;
  b.q = Q ? tensorRef(ctx, Q) : null;
  b.k = K ? tensorRef(ctx, K) : null;
  b.v = V ? tensorRef(ctx, V) : null;
  if (qs?.length === 5) {
    b.headSizeQK = numAt(qs, 4);
    b.headSizeV = b.headSizeQK;
    b.notes.push('packed QKV query [batch, length, heads, 3, head size]');
  } else if (qs?.length === 3) {
    b.headSizeQK = div(numAt(qs, 2), b.queryHeads);
  }
  if (ks?.length === 5) b.notes.push('packed KV key [batch, length, heads, 2, head size]');
  if (ks?.length === 4) b.notes.push('key given per head [batch, heads, length, head size] (cached cross-attention keys)');
  if (vs?.length === 3) b.headSizeV = div(numAt(vs, 2), b.queryHeads);
  else if (vs?.length === 4) b.headSizeV = numAt(vs, 3);
  else if (ks?.length === 5) b.headSizeV = numAt(ks, 4);
  if (b.headSizeV === null && qs?.length === 3) b.headSizeV = b.headSizeQK;
  b.causal = attrInt(n, 'unidirectional', 0) === 1;
  const kpm = input(n, 4);
  if (kpm) b.masks.push({ ...maskRef(ctx, kpm, n, 'key-padding', 4), carriesHeadAxis: false, headAxis: null });
  const ab = input(n, 5);
  if (ab) b.masks.push(maskRef(ctx, ab, n, 'bias', 4));
  if (input(n, 6) || input(n, 7) || output(n, 1) || output(n, 2)) {
    b.kvCache = { pastKey: input(n, 6), pastValue: input(n, 7), presentKey: output(n, 1), presentValue: output(n, 2) };
  }
  const blk = finish(ctx, n, b, [Q, ks?.length === 3 ? K : null, vs?.length === 3 ? V : null], output(n, 0));
  if (B) {
    // Bias [D + D + Dv]: the in-projection bias split across Q, K, V.
    const d = blk.hiddenSize;
    const dv = blk.vHiddenSize;
    const ranges: [number, number][] | null =
      d !== null && dv !== null
        ? [
            [0, d],
            [d, 2 * d],
            [2 * d, 2 * d + dv],
          ]
        : null;
    const roles = ['query', 'key', 'value'] as const;
    roles.forEach((r, i) => {
      const p = blk.weights[r];
      const bias = { ...tensorRef(ctx, B), range: ranges ? ranges[i] : null, node: label(n) };
      if (p && !p.bias) p.bias = bias;
    });
    if (!blk.weights.query) blk.notes.push(`the in-projection bias '${B}' is applied inside the operator`);
  }
  return blk;
}

/** com.microsoft GroupQueryAttention. */
export function msGroupQueryAttention(ctx: Ctx, n: OnnxNode): AttentionBlock {
  const b = emptyBlock(ctx, n, 'com.microsoft.GroupQueryAttention');
  const [Q, K, V] = [input(n, 0), input(n, 1), input(n, 2)];
  const N = attrInt(n, 'num_heads');
  const Nkv = attrInt(n, 'kv_num_heads');
  b.queryHeads = N ?? null;
  b.kvHeads = Nkv ?? null;
  b.headsFrom = N !== undefined ? 'attribute' : null;
  const qs = Q ? shapeOf(ctx, Q) : null;
  b.q = Q ? tensorRef(ctx, Q) : null;
  b.k = K ? tensorRef(ctx, K) : null;
  b.v = V ? tensorRef(ctx, V) : null;
  const packed = !K;
  const width = numAt(qs, 2);
  let d: number | null = null;
  if (N && Nkv !== undefined) d = div(width, packed ? N + 2 * Nkv : N);
  const pk = input(n, 3);
  d ??= numAt(pk ? shapeOf(ctx, pk) : null, 3);
  d ??= div(numAt(shapeOf(ctx, output(n, 0) ?? ''), 2), N ?? null);
  b.headSizeQK = d;
  b.headSizeV = d;
  if (packed) b.notes.push('packed QKV in query: [batch, length, (heads + 2·kv heads)·head size]');
  b.causal = attrInt(n, 'causal', 1) === 1;
  const win = attrInt(n, 'local_window_size', -1);
  if (win > 0) b.notes.push(`local (sliding-window) attention of ${win} tokens`);
  if (attrInt(n, 'do_rotary', 0)) b.notes.push('rotary position embedding inside the operator (cos/sin caches)');
  const softcap = attrFloat(n, 'softcap', 0);
  if (softcap) b.notes.push(`softcap ${softcap}`);
  if (attrInt(n, 'smooth_softmax', 0)) b.notes.push('smooth softmax');
  const ab = input(n, 10);
  if (ab) b.masks.push(maskRef(ctx, ab, n, 'bias', 4));
  const sl = input(n, 5);
  if (sl) b.masks.push({ ...maskRef(ctx, sl, n, 'key-padding', 4), carriesHeadAxis: false, headAxis: null });
  if (input(n, 3) || input(n, 4) || output(n, 1) || output(n, 2)) {
    b.kvCache = { pastKey: input(n, 3), pastValue: input(n, 4), presentKey: output(n, 1), presentValue: output(n, 2) };
  }
  const blk = finish(ctx, n, b, [Q, K, V], output(n, 0));
  if (packed && blk.weights.query && d !== null && N && Nkv !== undefined) {
    // One projection produces [q | k | v]; split its range by role.
    const p = blk.weights.query;
    const base = p.weight.range?.[0] ?? 0;
    const r: [number, number][] = [
      [base, base + N * d],
      [base + N * d, base + (N + Nkv) * d],
      [base + (N + Nkv) * d, base + (N + 2 * Nkv) * d],
    ];
    const mk = (i: number): ProjectionRef => ({
      weight: { ...p.weight, range: r[i] },
      bias: p.bias ? { ...p.bias, range: r[i] } : null,
      input: p.input,
    });
    blk.weights.query = mk(0);
    blk.weights.key = mk(1);
    blk.weights.value = mk(2);
  }
  if (blk.cross === null) blk.cross = packed ? false : null;
  return blk;
}

/** Dispatches a fused attention node to its reader, or returns null for other nodes. */
export function matchFused(ctx: Ctx, n: OnnxNode): AttentionBlock | null {
  if (n.domain === 'ai.onnx' && n.opType === 'Attention') return onnxAttention(ctx, n);
  if (n.domain !== 'com.microsoft') return null;
  if (n.opType === 'Attention') return msAttention(ctx, n);
  if (n.opType === 'MultiHeadAttention') return msMultiHeadAttention(ctx, n);
  if (n.opType === 'GroupQueryAttention') return msGroupQueryAttention(ctx, n);
  return null;
}
