import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imagePatches, loadMnistDigits, mnistOneShotTask, ONESHOT_LAYOUT, oneShotSequences, positionalCodes, randomQKAttention } from '../../src/data/mnist';
import { validateTaskData } from '../../src/data/load';
import { Random } from '../../src/util/random';
import type { SequenceBatch } from '../../src/data/types';

const N0 = 83;
const T = 48;
const feat = (b: SequenceBatch, p: number, i: number, t: number) => b.data[(p * N0 + i) * T + t];

// (How fast they decode is the bench's business, not a test's: a timed assertion failed under load.)
test('digits: 10 000 real MNIST images, split 8000/2000 per class without overlap', () => {
  const d = loadMnistDigits();
  assert.equal(d.count, 10000);
  assert.deepEqual(
    d.byClass.map((c) => c.length),
    [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978],
  );
  const train = d.split.train.flat();
  const test = d.split.test.flat();
  assert.equal(train.length, 8000);
  assert.equal(test.length, 2000);
  const seen = new Set(train);
  assert.ok(test.every((i) => !seen.has(i)));
  for (let c = 0; c < 10; c++) {
    assert.ok(d.split.train[c].every((i) => d.labels[i] === c));
    assert.ok(d.split.test[c].length >= 150);
  }
  // Real digits: ~19% of MNIST pixels are ink (> 0.5); the mean intensity is ≈ 0.13.
  let sum = 0;
  for (const q of d.pixels) sum += q / 1000;
  const mean = sum / d.pixels.length;
  assert.ok(mean > 0.1 && mean < 0.16, `mean pixel ${mean}`);
  assert.equal(loadMnistDigits(), d, 'cached');
});

test('task shapes, readout, balanced labels, deterministic per seed', () => {
  const task = mnistOneShotTask({ seed: 1 });
  validateTaskData(task);
  assert.deepEqual([task.train.count, task.train.features, task.train.tokens], [600, N0, T]);
  assert.deepEqual([task.test.count, task.test.features, task.test.tokens], [1000, N0, T]);
  assert.equal(task.readout, 'mean');
  assert.equal(task.attention, undefined);
  assert.deepEqual(Array.from(task.yTrain), [...Array(300).fill(1), ...Array(300).fill(-1)]);
  assert.equal(
    task.yTest.reduce((a, b) => a + b, 0),
    0,
  );
  const again = mnistOneShotTask({ seed: 1, P: 600, P_test: 1000 });
  assert.deepEqual(again.train.data, task.train.data);
  assert.deepEqual(again.test.data, task.test.data);
  const other = mnistOneShotTask({ seed: 2, P: 20, P_test: 20 });
  assert.notDeepEqual(other.train.data, task.train.data.subarray(0, other.train.data.length));
  assert.throws(() => mnistOneShotTask({ seed: 1, P: 5 }), /P = 5; it must be a positive even integer/);
});

test('feature layout: standardized patches, unit-norm sinusoidal positions, one-hot label codes', () => {
  const d = loadMnistDigits();
  const { batch, y, info } = oneShotSequences(new Random(3), d, d.split.train, 40);
  const pos = positionalCodes();
  for (let t = 0; t < T; t++) {
    let sq = 0;
    for (let i = 0; i < 8; i++) {
      const angle = t / 10000 ** ((2 * i) / 16);
      assert.ok(Math.abs(pos[t * 16 + 2 * i] - Math.sin(angle) / Math.sqrt(8)) < 1e-15);
      assert.ok(Math.abs(pos[t * 16 + 2 * i + 1] - Math.cos(angle) / Math.sqrt(8)) < 1e-15);
    }
    for (let i = 0; i < 16; i++) sq += pos[t * 16 + i] ** 2;
    assert.ok(Math.abs(sq - 1) < 1e-14);
  }
  let zeroPatches = 0;
  for (let p = 0; p < 40; p++) {
    for (let t = 0; t < T; t++) {
      let m = 0;
      let v = 0;
      for (let i = 0; i < 64; i++) m += feat(batch, p, i, t);
      for (let i = 0; i < 64; i++) v += feat(batch, p, i, t) ** 2;
      m /= 64;
      v /= 64;
      assert.ok(Math.abs(m) < 1e-12);
      if (v === 0) zeroPatches++;
      else assert.ok(Math.abs(v - 1) < 1e-12, `patch variance ${v}`);
      for (let i = 0; i < 16; i++) assert.equal(feat(batch, p, ONESHOT_LAYOUT.position + i, t), pos[t * 16 + i]);
      const img = Math.floor(t / 16);
      const code = img === 2 ? 2 : info[p].supportIsA[img] ? 0 : 1;
      for (let k = 0; k < 3; k++) assert.equal(feat(batch, p, ONESHOT_LAYOUT.label + k, t), k === code ? 1 : 0);
    }
    // The sequence's meaning: two different classes, one support image each; the query shares the labelled class.
    const s = info[p];
    assert.notEqual(s.classA, s.classB);
    assert.deepEqual(s.support.map((i) => d.labels[i]).sort(), [s.classA, s.classB].sort());
    assert.equal(d.labels[s.support[s.supportIsA[0] ? 0 : 1]], s.classA);
    assert.equal(d.labels[s.query], y[p] === 1 ? s.classA : s.classB);
    assert.ok(!s.support.includes(s.query));
  }
  // Blank margins exist (padding and background), but most patches carry ink.
  assert.ok(zeroPatches > 0 && zeroPatches < 40 * T * 0.6, `${zeroPatches} blank patches`);
});

