/**
 * Shared pieces of the train tests: a small Markov task, and the independent float64 forward pass of the theory's
 * network built from `theory/attention.ts` (attention) and `theory/weights.ts` `networkOutput` (value path) —
 * code that shares nothing with the tfjs network or the ONNX export.
 */
import { markovTask } from '../../src/data/markov';
import type { SequenceBatch, TaskData } from '../../src/data/types';
import { layerAttention, readoutWeights } from '../../src/theory/attention';
import { networkOutput, type ValueWeights } from '../../src/theory/weights';
import type { HeadGains, NetworkParams } from '../../src/train/model';

/** A small 4-path Markov task: 8 visible features, 5 steps (N0 = 14, T = 6). */
export function smallMarkov(P = 40, P_test = 20, seed = 0): TaskData {
  return markovTask({ variant: '4paths', seed, P, P_test, N0: 8, T: 5 });
}

/**
 * f(x) for every example of X by the oracle: attention of each layer from theory/attention.ts (Q/K form), the
 * readout weights r^L, then `networkOutput` (docs/theory.md §a, float64). Head gains are applied by scaling the
 * value matrices V^l_h by g^l_h, which is the definition of the gains.
 */
export async function oracleOutputs(p: NetworkParams, X: SequenceBatch, gains?: HeadGains): Promise<Float64Array> {
  const { heads, G, widths, readout } = p.shape;
  const att = [];
  for (let l = 0; l < heads.length; l++) att.push(await layerAttention(X, { kind: 'qk', heads: heads[l], G, Q: p.Q[l], K: p.K[l] }));
  const r = readoutWeights(att[att.length - 1], readout);
  const w: ValueWeights = {
    widths,
    V: p.V.map((layer, l) => layer.map((Vh, h) => (gains ? Vh.map((v) => v * gains[l][h]) : Vh))),
    a: p.a,
  };
  const { count: P, features: N0, tokens: T } = X;
  const out = new Float64Array(P);
  for (let i = 0; i < P; i++) {
    const x = X.data.subarray(i * N0 * T, (i + 1) * N0 * T);
    const A = att.map((a) => a.data.subarray(i * a.heads * T * T, (i + 1) * a.heads * T * T));
    const ri = r.subarray(i * heads[heads.length - 1] * T, (i + 1) * heads[heads.length - 1] * T);
    out[i] = networkOutput(x, N0, T, A, ri, p.V0, w);
  }
  return out;
}

/** max_i |a_i − b_i|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** max_i |a_i|. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
