/**
 * The theory's network class (docs/theory.md §a) with learned attention, as trained by gradient descent.
 *
 * For an input x ∈ R^{N0×T} (column x_t = token t):
 *  - attention of every layer from the raw input: A^l_h[s,t] = softmax_s( (K^l_h x_s)·(Q^l_h x_t)/√G ),
 *    Q^l_h, K^l_h ∈ R^{G×N0}; each column t (a query) sums to 1 over the keys s;
 *  - embedding z⁰ = V⁰ x / √N0, V⁰ ∈ R^{N_1×N0};
 *  - layer l = 1..L: z^l_{:,t} = (1/√(H_l N_l)) Σ_h g^l_h V^l_h Σ_s z^{l−1}_{:,s} A^l_h[s,t], V^l_h ∈ R^{N_{l+1}×N_l}
 *    (N_{L+1} ≡ N_a); the head gains g^l_h are 1 for the trained network and are used only to remove heads at
 *    evaluation time (0 for a removed head, √(H_l/(H_l−1)) for the others: docs/theory.md §g);
 *  - readout r: z^L at query 0 (`first`), at query T−1 (`last`), or averaged over queries (`mean`);
 *  - output f(x) = aᵀ r / √N_a, a ∈ R^{N_a}. No residual, MLP, LayerNorm or bias.
 *
 * Normalization: exactly docs/theory.md §a (1/√N0, 1/√(H_l N_l), 1/√N_a, weights of order 1), so
 * `theory/weights.ts` `networkOutput` is an exact oracle for the forward pass and `orderParametersFromWeights`
 * gives the normalized U_GD = W Wᵀ/N_1 of section f. The GD model of section f sums heads with 1/√H_l and has no
 * width factors; the extra 1/√N_l here are per-layer constants, so U_GD's pattern (all that section f compares) is
 * the same, and so is the function class. Initialization: Q, K entries N(0, 1/N0) (the code's random Q/K option);
 * V⁰, V^l_h and a entries N(0, 1) (the theory's prior with every σ² = 1).
 *
 * Arrays are row-major Float64Arrays (holding float32-representable values once trained): Q[l], K[l] are
 * [H_l, G, N0]; V0 is [N_1, N0]; V[l][h] is V^{l+1}_h, [N_{l+2}, N_{l+1}] (0-based l); a is [N_a].
 * Inputs are batches [P, N0, T] (data/types.ts `SequenceBatch`).
 */
import * as tf from '@tensorflow/tfjs';
import type { Readout, SequenceBatch } from '../data/types';
import type { ValueWeights } from '../theory/weights';
import { Random } from '../util/random';

/** Sizes of one network. */
export interface NetworkShape {
  /** Input features per token. */
  N0: number;
  /** Tokens per sequence. */
  T: number;
  /** Heads per layer [H_1, …, H_L]. */
  heads: number[];
  /** Query/key dimension G (all layers). */
  G: number;
  /** Value widths [N_1, …, N_L, N_a]. */
  widths: number[];
  readout: Readout;
}

/** Parameters of one network (layouts in the module comment). */
export interface NetworkParams {
  shape: NetworkShape;
  Q: Float64Array[];
  K: Float64Array[];
  V0: Float64Array;
  V: Float64Array[][];
  a: Float64Array;
}

/** Per-layer, per-head multipliers g^l_h of the head sum; `gains[l][h]`. */
export type HeadGains = number[][];

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;

/**
 * Checks a network shape.
 * @throws Error naming the first bad field (non-positive or non-integer sizes, widths of the wrong length,
 *   unknown readout).
 */
