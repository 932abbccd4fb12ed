/**
 * `attention-paths prune` (cli/commands/prune.ts): a verified pruned model is written with the measured and predicted
 * effect; every bad input (all heads of a layer, a partial key/value group, an unknown head, malformed lists,
 * data of the wrong shape, the input as output, an existing output) gives a clear error, writes nothing and does
 * not crash.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPrune } from '../../src/cli';
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

test("prune --drop-lowest K on a model of the theory's class, verified on its data", async () => {
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
    [
      [gqa, '--heads', '0:1', '--out', join(tmp, 'x2.onnx')],
      1,
      /grouped-query attention \(4 query heads share 2 key\/value heads, 2 per group\): removing 0:1 would leave key\/value head 0 half used; remove whole groups, e\.g\. 0:0-1/,
    ],
    [[model, '--heads', '2:0', '--out', join(tmp, 'x3.onnx')], 1, /layer 2 does not exist: the model has 2 attention blocks/],
    [[model, '--heads', '1:7', '--out', join(tmp, 'x4.onnx')], 1, /head 1:7 does not exist: layer 1 has 4 heads \(0–3\)/],
    [[model, '--heads', '1-2', '--out', join(tmp, 'x5.onnx')], 2, /--heads: "1-2" is not a head: write LAYER:HEAD/],
    [
      [model, '--heads', '0:1', '--data', wrong, '--out', join(tmp, 'x6.onnx')],
      1,
      /'X' has shape \[8, 12, 15\], but the model input 'X' is \[batch, 12, 16\] \(dim 2 must be 16\)/,
    ],
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

test('outputs are checked before any work: never an input, never twice, writable, no raw Node errors', async () => {
  const dir = join(tmp, 'outs');
  mkdirSync(dir);
  const model = join(dir, 'm.onnx');
  writeFileSync(model, readFileSync(join(B, 'model.onnx')));
  writeFileSync(join(dir, 'b2.json'), '{"mine": true}');
  writeFileSync(join(dir, 'afile'), 'a file');
  mkdirSync(join(dir, 'repA'));
  const x = join(dir, 'x.onnx');
  const snapshot = () =>
    Object.fromEntries(
      readdirSync(dir)
        .sort()
        .map((f) => [f, f === 'repA' ? readdirSync(join(dir, f)).join() : readFileSync(join(dir, f)).toString('base64')]),
    );
  const before = snapshot();
  const cases: [string[], number, string][] = [
    [
      ['--heads', '0:2', '--out', x, '--json', model, '--force'],
      1,
      `--json ${model} would replace the input model ${model}, which this command reads; choose another output path`,
    ],
    [['--heads', '0:2', '--out', x, '--json', x, '--force'], 1, `--json ${x} and --out ${x} are the same file (${x}); choose different output paths`],
    [
      ['--heads', '0:2', '--out', x, '--json', join(dir, 'b2.json')],
      1,
      `${join(dir, 'b2.json')} already exists; not overwriting it (pass --force to replace it)`,
    ],
    [['--heads', '0:2', '--out', join(dir, 'afile', 'x.onnx')], 1, `cannot write ${join(dir, 'afile', 'x.onnx')}: ${join(dir, 'afile')} is not a folder`],
    [['--heads', '0:2', '--out', join(dir, 'repA'), '--force'], 1, `cannot write ${join(dir, 'repA')}: it is a folder`],
    [['--heads', '0:2', '--out', '/proc/ap-foo/x.onnx'], 1, 'cannot write /proc/ap-foo/x.onnx: /proc is on the virtual file system proc'],
    [['--heads', '-1:0', '--out', x], 2, '--heads: "-1:0" is not a head: write LAYER:HEAD (0-based), e.g. 0:1, or a range 1:0-3'],
    [['--drop-lowest', '-1', '--out', x], 2, '--drop-lowest: "-1" is not a positive integer'],
    [['--heads', '0:1', '--bogus', '--out', x], 2, "Unknown option '--bogus'; see attention-paths prune --help"],
  ];
  for (const [args, code, msg] of cases) {
    const r = await run([model, ...args, '--quiet']);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
    assert.equal(r.err, `attention-paths prune: ${msg}\n`, args.join(' '));
    assert.equal(r.out, '');
    assert.deepEqual(snapshot(), before, `${args.join(' ')}: nothing written or changed`);
  }
});

test('NaN or Infinity in the data is reported as such, before running the model', async () => {
  const bad = join(tmp, 'nan.npz');
  const X = normal([8, 12, 16], 1);
  const mask = normal([8, 1, 1, 12], 2);
  X.data[5 * 12 * 16 + 3 * 16 + 7] = NaN;
  writeNpz(bad, { X: { shape: X.dims, data: X.data }, mask: { shape: mask.dims, data: mask.data } });
  const before = new Set(readdirSync(tmp));
  const r = await run([join(B, 'model.onnx'), '--heads', '0:1', '--data', bad, '--out', join(tmp, 'nan.onnx'), '--quiet']);
  assert.equal(r.code, 1);
  assert.equal(r.err, `attention-paths prune: ${bad}: input 'X' has NaN at [5, 3, 7]\n`);
  X.data[5 * 12 * 16 + 3 * 16 + 7] = 0;
  mask.data[3] = -Infinity;
  writeNpz(bad, { X: { shape: X.dims, data: X.data }, mask: { shape: mask.dims, data: mask.data } });
  const r2 = await run([join(B, 'model.onnx'), '--heads', '0:1', '--data', bad, '--out', join(tmp, 'nan.onnx'), '--quiet']);
  assert.equal(r2.code, 1);
  assert.equal(r2.err, `attention-paths prune: ${bad}: input 'mask' has -Infinity at [0, 0, 0, 3]\n`);
  assert.deepEqual(new Set(readdirSync(tmp)), before, 'no file was written');
});

test('repeated heads are removed once, and the verification names its example count once', async () => {
  const out = join(tmp, 'dup.onnx');
  const r = await run([join(B, 'model.onnx'), '--heads', '0:1,0:1', '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /removed: 0:1\n/);
  assert.match(r.out, /verified on 4 examples of random inputs: max/);
  rmSync(out, { force: true });
});
