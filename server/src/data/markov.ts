/**
 * The hidden-Markov-chain classification task of the paper (docs/theory.md §i, "Hidden Markov chain
 * classification" and its "Precise details"), with its hand-designed W-form attention heads.
 *
 * Input layout (docs/theory.md §a, batch [P, N0, T] row-major): with `n` visible features (paper: 200)
 * and `S` Markov steps (paper: 30), every sequence has `T = S + 1` tokens and `N0 = n + S + 1` features:
 *  - features 0..n−1: the visible state v± plus noise (token 0 = BOS: all zeros, no noise);
 *  - features n..n+S: one-hot position, feature n + t is 1 on token t (BOS is position 0).
 * Labels: +1 (stay probability 0.7) for the first P/2 sequences, −1 (stay probability 0.3) for the rest.
 */
import { Random } from '../util/random';
import { deriveSeed, STREAM } from './seeds';
import type { SequenceBatch, TaskData, WLayer } from './types';

/** Noise strengths along e∥ = (v+ + v−)/‖·‖, e⊥ = (v+ − v−)/‖·‖ and the n − 2 other directions. */
export interface MarkovNoise {
  parallel: number;
  perpendicular: number;
  outOfPlane: number;
}

/** Options of `markovTask`. */
export interface MarkovOptions {
  /** '4paths': heads [2, 2] and out-of-plane noise 1; '2paths': heads [2, 1] and out-of-plane noise 5. */
  variant: '4paths' | '2paths';
  /** Configuration seed; train, test and the random heads use separate streams derived from it. */
  seed: number;
  /** Train sequences (even; half per class). Default 100. */
  P?: number;
  /** Test sequences (even; half per class). Default 1000. */
  P_test?: number;
  /** Markov steps S (tokens after BOS). Default 30, so 31 tokens. */
  T?: number;
  /** Visible features n (even, ≥ 4). Default 200, so the input width is n + S + 1 = 231. */
  N0?: number;
  /** Softmax inverse temperature β multiplying every W. Default 10. */
  beta?: number;
  /** Override the variant's noise strengths. */
  noise?: Partial<MarkovNoise>;
}

/** Stay probability of each class (same for both states): label +1 → 0.7, label −1 → 0.3. */
export const MARKOV_STAY = { plus: 0.7, minus: 0.3 } as const;
/** The BOS score of the same_token head: (1 + 1 + max(1 − 1, 1))/2 in the authors' code. */
export const MARKOV_BOS_STRENGTH = 1.5;

/** Paper defaults (docs/theory.md §i). */
export const MARKOV_DEFAULTS = { P: 100, P_test: 1000, steps: 30, visible: 200, beta: 10 } as const;

/**
 * Builds the hidden-Markov-chain task (docs/theory.md §i).
 *
 * @returns TaskData with train [P, N0, T] and test [P_test, N0, T] (N0 = n + S + 1 = 231, T = S + 1 = 31 by
 *   default), labels +1 for the first half and −1 for the second, readout 'last', W-form attention × β:
 *   4paths: layer 1 = [same_token, random (perturbation 1)], layer 2 = [uniform, random (perturbation 1)],
 *   paths g=(same,uniform), a1=(same,random), d=(random,uniform), a2=(random,random);
 *   2paths: layer 1 = [same_token, random with perturbation 0 (W = 0)], layer 2 = [uniform], paths g, d.
 *   Train data, test data and random heads come from three streams derived from `seed`.
 * @throws Error when P or P_test is not a positive even integer, T < 2, or N0 is not an even integer ≥ 4.
 */
