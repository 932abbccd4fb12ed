import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAttentionParams, loadTaskFile, validateTaskData } from '../../src/data/load';
import { writeNpz } from '../../src/data/npz';
import type { QKLayer, WLayer } from '../../src/data/types';
import { GOLDEN_DIR } from '../helpers/golden';

const dir = mkdtempSync(join(tmpdir(), 'load-'));

/** Deterministic values 0.01·k − 1 for a given shape. */
function arr(shape: number[], f: (k: number) => number = (k) => 0.01 * k - 1) {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float64Array.from({ length: n }, (_, k) => f(k)) };
}
const labels = (n: number) => arr([n], (k) => (k % 2 === 0 ? 1 : -1));

/** A valid task with P=6, P_test=4, N0=8, T=5 (and whatever else `extra` adds or replaces). */
function writeTask(name: string, extra: Record<string, { shape: number[]; data: Float64Array }> = {}, drop: string[] = []): string {
  const arrays: Record<string, { shape: number[]; data: Float64Array }> = {
    X_train: arr([6, 8, 5]),
    y_train: labels(6),
    X_test: arr([4, 8, 5], (k) => Math.sin(k)),
    y_test: labels(4),
    ...extra,
  };
  for (const k of drop) delete arrays[k];
  const p = join(dir, name);
  writeNpz(p, arrays);
  return p;
}