test('pixel features are the padded image cut into 8×8 patches in row-major order', () => {
  const d = loadMnistDigits();
  const { batch, info } = oneShotSequences(new Random(8), d, d.split.test, 4);
  for (let p = 0; p < 4; p++) {
    const images = [info[p].support[0], info[p].support[1], info[p].query];
    for (let m = 0; m < 3; m++) {
      // Independent reconstruction: pad 28×28 to 32×32 with 2 zero pixels per side, then standardize a patch.
      const padded = new Float64Array(32 * 32);
      for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) padded[(r + 2) * 32 + c + 2] = d.pixels[images[m] * 784 + r * 28 + c] / 1000;
      for (let pr = 0; pr < 4; pr++)
        for (let pc = 0; pc < 4; pc++) {
          const patch: number[] = [];
          for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) patch.push(padded[(pr * 8 + r) * 32 + pc * 8 + c]);
          const mean = patch.reduce((a, b) => a + b, 0) / 64;
          const sd = Math.sqrt(patch.reduce((a, b) => a + (b - mean) ** 2, 0) / 64);
          const t = m * 16 + pr * 4 + pc;
          for (let i = 0; i < 64; i++) {
            const want = sd > 0 ? (patch[i] - mean) / sd : 0;
            assert.ok(Math.abs(feat(batch, p, i, t) - want) < 1e-12);
          }
        }
      assert.deepEqual(imagePatches(d, images[m]).length, 16 * 64);
    }
  }
});

test('train sequences use only train images, test sequences only test images', () => {
  const d = loadMnistDigits();
  const trainSet = new Set(d.split.train.flat());
  const tr = oneShotSequences(new Random(1), d, d.split.train, 300);
  const te = oneShotSequences(new Random(2), d, d.split.test, 300);
  for (const s of tr.info) assert.ok([...s.support, s.query].every((i) => trainSet.has(i)));
  for (const s of te.info) assert.ok([...s.support, s.query].every((i) => !trainSet.has(i)));
  // Every class appears as A and as B; supports come first in both orders.
  const asA = new Set(tr.info.map((s) => s.classA));
  const asB = new Set(tr.info.map((s) => s.classB));
  assert.equal(asA.size, 10);
  assert.equal(asB.size, 10);
  const aFirst = tr.info.filter((s) => s.supportIsA[0]).length;
  assert.ok(aFirst > 110 && aFirst < 190, `${aFirst} of 300 have A first`);
});

test('the labels are learnable in context: nearest-support pixel matching beats chance by far', () => {
  const task = mnistOneShotTask({ seed: 4, P: 2, P_test: 1000 });
  const b = task.test;
  let correct = 0;
  for (let p = 0; p < b.count; p++) {
    // Distance of the query's patches to each support image's patches; the closer one gives its label code.
    const dist = [0, 0];
    for (let m = 0; m < 2; m++) for (let j = 0; j < 16; j++) for (let i = 0; i < 64; i++) dist[m] += (feat(b, p, i, 32 + j) - feat(b, p, i, m * 16 + j)) ** 2;
    const nearest = dist[0] <= dist[1] ? 0 : 1;
    const nearestIsA = feat(b, p, ONESHOT_LAYOUT.label, nearest * 16) === 1;
    if ((nearestIsA ? 1 : -1) === task.yTest[p]) correct++;
  }
  const acc = correct / b.count;
  // Chance is 0.5 ± 0.016 (1000 sequences); this seed gives 0.726 (standardization amplifies faint patches).
  assert.ok(acc > 0.65, `nearest-support accuracy ${acc}`);
});

test('randomQKAttention: shapes [H_l, G, N0], entries N(0, 1/N0), deterministic', () => {
  const layers = randomQKAttention(new Random(5), [4, 2], 128, N0);
  assert.deepEqual(
    layers.map((l) => [l.kind, l.heads, l.G, l.Q.length, l.K.length]),
    [
      ['qk', 4, 128, 4 * 128 * N0, 4 * 128 * N0],
      ['qk', 2, 128, 2 * 128 * N0, 2 * 128 * N0],
    ],
  );
  const all = [...layers[0].Q, ...layers[0].K];
  const mean = all.reduce((a, b) => a + b, 0) / all.length;
  const v = all.reduce((a, b) => a + (b - mean) ** 2, 0) / all.length;
  assert.ok(Math.abs(mean) < 0.01);
  assert.ok(Math.abs(v * N0 - 1) < 0.03, `variance × N0 = ${v * N0}`);
  assert.deepEqual(randomQKAttention(new Random(5), [4, 2], 128, N0), layers);
  assert.throws(() => randomQKAttention(new Random(5), [4, 0], 128, N0), /H_2 = 0; need a positive integer/);
});
