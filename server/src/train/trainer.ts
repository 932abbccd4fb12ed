/**
 * Gradient-descent training of the theory's network class (model.ts) with TensorFlow.js: Adam on the mean squared
 * error to ±1 labels (docs/theory.md §c treats binary classification as regression; section i: the GD models
 * were trained with "binary MSE" and Adam).
 *
 * Determinism: initialization (model.ts `initParams`) and minibatch order come from the project's seeded
 * generator; on the CPU backend the same seed gives bit-identical losses and weights.
 */
import * as tf from '@tensorflow/tfjs';
import type { SequenceBatch } from '../data/types';
import { Random } from '../util/random';
import { type HeadGains, type NetworkParams, type NetworkShape, TfNetwork, initParams } from './model';

/** Training hyperparameters. */
export interface TrainOptions {
  /** Passes over the training set. */
  epochs: number;
  /** Adam learning rate. */
  learningRate: number;
  /** Examples per Adam step; the whole training set when ≥ P. */
  batchSize: number;
  /** Seeds the initialization (stream `seed`) and the minibatch order (stream `seed + 1`). */
  seed: number;
  /** Called after every epoch with the mean training loss of that epoch. */
  onEpoch?: (epoch: number, loss: number) => void;
  signal?: AbortSignal;
  /** Start from these parameters instead of a seeded initialization. */
  init?: NetworkParams;
}

/** What `trainNetwork` returns. The caller owns `net` (dispose it). */
export interface TrainResult {
  net: TfNetwork;
  /** Mean training MSE of each epoch (over its minibatches, before each step), then the final full-batch MSE. */
  lossCurve: number[];
  /** MSE on the training set before the first step and after the last. */
  initialLoss: number;
  finalLoss: number;
  steps: number;
  ms: number;
}

/** mean_μ (f_μ − y_μ)². */
export function mse(f: ArrayLike<number>, y: ArrayLike<number>): number {
  if (f.length !== y.length || f.length === 0) throw new Error(`mse: ${f.length} predictions for ${y.length} labels`);
  let s = 0;
  for (let i = 0; i < f.length; i++) s += (f[i] - y[i]) ** 2;
  return s / f.length;
}

/** Fraction with sign(f) = y (f = 0 counts as wrong). */
export function accuracy(f: ArrayLike<number>, y: ArrayLike<number>): number {
  if (f.length !== y.length || f.length === 0) throw new Error(`accuracy: ${f.length} predictions for ${y.length} labels`);
  let ok = 0;
  for (let i = 0; i < f.length; i++) if ((f[i] > 0 && y[i] > 0) || (f[i] < 0 && y[i] < 0)) ok++;
  return ok / f.length;
}

/** A seeded permutation of 0..n−1 (Fisher–Yates). */
export function permutation(rng: Random, n: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/**
 * Checks training options.
 * @throws Error naming the option: epochs and batchSize positive integers, learningRate finite and > 0.
 */
export function checkTrainOptions(o: TrainOptions): void {
  if (!Number.isSafeInteger(o.epochs) || o.epochs < 1) throw new Error(`epochs = ${o.epochs}; need a positive integer`);
  if (!Number.isSafeInteger(o.batchSize) || o.batchSize < 1) throw new Error(`batch size = ${o.batchSize}; need a positive integer`);
  if (!(o.learningRate > 0) || !Number.isFinite(o.learningRate)) throw new Error(`learning rate = ${o.learningRate}; need a finite number > 0`);
  if (!Number.isSafeInteger(o.seed)) throw new Error(`seed = ${o.seed}; need an integer`);
}

/**
 * Trains the network on (X, y) with Adam on the MSE, on the current tfjs backend (see backend.ts).
 * @param shape network sizes (N0 and T must match X).
 * @param X [P, N0, T]; y [P] labels ±1.
 * @returns the trained network and its loss curve.
 * @throws Error for bad options or shapes, when a loss becomes NaN/∞ (with the epoch; lower the learning rate),
 *   or the abort reason when `signal` fires.
 */
export async function trainNetwork(shape: NetworkShape, X: SequenceBatch, y: Float64Array, o: TrainOptions): Promise<TrainResult> {
  checkTrainOptions(o);
  const { N0, T } = shape;
  if (X.features !== N0 || X.tokens !== T) throw new Error(`training data has N0 = ${X.features}, T = ${X.tokens}; the network expects N0 = ${N0}, T = ${T}`);
  if (y.length !== X.count) throw new Error(`training data: ${X.count} examples but ${y.length} labels`);
  const t0 = performance.now();
  const net = new TfNetwork(o.init ?? initParams(shape, o.seed));
  const P = X.count;
  const bs = Math.min(o.batchSize, P);
  const xAll = tf.tensor3d(Float32Array.from(X.data), [P, N0, T]);
  const yAll = tf.tensor1d(Float32Array.from(y));
  const optimizer = tf.train.adam(o.learningRate);
  const rng = new Random(o.seed + 1);
  const vars = net.variables();
  const lossCurve: number[] = [];
  let steps = 0;
  try {
    const fullLoss = () => mse(net.predict(X), y);
    const initialLoss = fullLoss();
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      o.signal?.throwIfAborted();
      const order = bs === P ? null : permutation(rng, P);
      let sum = 0;
      let batches = 0;
      for (let b0 = 0; b0 < P; b0 += bs) {
        const n = Math.min(bs, P - b0);
        const cost = tf.tidy((): tf.Scalar => {
          let xb: tf.Tensor3D = xAll;
          let yb: tf.Tensor1D = yAll;
          if (order) {
            const idx = tf.tensor1d(order.subarray(b0, b0 + n), 'int32');
            xb = tf.gather(xAll, idx);
            yb = tf.gather(yAll, idx);
          }
          const loss = optimizer.minimize(() => tf.mean(tf.square(tf.sub(net.forward(xb, undefined, true), yb))) as tf.Scalar, true, vars);
          if (!loss) throw new Error('internal error: the optimizer returned no loss');
          return loss;
        });
        const c = cost.dataSync()[0];
        cost.dispose();
        steps++;
        if (!Number.isFinite(c)) throw new Error(`training diverged: the loss is ${c} at epoch ${epoch + 1}; lower the learning rate (--lr)`);
        sum += c * n;
        batches += n;
      }
      lossCurve.push(sum / batches);
      o.onEpoch?.(epoch + 1, sum / batches);
      // Let progress output and abort signals through between epochs.
      await new Promise((r) => setImmediate(r));
    }
    const finalLoss = fullLoss();
    if (!Number.isFinite(finalLoss)) throw new Error(`training diverged: the final training loss is ${finalLoss}; lower the learning rate (--lr)`);
    lossCurve.push(finalLoss);
    return { net, lossCurve, initialLoss, finalLoss, steps, ms: performance.now() - t0 };
  } catch (e) {
    net.dispose();
    throw e;
  } finally {
    xAll.dispose();
    yAll.dispose();
    optimizer.dispose();
  }
}

/** Accuracy and MSE of a network on a labelled batch, with optional head gains. */
export function evaluate(net: TfNetwork, X: SequenceBatch, y: Float64Array, gains?: HeadGains): { accuracy: number; mse: number; outputs: Float64Array } {
  const f = net.predict(X, gains);
  return { accuracy: accuracy(f, y), mse: mse(f, y), outputs: f };
}
