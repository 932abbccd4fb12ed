/**
 * Attention paths, their token weights and path features (docs/theory.md §b).
 *
 * A path π = (h_1, …, h_L) picks one head per layer; paths are flattened row-major, h_1 slowest and
 * h_L fastest: idx = (…((h_1·H_2 + h_2)·H_3 + h_3)…).
 */
import type { SequenceBatch } from '../data/types';
import type { LayerAttention } from './attention';
import { readoutWeights } from './attention';
import type { Readout } from '../data/types';
import type { Matrix } from '../linalg/matrix';
import { gemm } from '../linalg/gemm';

/** Number of paths H_tot = Π_l H_l. */
export function pathCount(heads: number[]): number {
  return heads.reduce((a, b) => a * b, 1);
}

/** Heads [h_1, …, h_L] of flattened path `index` (inverse of the row-major flattening). */
export function pathHeads(index: number, heads: number[]): number[] {
  const out = new Array<number>(heads.length);
  for (let l = heads.length - 1; l >= 0; l--) {
    out[l] = index % heads[l];
    index = Math.floor(index / heads[l]);
  }
  return out;
}

/** Flattened index of the path through heads [h_1, …, h_L]. */
export function pathIndex(pathHeadList: number[], heads: number[]): number {
  let idx = 0;
  for (let l = 0; l < heads.length; l++) idx = idx * heads[l] + pathHeadList[l];
  return idx;
}

/**
 * Token weights of every path, c_π(x) = A^1_{h1} ··· A^{L−1}_{h_{L−1}} r^L_{hL}(x) ∈ R^T.
 * Built from the last layer down, so each level's vectors are indexed by (h_l, …, h_L), h_l slowest.
 * Each c_π sums to 1 (a product of column-stochastic matrices applied to a probability vector).
 * @param attention one [P, H_l, T, T] array per layer, first layer first.
 * @param mask optional token mask [P, T] (1 = token, 0 = padding): the readout reads real tokens only
 *   (`readoutWeights`); see `skipPaddingTokens` for the weights on padding keys.
 * @returns c [P, H_tot, T] row-major.
 */
export function pathTokenWeights(attention: LayerAttention[], readout: Readout, mask?: Float64Array): Float64Array {
  const L = attention.length;
  const { count: P, tokens: T } = attention[0];
  let n = attention[L - 1].heads;
  let c = readoutWeights(attention[L - 1], readout, mask); // [P, H_L, T]
  for (let l = L - 2; l >= 0; l--) {
    const A = attention[l];
    const H = A.heads;
    const next = new Float64Array(P * H * n * T);
    for (let p = 0; p < P; p++)
      for (let h = 0; h < H; h++) {
        const ao = (p * H + h) * T * T;
        for (let rest = 0; rest < n; rest++) {
          const src = (p * n + rest) * T;
          const dst = (p * H * n + h * n + rest) * T;
          // (A c)[s] = Σ_t A[s, t] c[t]
          for (let s = 0; s < T; s++) {
            let sum = 0;
            for (let t = 0; t < T; t++) sum += A.data[ao + s * T + t] * c[src + t];
            next[dst + s] = sum;
          }
        }
      }
    c = next;
    n *= H;
  }
  return c;
}

/**
 * Makes the path features skip padding tokens (padded token inputs): every path's token weights on masked tokens
 * are set to 0 and the rest renormalized to sum 1, so ξ_π(x) = x c_π(x) averages real tokens only. A model that
 * masks padding keys in its attention already gives them weight 0 (to rounding) and is unchanged. An example whose
 * weights all sit on padding is left as it is.
 * @param c [P, Q, T] token weights from `pathTokenWeights`, changed in place. @param mask [P, T], 1 = token, 0 = padding.
 * @returns the largest weight a path had on padding tokens before (0 when the attention never reads them).
 */
export function skipPaddingTokens(c: Float64Array, mask: Float64Array, P: number, Q: number, T: number): number {
  if (mask.length !== P * T || c.length !== P * Q * T)
    throw new Error(`skipPaddingTokens: mask [${mask.length}] and weights [${c.length}] do not fit P=${P}, Q=${Q}, T=${T}`);
  let worst = 0;
  for (let p = 0; p < P; p++) {
    const m = mask.subarray(p * T, (p + 1) * T);
    if (m.every((v) => v !== 0)) continue;
    for (let q = 0; q < Q; q++) {
      const o = (p * Q + q) * T;
      let pad = 0;
      let kept = 0;
      for (let t = 0; t < T; t++) {
        if (m[t] === 0) pad += Math.abs(c[o + t]);
        else kept += c[o + t];
      }
      worst = Math.max(worst, pad);
      if (pad === 0 || !(kept > 0)) continue;
      for (let t = 0; t < T; t++) c[o + t] = m[t] === 0 ? 0 : c[o + t] / kept;
    }
  }
  return worst;
}

