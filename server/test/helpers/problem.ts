/** Small random problems for property tests (seeded). */
import { Random } from '../../src/util/random';
import type { AttentionLayer, SequenceBatch } from '../../src/data/types';
import { allLayerAttention, LayerAttention } from '../../src/theory/attention';
import { pathCount, pathFeatures, pathTokenWeights } from '../../src/theory/paths';
import type { PathFeatures } from '../../src/theory/kernels';
import type { TheorySettings } from '../../src/theory/orderParams';

export interface SmallProblem {
  settings: TheorySettings;
  X: SequenceBatch;
  Xt: SequenceBatch;
  y: Float64Array;
  yt: Float64Array;
  layers: AttentionLayer[];
  att: LayerAttention[];
  train: PathFeatures;
  test: PathFeatures;
  c: Float64Array;
}

export async function smallProblem(
  seed: number,
  heads: number[],
  opts: {
    P?: number;
    Pt?: number;
    N0?: number;
    T?: number;
    widths?: number[];
    variances?: number[];
    temperature?: number;
    readout?: 'first' | 'last' | 'mean';
  } = {},
): Promise<SmallProblem> {
  const rng = new Random(seed);
  const P = opts.P ?? 16;
  const Pt = opts.Pt ?? 6;
  const N0 = opts.N0 ?? 5;
  const T = opts.T ?? 4;
  const G = 3;
  const X = { count: P, features: N0, tokens: T, data: rng.normals(P * N0 * T) };
  const Xt = { count: Pt, features: N0, tokens: T, data: rng.normals(Pt * N0 * T) };
  const layers: AttentionLayer[] = heads.map((H) => ({
    kind: 'qk',
    heads: H,
    G,
    Q: rng.normals(H * G * N0, 2 / Math.sqrt(N0)),
    K: rng.normals(H * G * N0, 2 / Math.sqrt(N0)),
  }));
  const y = Float64Array.from({ length: P }, () => (rng.uniform() < 0.5 ? -1 : 1));
  const yt = Float64Array.from({ length: Pt }, () => (rng.uniform() < 0.5 ? -1 : 1));
  const L = heads.length;
  const settings: TheorySettings = {
    heads,
    widths: opts.widths ?? Array(L + 1).fill(7),
    variances: opts.variances ?? Array(L + 2).fill(1),
    temperature: opts.temperature ?? 0.05,
  };
  const Q = pathCount(heads);
  const readout = opts.readout ?? 'last';
  const att = await allLayerAttention(X, layers, 'train');
  const c = pathTokenWeights(att, readout);
  const ct = pathTokenWeights(await allLayerAttention(Xt, layers, 'test'), readout);
  const s0 = settings.variances[0];
  return {
    settings,
    X,
    Xt,
    y,
    yt,
    layers,
    att,
    c,
    train: { count: P, features: N0, paths: Q, data: pathFeatures(X, c, Q, s0) },
    test: { count: Pt, features: N0, paths: Q, data: pathFeatures(Xt, ct, Q, s0) },
  };
}

/** A random symmetric positive-definite n×n matrix (seeded): G Gᵀ/n + 0.5 I. */
export function randomSpd(rng: Random, n: number) {
  const G = rng.normals(n * n);
  const data = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += G[i * n + k] * G[j * n + k];
      data[i * n + j] = s / n + (i === j ? 0.5 : 0);
    }
  return { rows: n, cols: n, data };
}
