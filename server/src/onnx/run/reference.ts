/**
 * Float64 reference computations of the fused attention operators, giving each head's attention probabilities
 * and the operator's own output (so a capture can be checked against ONNX Runtime's output).
 *
 * Semantics, per operator (inputs by position, `''` = absent):
 * - ai.onnx `Attention` (opset 23/24): the ONNX reference implementation (onnx/reference/ops/op_attention.py):
 *   3-D inputs are split into heads with `q_num_heads` / `kv_num_heads`; scale defaults to 1/√(head size);
 *   `past_key`/`past_value` are concatenated before the new keys; a mask shorter than the keys is padded with
 *   −∞/false; a boolean mask is `true` = attend; `is_causal` masks keys above the diagonal, bottom-right aligned
 *   with the cache length (or with `nonpad_kv_seqlen − q_len` per batch when only that is given);
 *   `nonpad_kv_seqlen` masks keys at or beyond it; softcap c maps scores to c·tanh(s/c) before the mask; key/value
 *   heads are repeated in blocks (query head h uses key/value head ⌊h·H_kv/H_q⌋). A query whose every key is
 *   masked gets all-zero probabilities (the backend test `..._fullymasked_row_nan_robustness` expects zeros).
 * - com.microsoft `Attention` (onnxruntime docs/ContribOperators.md and contrib_ops/cpu/bert/attention_cpu_base.h):
 *   Q|K|V = input·weights + bias split by `qkv_hidden_sizes`; `past` [2, B, N, P, H] is prepended to K and V;
 *   `mask_index` [B] (valid length), [2B] (end, start), [B, T] or [B, S, T] (0 = masked) and `unidirectional`
 *   add `mask_filter_value` (default −10000) to masked scores; `attention_bias` [B|1, N|1, S, T] is added.
 * - com.microsoft `MultiHeadAttention`: query [B, S, D] or packed [B, S, N, 3, H]; key [B, L, D], packed
 *   [B, L, N, 2, H] or per head [B, N, L, H]; `bias` [D + D + Dv] added to 3-D q/k/v; `key_padding_mask` as
 *   `mask_index`; `attention_bias`; `past_key`/`past_value` [B, N, P, H]; `unidirectional`.
 * - com.microsoft `GroupQueryAttention` (contrib_ops/cpu/bert/gqa_attention_base.h): packed or separate Q/K/V,
 *   total length per batch entry `seqlens_k[b] + 1`, a first prompt when `sequence_length` equals
 *   `total_sequence_length`, else the past holds `seqlens_k[b] + 1 − S` keys; causal (attribute `causal`, default
 *   1) with `local_window_size`; rotary embedding on Q and K (`cos_cache`/`sin_cache`, half-split or interleaved)
 *   at positions `past + s`; softcap; `smooth_softmax` and `head_sink` add exp(sink − m) to the denominator.
 * Arrays are row-major; probabilities come as [B, H_q, S, T] (query rows summing to 1 over keys).
 */
import { attrFloat, attrInt, attrInts } from '../format/graph';
import type { OnnxNode } from '../format/types';
import type { HostArray } from './runtime';

/** Per-head attention of one fused operator call, and the operator's output recomputed from it. */
export interface FusedResult {
  batch: number;
  qHeads: number;
  kvHeads: number;
  /** Query length S and key length T (cache included). */
  queries: number;
  keys: number;
  /** [B, H_q, S, T], rows summing to 1 (or all zero for fully masked queries). */
  probs: Float64Array;
  /** The operator's output 0 as the operator lays it out. */
  output: HostArray;
  /** Queries whose every key was masked (all-zero rows), counted over the batch. */
  maskedRows: number;
}

/** Inputs of a fused node by position (null when absent or not supplied). */
export type NodeInputs = (HostArray | null)[];