/**
 * Normalized path features φ_π(x) = √(σ0²/(N0·H_tot)) · x c_π(x) (the code's `attentioned_input`).
 * @param X [P, N0, T]. @param c [P, H_tot, T] from `pathTokenWeights`. @param sigma0sq σ0².
 * @returns Φ [P, N0, H_tot] row-major.
 */
export function pathFeatures(X: SequenceBatch, c: Float64Array, Htot: number, sigma0sq: number): Float64Array {
  const { count: P, features: N0, tokens: T } = X;
  if (c.length !== P * Htot * T) throw new Error(`pathFeatures: token weights have ${c.length} entries, expected [P=${P}, H_tot=${Htot}, T=${T}]`);
  const norm = Math.sqrt(sigma0sq / (N0 * Htot));
  const phi = new Float64Array(P * N0 * Htot);
  for (let p = 0; p < P; p++)
    for (let i = 0; i < N0; i++) {
      const xo = (p * N0 + i) * T;
      for (let q = 0; q < Htot; q++) {
        const co = (p * Htot + q) * T;
        let s = 0;
        for (let t = 0; t < T; t++) s += X.data[xo + t] * c[co + t];
        phi[(p * N0 + i) * Htot + q] = norm * s;
      }
    }
  return phi;
}

/**
 * Path features Φ [P, N0, H_tot] straight from the attention, one example at a time (docs/theory.md
 * §b): the same numbers as `pathFeatures(X, pathTokenWeights(attention, readout), …)`, but the
 * token weights c_π(x) exist only for the example at hand ([H_tot, T] instead of [P, H_tot, T] per
 * level), and both products are matrix products: c ← c·A_hᵀ per head going down the layers, then
 * Φ_p = x_p cᵀ ([N0, T] × [T, H_tot]), which `gemm` sends to ONNX Runtime when they are large. With a token
 * mask on X (padded token inputs) the readout reads real tokens only and each example's weights skip padding
 * (`skipPaddingTokens`); `stats.padWeight` then receives the largest weight a path had on padding.
 * @param X [P, N0, T]. @param attention one [P, H_l, T, T] array per layer, first layer first.
 * @returns Φ [P, N0, H_tot] row-major, normalized by √(σ0²/(N0·H_tot)).
 */
export async function pathFeaturesFromAttention(
  X: SequenceBatch,
  attention: LayerAttention[],
  readout: Readout,
  sigma0sq: number,
  stats?: { padWeight: number },
): Promise<Float64Array> {
  const { count: P, features: N0, tokens: T } = X;
  const L = attention.length;
  const Htot = pathCount(attention.map((a) => a.heads));
  const norm = Math.sqrt(sigma0sq / (N0 * Htot));
  const HL = attention[L - 1].heads;
  const mask = X.tokenMask;
  const r = readoutWeights(attention[L - 1], readout, mask); // [P, H_L, T]: small (last layer only)
  const phi = new Float64Array(P * N0 * Htot);
  for (let p = 0; p < P; p++) {
    let c: Matrix = { rows: HL, cols: T, data: r.subarray(p * HL * T, (p + 1) * HL * T) };
    for (let l = L - 2; l >= 0; l--) {
      const A = attention[l];
      const H = A.heads;
      const n = c.rows;
      const next = new Float64Array(H * n * T);
      for (let h = 0; h < H; h++) {
        const Ah = { rows: T, cols: T, data: A.data.subarray((p * H + h) * T * T, (p * H + h + 1) * T * T) };
        // (A_h c_rest)[s] = Σ_t A_h[s, t] c_rest[t] for every rest: c · A_hᵀ, [n, T]
        next.set((await gemm(c, Ah, { transB: true })).data, h * n * T);
      }
      c = { rows: H * n, cols: T, data: next };
    }
    if (mask) {
      // Padded token inputs: this example's path token weights put nothing on padding (as skipPaddingTokens for all P).
      const pad = skipPaddingTokens(c.data, mask.subarray(p * T, (p + 1) * T), 1, Htot, T);
      if (stats) stats.padWeight = Math.max(stats.padWeight, pad);
    }
    const xp = { rows: N0, cols: T, data: X.data.subarray(p * N0 * T, (p + 1) * N0 * T) };
    const f = (await gemm(xp, c, { transB: true })).data; // [N0, H_tot]
    const o = p * N0 * Htot;
    for (let k = 0; k < f.length; k++) phi[o + k] = norm * f[k];
  }
  return phi;
}
