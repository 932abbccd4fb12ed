/**
 * A small BERT-style text classifier — the token-input path of the project (`input_ids`, `attention_mask`, int64) —
 * with a synthetic tokenized task, trained with TensorFlow.js and exported to ONNX with onnx-proto. It makes the
 * test fixture `test-fixtures/text-classifier/` (scripts/makeTextFixture.ts); it is not the theory's network.
 *
 * Task (`textTask`): sentences over a 16-word vocabulary, `[CLS] w … w`, 4 to T tokens, right-padded with `[PAD]`
 * (id 0, attention_mask 0). Each sentence holds one sentiment word (good/great/fine: +1, bad/awful/poor: −1) among
 * filler words, and with probability ½ the word `not` right before it, which flips the label. A bag of words cannot
 * tell "not good" from "good … not", so the model needs attention to the previous token.
 *
 * Model (`forwardText` in tfjs, `exportTextClassifier` in ONNX, the same function to float32 rounding):
 *   h0 = E[input_ids] + pos                                    E [V, d], pos [T, d]
 *   layer l: q, k, v = h W_q, h W_k, h W_v → heads [B, H, T, d/H]
 *            A = softmax(q kᵀ/√(d/H) + (1 − mask)·(−10000))    (padding keys masked, HF-BERT style)
 *            h ← h + merge(A v) W_o                             (residual, no LayerNorm, no bias)
 *   pooled = Σ_t mask_t h_t / Σ_t mask_t                        (mean over real tokens)
 *   logit  = pooled a + b                                       [B, 1]
 * Trained on the MSE to ±1 labels with Adam, as the project's other networks.
 */
import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import { Random } from '../util/random';
import { VERSION } from '../version';

/** The vocabulary; id = index. */
export const TEXT_VOCAB = [
  '[PAD]',
  '[CLS]',
  'good',
  'great',
  'fine',
  'bad',
  'awful',
  'poor',
  'not',
  'the',
  'movie',
  'plot',
  'was',
  'very',
  'and',
  'it',
] as const;
const POSITIVE = [2, 3, 4];
const NEGATIVE = [5, 6, 7];
const NOT = 8;
const FILLER = [9, 10, 11, 12, 13, 14, 15];

/** A tokenized labelled set: ids and mask [count, T] row-major (integers), labels ±1. */
export interface TokenSet {
  count: number;
  T: number;
  ids: Int32Array;
  mask: Int32Array;
  y: Float64Array;
}

/**
 * `count` sentences of the task (module doc), half of each label, in a seeded random order.
 * @param T padded length (≥ 4).
 */
export function textTask(count: number, T: number, seed: number): TokenSet {
  if (!(Number.isInteger(T) && T >= 4)) throw new Error(`textTask: T must be an integer ≥ 4 (got ${T})`);
  const rng = new Random(seed);
  const pick = <X>(a: readonly X[]) => a[Math.floor(rng.uniform() * a.length)];
  const ids = new Int32Array(count * T);
  const mask = new Int32Array(count * T);
  const y = new Float64Array(count);
  for (let p = 0; p < count; p++) {
    const label = p % 2 === 0 ? 1 : -1;
    const negate = rng.uniform() < 0.5;
    const word = pick(label * (negate ? -1 : 1) > 0 ? POSITIVE : NEGATIVE);
    const phrase = negate ? [NOT, word] : [word];
    const len = 4 + Math.floor(rng.uniform() * (T - 3)); // 4..T tokens with [CLS]
    const fillers = Array.from({ length: len - 1 - phrase.length }, () => pick(FILLER));
    const at = Math.floor(rng.uniform() * (fillers.length + 1));
    const sentence = [1, ...fillers.slice(0, at), ...phrase, ...fillers.slice(at)];
    for (let t = 0; t < len; t++) {
      ids[p * T + t] = sentence[t];
      mask[p * T + t] = 1;
    }
    y[p] = label;
  }
  // Shuffle the examples so that a split in file order keeps both labels.
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const out: TokenSet = { count, T, ids: new Int32Array(count * T), mask: new Int32Array(count * T), y: new Float64Array(count) };
  order.forEach((src, dst) => {
    out.ids.set(ids.subarray(src * T, (src + 1) * T), dst * T);
    out.mask.set(mask.subarray(src * T, (src + 1) * T), dst * T);
    out.y[dst] = y[src];
  });
  return out;
}