interface Core {
  B: number;
  Hq: number;
  Hkv: number;
  S: number;
  T: number;
  d: number;
  dv: number;
  /** [B, Hq, S, d] */
  q: Float64Array;
  /** [B, Hkv, T, d] */
  k: Float64Array;
  /** [B, Hkv, T, dv] */
  v: Float64Array;
  scale: number;
  softcap: number;
  /** Adds the mask/bias of (b, h, s) to a score row of T keys (−∞ = masked). */
  bias?: (b: number, h: number, s: number, row: Float64Array) => void;
  /** Per-head sink logit in the softmax denominator (smooth softmax: 0), or null. */
  sink?: (h: number) => number;
  /** Per-(b, s) range of keys that take part [lo, hi) (others are excluded before the softmax). */
  keyRange?: (b: number, s: number) => [number, number];
}

function fail(n: OnnxNode, why: string): never {
  throw new Error(`${n.name || n.opType}: ${why}`);
}

/** [B, L, H·d] → [B, H, L, d]. */
function splitHeads(x: Float64Array, B: number, L: number, H: number, d: number): Float64Array {
  const out = new Float64Array(B * H * L * d);
  for (let b = 0; b < B; b++)
    for (let l = 0; l < L; l++)
      for (let h = 0; h < H; h++) {
        const src = ((b * L + l) * H + h) * d;
        out.set(x.subarray(src, src + d), ((b * H + h) * L + l) * d);
      }
  return out;
}

/** [B, H, S, d] → [B, S, H·d]. */
function mergeHeads(x: Float64Array, B: number, H: number, S: number, d: number): Float64Array {
  const out = new Float64Array(B * S * H * d);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let s = 0; s < S; s++) {
        const src = ((b * H + h) * S + s) * d;
        out.set(x.subarray(src, src + d), ((b * S + s) * H + h) * d);
      }
  return out;
}

/** Concatenates [B, H, P, d] and [B, H, L, d] along the sequence axis. */
function concatSeq(past: Float64Array, cur: Float64Array, B: number, H: number, P: number, L: number, d: number): Float64Array {
  const out = new Float64Array(B * H * (P + L) * d);
  for (let bh = 0; bh < B * H; bh++) {
    out.set(past.subarray(bh * P * d, (bh + 1) * P * d), bh * (P + L) * d);
    out.set(cur.subarray(bh * L * d, (bh + 1) * L * d), (bh * (P + L) + P) * d);
  }
  return out;
}

/** Index into a tensor of `dims` broadcast (numpy rules, trailing-aligned) to a 4-D [B, H, S, T] coordinate. */
function broadcastIndexer(dims: number[], what: string, n: OnnxNode): (b: number, h: number, s: number, t: number) => number {
  if (dims.length > 4 || dims.length < 1) fail(n, `${what} has rank ${dims.length}; expected 2 to 4`);
  const full = [...new Array(4 - dims.length).fill(1), ...dims];
  const strides = full.map((_, i) => full.slice(i + 1).reduce((a, c) => a * c, 1));
  return (b, h, s, t) => {
    const c = [b, h, s, t];
    let at = 0;
    for (let i = 0; i < 4; i++) if (full[i] !== 1) at += c[i] * strides[i];
    return at;
  };
}

