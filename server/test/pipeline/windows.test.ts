/**
 * Layer windows (pipeline/windows.ts, docs/windows.md): the window plan, the path-limit advice, and windowed analyses
 * of a generated 4-layer model of the theory's class — every head reported, a window's x the activation feeding its
 * first block's value projection (checked by the theory's forward pass reproducing the model's output from it), and
 * a window of the full depth equal to the plain analysis — and of the 6-layer × 4-head PyTorch encoder.
 */
import { headName } from '../../../shared/format';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnalysisConfig } from '../../src/config/types';
import { analyze } from '../../src/pipeline/analyze';
import { autoWindowSize, pathCountText, planWindows, tileWindows } from '../../src/pipeline/windowPlan';
import { checkPathLimit, checkWindowPathLimit, windowsAdvice } from '../../src/pipeline/limits';
import { checkMemory } from '../../src/pipeline/resources';
import { modelTask } from '../../src/pipeline/model/modelTask';
import { decodeModel } from '../../src/onnx/format/read';
import { checkInputs } from '../../src/onnx/run/feeds';
import { runAll } from '../../src/onnx/run/verify';
import { writeNpz, readNpz } from '../../src/data/npz';
import { readoutWeights } from '../../src/theory/attention';
import { networkOutput } from '../../src/theory/weights';
import type { FixedLayer } from '../../src/data/types';
import { loadConfig } from '../../src/config/load';
import { formatAnalysis } from '../../src/report/summary';
import { headRemovalSpec, headScoresSpec } from '../../../shared/charts';
import { FIXTURES } from '../onnx/build';
import { normal, theoryClassModel } from '../onnx/models';

const tmp = mkdtempSync(join(tmpdir(), 'windows-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('window plans: tiles, auto sizes within the path limit, one window by layers, and clear errors', () => {
  assert.deepEqual(
    tileWindows([4, 4, 4, 4, 4, 4], 4).map((w) => [w.first, w.last, w.paths]),
    [
      [0, 3, 256],
      [4, 5, 16],
    ],
  );
  // The fewest near-equal windows: 6 × 4 heads → 2 windows of 3 blocks (64 paths), 12 × 12 → 6 windows of 2 (144).
  assert.equal(autoWindowSize([4, 4, 4, 4, 4, 4], 256), 3);
  assert.equal(autoWindowSize(Array(12).fill(12), 256), 2);
  assert.equal(autoWindowSize([2, 2], 256), 2);
  assert.equal(autoWindowSize([300, 2], 256), null);
  assert.deepEqual(
    planWindows([4, 4, 4, 4, 4, 4], { windows: 'auto' }).map((w) => [w.first, w.last]),
    [
      [0, 2],
      [3, 5],
    ],
  );
  assert.deepEqual(
    planWindows([2, 3, 4], { layers: [1, 2] }).map((w) => [w.first, w.last, w.heads, w.paths]),
    [[1, 2, [3, 4], 12]],
  );
  assert.deepEqual(
    planWindows([2, 3, 4], { windows: 9 }).map((w) => [w.first, w.last]),
    [[0, 2]],
  );
  assert.throws(
    () => planWindows([2, 3, 4], { layers: [1, 3] }),
    /attention\.layers \[1, 3\] goes past the model's last attention block: it has 3 \(blocks 0 to 2\)/,
  );
  assert.throws(() => planWindows([300, 2], { windows: 'auto' }), /block 0 alone has 300 heads, more than the path limit 256/);
  assert.equal(pathCountText(Array(12).fill(12)), '12¹² = 8.9e12');
  assert.equal(pathCountText([4, 2]), '8');
});

