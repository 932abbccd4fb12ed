/**
 * Attention computed from the raw input only (docs/theory.md §a).
 *
 * Output layout: A [P, H, T, T] row-major, entry `A[p, h, s, t]` = how much query token t reads from key
 * token s; the softmax runs over the key index s, so every column t sums to 1.
 */
import type { AttentionLayer, QKLayer, Readout, SequenceBatch, WLayer } from '../data/types';
import { batchedMatmulTransB, gemm } from '../linalg/gemm';
import type { Matrix } from '../linalg/matrix';

/** Attention probabilities of one layer on a batch, shape [P, H, T, T] (see module doc). */
export interface LayerAttention {
  heads: number;
  tokens: number;
  count: number;
  data: Float64Array;
}

/**
 * Column-wise softmax over keys, in place: `score[s, t]` → `exp(score[s,t]) / Σ_s' exp(score[s',t])`.
 * Subtracts the column maximum first so large scores (β = 10 in the Markov heads) never overflow.
 * @param a one [T, T] block (keys × queries) at `offset` of `data`.
 */
export function softmaxOverKeys(data: Float64Array, offset: number, T: number): void {
  for (let t = 0; t < T; t++) {
    let max = -Infinity;
    for (let s = 0; s < T; s++) max = Math.max(max, data[offset + s * T + t]);
    let sum = 0;
    for (let s = 0; s < T; s++) {
      const e = Math.exp(data[offset + s * T + t] - max);
      data[offset + s * T + t] = e;
      sum += e;
    }
    for (let s = 0; s < T; s++) data[offset + s * T + t] /= sum;
  }
}

/** X [P, N0, T] as one [P·T, N0] matrix (row p·T + t = token t of example p), for batched projections. */
function tokensAsRows(X: SequenceBatch): Matrix {
  const { count: P, features: N0, tokens: T } = X;
  const out = new Float64Array(P * T * N0);
  for (let p = 0; p < P; p++)
    for (let i = 0; i < N0; i++) {
      const src = (p * N0 + i) * T;
      for (let t = 0; t < T; t++) out[(p * T + t) * N0 + i] = X.data[src + t];
    }
  return { rows: P * T, cols: N0, data: out };
}

/**
 * Attention of one Q/K- or W-form layer on every example of a batch.
 * Q/K form: `score[s,t] = (K_h x_s)·(Q_h x_t)/√G`; W form: `score[s,t] = x_sᵀ W_h x_t` (no scaling).
 * @param X [P, N0, T]. @param layer Q/K [H, G, N0] or W [H, N0, N0].
 * @returns A [P, H, T, T], columns summing to 1.
 * @throws Error when the layer's N0 differs from the data's, or a probability is NaN/∞.
 */
export async function layerAttention(X: SequenceBatch, layer: QKLayer | WLayer): Promise<LayerAttention> {
  const { count: P, features: N0, tokens: T } = X;
  const H = layer.heads;
  const rows = tokensAsRows(X);
  // left[p·T+s] · right[p·T+t] (a slice of `width` entries per head) gives score[s, t].
  let left: Matrix;
  let right: Matrix;
  let width: number;
  let scale = 1;
  if (layer.kind === 'qk') {
    const G = layer.G;
    if (layer.Q.length !== H * G * N0 || layer.K.length !== H * G * N0) {
      throw new Error(`attention: Q/K must have shape [H=${H}, G=${G}, N0=${N0}] to match the data's N0 = ${N0}`);
    }
    // All heads at once: [P·T, N0] × [H·G, N0]ᵀ → row (p, t) holds K_h x_t for every head h.
    left = await gemm(rows, { rows: H * G, cols: N0, data: layer.K }, { transB: true });
    right = await gemm(rows, { rows: H * G, cols: N0, data: layer.Q }, { transB: true });
    width = G;
    scale = 1 / Math.sqrt(G);
  } else {
    if (layer.W.length !== H * N0 * N0) throw new Error(`attention: W must have shape [H=${H}, N0=${N0}, N0=${N0}]`);
    left = { rows: P * T, cols: H * N0, data: new Float64Array(P * T * H * N0) };
    right = { rows: P * T, cols: H * N0, data: new Float64Array(P * T * H * N0) };
    for (let h = 0; h < H; h++) {
      const W = { rows: N0, cols: N0, data: layer.W.subarray(h * N0 * N0, (h + 1) * N0 * N0) };
      const wx = await gemm(rows, W, { transB: true }); // row (p, t) = (W x_t)ᵀ
      for (let r = 0; r < P * T; r++) {
        left.data.set(rows.data.subarray(r * N0, (r + 1) * N0), r * H * N0 + h * N0);
        right.data.set(wx.data.subarray(r * N0, (r + 1) * N0), r * H * N0 + h * N0);
      }
    }
    width = N0;
  }
  // All T×T score blocks in one batched product that reads each head's slice of the projections in place (the
  // regrouping into [P·H, T, width] copies it replaced moved 2·P·H·T·width entries per layer).
  const out = batchedMatmulTransB(left.data, right.data, P * H, T, width, T, { groups: H, rowStride: H * width }, scale);
  for (let b = 0; b < P * H; b++) softmaxOverKeys(out, b * T * T, T);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) {
      const p = Math.floor(i / (H * T * T));
      throw new Error(`attention: non-finite attention probability for example ${p} (check the input and the attention parameters for NaN/Inf)`);
    }
  }
  return { heads: H, tokens: T, count: P, data: out };
}