/** Scores → probabilities → output, for every (b, h, s). */
function runCore(c: Core): { probs: Float64Array; out: Float64Array; maskedRows: number } {
  const { B, Hq, Hkv, S, T, d, dv } = c;
  if (Hq % Hkv !== 0) throw new Error(`query heads ${Hq} are not a multiple of key/value heads ${Hkv}`);
  const group = Hq / Hkv;
  const probs = new Float64Array(B * Hq * S * T);
  const out = new Float64Array(B * Hq * S * dv);
  const row = new Float64Array(T);
  let maskedRows = 0;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const kh = Math.floor(h / group);
      const kBase = (b * Hkv + kh) * T * d;
      const vBase = (b * Hkv + kh) * T * dv;
      for (let s = 0; s < S; s++) {
        const qBase = ((b * Hq + h) * S + s) * d;
        const [lo, hi] = c.keyRange ? c.keyRange(b, s) : [0, T];
        for (let t = 0; t < T; t++) {
          if (t < lo || t >= hi) {
            row[t] = -Infinity;
            continue;
          }
          let dot = 0;
          for (let i = 0; i < d; i++) dot += c.q[qBase + i] * c.k[kBase + t * d + i];
          let x = dot * c.scale;
          if (c.softcap > 0) x = c.softcap * Math.tanh(x / c.softcap);
          row[t] = x;
        }
        if (c.bias) {
          const keep = row.slice();
          c.bias(b, h, s, row);
          for (let t = 0; t < T; t++) if (keep[t] === -Infinity) row[t] = -Infinity;
        }
        let m = -Infinity;
        for (let t = 0; t < T; t++) if (row[t] > m) m = row[t];
        const sink = c.sink ? c.sink(h) : null;
        if (sink !== null && sink > m) m = sink;
        const pOff = ((b * Hq + h) * S + s) * T;
        if (m === -Infinity) {
          maskedRows++;
          continue; // every key masked: zero probabilities, zero output
        }
        let sum = sink !== null ? Math.exp(sink - m) : 0;
        for (let t = 0; t < T; t++) {
          const e = row[t] === -Infinity ? 0 : Math.exp(row[t] - m);
          probs[pOff + t] = e;
          sum += e;
        }
        const oOff = ((b * Hq + h) * S + s) * dv;
        for (let t = 0; t < T; t++) {
          const p = (probs[pOff + t] /= sum);
          if (p === 0) continue;
          for (let j = 0; j < dv; j++) out[oOff + j] += p * c.v[vBase + t * dv + j];
        }
      }
    }
  return { probs, out, maskedRows };
}

function need(x: HostArray | null, n: OnnxNode, what: string): HostArray {
  if (!x) fail(n, `input '${what}' is required`);
  return x;
}

function heads(n: OnnxNode, name: string): number | undefined {
  return attrInt(n, name);
}

/** ai.onnx Attention (opset 23/24). */
export function onnxAttentionReference(n: OnnxNode, ins: NodeInputs, maskIsBool = false): FusedResult {
  const Qa = need(ins[0], n, 'Q');
  const Ka = need(ins[1], n, 'K');
  const Va = need(ins[2], n, 'V');
  const [mask, pastK, pastV, nonpad] = [ins[3] ?? null, ins[4] ?? null, ins[5] ?? null, ins[6] ?? null];
  const rank = Qa.dims.length;
  if (Ka.dims.length !== rank || Va.dims.length !== rank) fail(n, 'Q, K and V must have the same rank');
  let B: number, Hq: number, Hkv: number, S: number, L: number, d: number, dv: number;
  let q: Float64Array, k: Float64Array, v: Float64Array;
  if (rank === 3) {
    const qh = heads(n, 'q_num_heads');
    const kvh = heads(n, 'kv_num_heads');
    if (!qh || !kvh) fail(n, '3-D inputs need q_num_heads and kv_num_heads');
    [B, S] = Qa.dims;
    L = Ka.dims[1];
    Hq = qh;
    Hkv = kvh;
    d = Qa.dims[2] / Hq;
    dv = Va.dims[2] / Hkv;
    if (!Number.isInteger(d) || !Number.isInteger(dv) || Ka.dims[2] / Hkv !== d) fail(n, 'hidden sizes are not multiples of the head counts');
    q = splitHeads(Qa.data, B, S, Hq, d);
    k = splitHeads(Ka.data, B, L, Hkv, d);
    v = splitHeads(Va.data, B, L, Hkv, dv);
  } else if (rank === 4) {
    [B, Hq, S, d] = Qa.dims;
    [, Hkv, L] = Ka.dims;
    dv = Va.dims[3];
    q = Qa.data;
    k = Ka.data;
    v = Va.data;
  } else fail(n, `Q has rank ${rank}; expected 3 or 4`);
  let P = 0;
  if (pastK || pastV) {
    const pk = need(pastK, n, 'past_key');
    const pv = need(pastV, n, 'past_value');
    P = pk.dims[2];
    k = concatSeq(pk.data, k, B, Hkv, P, L, d);
    v = concatSeq(pv.data, v, B, Hkv, P, L, dv);
  }
  const T = P + L;
  const scaleAttr = attrFloat(n, 'scale');
  const scale = scaleAttr !== undefined && scaleAttr !== 0 ? scaleAttr : 1 / Math.sqrt(d);
  const softcap = attrFloat(n, 'softcap', 0);
  const causal = attrInt(n, 'is_causal', 0) === 1;
  const nonpadLen = nonpad ? Array.from(nonpad.data) : null;
  let maskAt: ((b: number, h: number, s: number, t: number) => number) | null = null;
  let maskT = 0;
  if (mask) {
    maskT = mask.dims[mask.dims.length - 1];
    maskAt = broadcastIndexer(mask.dims, 'attn_mask', n);
  }
  const boolMask = maskIsBool;
  const bias = (b: number, h: number, s: number, row: Float64Array) => {
    for (let t = 0; t < T; t++) {
      let add = 0;
      if (mask && maskAt) {
        if (t >= maskT) add = -Infinity;
        else {
          const m = mask.data[maskAt(b, h, s, t)];
          add = boolMask ? (m !== 0 ? 0 : -Infinity) : m;
        }
      }
      if (causal) {
        const offset = pastK ? P : nonpadLen ? nonpadLen[b] - S : 0;
        if (t > s + offset) add = -Infinity;
      }
      if (nonpadLen && t >= nonpadLen[b]) add = -Infinity;
      row[t] += add;
    }
  };
  const r = runCore({ B, Hq, Hkv, S, T, d, dv, q, k, v, scale, softcap, bias });
  const output: HostArray = rank === 4 ? { dims: [B, Hq, S, dv], data: r.out } : { dims: [B, S, Hq * dv], data: mergeHeads(r.out, B, Hq, S, dv) };
  return { batch: B, qHeads: Hq, kvHeads: Hkv, queries: S, keys: T, probs: r.probs, output, maskedRows: r.maskedRows };
}