export function checkShape(s: NetworkShape): void {
  for (const k of ['N0', 'T', 'G'] as const) if (!isPosInt(s[k])) throw new Error(`network: ${k} = ${s[k]}; need a positive integer`);
  if (!Array.isArray(s.heads) || s.heads.length < 1) throw new Error('network: heads must list at least one layer, e.g. [2, 2]');
  s.heads.forEach((h, l) => {
    if (!isPosInt(h)) throw new Error(`network: H_${l + 1} = ${h}; need a positive integer`);
  });
  if (!Array.isArray(s.widths) || s.widths.length !== s.heads.length + 1) {
    throw new Error(`network: widths must be [N_1, …, N_L, N_a] with L + 1 = ${s.heads.length + 1} entries (got ${JSON.stringify(s.widths)})`);
  }
  s.widths.forEach((n, i) => {
    if (!isPosInt(n)) throw new Error(`network: width ${i === s.heads.length ? 'N_a' : `N_${i + 1}`} = ${n}; need a positive integer`);
  });
  if (s.readout !== 'first' && s.readout !== 'last' && s.readout !== 'mean')
    throw new Error(`network: readout must be first, last or mean (got ${String(s.readout)})`);
}

/** Number of trainable parameters. */
export function parameterCount(s: NetworkShape): number {
  let n = s.widths[0] * s.N0 + s.widths[s.heads.length];
  s.heads.forEach((H, l) => (n += 2 * H * s.G * s.N0 + H * s.widths[l + 1] * s.widths[l]));
  return n;
}

/**
 * Seeded initialization. Draw order from `new Random(seed)`: for each layer, Q [H_l, G, N0] then K (N(0, 1/N0));
 * then V⁰ [N_1, N0]; then V^l_h for l = 1..L, h = 1..H_l; then a (all N(0, 1)). Values are rounded to float32,
 * so the tfjs network and the float64 oracle start from the same numbers.
 * @throws Error for a bad shape (see `checkShape`).
 */
export function initParams(shape: NetworkShape, seed: number): NetworkParams {
  checkShape(shape);
  const rng = new Random(seed);
  const f32 = (a: Float64Array) => Float64Array.from(Float32Array.from(a));
  const { N0, G, heads, widths } = shape;
  const Q: Float64Array[] = [];
  const K: Float64Array[] = [];
  for (const H of heads) {
    Q.push(f32(rng.normals(H * G * N0, 1 / Math.sqrt(N0))));
    K.push(f32(rng.normals(H * G * N0, 1 / Math.sqrt(N0))));
  }
  const V0 = f32(rng.normals(widths[0] * N0));
  const V = heads.map((H, l) => Array.from({ length: H }, () => f32(rng.normals(widths[l + 1] * widths[l]))));
  const a = f32(rng.normals(widths[heads.length]));
  return { shape: { ...shape, heads: [...heads], widths: [...widths] }, Q, K, V0, V, a };
}

/** The value weights (V^1..V^L, a) in the form of theory/weights.ts (for U_GD and the forward oracle). */
export function valueWeights(p: NetworkParams): ValueWeights {
  return { widths: [...p.shape.widths], V: p.V, a: p.a };
}

/** Gains of the full network: every g^l_h = 1. */
export function unitGains(heads: number[]): HeadGains {
  return heads.map((H) => new Array<number>(H).fill(1));
}

/**
 * Gains that remove head `head` of layer `layer` (0-based) at evaluation time, rescaling the remaining heads of
 * that layer by √(H_l/(H_l−1)) so their sum keeps the 1/√(H_l−1) normalization (docs/theory.md §g).
 * @throws Error when the layer or head does not exist, or the layer has a single head (removing it removes the layer).
 */
export function removalGains(heads: number[], layer: number, head: number): HeadGains {
  if (!Number.isInteger(layer) || layer < 0 || layer >= heads.length)
    throw new Error(`head removal: layer ${layer} does not exist (layers 0..${heads.length - 1})`);
  const H = heads[layer];
  if (!Number.isInteger(head) || head < 0 || head >= H) throw new Error(`head removal: layer ${layer} has heads 0..${H - 1}, not ${head}`);
  if (H < 2) throw new Error(`head removal: layer ${layer} has a single head; removing it would remove the layer`);
  const g = unitGains(heads);
  const r = Math.sqrt(H / (H - 1));
  g[layer] = g[layer].map((_, h) => (h === head ? 0 : r));
  return g;
}