test('the path limit names the paths as the cause and offers windows; the memory estimate too', () => {
  assert.throws(
    () => checkPathLimit([4, 4, 4, 4, 4, 4], 256, 'analyse', { windows: true }),
    (e: Error) => {
      assert.equal(
        e.message,
        'this config has 4⁶ = 4096 attention paths (heads [4, 4, 4, 4, 4, 4]; paths multiply across layers), more than the path limit 256 ' +
          '(--max-paths on the command line, attentionPaths.maxPaths in the editor); reducing P would not help. Analyse the model in layer windows: ' +
          '`attention.windows: 3` (2 windows of 3 blocks, 64 paths each; `attention.windows: auto` picks the same) — see docs/windows.md — or raise the limit to analyse it whole',
      );
      return true;
    },
  );
  assert.throws(
    () => checkPathLimit(Array(12).fill(12), 256, 'analyse', { windows: true }),
    /12¹² = 8\.9e12 attention paths .*`attention\.windows: 2` \(6 windows of 2 blocks, 144 paths each/,
  );
  // Configs without a model cannot use windows: no such advice.
  assert.throws(
    () => checkPathLimit([4, 4, 4], 10, 'analyse'),
    /more than the path limit 10 .*; use fewer heads or layers, or raise the limit to analyse it whole$/,
  );
  assert.doesNotThrow(() => checkPathLimit([4, 4, 4, 4], 256, 'analyse'));
  assert.throws(
    () => checkWindowPathLimit([4, 4, 4, 4, 4, 4], tileWindows([4, 4, 4, 4, 4, 4], 4), 64),
    /^Error: window 0 \(blocks 0–3, heads \[4, 4, 4, 4\]\) has 4⁴ = 256 attention paths, more than the path limit 64 .*use smaller windows: `attention\.windows: 3`/,
  );
  assert.equal(windowsAdvice([300], 256), null);
  // A 12 × 12 BERT at P = 200: the paths, not P, exhaust the memory.
  assert.throws(
    () => checkMemory({ P: 200, P_test: 200, N0: 768, T: 128, heads: Array(12).fill(12), source: 'model' }, 'bert.onnx'),
    /^ResourceError: bert\.onnx needs about \d+ GB of memory \(P = 200, .*\), \d+ GB of it for the features of its 12¹² = 8\.9e12 attention paths, but only .* is available .*; the paths multiply across layers, so reducing P cannot help: analyse the model in layer windows \(`attention\.windows: auto`/,
  );
  // P dominates: P = 10⁶ of these shapes fits now (feature space, no P × P array); 10⁹ single tokens need ~0.5 TB.
  assert.doesNotThrow(() => checkMemory({ P: 1e6, P_test: 10, N0: 10, T: 4, heads: [2, 2] }, 'big'));
  assert.throws(() => checkMemory({ P: 1e9, P_test: 10, N0: 10, T: 1, heads: [2, 2] }, 'big'), /reduce P \(training examples\)$/);
});

/** A 4-layer × 2-head model of the theory's class with data labelled by its own output sign. */
async function deepModel(): Promise<{ modelPath: string; dataPath: string; bytes: Uint8Array }> {
  const bytes = theoryClassModel({ L: 4, H: 2, readout: 'mean' });
  const modelPath = join(tmp, 'deep.onnx');
  writeFileSync(modelPath, bytes);
  const model = decodeModel(bytes, 'deep.onnx');
  const x = normal([60, 5, 6], 5);
  const out = (await runAll(bytes, model, checkInputs(model, new Map([['x', x]]), 'x'), 'deep')).get('y')!;
  // Labels from a noisy sign of the model's own output, so that heads matter and the model is not perfect.
  const noise = normal([60], 9).data;
  const y = Float64Array.from(out.data, (v, i) => (v + 0.3 * noise[i] >= 0 ? 1 : -1));
  const dataPath = join(tmp, 'deep.npz');
  writeNpz(dataPath, { x: { shape: x.dims, data: x.data }, y: { shape: [60], data: y } });
  return { modelPath, dataPath, bytes };
}

const cfg = (modelPath: string, dataPath: string, extra: Partial<NonNullable<AnalysisConfig['attention']>> = {}): AnalysisConfig => ({
  data: dataPath,
  attention: { kind: 'model', model: modelPath, split: 0.5, ...extra },
  widths: 10,
  variances: 1,
  temperature: 0.01,
  solver: { tolerance: 1e-9, maxIterations: 300 },
  seed: 0,
});

test('a window of the full depth is the plain analysis, number for number', async () => {
  const { modelPath, dataPath } = await deepModel();
  const plain = await analyze(cfg(modelPath, dataPath), { measureHeadRemoval: true });
  const whole = await analyze(cfg(modelPath, dataPath, { layers: [0, 3] }), { measureHeadRemoval: true });
  assert.equal(whole.windows?.length, 1);
  assert.deepEqual(whole.windows![0].layers, [0, 3]);
  assert.equal(plain.U[0].length, 16);
  assert.deepEqual(whole.U, plain.U);
  assert.deepEqual(whole.windows![0].U1, plain.U[0]);
  assert.deepEqual(whole.metrics, plain.metrics);
  assert.deepEqual(whole.gp.metrics, plain.gp.metrics);
  assert.deepEqual(whole.predictor_mean_test, plain.predictor_mean_test);
  const strip = <T extends { window?: number }>(xs: T[]) => xs.map(({ window: _w, ...rest }) => rest);
  assert.deepEqual(strip(whole.head_scores_ascending), plain.head_scores_ascending);
  assert.deepEqual(strip(whole.head_silencing), plain.head_silencing);
  assert.deepEqual(strip(whole.pruning_order!), plain.pruning_order);
  assert.deepEqual(whole.head_removal_measured, plain.head_removal_measured);
  assert.deepEqual(whole.rank_correlations, plain.rank_correlations);
  assert.deepEqual(whole.settings.heads, plain.settings.heads);
  assert.equal(whole.solver.converged, plain.solver.converged);
  // In class: U from the model's own weights is reported for the whole-depth window as for the plain analysis.
  assert.deepEqual(whole.model!.weights_U, plain.model!.weights_U);
});

test('windows of 2 blocks over a 4-layer model: every head with its window, relevance, predicted and measured effect', async () => {
  const { modelPath, dataPath, bytes } = await deepModel();
  const r = await analyze(cfg(modelPath, dataPath, { windows: 2 }), { measureHeadRemoval: true });
  const ws = r.windows!;
  assert.deepEqual(
    ws.map((w) => [w.layers, w.heads, w.paths]),
    [
      [[0, 1], [2, 2], 4],
      [[2, 3], [2, 2], 4],
    ],
  );
  assert.deepEqual(r.settings.heads, [2, 2, 2, 2]);
  const all = ['0:0', '0:1', '1:0', '1:1', '2:0', '2:1', '3:0', '3:1'];
  const keys = (xs: { layer: number; head: number }[]) => xs.map((h) => `${h.layer}:${h.head}`).sort();
  assert.deepEqual(keys(r.head_scores_ascending), all);
  assert.deepEqual(keys(r.head_silencing), all);
  assert.deepEqual(keys(r.pruning_order!), all);
  assert.deepEqual(keys(r.head_removal_measured!.heads), all);
  for (const h of r.head_scores_ascending) assert.equal(h.window, h.layer < 2 ? 0 : 1);
  for (const w of ws) {
    assert.equal(w.U1.length, 4);
    // Scores are normalized within each window.
    assert.equal(Math.max(...w.head_scores_ascending.map((s) => s.score)), 1);
    for (const s of w.head_silencing) {
      assert.ok(Math.abs(s.delta_eg! - (s.eg_total - w.metrics.eg_total)) < 1e-15);
      assert.ok(Math.abs(s.delta_acc! - (s.acc_mean_predictor - w.metrics.acc_mean_predictor)) < 1e-15);
    }
    assert.equal(w.solver.converged, true, w.solver.stop_reason);
  }
  assert.ok(r.head_removal_measured!.heads.every((h) => h.value !== null));
  const d = r.pruning_order!.map((h) => h.delta_eg);
  assert.deepEqual(
    d,
    [...d].sort((a, b) => a - b),
  );
  assert.equal(r.rank_correlations!.heads, 8);
  for (const v of [r.rank_correlations!.score_vs_measured_drop, r.rank_correlations!.predicted_vs_measured_drop]) assert.ok(v === null || (v >= -1 && v <= 1));
  assert.equal(r.solver.converged, true);
  assert.equal(r.solver.iterations, ws[0].solver.iterations + ws[1].solver.iterations);
  // Window 1's x is the output of block 1 (what block 2's value projection reads), N0 = the model width 8.
  const model = decodeModel(bytes, 'deep.onnx');
  assert.equal(ws[1].input.tensor, model.graph.nodes.find((n) => n.name === 'o1')!.outputs[0]);
  assert.equal(ws[1].input.N0, 8);
  assert.equal(ws[0].input.tensor, 'x');
  // The windows appear in the summary and the charts.
  const text = formatAnalysis(r);
  assert.match(text, /Layer windows \(each solved on its own/);
  assert.match(text, /Rank correlation \(Spearman\) with the measured drop over 8 heads: relevance score [+−]\d\.\d\d|undefined/);
  assert.match(text, /Pruning order \(least harmful first, by the predicted ε_g increase when silenced, comparable across windows\)/);
  // in the one head notation, in pruning order (a newcomer found layer:head here and L·H everywhere else)
  const order = r.pruning_order!.slice(0, 8).map((h) => headName(h.layer, h.head));
  assert.match(text, new RegExp(`comparable across windows\\): ${order.map((h) => `${h} \\([+−][\\d.]+\\)`).join(', ')}`));
  assert.equal((headScoresSpec(r).data as { values: unknown[] }).values.length, 8);
  const title = (headRemovalSpec(r).title as { text: string[] }).text;
  assert.match(title[1], /^Spearman vs measured drop \(8 heads\): score .+, predicted effect .+$/);
});

test("a window's x feeds its first block's value projection: the theory's forward pass from it reproduces the model", async () => {
  const { modelPath, dataPath } = await deepModel();
  const m = await modelTask({ model: modelPath, data: dataPath, split: 0.5, windowStarts: () => [0, 2] });
  assert.equal(m.theoryClass.inClass, true, m.theoryClass.reasons.join('; '));
  const w = m.valueWeights!;
  const win = m.windowInputs[1];
  assert.equal(win.block, 2);
  const { features: N0, tokens: T } = win.train;
  const V0 = new Float64Array(N0 * N0);
  for (let i = 0; i < N0; i++) V0[i * N0 + i] = Math.sqrt(N0);
  const sub = { widths: w.widths.slice(2), V: w.V.slice(2), a: w.a };
  const bytes = (await import('node:fs')).readFileSync(modelPath);
  const model = decodeModel(bytes, 'deep.onnx');
  const xs = readNpz(dataPath).get('x')!;
  const out = (await runAll(bytes, model, checkInputs(model, new Map([['x', { dims: xs.shape, data: xs.data }]]), 'x'), 'deep')).get('y')!;
  for (let p = 0; p < 5; p++) {
    const xp = win.train.data.subarray(p * N0 * T, (p + 1) * N0 * T);
    const att = m.layers.slice(2).map((l) => (l as FixedLayer).train.subarray(p * l.heads * T * T, (p + 1) * l.heads * T * T));
    const r = readoutWeights({ heads: 2, tokens: T, count: 1, data: att[1] }, 'mean');
    const f = networkOutput(xp, N0, T, att, r, V0, sub);
    assert.ok(Math.abs(f - out.data[p]) < 1e-5, `example ${p}: theory from window x ${f} vs model ${out.data[p]}`);
  }
});

test('the path limit refuses a too-large window before the model runs, and advises smaller windows', async () => {
  const { modelPath, dataPath } = await deepModel();
  const stages: string[] = [];
  await assert.rejects(
    analyze(cfg(modelPath, dataPath, { windows: 4 }), { maxPaths: 8, onProgress: (_s, m) => stages.push(m) }),
    /window 0 \(blocks 0–3, heads \[2, 2, 2, 2\]\) has 2⁴ = 16 attention paths, more than the path limit 8 .*use smaller windows: `attention\.windows: 2` \(2 windows of 2 blocks, 4 paths each/,
  );
  assert.ok(!stages.some((m) => /running deep\.onnx/.test(m)), stages.join('\n'));
  // The plain analysis of the same model: paths named, windows offered, nothing run.
  await assert.rejects(
    analyze(cfg(modelPath, dataPath), { maxPaths: 8, onProgress: (_s, m) => stages.push(m) }),
    /2⁴ = 16 attention paths .*layer windows: `attention\.windows: 2`/,
  );
  assert.ok(!stages.some((m) => /running deep\.onnx/.test(m)), stages.join('\n'));
  // auto fits the limit.
  const r = await analyze(cfg(modelPath, dataPath, { windows: 'auto' }), { maxPaths: 8 });
  assert.deepEqual(
    r.windows!.map((w) => w.layers),
    [
      [0, 1],
      [2, 3],
    ],
  );
});

test('the 6-layer × 4-head PyTorch encoder in layer windows: every head a relevance, a predicted and a measured effect', async () => {
  const config = loadConfig(join(FIXTURES, 'onnx-real', 'encoder6', 'encoder6.attention.yaml'));
  const r = await analyze(config, { measureHeadRemoval: true, maxPaths: 256 });
  assert.deepEqual(
    r.windows!.map((w) => w.layers),
    [
      [0, 1],
      [2, 3],
      [4, 5],
    ],
  );
  assert.deepEqual(r.settings.heads, [4, 4, 4, 4, 4, 4]);
  assert.equal(r.head_scores_ascending.length, 24);
  assert.equal(r.head_silencing.length, 24);
  assert.equal(r.pruning_order!.length, 24);
  const hm = r.head_removal_measured!;
  assert.equal(hm.heads.length, 24);
  assert.ok(
    hm.heads.every((h) => h.value !== null),
    JSON.stringify(hm.heads.filter((h) => h.value === null)),
  );
  assert.equal(hm.count, 160);
  // The measured removal of head 0:1 equals torch's own masked model (reference.npz) on the same test examples.
  const ref = readNpz(join(FIXTURES, 'onnx-real', 'encoder6', 'reference.npz'));
  const y = readNpz(join(FIXTURES, 'onnx-real', 'encoder6', 'data.npz')).get('y_test')!.data;
  const acc = (f: ArrayLike<number>) => Array.from(f).filter((v, i) => (v >= 0 ? 1 : -1) === y[i]).length / y.length;
  assert.equal(hm.full, acc(ref.get('out_test')!.data));
  assert.equal(hm.heads.find((h) => h.layer === 0 && h.head === 1)!.value, acc(ref.get('masked_L0H1_test')!.data));
  // Windows after the first read the model's hidden states (the LayerNorm output before the block).
  assert.match(r.windows![1].input.tensor, /layers\.1\/norm2/);
  assert.equal(r.windows![1].input.N0, 64);
  for (const w of r.windows!) {
    assert.equal(w.U1.length, 16);
    for (const v of Object.values(w.metrics)) assert.ok(Number.isFinite(v));
  }
  assert.ok(r.rank_correlations);
});