/**
 * Attention of every layer on a batch. Fixed layers (captured from a model) are passed through after
 * a shape check.
 * @param which 'train' or 'test': selects the captured tensor of fixed layers.
 * @param onLayer called before each computed (not fixed) layer with its 0-based index, for progress reports.
 * @returns one [P, H_l, T, T] array per layer, first layer first.
 */
export async function allLayerAttention(
  X: SequenceBatch,
  layers: AttentionLayer[],
  which: 'train' | 'test',
  onLayer?: (layer: number) => void,
): Promise<LayerAttention[]> {
  const out: LayerAttention[] = [];
  for (const [l, layer] of layers.entries()) {
    if (layer.kind === 'fixed') {
      const data = which === 'train' ? layer.train : layer.test;
      const want = X.count * layer.heads * X.tokens * X.tokens;
      if (data.length !== want) {
        throw new Error(
          `attention layer ${l + 1}: captured ${which} attention has ${data.length} entries, expected [P=${X.count}, H=${layer.heads}, T=${X.tokens}, T=${X.tokens}]`,
        );
      }
      out.push({ heads: layer.heads, tokens: X.tokens, count: X.count, data });
    } else {
      onLayer?.(l);
      out.push(await layerAttention(X, layer));
    }
  }
  return out;
}

/**
 * Readout weights r^L_h(x) ∈ R^T of the last layer (docs/theory.md §a):
 * first → A[:, 0]; last → A[:, T−1]; mean → (1/T) Σ_t A[:, t].
 * With a token mask (padded token inputs, 1 = token, 0 = padding) the readout reads real tokens only: first →
 * the first unmasked query, last → the last unmasked query, mean → the average over the unmasked queries. An
 * example whose tokens are all masked reads as if unmasked (nothing else is defined).
 * @param A [P, H, T, T]. @param mask [P, T] row-major (optional). @returns [P, H, T].
 */
export function readoutWeights(A: LayerAttention, readout: Readout, mask?: Float64Array): Float64Array {
  const { count: P, heads: H, tokens: T } = A;
  if (mask && mask.length !== P * T) throw new Error(`readout: the token mask has ${mask.length} entries, expected [P=${P}, T=${T}]`);
  const r = new Float64Array(P * H * T);
  const valid = (p: number, t: number) => !mask || mask[p * T + t] !== 0;
  for (let p = 0; p < P; p++) {
    let first = 0;
    let last = T - 1;
    let count = T;
    if (mask) {
      const on = Array.from({ length: T }, (_, t) => t).filter((t) => valid(p, t));
      if (on.length) [first, last, count] = [on[0], on[on.length - 1], on.length];
    }
    const all = count === T;
    for (let h = 0; h < H; h++) {
      const b = p * H + h;
      const o = b * T * T;
      for (let s = 0; s < T; s++) {
        let v: number;
        if (readout === 'first') v = A.data[o + s * T + first];
        else if (readout === 'last') v = A.data[o + s * T + last];
        else {
          v = 0;
          for (let t = 0; t < T; t++) if (all || valid(p, t)) v += A.data[o + s * T + t];
          v /= count;
        }
        r[b * T + s] = v;
      }
    }
  }
  return r;
}