/** [H, rows, cols] stacked head matrices → the [cols, H·rows] matrix whose column h·rows + r is row r of head h. */
export function headsToColumns(W: Float64Array[] | Float64Array, H: number, rows: number, cols: number): Float32Array {
  const get = (h: number): Float64Array => (Array.isArray(W) ? W[h] : W.subarray(h * rows * cols, (h + 1) * rows * cols));
  const out = new Float32Array(cols * H * rows);
  for (let h = 0; h < H; h++) {
    const Wh = get(h);
    if (Wh.length !== rows * cols) throw new Error(`head ${h}: ${Wh.length} entries, expected [${rows}, ${cols}]`);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * H * rows + h * rows + r] = Wh[r * cols + c];
  }
  return out;
}

/** Inverse of `headsToColumns`: [cols, H·rows] → H matrices [rows, cols]. */
export function columnsToHeads(M: ArrayLike<number>, H: number, rows: number, cols: number): Float64Array[] {
  return Array.from({ length: H }, (_, h) => {
    const Wh = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) Wh[r * cols + c] = M[c * H * rows + h * rows + r];
    return Wh;
  });
}

/** Swaps the last two axes. */
function swapLast(t: tf.Tensor): tf.Tensor {
  const r = t.rank;
  return tf.transpose(t, [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2]);
}

/**
 * Matrix product a·b (rank 2, or batched rank 4) whose gradient never asks the backend for a transposed operand:
 * ∂a = dy·(bᵀ) and ∂b = (aᵀ)·dy with the transposes materialized first. Same forward values as `tf.matMul(a, b)` and
 * the same mathematics backward, but the wasm backend multiplies with a transpose flag set about ten times slower
 * than a materialized transpose followed by a plain product (measured: 22 ms vs 3 ms for [231,3100]·[3100,32]), and
 * these products dominate a training step.
 */
const fastGradMatMul = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.matMul(dy, swapLast(saved[1])), tf.matMul(swapLast(saved[0]), dy)],
  };
});

/** See above: `tf.matMul(a, b)` with a backward pass that avoids transpose flags. */
export function matMulFastGrad<R extends tf.Tensor>(a: R, b: tf.Tensor): R {
  return fastGradMatMul(a, b) as R;
}

/**
 * x·w for a data matrix x (no gradient flows into x), with ∂w = xT·dy from a transpose of x materialized once per
 * forward pass (`xT`); without `xT` (evaluation) a plain product. Same forward values as `tf.matMul(x, w)`.
 */
function projectInput(x: tf.Tensor2D, xT: tf.Tensor2D | null, w: tf.Tensor2D): tf.Tensor2D {
  if (!xT) return tf.matMul(x, w);
  return projectWithGrad(w, x, xT) as tf.Tensor2D;
}

// Inputs (w, x, xT); gradients (xT·dy, 0, 0). Tensors a gradient needs must be saved, not captured: the engine
// disposes everything else when the forward pass ends.
const projectWithGrad = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [w, x, xT, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([xT]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.matMul(saved[0] as tf.Tensor2D, dy as tf.Tensor2D), tf.zeros(x.shape), tf.zeros(xT.shape)],
  };
});

/** A trainable variable holding `t`'s values (t is disposed). */
function trainable<R extends tf.Rank>(t: tf.Tensor<R>): tf.Variable<R> {
  const v = tf.variable(t, true);
  t.dispose();
  return v;
}

/** Row-major transpose of an [r, c] matrix, as float32. */
function transposeF32(M: ArrayLike<number>, r: number, c: number): Float32Array {
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = M[i * c + j];
  return out;
}

/**
 * The network as tfjs variables, in the matrix layouts of the exported ONNX graph (tokens as rows):
 * `Wq[l]`, `Wk[l]` [N0, H_l·G] (column h·G + g is row g of Q^l_h / K^l_h); `V0t` [N0, N_1] = V⁰ᵀ;
 * `Wv[l]` [N_l, H_l·N_{l+1}] (column h·N_{l+1} + o is row o of V^l_h); `a` [N_a, 1].
 * Call `dispose()` when done.
 */
export class TfNetwork {
  readonly shape: NetworkShape;
  readonly Wq: tf.Variable<tf.Rank.R2>[];
  readonly Wk: tf.Variable<tf.Rank.R2>[];
  readonly V0t: tf.Variable<tf.Rank.R2>;
  readonly Wv: tf.Variable<tf.Rank.R2>[];
  readonly a: tf.Variable<tf.Rank.R2>;