/** Mask-index semantics shared by com.microsoft Attention (`mask_index`) and MultiHeadAttention (`key_padding_mask`). */
function maskIndexBias(n: OnnxNode, m: HostArray | null, B: number, S: number, T: number, causalPast: number | null, filter: number) {
  let masked: (b: number, s: number, t: number) => boolean = () => false;
  if (m) {
    const dims = m.dims;
    const v = m.data;
    if (dims.length === 1 && dims[0] === B) masked = (b, _s, t) => t >= v[b];
    else if (dims.length === 1 && dims[0] === 2 * B) masked = (b, _s, t) => t >= v[b] || t < v[B + b];
    else if (dims.length === 2 && dims[0] === B && dims[1] === T) masked = (b, _s, t) => v[b * T + t] === 0;
    else if (dims.length === 3 && dims[0] === B && dims[1] === S && dims[2] === T) masked = (b, s, t) => v[(b * S + s) * T + t] === 0;
    else fail(n, `mask shape [${dims.join(', ')}] is not supported (expected [B], [2B], [B, T] or [B, S, T] with B=${B}, S=${S}, T=${T})`);
  }
  return (b: number, s: number, t: number): number => {
    if (masked(b, s, t)) return filter;
    if (causalPast !== null && t > causalPast + s) return filter;
    return 0;
  };
}

/** Adds an attention bias [B|1, N|1, S, T]. */
function attentionBias(n: OnnxNode, ab: HostArray | null, T: number): ((b: number, h: number, s: number, t: number) => number) | null {
  if (!ab) return null;
  if (ab.dims.length !== 4 || ab.dims[3] !== T) fail(n, `attention_bias has shape [${ab.dims.join(', ')}]; expected [B or 1, N or 1, S, ${T}]`);
  const at = broadcastIndexer(ab.dims, 'attention_bias', n);
  return (b, h, s, t) => ab.data[at(b, h, s, t)];
}

/**
 * The part com.microsoft Attention and MultiHeadAttention share once Q, K and V ([B, N, S|T, d|dv]) and any past
 * keys/values are in place: the mask index or key-padding mask (`mask_filter_value`), causal masking of the
 * `unidirectional` form, the additive attention bias, the scale (`scale`, default 1/√d), softmax and the merge
 * of the heads back to [B, S, N·dv].
 */