export function markovTask(opts: MarkovOptions): TaskData {
  const P = opts.P ?? MARKOV_DEFAULTS.P;
  const Ptest = opts.P_test ?? MARKOV_DEFAULTS.P_test;
  const S = opts.T ?? MARKOV_DEFAULTS.steps;
  const n = opts.N0 ?? MARKOV_DEFAULTS.visible;
  const beta = opts.beta ?? MARKOV_DEFAULTS.beta;
  if (opts.variant !== '4paths' && opts.variant !== '2paths') throw new Error(`markovTask: variant must be '4paths' or '2paths', got ${String(opts.variant)}`);
  for (const [k, v] of [
    ['P', P],
    ['P_test', Ptest],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 2 || v % 2 !== 0)
      throw new Error(`markovTask: ${k} = ${v}; it must be a positive even integer (half the sequences per class)`);
  }
  if (!Number.isSafeInteger(S) || S < 2) throw new Error(`markovTask: T = ${S} Markov steps; need an integer ≥ 2`);
  if (!Number.isSafeInteger(n) || n < 4 || n % 2 !== 0) throw new Error(`markovTask: N0 = ${n} visible features; need an even integer ≥ 4`);
  if (!Number.isFinite(beta)) throw new Error(`markovTask: beta = ${beta} is not finite`);
  const noise: MarkovNoise = {
    parallel: 1,
    perpendicular: 1,
    outOfPlane: opts.variant === '4paths' ? 1 : 5,
    ...opts.noise,
  };

  const train = markovSequences(new Random(deriveSeed(opts.seed, STREAM.train)), { count: P, steps: S, visible: n, noise });
  const test = markovSequences(new Random(deriveSeed(opts.seed, STREAM.test)), { count: Ptest, steps: S, visible: n, noise });
  const heads = markovAttention(opts.variant, new Random(deriveSeed(opts.seed, STREAM.heads)), n, S, beta);
  const N0 = n + S + 1;
  return {
    name: `markov-${opts.variant}`,
    description:
      `Hidden Markov chain (docs/theory.md §i), ${opts.variant} variant: P=${P}, P_test=${Ptest}, N0=${N0} (${n} visible + ${S + 1} positions), ` +
      `T=${S + 1} tokens (BOS + ${S}), noise ∥=${noise.parallel} ⊥=${noise.perpendicular} out-of-plane=${noise.outOfPlane}, β=${beta}, seed ${opts.seed}`,
    train: train.batch,
    yTrain: train.y,
    test: test.batch,
    yTest: test.y,
    attention: heads.layers,
    readout: 'last',
    pathNames: opts.variant === '4paths' ? ['g', 'a1', 'd', 'a2'] : ['g', 'd'],
    headNames: heads.headNames,
  };
}

/**
 * Draws labelled Markov sequences (docs/theory.md §i, `prepare_dataset_markov_optionE`).
 *
 * Draw order, all from `rng`: for each sequence (the +1 half first), a uniform u (first state +1 iff u ≥ 0.5)
 * and one uniform per step (stay iff u < stay probability); then, for each sequence, feature i and step t
 * (in that order), one N(0,1) draw — the isotropic noise, split into its e∥, e⊥ and out-of-plane parts,
 * each scaled by its strength.
 *
 * @param opts.count   sequences P (even): P/2 with label +1 (stay 0.7) then P/2 with label −1 (stay 0.3).
 * @param opts.steps   Markov steps S (tokens after BOS).
 * @param opts.visible visible features n (even).
 * @param opts.noise   noise strengths.
 * @returns `batch` [P, n + S + 1, S + 1] (layout in the module comment), labels `y` [P], and the hidden
 *   `states` [P, S] (±1; entry p·S + j is the state of token j + 1).
 */
export function markovSequences(
  rng: Random,
  opts: { count: number; steps: number; visible: number; noise: MarkovNoise },
): { batch: SequenceBatch; y: Float64Array; states: Int8Array } {
  const { count: P, steps: S, visible: n, noise } = opts;
  const T = S + 1;
  const N0 = n + T;
  const half = P / 2;
  const y = new Float64Array(P);
  const states = new Int8Array(P * S);
  for (let p = 0; p < P; p++) {
    y[p] = p < half ? 1 : -1;
    const stay = p < half ? MARKOV_STAY.plus : MARKOV_STAY.minus;
    let s = rng.uniform() >= 0.5 ? 1 : -1;
    states[p * S] = s;
    for (let j = 1; j < S; j++) {
      if (!(rng.uniform() < stay)) s = -s;
      states[p * S + j] = s;
    }
  }

  const c = Math.SQRT2; // v± entries, so that ‖v±‖² = n
  const ePar = 1 / Math.sqrt(n); // e∥ = ones/√n
  const ePerp = (i: number) => (i < n / 2 ? ePar : -ePar); // e⊥ = [ones, −ones]/√n
  const data = new Float64Array(P * N0 * T);
  const z = new Float64Array(n * S); // isotropic noise of one sequence, [n, S]
  for (let p = 0; p < P; p++) {
    const base = p * N0 * T;
    for (let k = 0; k < n * S; k++) z[k] = rng.normal();
    for (let j = 0; j < S; j++) {
      const t = j + 1;
      // Projections of this token's noise on e∥ and e⊥.
      let a = 0;
      let b = 0;
      for (let i = 0; i < n; i++) {
        const zi = z[i * S + j];
        a += ePar * zi;
        b += ePerp(i) * zi;
      }
      const plus = states[p * S + j] === 1;
      for (let i = 0; i < n; i++) {
        const v = i < n / 2 === plus ? c : 0;
        // s_out·z + (s∥ − s_out)·(e∥·z)e∥ + (s⊥ − s_out)·(e⊥·z)e⊥ = s∥ z∥ + s⊥ z⊥ + s_out z_out.
        data[base + i * T + t] =
          v + noise.outOfPlane * z[i * S + j] + (noise.parallel - noise.outOfPlane) * a * ePar + (noise.perpendicular - noise.outOfPlane) * b * ePerp(i);
      }
    }
    // One-hot positions, BOS included (position 0); BOS features stay zero.
    for (let t = 0; t < T; t++) data[base + (n + t) * T + t] = 1;
  }
  return { batch: { count: P, features: N0, tokens: T, data }, y, states };
}