  /** @throws Error when the parameters do not fit their shape. */
  constructor(p: NetworkParams) {
    checkShape(p.shape);
    checkParams(p);
    const { N0, G, heads, widths } = p.shape;
    this.shape = { ...p.shape, heads: [...heads], widths: [...widths] };
    this.Wq = heads.map((H, l) => trainable(tf.tensor2d(headsToColumns(p.Q[l], H, G, N0), [N0, H * G])));
    this.Wk = heads.map((H, l) => trainable(tf.tensor2d(headsToColumns(p.K[l], H, G, N0), [N0, H * G])));
    this.V0t = trainable(tf.tensor2d(transposeF32(p.V0, widths[0], N0), [N0, widths[0]]));
    this.Wv = heads.map((H, l) => trainable(tf.tensor2d(headsToColumns(p.V[l], H, widths[l + 1], widths[l]), [widths[l], H * widths[l + 1]])));
    this.a = trainable(tf.tensor2d(Float32Array.from(p.a), [widths[heads.length], 1]));
  }

  /** Every trainable variable. */
  variables(): tf.Variable[] {
    return [...this.Wq, ...this.Wk, this.V0t, ...this.Wv, this.a];
  }

  /**
   * Forward pass f(x) for a batch (module comment), float32.
   * @param x [B, N0, T]. @param gains head gains (default: all 1).
   * @param training set when gradients will be taken (prepares the input's transpose for the weight gradients;
   *   outputs are the same either way).
   * @returns [B]. Must run inside `tf.tidy` (or the caller disposes the intermediates).
   */
  forward(x: tf.Tensor3D, gains?: HeadGains, training = false): tf.Tensor1D {
    const { N0, T, G, heads, widths, readout } = this.shape;
    const B = x.shape[0];
    if (x.shape[1] !== N0 || x.shape[2] !== T) throw new Error(`network input has shape [${x.shape}], expected [batch, N0=${N0}, T=${T}]`);
    const L = heads.length;
    const xt: tf.Tensor2D = tf.reshape(tf.transpose(x, [0, 2, 1]), [B * T, N0]); // tokens as rows, row b·T + t
    const xT: tf.Tensor2D | null = training ? tf.reshape(tf.transpose(x, [1, 0, 2]), [N0, B * T]) : null; // xtᵀ
    let z = projectInput(xt, xT, tf.mul(this.V0t, 1 / Math.sqrt(N0))); // [B·T, N_1]
    for (let l = 0; l < L; l++) {
      const H = heads[l];
      const nIn = widths[l];
      const nOut = widths[l + 1];
      const q = tf.transpose(tf.reshape(projectInput(xt, xT, this.Wq[l]), [B, T, H, G]), [0, 2, 1, 3]); // [B, H, Tq, G]
      const k = tf.transpose(tf.reshape(projectInput(xt, xT, this.Wk[l]), [B, T, H, G]), [0, 2, 3, 1]); // [B, H, G, Tk]
      const probs = tf.softmax(tf.mul(matMulFastGrad(q, k), 1 / Math.sqrt(G))); // [B, H, Tq, Tk], rows sum to 1 over keys
      const v = tf.transpose(tf.reshape(matMulFastGrad(z, this.Wv[l]), [B, T, H, nOut]), [0, 2, 1, 3]); // [B, H, Tk, N_{l+1}]
      let ctx = matMulFastGrad(probs, v); // [B, H, Tq, N_{l+1}]
      if (gains) {
        if (gains[l]?.length !== H) throw new Error(`head gains of layer ${l}: expected ${H} values`);
        ctx = tf.mul(ctx, tf.tensor4d(gains[l], [1, H, 1, 1]));
      }
      z = tf.reshape(tf.mul(tf.sum(ctx, 1), 1 / Math.sqrt(H * nIn)), [B * T, nOut]);
    }
    const Na = widths[L];
    const zL = tf.reshape(z, [B, T, Na]);
    let r: tf.Tensor2D;
    if (readout === 'mean') r = tf.mean(zL, 1);
    else r = tf.reshape(tf.slice(zL, [0, readout === 'first' ? 0 : T - 1, 0], [B, 1, Na]), [B, Na]);
    return tf.reshape(matMulFastGrad(r, tf.mul(this.a, 1 / Math.sqrt(Na))), [B]);
  }