/** Sizes of the classifier. */
export interface TextShape {
  vocab: number;
  T: number;
  /** Model width d (divisible by every H). */
  d: number;
  /** Heads per layer. */
  heads: number[];
}

/** Weights, row-major float64 ([in, out] for projections). */
export interface TextParams {
  shape: TextShape;
  E: Float64Array;
  pos: Float64Array;
  Wq: Float64Array[];
  Wk: Float64Array[];
  Wv: Float64Array[];
  Wo: Float64Array[];
  a: Float64Array;
  b: number;
}

/** Seeded initial weights (normal, variance 1/fan-in; embeddings variance 1). */
export function initTextParams(shape: TextShape, seed: number): TextParams {
  const rng = new Random(seed);
  const normal = (n: number, s: number) => Float64Array.from({ length: n }, () => s * rng.normal());
  const { vocab, T, d, heads } = shape;
  for (const H of heads) if (d % H !== 0) throw new Error(`text classifier: d = ${d} is not divisible by ${H} heads`);
  const proj = () => heads.map(() => normal(d * d, 1 / Math.sqrt(d)));
  return { shape, E: normal(vocab * d, 1), pos: normal(T * d, 0.5), Wq: proj(), Wk: proj(), Wv: proj(), Wo: proj(), a: normal(d, 1 / Math.sqrt(d)), b: 0 };
}

/** The weights as tfjs variables. */
class TfText {
  readonly E: tf.Variable;
  readonly pos: tf.Variable;
  readonly Wq: tf.Variable[];
  readonly Wk: tf.Variable[];
  readonly Wv: tf.Variable[];
  readonly Wo: tf.Variable[];
  readonly a: tf.Variable;
  readonly b: tf.Variable;
  constructor(readonly p: TextParams) {
    const { vocab, T, d } = p.shape;
    const v = (x: Float64Array, s: number[]) => tf.variable(tf.tensor(Float32Array.from(x), s), true);
    this.E = v(p.E, [vocab, d]);
    this.pos = v(p.pos, [T, d]);
    this.Wq = p.Wq.map((w) => v(w, [d, d]));
    this.Wk = p.Wk.map((w) => v(w, [d, d]));
    this.Wv = p.Wv.map((w) => v(w, [d, d]));
    this.Wo = p.Wo.map((w) => v(w, [d, d]));
    this.a = v(p.a, [d, 1]);
    this.b = v(Float64Array.of(p.b), [1]);
  }
  variables(): tf.Variable[] {
    return [this.E, this.pos, ...this.Wq, ...this.Wk, ...this.Wv, ...this.Wo, this.a, this.b];
  }
  params(): TextParams {
    const f = (t: tf.Variable) => Float64Array.from(t.dataSync());
    return {
      shape: this.p.shape,
      E: f(this.E),
      pos: f(this.pos),
      Wq: this.Wq.map(f),
      Wk: this.Wk.map(f),
      Wv: this.Wv.map(f),
      Wo: this.Wo.map(f),
      a: f(this.a),
      b: this.b.dataSync()[0],
    };
  }
  dispose(): void {
    for (const x of this.variables()) x.dispose();
  }
  /** Logits [B] for ids (int32) and mask (float32), both [B, T]. */
  forward(ids: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
    const { T, d, heads } = this.p.shape;
    const B = ids.shape[0];
    // E[ids] as a one-hot product: the same values, and a gradient every backend has (wasm lacks Gather's).
    const { vocab } = this.p.shape;
    const onehot = tf.reshape(tf.oneHot(tf.reshape(ids, [B * T]), vocab), [B * T, vocab]);
    let h = tf.add(tf.reshape(tf.matMul(tf.cast(onehot, 'float32'), this.E), [B, T, d]), this.pos) as tf.Tensor3D;
    const ext = tf.reshape(tf.mul(tf.sub(1, mask), -10000), [B, 1, 1, T]);
    for (const [l, H] of heads.entries()) {
      const dh = d / H;
      const split = (w: tf.Variable) => tf.transpose(tf.reshape(tf.matMul(tf.reshape(h, [B * T, d]), w), [B, T, H, dh]), [0, 2, 1, 3]);
      const q = split(this.Wq[l]);
      const k = split(this.Wk[l]);
      const v = split(this.Wv[l]);
      const scores = tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(dh)), ext);
      const ctx = tf.matMul(tf.softmax(scores, -1), v);
      const merged = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [B * T, d]);
      h = tf.add(h, tf.reshape(tf.matMul(merged, this.Wo[l]), [B, T, d])) as tf.Tensor3D;
    }
    const m3 = tf.reshape(mask, [B, T, 1]);
    const pooled = tf.div(tf.sum(tf.mul(h, m3), 1), tf.sum(m3, 1));
    return tf.reshape(tf.add(tf.matMul(pooled, this.a), this.b), [B]) as tf.Tensor1D;
  }
}