/**
 * The same_token head (docs/theory.md §i, Precise details), W ∈ R^{N0×N0} with N0 = n + S + 1:
 * feature block q qᵀ with q = (v+ − v−)/n (so q·v± = ±1); position block 1 at [s, s+1] for s = 1..S−1
 * (score[s,t] = x_sᵀ W x_t with s the key: query t reads key t − 1); BOS row [0, t] = 1.5 for t ≥ 1 and
 * [0, 0] = 0; cross blocks 0; everything × β. So a query reads the previous token when it is in the same
 * state, and the BOS token otherwise.
 * @returns W [N0, N0] row-major (rows = key features, columns = query features).
 */
export function sameTokenW(n: number, S: number, beta: number): Float64Array {
  const N0 = n + S + 1;
  const W = new Float64Array(N0 * N0);
  const q = (i: number) => (Math.SQRT2 * (i < n / 2 ? 1 : -1)) / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) W[i * N0 + j] = beta * q(i) * q(j);
  for (let s = 1; s <= S - 1; s++) W[(n + s) * N0 + (n + s + 1)] = beta;
  for (let t = 1; t <= S; t++) W[n * N0 + (n + t)] = beta * MARKOV_BOS_STRENGTH;
  return W;
}

/**
 * The uniform head: feature block 0, position block all ones, × β. Every score is β, so the attention is
 * exactly uniform over the S + 1 tokens (docs/theory.md §i).
 * @returns W [N0, N0] row-major, N0 = n + S + 1.
 */
export function uniformW(n: number, S: number, beta: number): Float64Array {
  const N0 = n + S + 1;
  const W = new Float64Array(N0 * N0);
  for (let i = n; i < N0; i++) for (let j = n; j < N0; j++) W[i * N0 + j] = beta;
  return W;
}

/**
 * A random ("blank" + perturbation) head (docs/theory.md §i): feature block p·G/n, position block p·G,
 * both cross blocks p·G/√n, each G iid N(0,1), all × β. Draw order: feature block, position block, the
 * features×positions block, the positions×features block (each row-major). With p = 0 nothing is drawn and
 * W = 0 (exactly uniform attention over all tokens, BOS included).
 * @returns W [N0, N0] row-major, N0 = n + S + 1.
 */
export function randomW(rng: Random, n: number, S: number, beta: number, perturbation: number): Float64Array {
  const N0 = n + S + 1;
  const W = new Float64Array(N0 * N0);
  if (perturbation === 0) return W;
  const f = beta * perturbation;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) W[i * N0 + j] = (f * rng.normal()) / n;
  for (let i = n; i < N0; i++) for (let j = n; j < N0; j++) W[i * N0 + j] = f * rng.normal();
  const cross = f / Math.sqrt(n);
  for (let i = 0; i < n; i++) for (let j = n; j < N0; j++) W[i * N0 + j] = cross * rng.normal();
  for (let i = n; i < N0; i++) for (let j = 0; j < n; j++) W[i * N0 + j] = cross * rng.normal();
  return W;
}

/**
 * The attention heads of each variant (docs/theory.md §i), as W-form layers [H_l, N0, N0].
 * 4paths: [[same_token, random p=1], [uniform, random p=1]]; 2paths: [[same_token, random p=0], [uniform]].
 * Random heads draw from `rng` in layer order.
 */
export function markovAttention(variant: '4paths' | '2paths', rng: Random, n: number, S: number, beta: number): { layers: WLayer[]; headNames: string[][] } {
  const stack = (ws: Float64Array[]): WLayer => {
    const N0 = n + S + 1;
    const W = new Float64Array(ws.length * N0 * N0);
    ws.forEach((w, h) => W.set(w, h * N0 * N0));
    return { kind: 'w', heads: ws.length, W };
  };
  if (variant === '4paths') {
    const l1 = stack([sameTokenW(n, S, beta), randomW(rng, n, S, beta, 1)]);
    const l2 = stack([uniformW(n, S, beta), randomW(rng, n, S, beta, 1)]);
    return {
      layers: [l1, l2],
      headNames: [
        ['same_token', 'random'],
        ['uniform', 'random'],
      ],
    };
  }
  const l1 = stack([sameTokenW(n, S, beta), randomW(rng, n, S, beta, 0)]);
  const l2 = stack([uniformW(n, S, beta)]);
  return { layers: [l1, l2], headNames: [['same_token', 'random (W = 0)'], ['uniform']] };
}
