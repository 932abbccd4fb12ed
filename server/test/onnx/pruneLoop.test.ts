/**
 * The prune → analyze loop of `attention-paths prune`: what cannot be pruned is refused before any work; labelled
 * data gives the measured metric before/after and runs the theory only when it is cheap or asked for (`--predict`),
 * with analyze's warnings; the pruned model carries a head map through repeated pruning that `inspect` shows;
 * `--analyze` writes a config beside the pruned model (never over an existing file) and compares the two models
 * (heads, parameters, file size, measured accuracy, latency per batch).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { runPrune } from '../../src/cli';
import { formatInspect, inspectModel } from '../../src/onnx/detect/inspect';
import { readModel } from '../../src/onnx/format/read';
import { HEAD_MAP_KEY } from '../../src/onnx/edit/headOrigins';
import { loadConfig } from '../../src/config/load';
import { lowestPrunable, theoryIsCheap } from '../../src/pipeline/pruneModel';
import type { AnalysisReport } from '../../../shared/report';
import type { DetectionResult } from '../../src/onnx/detect/blocks';
import { writeNpz } from '../../src/data/npz';
import { GraphBuilder, modelBytes, FIXTURES, NODE_TESTS, TORCH } from './build';
import { normal, summedHeadsModel } from './models';

const tmp = mkdtempSync(join(tmpdir(), 'prune-loop-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runPrune([...args, '--quiet'], { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

test('blocks that cannot be pruned are refused before the data is read or any theory runs', async () => {
  const model = join(NODE_TESTS, 'test_attention_3d', 'model.onnx');
  const r = await run([model, '--heads', '0:0', '--data', join(tmp, 'no-such-data.npz'), '--out', join(tmp, 'x.onnx')]);
  assert.equal(r.code, 1);
  assert.match(r.err, /^attention-paths prune: cannot prune layer 0 \(ai\.onnx\.Attention 'Attention#0'\): its query projection is not in the model/);
  assert.ok(!/no-such-data/.test(r.err), 'refused before reading the data');
  // --drop-lowest on a model none of whose heads can be removed: refused before the theory.
  const d = await run([model, '--drop-lowest', '1', '--data', join(tmp, 'no-such-data.npz'), '--out', join(tmp, 'x.onnx')]);
  assert.equal(d.code, 1);
  assert.match(d.err, /no head of model\.onnx can be removed: layer 0 \(ai\.onnx\.Attention 'Attention#0'\): its query projection/);
  assert.ok(!existsSync(join(tmp, 'x.onnx')));
});

/** A BERT block whose input has no shape and whose Reshape targets are graph inputs: its head count is unknown. */
function dynamicModel(): Uint8Array {
  const g = new GraphBuilder(11);
  g.input('x', null);
  g.input('split_shape', [4], 7);
  g.input('merge_shape', [3], 7);
  const proj = (n: string) => g.one('Add', [g.one('MatMul', ['x', g.weight(`W${n}`, [32, 32])]), g.weight(`b${n}`, [32])]);
  const split = (t: string) => g.one('Transpose', [g.one('Reshape', [t, 'split_shape'])], { perm: [0, 2, 1, 3] });
  const q = split(proj('q'));
  const k = g.one('Transpose', [split(proj('k'))], { perm: [0, 1, 3, 2] });
  const v = split(proj('v'));
  const p = g.one('Softmax', [g.one('Div', [g.one('MatMul', [q, k]), g.scalar('c', Math.sqrt(8))])], { axis: -1 });
  const c = g.one('Reshape', [g.one('Transpose', [g.one('MatMul', [p, v])], { perm: [0, 2, 1, 3] }), 'merge_shape']);
  g.one('MatMul', [c, g.weight('Wo', [32, 32])], {}, { out: 'y' });
  g.output('y', null);
  return modelBytes(g.graph());
}

