/**
 * `attention: { kind: model }`: the theory run on attention captured from ONNX models — the PyTorch fixtures
 * (outside the theory's class, said in the warnings) and a synthetic model of the theory's class, whose effective
 * value weights must reproduce the model's own output through the theory's forward pass (docs/theory.md §a, §f).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load';
import type { AnalysisConfig } from '../../src/config/types';
import { analyze } from '../../src/pipeline/analyze';
import { modelTask } from '../../src/pipeline/model/modelTask';
import { decodeModel } from '../../src/onnx/format/read';
import { checkInputs } from '../../src/onnx/run/feeds';
import { runAll } from '../../src/onnx/run/verify';
import { writeNpz } from '../../src/data/npz';
import { readoutWeights } from '../../src/theory/attention';
import { networkOutput } from '../../src/theory/weights';
import type { FixedLayer } from '../../src/data/types';
import { FIXTURES, TORCH } from './build';
import { normal, theoryClassModel } from './models';

const tmp = mkdtempSync(join(tmpdir(), 'model-analysis-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const fast = (c: AnalysisConfig): AnalysisConfig => ({ ...c, solver: { tolerance: 1e-7, maxIterations: 200 } });

for (const [name, readout] of [
  ['A_mha_opset17', 'mean'],
  ['B_bert_div', 'first'],
] as const) {
  test(`analyze ${name} with attention captured from the model: finite U, head scores for 2 layers × 4 heads, GP and finite-width predictions`, async () => {
    const config = fast(loadConfig(join(FIXTURES, 'model-analysis', `${name}.yaml`)));
    const r = await analyze(config);
    assert.deepEqual(r.settings.heads, [4, 4]);
    assert.equal(r.settings.readout, readout, 'the readout found in the model');
    assert.deepEqual([r.task.P, r.task.P_test, r.task.N0, r.task.T], [128, 128, 16, 12]);
    assert.equal(r.U[0].length, 16);
    for (const row of r.U[0]) for (const v of row) assert.ok(Number.isFinite(v));
    assert.equal(r.head_scores_ascending.length, 8);
    assert.ok(r.head_scores_ascending.every((s) => s.score >= 0 && s.score <= 1));
    assert.equal(r.head_scores_ascending[7].score, 1);
    for (const m of [r.metrics, r.gp.metrics]) for (const v of Object.values(m)) assert.ok(Number.isFinite(v));
    assert.equal(r.head_silencing.length, 8);
    const m = r.model!;
    assert.equal(m.input.tensor, 'X');
    assert.equal(m.input.N0, 16);
    assert.ok(m.input.embedding, "the input Linear is the theory's V⁰");
    assert.equal(m.in_theory_class, false);
    assert.ok(
      m.class_reasons.some((s) => /LayerNormalization|Add/.test(s)),
      m.class_reasons.join('; '),
    );
    assert.equal(m.weights_U, undefined);
    assert.ok(r.warnings.some((w) => /outside the theory's class/.test(w)));
    assert.deepEqual(
      m.blocks.map((b) => [b.layer, b.heads, b.source]),
      [
        [0, 4, 'softmax'],
        [1, 4, 'softmax'],
      ],
    );
  });
}

test("a model of the theory's class: in class, U from its weights reported, and its effective weights reproduce the model output", async () => {
  const bytes = theoryClassModel({ readout: 'last' });
  const modelPath = join(tmp, 'theory.onnx');
  writeFileSync(modelPath, bytes);
  const model = decodeModel(bytes, 'theory.onnx');
  const x = normal([48, 5, 6], 3);
  const out = (await runAll(bytes, model, checkInputs(model, new Map([['x', x]]), 'x'), 'theory')).get('y')!;
  const y = Float64Array.from(out.data, (v) => (v >= 0 ? 1 : -1));
  const dataPath = join(tmp, 'theory.npz');
  writeNpz(dataPath, { x: { shape: x.dims, data: x.data }, y: { shape: [48], data: y } });

  const mt = await modelTask({ model: modelPath, data: dataPath, split: 0.75 });
  assert.equal(mt.theoryClass.inClass, true, mt.theoryClass.reasons.join('; '));
  assert.equal(mt.modelReadout, 'last');
  assert.deepEqual([mt.split.train, mt.split.test], [36, 12]);
  // f(x) = aᵀ z^L/√N_a with z^l = (1/√(H_l N_l)) Σ_h V^l_h z^{l−1} A_h and z⁰ = x (V⁰ = √N0·I): the model's own
  // output, since the weights are given in the theory's parametrization (V^l_h = √(H_l N_l)·W_O,h W_V,h,
  // a = √N_a·a_model).
  const w = mt.valueWeights!;
  const N = w.widths;
  const L = w.V.length;
  const H = mt.layers.map((l) => l.heads);
  const { tokens: T, features: N0 } = mt.task.train;
  const V0 = new Float64Array(N[0] * N0);
  for (let i = 0; i < N0; i++) V0[i * N0 + i] = Math.sqrt(N0);
  for (let p = 0; p < 6; p++) {
    const xp = mt.task.train.data.subarray(p * N0 * T, (p + 1) * N0 * T);
    const att = mt.layers.map((l) => (l as FixedLayer).train.subarray(p * l.heads * T * T, (p + 1) * l.heads * T * T));
    const r = readoutWeights({ heads: H[L - 1], tokens: T, count: 1, data: att[L - 1] }, 'last');
    const f = networkOutput(xp, N0, T, att, r, V0, w);
    assert.ok(Math.abs(f - out.data[p]) < 1e-5, `example ${p}: theory forward ${f} vs model ${out.data[p]}`);
  }
  const report = await analyze(
    fast({
      data: dataPath,
      attention: { kind: 'model', model: modelPath },
      widths: 10,
      variances: 1,
      temperature: 0.01,
      solver: { tolerance: 1e-7, maxIterations: 200 },
      seed: 0,
    }),
  );
  const wu = report.model!.weights_U!;
  assert.equal(wu.U.length, 4);
  for (const v of [wu.pearson, wu.cosine, wu.head_score_spearman]) assert.ok(v !== null && Number.isFinite(v) && v >= -1 && v <= 1);
  assert.equal(report.model!.in_theory_class, true);
  assert.deepEqual(report.model!.class_reasons, []);
});

test('data keyed <input>_train/<input>_test is used as given; labels and keys are checked with clear errors', async () => {
  const bytes = theoryClassModel({ readout: 'mean' });
  const modelPath = join(tmp, 'mean.onnx');
  writeFileSync(modelPath, bytes);
  const xa = normal([10, 5, 6], 1);
  const xb = normal([7, 5, 6], 2);
  const ya = Float64Array.from({ length: 10 }, (_, i) => (i % 2 ? 1 : -1));
  const yb = Float64Array.from({ length: 7 }, (_, i) => (i % 3 ? 1 : -1));
  const explicit = join(tmp, 'explicit.npz');
  writeNpz(explicit, {
    x_train: { shape: xa.dims, data: xa.data },
    x_test: { shape: xb.dims, data: xb.data },
    y_train: { shape: [10], data: ya },
    y_test: { shape: [7], data: yb },
  });
  const mt = await modelTask({ model: modelPath, data: explicit });
  assert.deepEqual([mt.task.train.count, mt.task.test.count], [10, 7]);
  assert.equal(mt.modelReadout, 'mean');
  assert.match(mt.split.rule, /x_train\/x_test as given/);
  // x[p] = X[p]ᵀ: feature i of token t.
  assert.equal(mt.task.train.data[(0 * 6 + 2) * 5 + 3], xa.data[(0 * 5 + 3) * 6 + 2]);
  // Columns of the theory's attention (queries) sum to 1.
  const A = (mt.layers[0] as FixedLayer).train;
  for (let t = 0; t < 5; t++) {
    let s = 0;
    for (let k = 0; k < 5; k++) s += A[k * 5 + t];
    assert.ok(Math.abs(s - 1) < 1e-6);
  }
  const bad01 = join(tmp, 'bad01.npz');
  writeNpz(bad01, { x: { shape: xa.dims, data: xa.data }, y: { shape: [10], data: ya.map((v) => (v + 1) / 2) } });
  await assert.rejects(modelTask({ model: modelPath, data: bad01 }), /y\[0\] = 0; labels must be \+1 or -1 \(0\/1 labels\?/);
  const wrongKey = join(tmp, 'wrongkey.npz');
  writeNpz(wrongKey, { X: { shape: xa.dims, data: xa.data }, y: { shape: [10], data: ya } });
  await assert.rejects(
    modelTask({ model: modelPath, data: wrongKey }),
    /the model's inputs are x; the data has neither x nor x_train\/x_test \(it has: X, y\)/,
  );
  const wrongShape = join(tmp, 'wrongshape.npz');
  const x7 = normal([10, 5, 7], 4);
  writeNpz(wrongShape, { x: { shape: x7.dims, data: x7.data }, y: { shape: [10], data: ya } });
  await assert.rejects(
    modelTask({ model: modelPath, data: wrongShape }),
    /'x' has shape \[10, 5, 7\], but the model input 'x' is \[batch, 5, 6\] \(dim 2 must be 6\)/,
  );
  await assert.rejects(
    analyze(
      fast({
        task: 'markov',
        attention: { kind: 'model', model: modelPath },
        widths: 10,
        variances: 1,
        temperature: 0.01,
        solver: { tolerance: 1e-7, maxIterations: 10 },
        seed: 0,
      }),
    ),
    /attention.kind "model" needs `data`/,
  );
});

test("a model without attention is refused with the detector's reason", async () => {
  const dataPath = join(TORCH, 'A_mha_opset17', 'data.npz');
  const mlp = join(tmp, 'mlp.onnx');
  const { GraphBuilder, modelBytes } = await import('./build');
  const g = new GraphBuilder(1);
  g.input('X', ['batch', 12, 16]);
  g.one('MatMul', ['X', g.weight('W', [16, 1])], {}, { out: 'y', name: 'fc' });
  g.output('y', ['batch', 12, 1]);
  writeFileSync(mlp, modelBytes(g.graph()));
  await assert.rejects(modelTask({ model: mlp, data: dataPath }), /no attention blocks found/);
});

test('a single-input model takes the task-file keys X_train/X_test (with y_train/y_test), whatever its input is called', async () => {
  const bytes = theoryClassModel({ readout: 'mean' });
  const modelPath = join(tmp, 'alias.onnx');
  writeFileSync(modelPath, bytes);
  assert.deepEqual(
    decodeModel(bytes, 'alias.onnx').graph.inputs.map((i) => i.name),
    ['x'],
  );
  const xa = normal([10, 5, 6], 11);
  const xb = normal([8, 5, 6], 12);
  const ya = Float64Array.from({ length: 10 }, (_, i) => (i % 2 ? 1 : -1));
  const yb = Float64Array.from({ length: 8 }, (_, i) => (i % 2 ? -1 : 1));
  const file = join(tmp, 'taskfile.npz');
  writeNpz(file, {
    X_train: { shape: xa.dims, data: xa.data },
    X_test: { shape: xb.dims, data: xb.data },
    y_train: { shape: [10], data: ya },
    y_test: { shape: [8], data: yb },
  });
  const mt = await modelTask({ model: modelPath, data: file });
  assert.deepEqual([mt.task.train.count, mt.task.test.count], [10, 8]);
  assert.match(mt.split.rule, /^X_train\/X_test \(the task-file keys\) as the model input x, as given in the data file$/);
  assert.deepEqual(Array.from(mt.task.yTest), Array.from(yb));
  // Same capture as the model's own key names.
  const own = join(tmp, 'ownkeys.npz');
  writeNpz(own, {
    x_train: { shape: xa.dims, data: xa.data },
    x_test: { shape: xb.dims, data: xb.data },
    y_train: { shape: [10], data: ya },
    y_test: { shape: [8], data: yb },
  });
  const mo = await modelTask({ model: modelPath, data: own });
  assert.deepEqual(Array.from(mt.task.train.data), Array.from(mo.task.train.data));
  assert.deepEqual(Array.from((mt.layers[0] as FixedLayer).test), Array.from((mo.layers[0] as FixedLayer).test));
});

test('a data file sorted by label and split at 0.5 trains on one class: analyze warns, naming the split', async () => {
  const bytes = theoryClassModel({ readout: 'last' });
  const modelPath = join(tmp, 'sorted.onnx');
  writeFileSync(modelPath, bytes);
  const x = normal([20, 5, 6], 21);
  const y = Float64Array.from({ length: 20 }, (_, i) => (i < 10 ? 1 : -1));
  const dataPath = join(tmp, 'sorted.npz');
  writeNpz(dataPath, { x: { shape: x.dims, data: x.data }, y: { shape: [20], data: y } });
  const r = await analyze(
    fast({
      data: dataPath,
      attention: { kind: 'model', model: modelPath, split: 0.5 },
      widths: 10,
      variances: 1,
      temperature: 0.01,
      solver: { tolerance: 1e-7, maxIterations: 50 },
      seed: 0,
    }),
  );
  const single = r.warnings.filter((w) => /single class/.test(w));
  assert.equal(single.length, 2, r.warnings.join('\n'));
  assert.equal(
    single[0],
    'y_train has a single class: all 10 labels are +1 (split: first 10 of 20 examples train, the other 10 test (split 0.5, file order)); ' +
      'give separate x_train/x_test (with y_train/y_test) in the data file, or shuffle the examples before splitting',
  );
  assert.match(single[1], /^y_test has a single class: all 10 labels are -1 \(split: first 10 of 20/);
});