function microsoftCore(
  n: OnnxNode,
  x: { B: number; N: number; S: number; P: number; T: number; d: number; dv: number; q: Float64Array; k: Float64Array; v: Float64Array },
  mask: HostArray | null,
  ab: HostArray | null,
  causal: boolean,
): FusedResult {
  const { B, N, S, P, T, d, dv } = x;
  const mb = maskIndexBias(n, mask, B, S, T, causal ? P : null, attrFloat(n, 'mask_filter_value', -10000));
  const abf = attentionBias(n, ab, T);
  const scaleAttr = attrFloat(n, 'scale', 0);
  const r = runCore({
    B,
    Hq: N,
    Hkv: N,
    S,
    T,
    d,
    dv,
    q: x.q,
    k: x.k,
    v: x.v,
    scale: scaleAttr !== 0 ? scaleAttr : 1 / Math.sqrt(d),
    softcap: 0,
    bias: (b, h, s, row) => {
      for (let t = 0; t < T; t++) row[t] += mb(b, s, t) + (abf ? abf(b, h, s, t) : 0);
    },
  });
  return {
    batch: B,
    qHeads: N,
    kvHeads: N,
    queries: S,
    keys: T,
    probs: r.probs,
    output: { dims: [B, S, N * dv], data: mergeHeads(r.out, B, N, S, dv) },
    maskedRows: r.maskedRows,
  };
}

/** com.microsoft Attention. */
export function msAttentionReference(n: OnnxNode, ins: NodeInputs): FusedResult {
  const X = need(ins[0], n, 'input');
  const W = need(ins[1], n, 'weights');
  const bias = ins[2] ?? null;
  const [maskIdx, past, ab] = [ins[3] ?? null, ins[4] ?? null, ins[5] ?? null];
  if (attrInt(n, 'do_rotary', 0)) fail(n, 'do_rotary is not supported by the reference computation');
  if (attrInt(n, 'past_present_share_buffer', 0)) fail(n, 'past_present_share_buffer is not supported by the reference computation');
  const N = attrInt(n, 'num_heads');
  if (!N) fail(n, 'num_heads is required');
  const [B, S, Din] = X.dims;
  if (W.dims.length !== 2 || W.dims[0] !== Din) fail(n, `weights have shape [${W.dims.join(', ')}]; expected [${Din}, q + k + v]`);
  const total = W.dims[1];
  const sizes = attrInts(n, 'qkv_hidden_sizes') ?? [total / 3, total / 3, total / 3];
  if (sizes.length !== 3 || sizes[0] + sizes[1] + sizes[2] !== total)
    fail(n, `qkv_hidden_sizes [${sizes.join(', ')}] do not add up to the weight width ${total}`);
  const d = sizes[0] / N;
  const dv = sizes[2] / N;
  if (!Number.isInteger(d) || !Number.isInteger(dv) || sizes[1] !== sizes[0]) fail(n, 'hidden sizes are not consistent with num_heads');
  // qkv = X·W + b  → [B·S, total]
  const qkv = new Float64Array(B * S * total);
  for (let r = 0; r < B * S; r++)
    for (let j = 0; j < total; j++) {
      let acc = bias ? bias.data[j] : 0;
      for (let i = 0; i < Din; i++) acc += X.data[r * Din + i] * W.data[i * total + j];
      qkv[r * total + j] = acc;
    }
  const part = (off: number, width: number) => {
    const out = new Float64Array(B * S * width);
    for (let r = 0; r < B * S; r++) out.set(qkv.subarray(r * total + off, r * total + off + width), r * width);
    return out;
  };
  const q = splitHeads(part(0, sizes[0]), B, S, N, d);
  let k = splitHeads(part(sizes[0], sizes[1]), B, S, N, d);
  let v = splitHeads(part(sizes[0] + sizes[1], sizes[2]), B, S, N, dv);
  let P = 0;
  if (past) {
    if (past.dims.length !== 5 || past.dims[0] !== 2) fail(n, `past has shape [${past.dims.join(', ')}]; expected [2, B, N, P, H]`);
    P = past.dims[3];
    const half = past.data.length / 2;
    k = concatSeq(past.data.subarray(0, half), k, B, N, P, S, d);
    v = concatSeq(past.data.subarray(half), v, B, N, P, S, dv);
  }
  const T = P + S;
  return microsoftCore(n, { B, N, S, P, T, d, dv, q, k, v }, maskIdx, ab, attrInt(n, 'unidirectional', 0) === 1 && S > 1);
}