test('--num-heads supplies a head count the model does not tell; the refusal then names what else is missing', async () => {
  const model = join(tmp, 'dynamic.onnx');
  writeFileSync(model, dynamicModel());
  const unknown = await run([model, '--heads', '0:1', '--out', join(tmp, 'd.onnx')]);
  assert.equal(unknown.code, 1);
  assert.equal(
    unknown.err,
    'attention-paths prune: layer 0: its head count is unknown (dynamic shapes); give it with --num-heads N (or heads in the config)\n',
  );
  const given = await run([model, '--heads', '0:1', '--num-heads', '4', '--out', join(tmp, 'd.onnx')]);
  assert.equal(given.code, 1);
  assert.match(
    given.err,
    /^attention-paths prune: cannot prune layer 0 \(unfused at Softmax 'Softmax_\d+'\): block 0: the q input 'Add_\d+_out0' has an unknown shape\n$/,
  );
  assert.doesNotMatch(given.err, /head count is unknown/);
  const bad = await run([model, '--heads', '0:1', '--num-heads', '0', '--out', join(tmp, 'd.onnx')]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--num-heads: "0" is not a positive integer/);
});

test('prune --data with labels on gpt_style: measured before/after only, the theory skipped as expensive with the reason', async () => {
  const dir = join(FIXTURES, 'onnx-real', 'gpt_style');
  const out = join(tmp, 'gpt-pruned.onnx');
  const t0 = Date.now();
  const r = await run([join(dir, 'model.onnx'), '--heads', '2:0,2:2', '--data', join(dir, 'data-100.npz'), '--out', out, '--json']);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.equal(s.theory.ran, false);
  assert.match(
    s.theory.reason,
    /^not run: 64 attention paths \(more than 16: the solve's iterations grow with the paths; estimated at least \d+ s\), P = 100, N0 = 64; pass --predict to run it/,
  );
  assert.ok(s.theory.estimated_seconds > 1);
  assert.equal(s.predicted, undefined);
  assert.deepEqual([s.measured.before.kind, s.measured.before.count], ['accuracy', 100]);
  // torch's accuracies with and without 2:0, 2:2 on these 100 test examples (reference-100.npz signs).
  assert.equal(s.measured.before.value, 0.95);
  assert.ok(s.measured.after.value < s.measured.before.value);
  const c = s.comparison;
  assert.deepEqual(
    [c.original.heads, c.pruned.heads],
    [
      [4, 4, 4],
      [4, 4, 2],
    ],
  );
  // Two heads of 16 dims: their Q, K, V columns (64 × 3 × 32 weights + 96 biases) and output rows (32 × 64).
  assert.equal(c.original.parameters - c.pruned.parameters, 64 * 96 + 96 + 32 * 64);
  assert.equal(c.pruned.file_bytes, statSync(out).size);
  assert.ok(c.pruned.file_bytes < c.original.file_bytes);
  assert.deepEqual(
    s.removed.map((h: { original: unknown }) => h.original),
    [
      { layer: 2, head: 0 },
      { layer: 2, head: 2 },
    ],
  );
  assert.ok(Date.now() - t0 < 120_000, 'no theory run (that alone takes about 25 s of CPU)');
  const text = await run([join(dir, 'model.onnx'), '--heads', '2:0', '--data', join(dir, 'data-100.npz'), '--out', join(tmp, 'gpt-2.onnx')]);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /theory: not run: 64 attention paths/);
  assert.match(text.out, /original versus pruned:\n\s+original\s+pruned\n\s+heads\s+12 \[4, 4, 4\]\s+11 \[4, 4, 3\]\n\s+parameters/);
});