test('golden JSON cases load with the right shapes, values, readout and Q/K layers', () => {
  const want = {
    case1_L1_H2_first: { P: 24, Pt: 10, N0: 8, T: 4, heads: [2], readout: 'first' },
    case2_L2_H2_last: { P: 40, Pt: 12, N0: 12, T: 5, heads: [2, 2], readout: 'last' },
    case4_L1_H1_scalar_oracle: { P: 20, Pt: 8, N0: 6, T: 3, heads: [1], readout: 'mean' },
  } as const;
  for (const [name, w] of Object.entries(want)) {
    const path = join(GOLDEN_DIR, `${name}.json`);
    const raw = JSON.parse(readFileSync(path, 'utf8')).inputs;
    const task = loadTaskFile(path);
    assert.equal(task.name, `${name}.json`);
    assert.deepEqual([task.train.count, task.train.features, task.train.tokens], [w.P, w.N0, w.T]);
    assert.deepEqual([task.test.count, task.test.features, task.test.tokens], [w.Pt, w.N0, w.T]);
    assert.equal(task.readout, w.readout);
    // Row-major [P, N0, T]: X[p][i][t] at (p·N0 + i)·T + t.
    for (const [p, i, t] of [
      [0, 0, 0],
      [1, 2, w.T - 1],
      [w.P - 1, w.N0 - 1, w.T - 1],
    ]) {
      assert.equal(task.train.data[(p * w.N0 + i) * w.T + t], raw.X_train[p][i][t]);
    }
    assert.equal(task.test.data[((w.Pt - 1) * w.N0 + 3) * w.T + 1], raw.X_test[w.Pt - 1][3][1]);
    assert.deepEqual(Array.from(task.yTrain), raw.y_train);
    assert.deepEqual(Array.from(task.yTest), raw.y_test);
    const layers = task.attention as QKLayer[];
    assert.deepEqual(
      layers.map((l) => [l.kind, l.heads, l.G, l.Q.length]),
      w.heads.map((h) => ['qk', h, 4, h * 4 * w.N0]),
    );
    const L = layers.length - 1;
    const H = w.heads[L] - 1;
    // Q/K [H, G, N0] row-major: Q[h][g][n] at (h·G + g)·N0 + n.
    assert.equal(layers[L].K[(H * 4 + 2) * w.N0 + 3], raw.attention_params[L].K[H][2][3]);
    assert.equal(layers[0].Q[(0 * 4 + 1) * w.N0 + 5], raw.attention_params[0].Q[0][1][5]);
    // The same layers through loadAttentionParams.
    const again = loadAttentionParams(path, 'qk') as QKLayer[];
    assert.deepEqual(again, layers);
    assert.throws(() => loadAttentionParams(path, 'w'), /no W_1 attention parameters found \(the file has Q_1, K_1/);
    validateTaskData(task);
  }
});

test('npz task with Q/K layers and with W layers; flat JSON with the same names', () => {
  const qk = writeTask('qk.npz', { Q_1: arr([2, 3, 8]), K_1: arr([2, 3, 8], (k) => -k), Q_2: arr([1, 3, 8]), K_2: arr([1, 3, 8]) });
  const t = loadTaskFile(qk);
  assert.equal(t.attention?.length, 2);
  const l2 = t.attention![1] as QKLayer;
  assert.deepEqual([l2.kind, l2.heads, l2.G], ['qk', 1, 3]);
  assert.equal((t.attention![0] as QKLayer).K[5], -5);
  assert.equal(t.readout, undefined);

  const w = writeTask('w.npz', { W_1: arr([3, 8, 8]) });
  const tw = loadAttentionParams(w, 'w') as WLayer[];
  assert.deepEqual([tw.length, tw[0].kind, tw[0].heads, tw[0].W.length], [1, 'w', 3, 192]);
  assert.equal(tw[0].W[100], 0.01 * 100 - 1);

  // Parameters alone in a file: N0 from layer 1, or checked against a given N0.
  const only = join(dir, 'params.npz');
  writeNpz(only, { Q_1: arr([2, 4, 8]), K_1: arr([2, 4, 8]) });
  assert.equal((loadAttentionParams(only, 'qk')[0] as QKLayer).G, 4);
  assert.throws(() => loadAttentionParams(only, 'qk', { N0: 9 }), /params\.npz: Q_1 has shape \[2, 4, 8\]; expected \[H_1, G, N0=9\] \(N0 from the task\)/);

  const json = join(dir, 'flat.json');
  writeFileSync(
    json,
    JSON.stringify({
      X_train: [
        [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
        [
          [0, 0],
          [0, 0],
          [0, 1],
        ],
      ],
      y_train: [1, -1],
      X_test: [
        [
          [1, 1],
          [1, 1],
          [1, 1],
        ],
      ],
      y_test: [[-1]],
      readout: 'last',
      W_1: [
        [
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ],
      ],
    }),
  );
  const tj = loadTaskFile(json);
  assert.deepEqual([tj.train.count, tj.train.features, tj.train.tokens, tj.test.count], [2, 3, 2, 1]);
  assert.deepEqual(Array.from(tj.train.data), [1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(Array.from(tj.yTest), [-1]);
  assert.equal(tj.readout, 'last');
  assert.equal((tj.attention![0] as WLayer).W[4], 1);
});

test('shape, label and finiteness errors name the file, the array and the expected shape', () => {
  const cases: [string, Record<string, { shape: number[]; data: Float64Array }>, string[], RegExp][] = [
    ['data.npz', { X_test: arr([5, 8, 4]) }, [], /data\.npz: X_test has shape \[5, 8, 4\]; expected \[P_test, N0=8, T=5\] \(N0 and T from X_train\)$/],
    ['m.npz', {}, ['y_test'], /m\.npz: array y_test is missing \(the file has: X_train, y_train, X_test\)/],
    ['r.npz', { X_train: arr([6, 40]) }, [], /r\.npz: X_train has shape \[6, 40\]; expected \[P, N0, T\]/],
    ['z.npz', { X_train: arr([0, 8, 5]) }, [], /z\.npz: X_train has shape \[0, 8, 5\]; expected \[P, N0, T\] with every dimension ≥ 1/],
    ['yl.npz', { y_train: labels(5) }, [], /yl\.npz: y_train has shape \[5\]; expected \[P=6\] \(P from X_train\)/],
    ['yt.npz', { y_test: arr([4, 2], () => 1) }, [], /yt\.npz: y_test has shape \[4, 2\]; expected \[P_test=4\] \(P_test from X_test\)/],
    [
      'lab.npz',
      { y_train: arr([6], (k) => (k === 3 ? 0 : 1)) },
      [],
      /lab\.npz: y_train\[3\] = 0; labels must be \+1 or -1 \(0\/1 labels\? map them with y = 2·y − 1\)/,
    ],
    ['lab2.npz', { y_test: arr([4], (k) => (k === 2 ? 2 : -1)) }, [], /lab2\.npz: y_test\[2\] = 2; labels must be \+1 or -1$/],
    [
      'nan.npz',
      { X_train: arr([6, 8, 5], (k) => (k === 97 ? NaN : 0)) },
      [],
      /nan\.npz: X_train has a non-finite value \(NaN\) at flat index 97, i\.e\. X_train\[2\]\[3\]\[2\] \(shape \[6, 8, 5\]\)/,
    ],
    [
      'inf.npz',
      { X_test: arr([4, 8, 5], (k) => (k === 159 ? -Infinity : 0)) },
      [],
      /inf\.npz: X_test has a non-finite value \(-Infinity\) at flat index 159, i\.e\. X_test\[3\]\[7\]\[4\]/,
    ],
    [
      'qinf.npz',
      { Q_1: arr([1, 2, 8], (k) => (k === 9 ? Infinity : 0)), K_1: arr([1, 2, 8]) },
      [],
      /qinf\.npz: Q_1 has a non-finite value \(Infinity\) at flat index 9, i\.e\. Q_1\[0\]\[1\]\[1\]/,
    ],
    [
      'gap.npz',
      { Q_1: arr([1, 2, 8]), K_1: arr([1, 2, 8]), Q_3: arr([1, 2, 8]), K_3: arr([1, 2, 8]) },
      [],
      /gap\.npz: Q_2 is missing \(found K_1, K_3, Q_1, Q_3\); layers must be numbered 1\.\.L without gaps/,
    ],
    ['nok.npz', { Q_1: arr([1, 2, 8]) }, [], /nok\.npz: K_1 is missing \(found Q_1\)/],
    ['zero.npz', { W_0: arr([1, 8, 8]), W_1: arr([1, 8, 8]) }, [], /zero\.npz: attention layers are numbered from 1; found W_0 first/],
    ['kh.npz', { Q_1: arr([2, 4, 8]), K_1: arr([3, 4, 8]) }, [], /kh\.npz: K_1 has shape \[3, 4, 8\]; expected \[H_1=2, G=4, N0=8\] \(H_1 and G from Q_1\)/],
    ['qn.npz', { Q_1: arr([2, 4, 7]), K_1: arr([2, 4, 7]) }, [], /qn\.npz: Q_1 has shape \[2, 4, 7\]; expected \[H_1, G, N0=8\] \(N0 from X_train\)/],
    ['wsq.npz', { W_1: arr([2, 8, 7]) }, [], /wsq\.npz: W_1 has shape \[2, 8, 7\]; expected \[H_1, N0=8, N0=8\]/],
    ['both.npz', { W_1: arr([1, 8, 8]), Q_1: arr([1, 2, 8]), K_1: arr([1, 2, 8]) }, [], /both\.npz: holds both Q\/K .* and W/],
  ];
  for (const [name, extra, drop, re] of cases) {
    const p = writeTask(name, extra, drop);
    assert.throws(() => loadTaskFile(p), re, name);
  }
  // Layer numbers with leading zeros are not layer arrays at all.
  const lead0 = writeTask('lead0.npz', { Q_01: arr([1, 2, 8]), K_01: arr([1, 2, 8]) });
  assert.equal(loadTaskFile(lead0).attention, undefined);
  assert.throws(() => loadAttentionParams(lead0, 'qk'), /lead0\.npz: no Q_1\/K_1 attention parameters found$/);
});

test('JSON problems: ragged arrays, nulls, strings, NaN literals, bad golden fields, unknown formats', () => {
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const base = { X_train: [[[1, 2]], [[3, 4]]], y_train: [1, -1], X_test: [[[1, 2]]], y_test: [1] };
  const j = (o: object) => JSON.stringify({ ...base, ...o });
  assert.throws(
    () => loadTaskFile(write('rag.json', j({ X_train: [[[1, 2]], [[3]]] }))),
    /rag\.json: X_train\[1\]\[0\] has 1 entries; expected 2 \(array is ragged/,
  );
  assert.throws(
    () => loadTaskFile(write('null.json', j({ X_test: [[[1, null]]] }))),
    /null\.json: X_test\[0\]\[0\]\[1\] is null \(a NaN or Infinity written as null\?\); expected a number/,
  );
  assert.throws(() => loadTaskFile(write('str.json', j({ y_train: [1, '-1'] }))), /str\.json: y_train\[1\] is "-1"; expected a number/);
  assert.throws(
    () => loadTaskFile(write('nan.json', '{"X_train": [[[NaN]]]}')),
    /nan\.json:1:16: not valid JSON: expected a value, found 'N' \(the file contains NaN\/Infinity literals/,
  );
  assert.throws(() => loadTaskFile(write('arr.json', '[1, 2]')), /arr\.json: expected a JSON object of named arrays/);
  assert.throws(() => loadTaskFile(write('ro.json', j({ readout: 'middle' }))), /ro\.json: readout is "middle"; expected "first", "last" or "mean"/);
  assert.throws(
    () => loadTaskFile(write('g.json', JSON.stringify({ inputs: { ...base, attention_kind: 'w', attention_params: [{ Q: [[[1]]], K: [[[1]]] }] } }))),
    /g\.json: attention_kind is "w" but the parameters are in the other form/,
  );
  assert.throws(
    () => loadTaskFile(write('g2.json', JSON.stringify({ inputs: { ...base, attention_params: [{ V: [] }] } }))),
    /g2\.json: inputs\.attention_params\[0\] has the unexpected key 'V'/,
  );
  // Hostile: a long first row and many short ones. The shape read from the first entries would need 16 GB;
  // the structure is checked before anything is allocated.
  const hostile = `{"X_train": [[${Array(100000).fill(0).join(',')}]${',[0]'.repeat(20000)}]}`;
  assert.throws(() => loadTaskFile(write('hostile.json', hostile)), /hostile\.json: X_train\[1\] has 1 entries; expected 100000 \(array is ragged/);
  assert.throws(() => loadTaskFile(write('t.bin', 'hello')), /t\.bin: unsupported file type \(expected a \.npz archive or a \.json file\)/);
  assert.throws(() => loadTaskFile(join(dir, 'missing.npz')), /missing\.npz: cannot read file/);
  assert.throws(() => loadTaskFile(write('fake.npz', 'not a zip')), /fake\.npz: not a ZIP\/\.npz archive/);
});

test('validateTaskData checks in-memory tasks the same way', () => {
  const task = loadTaskFile(writeTask('v.npz'));
  validateTaskData(task, 'mem');
  const bad = { ...task, yTrain: Float64Array.from(task.yTrain, (v, i) => (i === 4 ? 0.5 : v)) };
  assert.throws(() => validateTaskData(bad, 'mem'), /mem: y_train\[4\] = 0\.5; labels must be \+1 or -1/);
  const nan = { ...task, test: { ...task.test, data: task.test.data.map((v, i) => (i === 7 ? NaN : v)) } };
  assert.throws(() => validateTaskData(nan, 'mem'), /mem: X_test has a non-finite value \(NaN\) at flat index 7, i\.e\. X_test\[0\]\[1\]\[2\]/);
  const w: WLayer = { kind: 'w', heads: 1, W: new Float64Array(63) };
  assert.throws(() => validateTaskData({ ...task, attention: [w] }, 'mem'), /mem: W_1 must have shape \[H=1, N0=8, N0=8\]/);
});

test('a folder of .npy files', async (t) => {
  await t.test('loads X_train.npy, y_train.npy, X_test.npy, y_test.npy like an .npz, and a config names it with a trailing slash', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { writeNpy } = await import('../../src/data/npy');
    const { loadTaskFile: load } = await import('../../src/data/load');
    const { parseConfig } = await import('../../src/config/load');
    const dir = mkdtempSync(join(tmpdir(), 'ap-npy-'));
    const data = join(dir, 'data');
    mkdirSync(data);
    const X = { shape: [2, 3, 4], data: Float64Array.from({ length: 24 }, (_, i) => i / 10) };
    writeNpy(join(data, 'X_train.npy'), X);
    writeNpy(join(data, 'X_test.npy'), X);
    writeNpy(join(data, 'y_train.npy'), { shape: [2], data: Float64Array.from([1, -1]) });
    writeNpy(join(data, 'y_test.npy'), { shape: [2], data: Float64Array.from([-1, 1]) });
    const task = load(data);
    assert.deepEqual([task.train.count, task.train.features, task.train.tokens], [2, 3, 4]);
    assert.equal(task.train.data[23], 2.3);
    assert.deepEqual(Array.from(task.yTest), [-1, 1]);
    writeFileSync(join(dir, 'c.yaml'), 'data: data/\n');
    const ok = parseConfig('data: data/\n', join(dir, 'c.yaml'));
    assert.equal(ok.issues.length, 0);
    assert.equal(ok.config!.data, join(dir, 'data'));
    const bad = parseConfig('data: data.json\n', join(dir, 'c.yaml'));
    assert.match(bad.issues[0].message, /data file not found/);
    const empty = mkdtempSync(join(tmpdir(), 'ap-npy-'));
    assert.throws(() => load(empty), /folder holds no \.npy files/);
  });
});