/** com.microsoft MultiHeadAttention. */
export function msMultiHeadAttentionReference(n: OnnxNode, ins: NodeInputs): FusedResult {
  const Qa = need(ins[0], n, 'query');
  const [Ka, Va, bias, kpm, ab, pastK, pastV] = [
    ins[1] ?? null,
    ins[2] ?? null,
    ins[3] ?? null,
    ins[4] ?? null,
    ins[5] ?? null,
    ins[6] ?? null,
    ins[7] ?? null,
  ];
  const N = attrInt(n, 'num_heads');
  if (!N) fail(n, 'num_heads is required');
  const B = Qa.dims[0];
  const S = Qa.dims[1];
  let q: Float64Array, k: Float64Array, v: Float64Array;
  let d: number, dv: number, L: number;
  const addBias = (x: Float64Array, off: number, width: number) => {
    if (!bias) return x;
    const out = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[i] + bias.data[off + (i % width)];
    return out;
  };
  if (Qa.dims.length === 5) {
    // packed QKV [B, S, N, 3, H]
    d = Qa.dims[4];
    dv = d;
    L = S;
    const sel = (j: number) => {
      const out = new Float64Array(B * S * N * d);
      for (let r = 0; r < B * S * N; r++) out.set(Qa.data.subarray((r * 3 + j) * d, (r * 3 + j + 1) * d), r * d);
      return out;
    };
    const D = N * d;
    q = splitHeads(addBias(sel(0), 0, D), B, S, N, d);
    k = splitHeads(addBias(sel(1), D, D), B, S, N, d);
    v = splitHeads(addBias(sel(2), 2 * D, D), B, S, N, d);
  } else {
    const D = Qa.dims[2];
    d = D / N;
    if (!Number.isInteger(d)) fail(n, `query width ${D} is not a multiple of num_heads ${N}`);
    q = splitHeads(addBias(Qa.data, 0, D), B, S, N, d);
    const K = need(Ka, n, 'key');
    if (K.dims.length === 5) {
      // packed KV [B, L, N, 2, H]
      L = K.dims[1];
      dv = d;
      const sel = (j: number) => {
        const out = new Float64Array(B * L * N * d);
        for (let r = 0; r < B * L * N; r++) out.set(K.data.subarray((r * 2 + j) * d, (r * 2 + j + 1) * d), r * d);
        return out;
      };
      k = splitHeads(addBias(sel(0), D, D), B, L, N, d);
      v = splitHeads(addBias(sel(1), 2 * D, D), B, L, N, d);
    } else if (K.dims.length === 4) {
      if (bias) fail(n, 'a bias with per-head (4-D) key/value is not supported by the reference computation');
      const V = need(Va, n, 'value');
      L = K.dims[2];
      dv = V.dims[3];
      k = K.data;
      v = V.data;
    } else {
      const V = need(Va, n, 'value');
      L = K.dims[1];
      dv = V.dims[2] / N;
      k = splitHeads(addBias(K.data, D, D), B, L, N, d);
      v = splitHeads(addBias(V.data, 2 * D, V.dims[2]), B, L, N, dv);
    }
  }
  let P = 0;
  if (pastK || pastV) {
    const pk = need(pastK, n, 'past_key');
    const pv = need(pastV, n, 'past_value');
    P = pk.dims[2];
    k = concatSeq(pk.data, k, B, N, P, L, d);
    v = concatSeq(pv.data, v, B, N, P, L, dv);
  }
  const T = P + L;
  return microsoftCore(n, { B, N, S, P, T, d, dv, q, k, v }, kpm, ab, attrInt(n, 'unidirectional', 0) === 1);
}

