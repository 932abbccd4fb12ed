/**
 * `attention-paths prune` (commands/prune.ts): a verified pruned model is written with the measured and predicted
 * effect; every bad input (all heads of a layer, a partial key/value group, an unknown head, malformed lists,
 * data of the wrong shape, the input as output, an existing output) gives a clear error, writes nothing and does
 * not crash.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPrune } from '../../src/commands/prune';
import { writeNpz } from '../../src/data/npz';
import { buildMha, TORCH } from './build';
import { msGqa, normal, theoryClassModel } from './models';

const tmp = mkdtempSync(join(tmpdir(), 'prune-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the command with stdout/stderr captured. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runPrune(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

const B = join(TORCH, 'B_bert_div');

test('prune B_bert_div --heads 0:1 with a config on labelled data: verified, measured and predicted, JSON summary', async () => {
  const out = join(tmp, 'b.onnx');
  const json = join(tmp, 'b.json');
  const cfg = join(tmp, 'b.yaml');
  writeFileSync(cfg, `data: ${join(B, 'data.npz')}\nattention:\n  kind: model\n  model: ${join(B, 'model.onnx')}\nsolver:\n  tolerance: 1.0e-6\n`);
  const r = await run([join(B, 'model.onnx'), '--heads', '0:1', '--config', cfg, '--out', out, '--json', json, '--quiet']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /heads per layer: \[4, 4\] → \[3, 4\]/);
  assert.match(r.out, /verified on 128 examples/);
  assert.match(r.out, /measured \(test split\): accuracy/);
  assert.match(r.out, /theory \(head silencing, finite width\)/);
  const s = JSON.parse(readFileSync(json, 'utf8'));
  assert.ok(s.verification.maxAbsDiff <= 1e-5);
  assert.deepEqual(s.headsAfter, [3, 4]);
  assert.equal(s.measured.before.kind, 'accuracy');
  assert.ok(s.predicted.after.acc_mean_predictor >= 0);
  assert.ok(existsSync(out));
  // An existing output is not replaced without --force, and is with it.
  const again = await run([join(B, 'model.onnx'), '--heads', '0:2', '--out', out, '--quiet']);
  assert.equal(again.code, 1);
  assert.match(again.err, /already exists; not overwriting it/);
  const forced = await run([join(B, 'model.onnx'), '--heads', '0:2', '--out', out, '--force', '--quiet']);
  assert.equal(forced.code, 0, forced.err);
  assert.match(forced.out, /verified on 4 examples of random inputs/);
});

test('prune --drop-lowest K on a model of the theory\'s class, verified on its data', async () => {
  const model = join(tmp, 'theory.onnx');
  writeFileSync(model, theoryClassModel({ H: 3 }));
  const x = normal([30, 5, 6], 2);
  const data = join(tmp, 'theory.npz');
  writeNpz(data, { x: { shape: x.dims, data: x.data }, y: { shape: [30], data: Float64Array.from({ length: 30 }, (_, i) => (x.data[i * 30] > 0 ? 1 : -1)) } });
  const r = await run([model, '--drop-lowest', '2', '--data', data, '--out', join(tmp, 'theory-pruned.onnx'), '--rescale', '--json', '--quiet']);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.equal(s.removed.length, 2);
  assert.ok(s.removed.every((h: { score: number }) => h.score >= 0 && h.score <= 1));
  assert.equal(s.rescale, true);
  assert.ok(s.verification.maxAbsDiff <= 1e-5);
});

test('without data, a float-input model is verified on random inputs', async () => {
  const model = join(tmp, 'bert.onnx');
  writeFileSync(model, buildMha({}).bytes);
  const r = await run([model, '--heads', '0:3', '--out', join(tmp, 'bert-pruned.onnx')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /verified on 4 examples of random inputs/);
});

test('bad inputs: clear errors, exit codes 1/2, nothing written, no crash', async () => {
  const model = join(B, 'model.onnx');
  const gqa = join(tmp, 'gqa.onnx');
  writeFileSync(gqa, msGqa());
  const wrong = join(tmp, 'wrong.npz');
  const xw = normal([8, 12, 15], 1);
  const mask = normal([8, 1, 1, 12], 2);
  writeNpz(wrong, { X: { shape: xw.dims, data: xw.data }, mask: { shape: mask.dims, data: mask.data } });
  const cases: [string[], number, RegExp][] = [
    [[model, '--heads', '0:0-3', '--out', join(tmp, 'x1.onnx')], 1, /layer 0: removing all 4 heads would remove the block; keep at least one head/],
    [[gqa, '--heads', '0:1', '--out', join(tmp, 'x2.onnx')], 1, /grouped-query attention \(4 query heads share 2 key\/value heads, 2 per group\): removing 0:1 would leave key\/value head 0 half used; remove whole groups, e\.g\. 0:0-1/],
    [[model, '--heads', '2:0', '--out', join(tmp, 'x3.onnx')], 1, /layer 2 does not exist: the model has 2 attention blocks/],
    [[model, '--heads', '1:7', '--out', join(tmp, 'x4.onnx')], 1, /head 1:7 does not exist: layer 1 has 4 heads \(0–3\)/],
    [[model, '--heads', '1-2', '--out', join(tmp, 'x5.onnx')], 2, /--heads: "1-2" is not a head: write LAYER:HEAD/],
    [[model, '--heads', '0:1', '--data', wrong, '--out', join(tmp, 'x6.onnx')], 1, /'X' has shape \[8, 12, 15\], but the model input 'X' is \[batch, 12, 16\] \(dim 2 must be 16\)/],
    [[model, '--heads', '0:1', '--out', model, '--force'], 1, /is the input model; write the pruned model to a new file/],
    [[model, '--heads', '0:1'], 2, /prune needs --out OUT\.onnx/],
    [[model, '--heads', '0:1', '--drop-lowest', '1', '--out', join(tmp, 'x7.onnx')], 2, /exactly one of --heads/],
    [[model, '--drop-lowest', '1', '--out', join(tmp, 'x8.onnx')], 1, /--drop-lowest needs the theory's head scores/],
    [[model, '--drop-lowest', 'two', '--out', join(tmp, 'x9.onnx')], 2, /--drop-lowest: "two" is not a positive integer/],
    [[join(tmp, 'missing.onnx'), '--heads', '0:1', '--out', join(tmp, 'x10.onnx')], 1, /missing\.onnx: cannot read: no such file/],
    [[join(tmp, 'wrong.npz'), '--heads', '0:1', '--out', join(tmp, 'x11.onnx')], 1, /not an ONNX model/],
  ];
  const before = new Set(readdirSync(tmp));
  for (const [args, code, msg] of cases) {
    const r = await run([...args, '--quiet']);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, msg, args.join(' '));
    assert.equal(r.err.trim().split('\n')[0].startsWith('attention-paths prune:'), true);
  }
  assert.deepEqual(new Set(readdirSync(tmp)), before, 'no file was written');
});