  /**
   * f(x) on a whole batch, in chunks (float64 copy of the float32 outputs).
   * @param X [P, N0, T]. @param chunk examples per forward pass.
   * @returns [P].
   */
  predict(X: SequenceBatch, gains?: HeadGains, chunk = 250): Float64Array {
    const { N0, T } = this.shape;
    if (X.features !== N0 || X.tokens !== T) throw new Error(`data has N0 = ${X.features}, T = ${X.tokens}; the network expects N0 = ${N0}, T = ${T}`);
    const out = new Float64Array(X.count);
    for (let p0 = 0; p0 < X.count; p0 += chunk) {
      const n = Math.min(chunk, X.count - p0);
      const f = tf.tidy(() => {
        const x = tf.tensor3d(Float32Array.from(X.data.subarray(p0 * N0 * T, (p0 + n) * N0 * T)), [n, N0, T]);
        return this.forward(x, gains);
      });
      out.set(f.dataSync(), p0);
      f.dispose();
    }
    return out;
  }

  /** The current values as plain parameters (layouts of the module comment). */
  params(): NetworkParams {
    const { N0, G, heads, widths } = this.shape;
    const Q = heads.map((H, l) => concatHeads(columnsToHeads(this.Wq[l].dataSync(), H, G, N0)));
    const K = heads.map((H, l) => concatHeads(columnsToHeads(this.Wk[l].dataSync(), H, G, N0)));
    const v0t = this.V0t.dataSync();
    const V0 = new Float64Array(widths[0] * N0);
    for (let i = 0; i < widths[0]; i++) for (let k = 0; k < N0; k++) V0[i * N0 + k] = v0t[k * widths[0] + i];
    const V = heads.map((H, l) => columnsToHeads(this.Wv[l].dataSync(), H, widths[l + 1], widths[l]));
    return { shape: { ...this.shape, heads: [...heads], widths: [...widths] }, Q, K, V0, V, a: Float64Array.from(this.a.dataSync()) };
  }

  dispose(): void {
    for (const v of this.variables()) v.dispose();
  }
}

function concatHeads(hs: Float64Array[]): Float64Array {
  const out = new Float64Array(hs.reduce((n, h) => n + h.length, 0));
  let o = 0;
  for (const h of hs) {
    out.set(h, o);
    o += h.length;
  }
  return out;
}

/**
 * Checks that every parameter array has the length its shape implies and holds finite numbers.
 * @throws Error naming the array and the expected shape.
 */
export function checkParams(p: NetworkParams): void {
  const { N0, G, heads, widths } = p.shape;
  const L = heads.length;
  const want = (name: string, a: ArrayLike<number> | undefined, dims: number[]) => {
    const n = dims.reduce((x, y) => x * y, 1);
    if (!a || a.length !== n) throw new Error(`network parameter ${name} has ${a?.length ?? 'no'} entries, expected [${dims.join(', ')}]`);
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) throw new Error(`network parameter ${name} holds ${a[i]} at flat index ${i}`);
  };
  if (p.Q.length !== L || p.K.length !== L || p.V.length !== L) throw new Error(`network parameters: Q, K and V must have one entry per layer (L = ${L})`);
  for (let l = 0; l < L; l++) {
    want(`Q_${l + 1}`, p.Q[l], [heads[l], G, N0]);
    want(`K_${l + 1}`, p.K[l], [heads[l], G, N0]);
    if (p.V[l].length !== heads[l])
      throw new Error(`network parameters: layer ${l + 1} has ${p.V[l].length} value matrices, expected H_${l + 1} = ${heads[l]}`);
    p.V[l].forEach((Vh, h) => want(`V_${l + 1}[${h}]`, Vh, [widths[l + 1], widths[l]]));
  }
  want('V0', p.V0, [widths[0], N0]);
  want('a', p.a, [widths[L]]);
}