/** Rotary embedding in place on [B, H, S, d] at positions pos(b, s). */
function rotary(
  x: Float64Array,
  B: number,
  H: number,
  S: number,
  d: number,
  cos: HostArray,
  sin: HostArray,
  pos: (b: number, s: number) => number,
  interleaved: boolean,
  n: OnnxNode,
): void {
  const half = cos.dims[1];
  const rot = 2 * half;
  if (rot > d) fail(n, `cos_cache width ${half} needs a head size of at least ${rot}, got ${d}`);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let s = 0; s < S; s++) {
        const p = pos(b, s);
        if (p < 0 || p >= cos.dims[0]) fail(n, `position ${p} is outside the rotary cache of ${cos.dims[0]} positions`);
        const o = ((b * H + h) * S + s) * d;
        for (let i = 0; i < half; i++) {
          const c = cos.data[p * half + i];
          const sn = sin.data[p * half + i];
          const [ia, ib] = interleaved ? [o + 2 * i, o + 2 * i + 1] : [o + i, o + i + half];
          const a = x[ia];
          const bb = x[ib];
          x[ia] = a * c - bb * sn;
          x[ib] = bb * c + a * sn;
        }
      }
}

/** com.microsoft GroupQueryAttention. */
export function msGroupQueryAttentionReference(n: OnnxNode, ins: NodeInputs): FusedResult {
  const Qa = need(ins[0], n, 'query');
  const [Ka, Va, pastK, pastV, seqlens, totalLen, cosC, sinC, posIds, ab, sinkIn] = [
    ins[1] ?? null,
    ins[2] ?? null,
    ins[3] ?? null,
    ins[4] ?? null,
    ins[5] ?? null,
    ins[6] ?? null,
    ins[7] ?? null,
    ins[8] ?? null,
    ins[9] ?? null,
    ins[10] ?? null,
    ins[11] ?? null,
  ];
  const N = attrInt(n, 'num_heads');
  const Nkv = attrInt(n, 'kv_num_heads');
  if (!N || !Nkv) fail(n, 'num_heads and kv_num_heads are required');
  if (ins.length > 12 && ins.slice(12).some((x) => x)) fail(n, 'quantized KV cache or Q/K norm inputs are not supported by the reference computation');
  const [B, S] = Qa.dims;
  const packed = !Ka;
  const d = packed ? Qa.dims[2] / (N + 2 * Nkv) : Qa.dims[2] / N;
  if (!Number.isInteger(d)) fail(n, 'the query width is not consistent with num_heads/kv_num_heads');
  let q: Float64Array, kNew: Float64Array, vNew: Float64Array;
  if (packed) {
    const W = Qa.dims[2];
    const part = (off: number, width: number) => {
      const out = new Float64Array(B * S * width);
      for (let r = 0; r < B * S; r++) out.set(Qa.data.subarray(r * W + off, r * W + off + width), r * width);
      return out;
    };
    q = splitHeads(part(0, N * d), B, S, N, d);
    kNew = splitHeads(part(N * d, Nkv * d), B, S, Nkv, d);
    vNew = splitHeads(part((N + Nkv) * d, Nkv * d), B, S, Nkv, d);
  } else {
    const V = need(Va, n, 'value');
    q = splitHeads(Qa.data, B, S, N, d);
    kNew = splitHeads(Ka!.data, B, S, Nkv, d);
    vNew = splitHeads(V.data, B, S, Nkv, d);
  }
  const sl = need(seqlens, n, 'seqlens_k').data;
  const total = totalLen ? totalLen.data[0] : Math.max(...Array.from(sl, (x) => x + 1));
  // ONNX Runtime: a first prompt when the new tokens are all the tokens; otherwise the cache holds the rest.
  const firstPrompt = S === total;
  const pastLen = (b: number) => (firstPrompt ? 0 : sl[b] + 1 - S);
  // Keys per batch entry: past (first pastLen(b) rows of the cache) then the new S keys, in a common T-wide frame.
  let maxT = 0;
  for (let b = 0; b < B; b++) maxT = Math.max(maxT, firstPrompt ? sl[b] + 1 : pastLen(b) + S);
  const T = Math.max(maxT, S);
  if (attrInt(n, 'do_rotary', 0)) {
    const cos = need(cosC, n, 'cos_cache');
    const sin = need(sinC, n, 'sin_cache');
    const inter = attrInt(n, 'rotary_interleaved', 0) === 1;
    const pos = posIds ? (b: number, s: number) => posIds.data[b * S + s] : (b: number, s: number) => pastLen(b) + s;
    rotary(q, B, N, S, d, cos, sin, pos, inter, n);
    rotary(kNew, B, Nkv, S, d, cos, sin, pos, inter, n);
  }
  const k = new Float64Array(B * Nkv * T * d);
  const v = new Float64Array(B * Nkv * T * d);
  for (let b = 0; b < B; b++) {
    const P = pastLen(b);
    for (let h = 0; h < Nkv; h++) {
      const dst = (b * Nkv + h) * T * d;
      if (P > 0) {
        const pk = need(pastK, n, 'past_key');
        const pv = need(pastV, n, 'past_value');
        const cap = pk.dims[2];
        if (P > cap) fail(n, `seqlens_k asks for ${P} past keys but past_key holds ${cap}`);
        const src = (b * Nkv + h) * cap * d;
        k.set(pk.data.subarray(src, src + P * d), dst);
        v.set(pv.data.subarray(src, src + P * d), dst);
      }
      const src = (b * Nkv + h) * S * d;
      k.set(kNew.subarray(src, src + S * d), dst + P * d);
      v.set(vNew.subarray(src, src + S * d), dst + P * d);
    }
  }
  const causal = attrInt(n, 'causal', 1) === 1;
  const win = attrInt(n, 'local_window_size', -1);
  const abf = attentionBias(n, ab, T);
  const smooth = attrInt(n, 'smooth_softmax', 0) === 1;
  const scaleAttr = attrFloat(n, 'scale', 0);
  const r = runCore({
    B,
    Hq: N,
    Hkv: Nkv,
    S,
    T,
    d,
    dv: d,
    q,
    k,
    v,
    scale: scaleAttr !== 0 ? scaleAttr : 1 / Math.sqrt(d),
    softcap: attrFloat(n, 'softcap', 0),
    keyRange: (b, s) => {
      const totalB = firstPrompt ? sl[b] + 1 : pastLen(b) + S;
      let hi = totalB;
      let lo = 0;
      if (causal) {
        hi = Math.min(hi, pastLen(b) + s + 1);
        if (win > 0) lo = Math.max(0, pastLen(b) + s - win);
      }
      return [lo, hi];
    },
    bias: abf
      ? (b, h, s, row) => {
          for (let t = 0; t < T; t++) row[t] += abf(b, h, s, t);
        }
      : undefined,
    sink: sinkIn ? (h) => sinkIn.data[h] : smooth ? () => 0 : undefined,
  });
  return {
    batch: B,
    qHeads: N,
    kvHeads: Nkv,
    queries: S,
    keys: T,
    probs: r.probs,
    output: { dims: [B, S, N * d], data: mergeHeads(r.out, B, N, S, d) },
    maskedRows: r.maskedRows,
  };
}

/**
 * The reference computation for a fused node.
 * @param maskIsBool for ai.onnx Attention: the attn_mask input is boolean (true = attend).
 * @throws Error naming the node when the form or an input shape is not supported.
 */
export function fusedReference(n: OnnxNode, ins: NodeInputs, opts: { maskIsBool?: boolean } = {}): FusedResult {
  if (n.domain === 'ai.onnx' && n.opType === 'Attention') return onnxAttentionReference(n, ins, opts.maskIsBool ?? false);
  if (n.domain === 'com.microsoft' && n.opType === 'Attention') return msAttentionReference(n, ins);
  if (n.domain === 'com.microsoft' && n.opType === 'MultiHeadAttention') return msMultiHeadAttentionReference(n, ins);
  if (n.domain === 'com.microsoft' && n.opType === 'GroupQueryAttention') return msGroupQueryAttentionReference(n, ins);
  throw new Error(`${n.name || n.opType}: ${n.domain} ${n.opType} has no reference computation`);
}
