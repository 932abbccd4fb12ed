/**
 * A model the project generates itself, through every check the fixtures pass: train the theory's network on a
 * small Markov task (`runTrainJob`), export it to ONNX, then
 * - `detectAttention` finds one unfused block per layer with the trained heads and head sizes;
 * - `captureAttention` returns the network's own attention, recomputed from the saved Q/K (attention.npz) with
 *   theory/attention.ts, to 1e-5;
 * - `analyze` with `attention: { kind: model }` runs, recognizes the model as in the theory's class, and reports
 *   `model.weights_U` equal to U from the saved value weights (weights.npz, docs/theory.md §f);
 * - pruning each single head (`runPruneJob`) writes a model that runs in ONNX Runtime and equals the original with
 *   that head's output rows zeroed (an independent mask) and the tfjs network with that head removed, to 1e-5 —
 *   without rescaling, and with `--rescale` (the network's single-head removal, other heads × √(H/(H−1)));
 * - the CLI's `inspect` and `prune` on the exported model;
 * and regressions found this way: an input [batch, N0, T] (transposed to tokens inside the model), values read
 * through an embedding that only the value path has, the theory's normalization of the model's value weights.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../src/config/defaults';
import type { AnalysisConfig } from '../../src/config/types';
import { readNpz, writeNpz } from '../../src/data/npz';
import type { FixedLayer, TaskData } from '../../src/data/types';
import { captureAttention } from '../../src/onnx/run/capture';
import { detectAttention } from '../../src/onnx/detect/detect';
import { checkInputs } from '../../src/onnx/run/feeds';
import { modelTask } from '../../src/pipeline/model/modelTask';
import { decodeModel, readModel } from '../../src/onnx/format/read';
import { toFloat64 } from '../../src/onnx/format/tensor';
import { runAll } from '../../src/onnx/run/verify';
import { analyze } from '../../src/pipeline/analyze';
import { runPruneJob } from '../../src/pipeline/pruneModel';
import type { AnalysisReport } from '../../../shared/report';
import { layerAttention, readoutWeights } from '../../src/theory/attention';
import { networkOutput, orderParametersFromWeights } from '../../src/theory/weights';
import { balancedSubset } from '../../src/train/experiment';
import { exportOnnx, layerWeightNames } from '../../src/train/export';
import { initParams, removalGains, TfNetwork, unitGains, type NetworkParams } from '../../src/train/model';
import { loadTrainTask, runOnnx, runTrainJob, type TrainJob, type TrainReport } from '../../src/train/run';
import { GraphBuilder, modelBytes } from './build';
import { normal, zeroOutputHeads } from './models';

const ROOT = join(__dirname, '..', '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'generated-model-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const HEADS = [2, 2];
const G = 4;
const WIDTH = 6;
const out = join(tmp, 'trained');
const modelPath = join(out, 'model.onnx');
const dataPath = join(tmp, 'data.npz');

const job: TrainJob = {
  config: { ...defaultConfig(), solver: { tolerance: 1e-6, maxIterations: 100 } },
  heads: HEADS,
  G,
  width: WIDTH,
  epochs: 3,
  learningRate: 0.01,
  batchSize: 40,
  P: 160,
  P_test: 40,
  markovVisible: 8,
  markovSteps: 6,
  theoryP: 40,
  backend: 'auto',
  out,
  force: false,
};

let report: TrainReport;
let task: TaskData;
let params: NetworkParams;
let net: TfNetwork;

/** The network's parameters read back from the files train wrote (attention.npz, weights.npz). */
function paramsFromFiles(): NetworkParams {
  const att = readNpz(join(out, 'attention.npz'));
  const w = readNpz(join(out, 'weights.npz'));
  const widths = Array.from(w.get('widths')!.data);
  const heads = Array.from(w.get('heads')!.data);
  const V = heads.map((H, l) => {
    const d = w.get(`V_${l + 1}`)!.data;
    const n = widths[l + 1] * widths[l];
    return Array.from({ length: H }, (_, h) => Float64Array.from(d.subarray(h * n, (h + 1) * n)));
  });
  return {
    shape: { N0: task.train.features, T: task.train.tokens, heads, G, widths, readout: 'last' },
    Q: heads.map((_, l) => Float64Array.from(att.get(`Q_${l + 1}`)!.data)),
    K: heads.map((_, l) => Float64Array.from(att.get(`K_${l + 1}`)!.data)),
    V0: Float64Array.from(w.get('V0')!.data),
    V,
    a: Float64Array.from(w.get('a')!.data),
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

before(async () => {
  report = await runTrainJob(job);
  task = loadTrainTask(job); // the same draw as train's
  params = paramsFromFiles();
  net = new TfNetwork(params);
  // The model's input is x [batch, N0, T]: a class-balanced part of the training set and the test set (the task
  // lists its examples by class, so a split in file order would train on one class only).
  const tr = balancedSubset(task.train, task.yTrain, 40);
  const shape = (X: TaskData['train']) => [X.count, X.features, X.tokens];
  writeNpz(dataPath, {
    x_train: { shape: shape(tr.X), data: tr.X.data },
    y_train: { shape: [tr.X.count], data: tr.y },
    x_test: { shape: shape(task.test), data: task.test.data },
    y_test: { shape: [task.test.count], data: task.yTest },
  });
});

after(() => net?.dispose());

describe('a model trained and exported by the project', () => {
  it('is written with its Q/K and value weights, and reproduces the network in ONNX Runtime', async () => {
    assert.deepEqual([task.train.features, task.train.tokens], [15, 7]);
    assert.ok(report.export.max_abs_diff <= 1e-5);
    const f = net.predict(task.test);
    const g = await runOnnx(readFileSync(modelPath), task.test);
    assert.ok(maxAbsDiff(f, g) <= 1e-5, `max |ORT − tfjs| = ${maxAbsDiff(f, g)}`);
  });

  it('is detected as 2 unfused blocks with heads 2/2, head sizes G and N', () => {
    const det = detectAttention(readModel(modelPath));
    assert.equal(det.blocks.length, 2, det.summary);
    det.blocks.forEach((b, l) => {
      assert.equal(b.form, 'unfused');
      assert.equal(b.queryHeads, HEADS[l]);
      assert.equal(b.kvHeads, HEADS[l]);
      assert.equal(b.headSizeQK, G);
      assert.equal(b.headSizeV, WIDTH);
      assert.equal(b.inputSize, task.train.features);
      assert.equal(b.cross, false);
      assert.equal(b.confidence, 'high');
      assert.ok(Math.abs(b.scale! - 1 / Math.sqrt(G)) < 1e-7);
      const w = layerWeightNames(l + 1);
      assert.deepEqual(
        [b.weights.query?.weight.name, b.weights.key?.weight.name, b.weights.value?.weight.name, b.weights.output?.weight.name],
        [w.query, w.key, w.value, w.output],
      );
    });
  });

  it("captures the network's own attention (from the saved Q/K) to 1e-5", async () => {
    const model = readModel(modelPath);
    const X = task.test;
    const inputs = checkInputs(model, new Map([['x', { dims: [X.count, X.features, X.tokens], data: X.data }]]), 'test split');
    const cap = await captureAttention(model, inputs, { batchSize: 16 });
    assert.equal(cap.blocks.length, 2);
    const T = X.tokens;
    for (const [l, b] of cap.blocks.entries()) {
      assert.deepEqual([b.source, b.heads, b.queries, b.keys, b.count], ['softmax', HEADS[l], T, T, X.count]);
      // theory layout A[p, h, s, t] (key s, query t) vs ONNX probs[p, h, t, s]
      const A = await layerAttention(X, { kind: 'qk', heads: HEADS[l], G, Q: params.Q[l], K: params.K[l] });
      let m = 0;
      for (let ph = 0; ph < X.count * HEADS[l]; ph++)
        for (let s = 0; s < T; s++) for (let q = 0; q < T; q++) m = Math.max(m, Math.abs(A.data[ph * T * T + s * T + q] - b.probs[ph * T * T + q * T + s]));
      assert.ok(m <= 1e-5, `layer ${l}: max |captured − theory attention| = ${m}`);
    }
  });

  let analysis: AnalysisReport;
  it("is analysed with attention: { kind: model }: in the theory's class, weights_U = U from the saved value weights", async () => {
    const config: AnalysisConfig = {
      data: dataPath,
      attention: { kind: 'model', model: modelPath },
      widths: 10,
      variances: 1,
      temperature: 0.01,
      solver: { tolerance: 1e-6, maxIterations: 100 },
      seed: 0,
    };
    analysis = await analyze(config);
    const m = analysis.model!;
    assert.deepEqual([analysis.task.P, analysis.task.P_test, analysis.task.N0, analysis.task.T], [40, 40, 15, 7]);
    assert.equal(m.input.layout, '[batch, features, tokens]');
    for (const v of [...Object.values(analysis.metrics), ...Object.values(analysis.gp.metrics)]) assert.ok(Number.isFinite(v));
    assert.equal(m.in_theory_class, true, m.class_reasons.join('; '));
    assert.deepEqual(m.class_reasons, []);
    assert.equal(m.model_readout, 'last');
    assert.equal(m.input.tensor, 'x');
    assert.ok(!analysis.warnings.some((w) => /outside the theory's class/.test(w)), analysis.warnings.join('\n'));
    assert.deepEqual(analysis.settings.heads, HEADS);
    assert.deepEqual(
      m.blocks.map((b) => [b.heads, b.source]),
      [
        [2, 'softmax'],
        [2, 'softmax'],
      ],
    );
    const wu = m.weights_U!;
    assert.ok(wu, 'weights_U is reported for a model in the class');
    const want = orderParametersFromWeights({ widths: params.shape.widths, V: params.V, a: params.a }).Us[0];
    const saved = readNpz(join(out, 'weights.npz')).get('U_GD')!;
    assert.deepEqual(Array.from(saved.data), Array.from(want.data));
    const got = wu.U.flat();
    const scale = Math.max(...Array.from(want.data, Math.abs));
    assert.ok(maxAbsDiff(got, want.data) <= 1e-5 * scale, `max |weights_U − U_GD| = ${maxAbsDiff(got, want.data)} (max |U_GD| = ${scale})`);
  });
});

describe('pruning each head of the generated model', () => {
  for (const rescale of [false, true]) {
    for (const [layer, head] of [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]) {
      it(`${layer}:${head}${rescale ? ' with --rescale' : ''}: runs, equals the masked original and the network without that head`, async () => {
        const dst = join(tmp, `pruned-${layer}-${head}${rescale ? '-r' : ''}.onnx`);
        const s = await runPruneJob({ model: modelPath, out: dst, heads: [{ layer, head }], data: dataPath, rescale });
        assert.deepEqual(
          s.headsAfter,
          HEADS.map((H, l) => (l === layer ? H - 1 : H)),
        );
        assert.ok(!('skipped' in s.verification));
        const det = detectAttention(readModel(dst));
        assert.deepEqual(
          det.blocks.map((b) => b.queryHeads),
          s.headsAfter,
        );
        // The pruned model in ONNX Runtime on the whole test split …
        const got = await runOnnx(readFileSync(dst), task.test);
        // … against the original with the head's rows of the output projection zeroed (independent of prune.ts) …
        const H = HEADS[layer];
        const r = rescale ? Math.sqrt(H / (H - 1)) : 1;
        const masked = zeroOutputHeads(readFileSync(modelPath), layerWeightNames(layer + 1).output, 0, WIDTH, [head], r);
        const ref = await runOnnx(masked, task.test);
        assert.ok(maxAbsDiff(got, ref) <= 1e-5, `max |pruned − masked| = ${maxAbsDiff(got, ref)}`);
        // … and the tfjs network with the head removed (gain 0; others 1, or √(H/(H−1)) with rescaling).
        const gains = rescale ? removalGains(HEADS, layer, head) : unitGains(HEADS).map((g, l) => g.map((v, h) => (l === layer && h === head ? 0 : v)));
        const want = net.predict(task.test, gains);
        assert.ok(maxAbsDiff(got, want) <= 1e-5, `max |pruned − network without the head| = ${maxAbsDiff(got, want)}`);
        // The removal changes the function (the test would not see a no-op prune).
        assert.ok(maxAbsDiff(want, net.predict(task.test)) > 1e-4);
      });
    }
  }
});

describe('the CLI on the generated model', () => {
  const cli = (args: string[]) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'src', 'cli.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it('inspect lists the two unfused blocks (text and --json)', () => {
    const r = cli(['inspect', modelPath, '--json']);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.deepEqual(j.inputs, [{ name: 'x', type: 'float', shape: ['batch', 15, 7] }]);
    assert.deepEqual(
      j.attention.blocks.map((b: { form: string; queryHeads: number; kvHeads: number; headSizeQK: number; headSizeV: number }) => [
        b.form,
        b.queryHeads,
        b.kvHeads,
        b.headSizeQK,
        b.headSizeV,
      ]),
      [
        ['unfused', 2, 2, G, WIDTH],
        ['unfused', 2, 2, G, WIDTH],
      ],
    );
    const text = cli(['inspect', modelPath]);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /unfused/);
  });

  it('prune --heads 1:0 --rescale --data writes a verified model with the measured metric', () => {
    const dst = join(tmp, 'cli-pruned.onnx');
    const r = cli(['prune', modelPath, '--heads', '1:0', '--rescale', '--data', dataPath, '--out', dst, '--quiet']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /heads per layer: \[2, 2\] → \[2, 1\] \(remaining heads rescaled/);
    assert.match(r.out, /verified on 40 examples/);
    assert.match(r.out, /measured \(test split\): accuracy/);
    assert.match(r.out, /theory \(head silencing, finite width\)/);
    assert.ok(existsSync(dst));
    const refused = cli(['prune', modelPath, '--heads', '1:0-1', '--out', join(tmp, 'never.onnx'), '--quiet']);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /removing all 2 heads would remove the block/);
    assert.equal(existsSync(join(tmp, 'never.onnx')), false);
  });
});

/** Writes a model and labelled data x [P, …] for it; returns the paths and the model's output on x. */
async function modelWithData(name: string, bytes: Uint8Array, x: { dims: number[]; data: Float64Array }) {
  const model = join(tmp, `${name}.onnx`);
  const data = join(tmp, `${name}.npz`);
  writeFileSync(model, bytes);
  const P = x.dims[0];
  writeNpz(data, { x: { shape: x.dims, data: x.data }, y: { shape: [P], data: Float64Array.from({ length: P }, (_, i) => (i % 2 ? 1 : -1)) } });
  const m = decodeModel(bytes, `${name}.onnx`);
  const f = (await runAll(bytes, m, checkInputs(m, new Map([['x', x]]), name), name)).get(m.graph.outputs[0].name)!;
  return { model, data, f: f.data };
}

describe('regressions found on generated models', () => {
  it("an exported network with N0 = T: x is read as [batch, features, tokens] (not silently transposed), its weights are the network's own", async () => {
    // Before the fix, x [batch, N0, T] was taken as [batch, T, N0]: an error when N0 ≠ T, transposed examples when N0 = T.
    const p = initParams({ N0: 5, T: 5, heads: [3, 2], G: 3, widths: [4, 5, 3], readout: 'mean' }, 7);
    const x = normal([12, 5, 5], 5);
    const { model, data } = await modelWithData('square', exportOnnx(p), x);
    const mt = await modelTask({ model, data, split: 0.5 });
    assert.equal(mt.theoryClass.inClass, true, mt.theoryClass.reasons.join('; '));
    assert.equal(mt.input.layout, '[batch, features, tokens]');
    const dx = maxAbsDiff(mt.task.train.data, Float32Array.from(x.data.subarray(0, 6 * 25)));
    assert.ok(dx <= 1e-6, `x[p] is the input example as given (max diff ${dx})`);
    // The value weights in the theory's parametrization are the network's V^l_h and a (float32 rounding).
    const w = mt.valueWeights!;
    assert.deepEqual(w.widths, [4, 5, 3]);
    w.V.forEach((layer, l) => layer.forEach((V, h) => assert.ok(maxAbsDiff(V, p.V[l][h]) <= 1e-5, `V_${l + 1}[${h}]`)));
    assert.ok(maxAbsDiff(w.a, p.a) <= 1e-5);
  });

  it("another export style (scale on the query, scalar scales on the value path, a token sum read out): the theory's weights reproduce the model", async () => {
    // x [batch, N0, T] → tokens; values from a value-only embedding E; per block: q·(1/√G) before the score MatMul,
    // output projection, then × 0.5 into the next block; readout ReduceSum over tokens → MatMul a → ÷ 4.
    const [N0, T, N, G, H] = [6, 5, 4, 3, 2];
    const g = new GraphBuilder(41);
    g.input('x', ['batch', N0, T]);
    const tokens = g.one('Transpose', ['x'], { perm: [0, 2, 1] });
    let z = g.one('MatMul', [tokens, g.weight('E', [N0, N])], {}, { name: 'embed' });
    for (let l = 0; l < 2; l++) {
      const split = (t: string, d: number, n: string) =>
        g.one('Transpose', [g.one('Reshape', [t, g.ints(`shape_${n}${l}`, [0, 0, H, d])])], { perm: [0, 2, 1, 3] });
      const q = g.one('Mul', [
        split(g.one('MatMul', [tokens, g.weight(`Wq${l}`, [N0, H * G])], {}, { name: `q${l}` }), G, 'q'),
        g.scalar(`qs${l}`, 1 / Math.sqrt(G)),
      ]);
      const k = g.one('Transpose', [split(g.one('MatMul', [tokens, g.weight(`Wk${l}`, [N0, H * G])], {}, { name: `k${l}` }), G, 'k')], { perm: [0, 1, 3, 2] });
      const v = split(g.one('MatMul', [z, g.weight(`Wv${l}`, [N, H * N])], {}, { name: `v${l}` }), N, 'v');
      const pr = g.one('Softmax', [g.one('MatMul', [q, k])], { axis: -1 }, { name: `softmax${l}` });
      const c = g.one('Reshape', [g.one('Transpose', [g.one('MatMul', [pr, v])], { perm: [0, 2, 1, 3] }), g.ints(`merge${l}`, [0, 0, H * N])]);
      z = g.one('Mul', [g.one('MatMul', [c, g.weight(`Wo${l}`, [H * N, N])], {}, { name: `o${l}` }), g.scalar(`half${l}`, 0.5)]);
    }
    const pooled = g.one('ReduceSum', [z, g.ints('axes', [1])], { keepdims: 0 }, { name: 'pool' });
    g.one('Div', [g.one('MatMul', [pooled, g.weight('a', [N, 1])], {}, { name: 'readout' }), g.scalar('four', 4)], {}, { out: 'y' });
    g.output('y', ['batch', 1]);
    const x = normal([8, N0, T], 6);
    const { model, data, f } = await modelWithData('style', modelBytes(g.graph(), { opsets: { '': 17 } }), x);
    const mt = await modelTask({ model, data, split: 0.5 });
    assert.deepEqual(
      mt.detection.blocks.map((b) => [b.form, b.queryHeads, b.headSizeQK, b.headSizeV]),
      [
        ['unfused', H, G, N],
        ['unfused', H, G, N],
      ],
    );
    assert.equal(mt.theoryClass.inClass, true, mt.theoryClass.reasons.join('; '));
    assert.equal(mt.modelReadout, 'mean');
    // f(x) by the theory's forward pass (docs/theory.md §a) with V⁰ = √N0·Eᵀ and the reported weights.
    const e = toFloat64(readModel(model).graph.initializers.get('E')!);
    const V0 = new Float64Array(N * N0);
    for (let i = 0; i < N; i++) for (let k = 0; k < N0; k++) V0[i * N0 + k] = Math.sqrt(N0) * e[k * N + i];
    for (let p = 0; p < 4; p++) {
      const xp = mt.task.train.data.subarray(p * N0 * T, (p + 1) * N0 * T);
      const att = mt.layers.map((l) => (l as FixedLayer).train.subarray(p * H * T * T, (p + 1) * H * T * T));
      const r = readoutWeights({ heads: H, tokens: T, count: 1, data: att[1] }, 'mean');
      const y = networkOutput(xp, N0, T, att, r, V0, mt.valueWeights!);
      assert.ok(Math.abs(y - f[p]) <= 1e-5 * Math.max(1, Math.abs(f[p])), `example ${p}: theory ${y} vs model ${f[p]}`);
    }
  });
});