test('a cheap theory runs by itself and its warnings are printed (a model outside the class)', async () => {
  const cfg = join(FIXTURES, 'model-analysis', 'B_bert_div.yaml');
  const r = await run([join(TORCH, 'B_bert_div', 'model.onnx'), '--heads', '1:3', '--config', cfg, '--out', join(tmp, 'bert-1.onnx')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /theory \(head silencing, finite width\): accuracy/);
  assert.match(r.out, /warning: the model is outside the theory's class/);
  // a warning's detail lines are indented under its text (they began at column 0: found by a newcomer's run)
  const lines = r.out.split('\n');
  const w = lines.findIndex((l) => /warning: the model is outside/.test(l));
  const indent = lines[w].indexOf('the model');
  for (let i = w + 1; i < lines.length && lines[i].trim() && !/^\s*(warning:|written:|theory|original)/.test(lines[i]); i++) {
    assert.ok(lines[i].startsWith(' '.repeat(indent)), `detail line ${JSON.stringify(lines[i])} not indented`);
  }
  assert.equal(theoryIsCheap({ P: 128, P_test: 128, N0: 16, T: 12, heads: [4, 4], source: 'model', attention: 'fixed' }).cheap, true);
  const gpt = theoryIsCheap({ P: 100, P_test: 100, N0: 64, T: 20, heads: [4, 4, 4], source: 'model', attention: 'fixed' });
  assert.deepEqual([gpt.cheap, gpt.paths], [false, 64]);
});

test('the head map survives prune, prune again, and inspect shows the original names', async () => {
  const bytes = summedHeadsModel({ H: 4, readout: 'mean' });
  const model = join(tmp, 'summed.onnx');
  writeFileSync(model, bytes);
  const once = join(tmp, 'summed-1.onnx');
  const twice = join(tmp, 'summed-2.onnx');
  const a = await run([model, '--heads', '0:1,1:0', '--out', once]);
  assert.equal(a.code, 0, a.err);
  assert.match(a.out, /verified on 4 examples of random inputs/);
  const b = await run([once, '--heads', '0:1,1:2', '--out', twice]);
  assert.equal(b.code, 0, b.err);
  assert.match(b.out, /removed: 0:1 \(was 0:2\), 1:2 \(was 1:3\)/);
  const map = JSON.parse(readModel(twice).metadata[HEAD_MAP_KEY]);
  assert.deepEqual(map, {
    format: 1,
    source: 'summed.onnx',
    original_heads: [4, 4],
    layers: [
      { layer: 0, heads: [0, 3] },
      { layer: 1, heads: [1, 2] },
    ],
  });
  const s = inspectModel(twice);
  assert.deepEqual(
    s.headMap?.layers.map((l) => l.heads),
    [
      [0, 3],
      [1, 2],
    ],
  );
  const text = formatInspect(s);
  assert.match(text, /pruned from summed\.onnx \(heads per layer \[4, 4\]\)/);
  assert.match(text, /heads \(original layer:head\) {2}0 = 0:0, 1 = 0:3/);
  assert.match(text, /heads \(original layer:head\) {2}0 = 1:1, 1 = 1:2/);
  assert.match(text, /O {2}— \(heads summed by ReduceSum 'head_sum0'\)/);
  // A map that no longer fits the model (edited elsewhere) is ignored with a note.
  const m = onnx.ModelProto.decode(readFileSync(twice));
  m.metadataProps = [{ key: HEAD_MAP_KEY, value: JSON.stringify({ ...map, layers: [map.layers[0]] }) }];
  const edited = join(tmp, 'edited.onnx');
  writeFileSync(edited, onnx.ModelProto.encode(m).finish());
  const e = inspectModel(edited);
  assert.equal(e.headMap, null);
  assert.match(e.headMapNote ?? '', /ignored: it describes 1 layers, the model has 2 attention blocks/);
});

test('prune --analyze: a config beside the pruned model (never over a file), its analysis, and the side-by-side comparison', async () => {
  const dir = join(tmp, 'loop');
  mkdirSync(dir);
  const bytes = summedHeadsModel({ H: 3, readout: 'last' });
  const model = join(dir, 'theory.onnx');
  writeFileSync(model, bytes);
  const x = normal([60, 5, 6], 8);
  const y = Float64Array.from({ length: 60 }, (_, i) => (x.data[i * 30 + 4] + x.data[i * 30 + 9] > 0 ? 1 : -1));
  writeNpz(join(dir, 'data.npz'), { x: { shape: x.dims, data: x.data }, y: { shape: [60], data: y } });
  const cfg = join(dir, 'theory.attention.yaml');
  writeFileSync(
    cfg,
    'data: data.npz\nattention:\n  kind: model\n  model: theory.onnx\n  split: 0.5\nwidths: 20\ntemperature: 0.05\nsolver:\n  tolerance: 1.0e-7\n  maxIterations: 300\n',
  );
  const taken = join(dir, 'pruned.attention.yaml');
  writeFileSync(taken, '# mine\n');
  const out = join(dir, 'pruned.onnx');
  const r = await run([model, '--heads', '1:1', '--config', cfg, '--out', out, '--analyze', '--json']);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.equal(readFileSync(taken, 'utf8'), '# mine\n', 'an existing config is never replaced');
  const written = join(dir, 'pruned-2.attention.yaml');
  assert.equal(s.analysis.config, written);
  const c = loadConfig(written);
  assert.equal(c.attention?.model, out);
  assert.equal(c.data, join(dir, 'data.npz'));
  assert.deepEqual([c.widths, c.temperature, c.attention?.split, c.solver.tolerance], [20, 0.05, 0.5, 1e-7]);
  assert.equal(s.analysis.head_scores_ascending.length, 5);
  // Block 1 keeps original heads 0 and 2: the pruned analysis names them.
  const names = s.analysis.head_scores_ascending
    .filter((h: { layer: number }) => h.layer === 1)
    .map((h: { head: number; original: { head: number } }) => [h.head, h.original.head]);
  assert.deepEqual(names.sort(), [
    [0, 0],
    [1, 2],
  ]);
  const cmp = s.comparison;
  assert.deepEqual(
    [cmp.original.heads, cmp.pruned.heads],
    [
      [3, 3],
      [3, 2],
    ],
  );
  assert.equal(cmp.original.parameters - cmp.pruned.parameters, 6 * 4 * 2 + 8 * 8, 'one head: its Q/K columns (6 × 4 each) and V columns (8 × 8)');
  for (const side of [cmp.original, cmp.pruned]) {
    assert.equal(side.measured.kind, 'accuracy');
    assert.ok(side.latency.runs >= 3 && side.latency.median_ms > 0 && side.latency.min_ms <= side.latency.median_ms);
    assert.equal(side.latency.batch, 30);
    assert.ok(side.predicted.acc_mean_predictor >= 0 && side.predicted.acc_mean_predictor <= 1);
  }
  // The text form: the comparison table and the pruned model's analysis.
  const t = await run([model, '--heads', '1:1', '--config', cfg, '--out', join(dir, 'pruned-b.onnx'), '--analyze']);
  assert.equal(t.code, 0, t.err);
  assert.match(t.out, /latency per batch\s+[\d.]+ ms\s+[\d.]+ ms/);
  assert.match(t.out, /analysis of the pruned model \(.*pruned-b\.attention\.yaml\):\n\s+predicted accuracy/);
  // --analyze needs labels.
  writeNpz(join(dir, 'nolabels.npz'), { x: { shape: x.dims, data: x.data } });
  const nl = await run([model, '--heads', '1:1', '--data', join(dir, 'nolabels.npz'), '--out', join(dir, 'p3.onnx'), '--analyze']);
  assert.equal(nl.code, 1);
  assert.match(nl.err, /--analyze needs labelled data/);
  assert.ok(!existsSync(join(dir, 'p3.onnx')));
});

test("--drop-lowest picks the lowest-scored removable heads: blocked layers skipped, never a layer's last head", () => {
  const det = {
    blocks: [2, 2, 3].map((queryHeads, i) => ({ queryHeads, form: 'unfused', nodes: { fused: null, softmax: `sm${i}` } })),
  } as unknown as DetectionResult;
  const scores = [
    [0, 1, 0.01],
    [1, 0, 0.02],
    [0, 0, 0.03],
    [2, 2, 0.04],
    [2, 0, 0.05],
    [1, 1, 0.06],
    [2, 1, 0.07],
  ].map(([layer, head, score]) => ({ layer, head, score }));
  const report = { head_scores_ascending: scores } as unknown as AnalysisReport;
  const r = lowestPrunable(report, det, [null, 'it has a key/value cache', null], 3);
  assert.deepEqual(r.heads, [
    { layer: 0, head: 1 },
    { layer: 2, head: 2 },
    { layer: 2, head: 0 },
  ]);
  assert.deepEqual(r.skipped, ['1:0']);
  assert.throws(
    () => lowestPrunable(report, det, [null, 'it has a key/value cache', null], 4),
    /--drop-lowest 4: only 3 head\(s\) can be removed, keeping one head per layer \(layer 1 \(unfused at Softmax 'sm1'\): it has a key\/value cache\)/,
  );
});
