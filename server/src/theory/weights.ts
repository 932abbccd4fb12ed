/**
 * Order parameters from given value weights (docs/theory.md §f), and the forward pass of the
 * theory's network (section a) used by the Monte-Carlo oracle of section h.6.
 */
import type { Matrix } from '../linalg/matrix';
import { zeros } from '../linalg/matrix';

/**
 * Value weights of the network: `V[l][h]` is V^{l+1}_h (0-based l), of shape [N_{l+2}, N_{l+1}] row-major,
 * with N_{L+1} ≡ N_a; `a` is the readout [N_a]. V⁰ is not included (the overlap lives in the N_1 space).
 */
export interface ValueWeights {
  /** widths [N_1, …, N_L, N_a] */
  widths: number[];
  V: Float64Array[][];
  a: Float64Array;
}

/**
 * U_a = |a|²/N_a and U_l = W^{(l)} W^{(l)ᵀ} / N_l, with the backpropagated readout vectors
 * w^{(L)}_{h_L} = V^{L ᵀ}_{h_L} a/√N_a and w^{(l)}_{(h_l,…,h_L)} = V^{l ᵀ}_{h_l} w^{(l+1)}_{(h_{l+1},…)}/√N_{l+1}
 * (h_l slowest in the flattened index).
 * @returns { Us: [U_1, …, U_L] (U_l of size [n_l, n_l]), Ua }.
 * @throws Error when a weight's length does not match the widths.
 */
export function orderParametersFromWeights(w: ValueWeights): { Us: Matrix[]; Ua: number } {
  const L = w.V.length;
  const N = w.widths;
  if (w.a.length !== N[L]) throw new Error(`readout a has ${w.a.length} entries, expected N_a = ${N[L]}`);
  let vecs: Float64Array[] = [w.a]; // vectors in the space of width N_{l+1}, index (h_{l+1}, …, h_L)
  let inWidth = N[L];
  const Us: Matrix[] = new Array(L);
  for (let l = L - 1; l >= 0; l--) {
    const Nl = N[l];
    const next: Float64Array[] = [];
    const norm = 1 / Math.sqrt(inWidth);
    for (const [h, V] of w.V[l].entries()) {
      if (V.length !== inWidth * Nl) throw new Error(`V^${l + 1}_${h} has ${V.length} entries, expected [${inWidth}, ${Nl}]`);
      for (const u of vecs) {
        const out = new Float64Array(Nl);
        for (let i = 0; i < inWidth; i++) {
          const ui = u[i] * norm;
          if (ui === 0) continue;
          for (let j = 0; j < Nl; j++) out[j] += V[i * Nl + j] * ui;
        }
        next.push(out);
      }
    }
    vecs = next;
    inWidth = Nl;
    const n = vecs.length;
    const U = zeros(n, n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let k = 0; k < Nl; k++) s += vecs[i][k] * vecs[j][k];
        U.data[i * n + j] = s / Nl;
        U.data[j * n + i] = s / Nl;
      }
    Us[l] = U;
  }
  let aa = 0;
  for (const v of w.a) aa += v * v;
  return { Us, Ua: aa / N[L] };
}

/**
 * Network output f(x) = aᵀ z^L/√N_a for one input, given the path token weights and V⁰
 * (docs/theory.md §a–b), evaluated layer by layer — independent of the path decomposition, so it
 * can check it.
 * @param x [N0, T] one input; attention per layer [H_l, T, T] for this input (columns sum to 1);
 * @param readoutWeights r^L_h for this input, [H_L, T]; V0 [N_1, N0].
 */
export function networkOutput(
  x: Float64Array,
  N0: number,
  T: number,
  attention: Float64Array[],
  readoutWeights: Float64Array,
  V0: Float64Array,
  w: ValueWeights,
): number {
  const L = w.V.length;
  const N = w.widths;
  // z⁰ = V⁰ x / √N0, [N_1, T]
  let z = new Float64Array(N[0] * T);
  for (let i = 0; i < N[0]; i++)
    for (let k = 0; k < N0; k++) {
      const v = V0[i * N0 + k] / Math.sqrt(N0);
      for (let t = 0; t < T; t++) z[i * T + t] += v * x[k * T + t];
    }
  let width = N[0];
  for (let l = 0; l < L; l++) {
    const H = w.V[l].length;
    const outW = N[l + 1];
    const last = l === L - 1;
    const cols = last ? 1 : T;
    const next = new Float64Array(outW * cols);
    const norm = 1 / Math.sqrt(H * width);
    for (let h = 0; h < H; h++) {
      // mixed[i, t] = Σ_s z[i, s] A[s, t]   (or Σ_s z[i, s] r[s] at the readout)
      const mixed = new Float64Array(width * cols);
      for (let i = 0; i < width; i++)
        for (let s = 0; s < T; s++) {
          const zis = z[i * T + s];
          if (last) mixed[i] += zis * readoutWeights[h * T + s];
          else for (let t = 0; t < T; t++) mixed[i * T + t] += zis * attention[l][(h * T + s) * T + t];
        }
      const V = w.V[l][h];
      for (let o = 0; o < outW; o++)
        for (let i = 0; i < width; i++) {
          const v = V[o * width + i] * norm;
          for (let t = 0; t < cols; t++) next[o * cols + t] += v * mixed[i * cols + t];
        }
    }
    z = next;
    width = outW;
  }
  let f = 0;
  for (let i = 0; i < N[L]; i++) f += w.a[i] * z[i];
  return f / Math.sqrt(N[L]);
}