/** Logits of the classifier on a set (tfjs, float32). */
export function forwardText(p: TextParams, set: Pick<TokenSet, 'count' | 'T' | 'ids' | 'mask'>): Float64Array {
  const net = new TfText(p);
  try {
    const out = tf.tidy(() => net.forward(tf.tensor2d(set.ids, [set.count, set.T], 'int32'), tf.tensor2d(Float32Array.from(set.mask), [set.count, set.T])));
    const f = Float64Array.from(out.dataSync());
    out.dispose();
    return f;
  } finally {
    net.dispose();
  }
}

/**
 * Trains the classifier (Adam on the MSE to ±1, minibatches in a seeded order).
 * @returns the trained weights and the final training loss.
 * @throws Error when the loss becomes NaN or infinite.
 */
export async function trainTextClassifier(
  init: TextParams,
  set: TokenSet,
  o: { epochs: number; batchSize: number; learningRate: number; seed: number; onEpoch?: (epoch: number, loss: number) => void },
): Promise<{ params: TextParams; loss: number }> {
  const net = new TfText(init);
  const ids = tf.tensor2d(set.ids, [set.count, set.T], 'int32');
  const mask = tf.tensor2d(Float32Array.from(set.mask), [set.count, set.T]);
  const y = tf.tensor1d(Float32Array.from(set.y));
  const opt = tf.train.adam(o.learningRate);
  const rng = new Random(o.seed);
  let loss = NaN;
  try {
    for (let e = 0; e < o.epochs; e++) {
      const order = Array.from({ length: set.count }, (_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rng.uniform() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      let sum = 0;
      for (let b0 = 0; b0 < set.count; b0 += o.batchSize) {
        const idx = order.slice(b0, b0 + o.batchSize);
        const c = tf.tidy(() => {
          const it = tf.tensor1d(idx, 'int32');
          const [bi, bm, by] = [tf.gather(ids, it), tf.gather(mask, it), tf.gather(y, it)];
          return opt.minimize(() => tf.mean(tf.square(tf.sub(net.forward(bi as tf.Tensor2D, bm as tf.Tensor2D), by))) as tf.Scalar, true, net.variables())!;
        });
        const v = c.dataSync()[0];
        c.dispose();
        if (!Number.isFinite(v)) throw new Error(`text classifier training diverged at epoch ${e + 1} (loss ${v})`);
        sum += v * idx.length;
      }
      loss = sum / set.count;
      o.onEpoch?.(e + 1, loss);
      await new Promise((r) => setImmediate(r));
    }
    return { params: net.params(), loss };
  } finally {
    net.dispose();
    ids.dispose();
    mask.dispose();
    y.dispose();
    opt.dispose();
  }
}

/** Output name of the exported classifier (its inputs are `input_ids` and `attention_mask`). */
const TEXT_OUTPUT = 'logits';

/**
 * The classifier as an ONNX model (opset 17, float32): inputs `input_ids` and `attention_mask` [batch, T] int64,
 * output `logits` [batch, 1]; the graph of the module doc, in the unfused BERT form (Reshape [0, 0, H, d/H] +
 * Transpose head split, Softmax, head merge, output projection) that `onnx/detect/detect.ts` recognizes.
 * @returns the serialized ModelProto.
 */
export function exportTextClassifier(p: TextParams): Uint8Array {
  const { vocab, T, d, heads } = p.shape;
  const nodes: onnx.INodeProto[] = [];
  const inits: onnx.ITensorProto[] = [];
  const T_ = onnx.AttributeProto.AttributeType;
  const node = (op: string, name: string, inputs: string[], attrs: onnx.IAttributeProto[] = [], out = `${name}_out`): string => {
    nodes.push({ name, opType: op, domain: '', input: inputs, output: [out], attribute: attrs });
    return out;
  };
  const ints = (name: string, v: number[]): onnx.IAttributeProto => ({ name, type: T_.INTS, ints: v });
  const int = (name: string, v: number): onnx.IAttributeProto => ({ name, type: T_.INT, i: v });
  const f32 = (name: string, dims: number[], values: ArrayLike<number>) => {
    const f = Float32Array.from(values);
    inits.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) });
    return name;
  };
  const i64 = (name: string, dims: number[], values: number[]) => {
    inits.push({ name, dims, dataType: onnx.TensorProto.DataType.INT64, int64Data: values });
    return name;
  };
  const vi = (name: string, shape: (number | string)[], elemType: number): onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType, shape: { dim: shape.map((x) => (typeof x === 'number' ? { dimValue: x } : { dimParam: x })) } } },
  });

  f32('embeddings.word', [vocab, d], p.E);
  f32('embeddings.position', [T, d], p.pos);
  let h = node('Add', 'embeddings', [node('Gather', 'embeddings.lookup', ['embeddings.word', 'input_ids'], [int('axis', 0)]), 'embeddings.position']);
  // HF-BERT extended mask: (1 − mask[:, None, None, :]) · −10000, added to every layer's scores.
  const maskF = node('Cast', 'mask.float', ['attention_mask'], [int('to', onnx.TensorProto.DataType.FLOAT)]);
  const ext = node('Mul', 'mask.extended', [
    node('Sub', 'mask.invert', [f32('mask.one', [], [1]), node('Unsqueeze', 'mask.unsqueeze', [maskF, i64('mask.axes', [2], [1, 2])])]),
    f32('mask.neg', [], [-10000]),
  ]);
  for (const [l, H] of heads.entries()) {
    const pre = `layer${l}`;
    const dh = d / H;
    i64(`${pre}.heads_shape`, [4], [0, 0, H, dh]);
    i64(`${pre}.merged_shape`, [3], [0, 0, d]);
    const proj = (role: string, W: Float64Array) => node('MatMul', `${pre}.${role}`, [h, f32(`${pre}.${role}.weight`, [d, d], W)]);
    const split = (role: string, W: Float64Array, perm: number[]) =>
      node('Transpose', `${pre}.${role}_heads`, [node('Reshape', `${pre}.${role}_split`, [proj(role, W), `${pre}.heads_shape`])], [ints('perm', perm)]);
    const q = split('query', p.Wq[l], [0, 2, 1, 3]);
    const k = split('key', p.Wk[l], [0, 2, 3, 1]);
    const v = split('value', p.Wv[l], [0, 2, 1, 3]);
    const scores = node('Add', `${pre}.masked_scores`, [
      node('Div', `${pre}.scaled_scores`, [node('MatMul', `${pre}.scores`, [q, k]), f32(`${pre}.sqrt_dh`, [], [Math.sqrt(dh)])]),
      ext,
    ]);
    const probs = node('Softmax', `${pre}.softmax`, [scores], [int('axis', -1)]);
    const ctx = node('MatMul', `${pre}.context`, [probs, v]);
    const merged = node('Reshape', `${pre}.merge`, [node('Transpose', `${pre}.context_tokens`, [ctx], [ints('perm', [0, 2, 1, 3])]), `${pre}.merged_shape`]);
    h = node('Add', `${pre}.residual`, [h, node('MatMul', `${pre}.output`, [merged, f32(`${pre}.output.weight`, [d, d], p.Wo[l])])]);
  }
  // Mean over real tokens: Σ_t mask_t h_t / Σ_t mask_t.
  const m3 = node('Unsqueeze', 'pool.mask', [maskF, i64('pool.axes', [1], [-1])]);
  const summed = node('ReduceSum', 'pool.sum', [node('Mul', 'pool.masked', [h, m3]), i64('pool.token_axis', [1], [1])], [int('keepdims', 0)]);
  const count = node('ReduceSum', 'pool.count', [m3, 'pool.token_axis'], [int('keepdims', 0)]);
  const pooled = node('Div', 'pool.mean', [summed, count]);
  node(
    'Add',
    'classifier',
    [node('MatMul', 'classifier.matmul', [pooled, f32('classifier.weight', [d, 1], p.a)]), f32('classifier.bias', [1], [p.b])],
    [],
    TEXT_OUTPUT,
  );
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'attention-paths',
    producerVersion: VERSION,
    docString: 'BERT-style text classifier on a synthetic sentiment task with negation (server/src/train/textClassifier.ts)',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'text_classifier',
      node: nodes,
      initializer: inits,
      input: [vi('input_ids', ['batch', T], onnx.TensorProto.DataType.INT64), vi('attention_mask', ['batch', T], onnx.TensorProto.DataType.INT64)],
      output: [vi(TEXT_OUTPUT, ['batch', 1], onnx.TensorProto.DataType.FLOAT)],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
