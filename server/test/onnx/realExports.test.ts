/**
 * Structure read right on real-architecture exports (test-fixtures/onnx-real) and a generated ViT-style model:
 * token readouts (gpt_style → last token, though its sequence axis is dynamic; encoder6 → mean), the GPT-style
 * causal mask built with `masked_fill` from a lower-triangular buffer, the head count and head size of
 * `nn.MultiheadAttention` whose split sizes come from Shape ops behind a Conv2d patch stem, captured tensors joined
 * along the axis that holds the batch, and pruned encoder6/gpt_style models equal to PyTorch's masked outputs
 * (reference-100.npz) to 1e-5.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel, decodeModel } from '../../src/onnx/format/read';
import { detectAttention } from '../../src/onnx/detect/detect';
import { mainCtx } from '../../src/onnx/edit/headMap';
import { detectReadout } from '../../src/onnx/detect/readout';
import { readInputArrays } from '../../src/onnx/run/feeds';
import { modelTask, splitModelData } from '../../src/pipeline/model/modelTask';
import { maskedModel, maskFactors, parseHeadList, planRemoval, pruneModel } from '../../src/onnx/edit/prune';
import { compareOutputs, runAll } from '../../src/onnx/run/verify';
import { batchAxisOf, concatAlong } from '../../src/onnx/run/capture';
import { readNpz, writeNpz } from '../../src/data/npz';
import { FIXTURES, GraphBuilder, modelBytes } from './build';
import { inputs, normal, vitStyleModel } from './models';

const REAL = join(FIXTURES, 'onnx-real');
const tmp = mkdtempSync(join(tmpdir(), 'real-exports-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('gpt_style: 3 × 4 heads of size 16, causal (masked_fill from the tril buffer), last-token readout on a dynamic sequence axis', () => {
  const model = readModel(join(REAL, 'gpt_style', 'model.onnx'));
  const det = detectAttention(model);
  assert.deepEqual(
    det.blocks.map((b) => [b.queryHeads, b.headSizeQK, b.causal]),
    [
      [4, 16, true],
      [4, 16, true],
      [4, 16, true],
    ],
  );
  assert.match(det.blocks[0].notes.join('\n'), /is causal: the lower-triangular buffer 'h\.0\.attn\.bias' \[20, 20\] cut to the sequence length/);
  const r = detectReadout(mainCtx(model), 20);
  assert.deepEqual(r && [r.readout, r.node], ['last', '/Gather_1']);
});

test('encoder6: 6 × 4 heads, not causal, mean readout', () => {
  const model = readModel(join(REAL, 'encoder6', 'model.onnx'));
  const det = detectAttention(model);
  assert.equal(det.blocks.length, 6);
  assert.ok(det.blocks.every((b) => b.queryHeads === 4 && b.headSizeQK === 16 && !b.causal));
  const r = detectReadout(mainCtx(model), 28);
  assert.deepEqual(r && [r.readout, r.node], ['mean', '/ReduceMean']);
});

const CASES: [string, [string, string, number[]][]][] = [
  [
    'encoder6',
    [
      ['L0H1', '0:1', [3, 4, 4, 4, 4, 4]],
      ['L4H0H3', '4:0,4:3', [4, 4, 4, 4, 2, 4]],
    ],
  ],
  [
    'gpt_style',
    [
      ['L0H1', '0:1', [3, 4, 4]],
      ['L2H0H2', '2:0,2:2', [4, 4, 2]],
    ],
  ],
];

for (const [name, cases] of CASES) {
  test(`${name}: pruned models equal PyTorch's outputs with the same heads masked (reference-100.npz) to 1e-5`, async () => {
    const dir = join(REAL, name);
    const model = readModel(join(dir, 'model.onnx'));
    const det = detectAttention(model);
    const sp = splitModelData(model, readInputArrays(join(dir, 'data-100.npz'), model), 'data-100.npz');
    const ref = readNpz(join(dir, 'reference-100.npz'));
    for (const [key, spec, heads] of cases) {
      const plan = planRemoval(det, parseHeadList(spec));
      const pruned = pruneModel(model, det, plan);
      assert.deepEqual(pruned.after, heads);
      for (const [split, data] of [
        ['train', sp.train],
        ['test', sp.test],
      ] as const) {
        const out = (await runAll(pruned.editor.bytes(), model, data, `${name} pruned`)).get('logit')!;
        const torch = ref.get(`masked_${key}_${split}`)!;
        assert.equal(out.data.length, torch.data.length);
        let err = 0;
        out.data.forEach((v, i) => (err = Math.max(err, Math.abs(v - torch.data[i]))));
        assert.ok(err < 1e-5, `${name} ${key} ${split}: max |pruned − torch masked| = ${err}`);
      }
      const masked = (await runAll(maskedModel(model, det, maskFactors(plan)).bytes(), model, sp.test, 'masked')).get('logit')!;
      const full = ref.get('out_test')!;
      let moved = 0;
      masked.data.forEach((v, i) => (moved = Math.max(moved, Math.abs(v - full.data[i]))));
      assert.ok(moved > 1e-3, `${name} ${key}: masking changes the output`);
    }
  });
}

test('ViT-style nn.MultiheadAttention behind a Conv2d stem: head count and size from Shape ops, pruned = masked, CLS readout', async () => {
  const bytes = vitStyleModel();
  const model = decodeModel(bytes, 'vit.onnx');
  const det = detectAttention(model);
  assert.deepEqual(
    det.blocks.map((b) => [b.queryHeads, b.kvHeads, b.headSizeQK, b.headSizeV, b.headLayout]),
    [
      [4, 4, 8, 8, 'folded'],
      [4, 4, 8, 8, 'folded'],
    ],
  );
  for (const b of det.blocks) {
    assert.deepEqual(
      [b.weights.query?.weight.range, b.weights.key?.weight.range, b.weights.value?.weight.range],
      [
        [0, 32],
        [32, 64],
        [64, 96],
      ],
    );
    assert.equal(b.confidence, 'high');
  }
  assert.equal(detectReadout(mainCtx(model), 17)?.readout, 'first');
  assert.equal(detectReadout(mainCtx(decodeModel(vitStyleModel({ readout: 'mean', layers: 1 }), 'vit-mean.onnx')), 17)?.readout, 'mean');
  const data = inputs(model, { pixels: normal([5, 1, 8, 8], 4) });
  const plan = planRemoval(det, parseHeadList('0:1,1:0-1'));
  const pruned = pruneModel(model, det, plan);
  const a = await runAll(maskedModel(model, det, maskFactors(plan)).bytes(), model, data, 'masked');
  const b = await runAll(pruned.editor.bytes(), model, data, 'pruned');
  assert.ok(compareOutputs(a, b).maxAbsDiff <= 1e-5 * Math.max(1, compareOutputs(a, b).maxAbs));
  assert.deepEqual(
    detectAttention(decodeModel(pruned.editor.bytes(), 'p.onnx')).blocks.map((x) => x.queryHeads),
    [3, 2],
  );

  // Captured in batches of 8 and 4 examples, x joins along its batch axis: the theory sees 12 + 12 sequences of 17 tokens.
  const modelPath = join(tmp, 'vit.onnx');
  writeFileSync(modelPath, bytes);
  const px = normal([24, 1, 8, 8], 5);
  const y = Float64Array.from({ length: 24 }, (_, i) => (i % 2 ? 1 : -1));
  const dataPath = join(tmp, 'vit.npz');
  writeNpz(dataPath, { pixels: { shape: px.dims, data: px.data }, y: { shape: [24], data: y } });
  const mt = await modelTask({ model: modelPath, data: dataPath, batchSize: 8 });
  assert.deepEqual([mt.task.train.count, mt.task.test.count, mt.input.T, mt.input.N0], [12, 12, 17, 32]);
  assert.equal(mt.modelReadout, 'first');
});

test('captured parts join along the axis that holds the batch: [17, 64, 64] and [17, 8, 64] join along axis 1', () => {
  const part = (b: number, v: number) => ({ dims: [17, b, 4], data: new Float64Array(17 * b * 4).fill(v) });
  const parts = [part(64, 1), part(8, 2)];
  assert.equal(batchAxisOf(parts, [64, 8], 0), 1);
  const joined = concatAlong(parts, batchAxisOf(parts, [64, 8], 0), 'x');
  assert.deepEqual(joined.dims, [17, 72, 4]);
  // Row t of the joined tensor holds the first part's 64 entries, then the second part's 8.
  assert.equal(joined.data[(0 * 72 + 63) * 4], 1);
  assert.equal(joined.data[(0 * 72 + 64) * 4], 2);
  assert.equal(joined.data[(16 * 72 + 71) * 4 + 3], 2);
  // The hint wins when it fits; an ambiguous layout keeps the hint.
  assert.equal(batchAxisOf([part(17, 0), part(17, 0)], [17, 17], 1), 1);
  assert.equal(batchAxisOf([{ dims: [8, 8, 4], data: new Float64Array(256) }], [8], 0), 0);
});

test('readouts that use the padding mask: mean over non-padding tokens, and the last non-padding token', () => {
  const build = (kind: 'masked-mean' | 'last-from-mask' | 'slice-first') => {
    const g = new GraphBuilder(3);
    g.input('x', ['batch', 7, 8]);
    g.input('attention_mask', ['batch', 7]);
    const h = g.one('MatMul', ['x', g.weight('W', [8, 8])]);
    let tok: string;
    if (kind === 'masked-mean') {
      const m = g.one('Unsqueeze', ['attention_mask', g.ints('ax', [-1])]);
      const sum = g.one('ReduceSum', [g.one('Mul', [h, m]), g.ints('tok_axis', [1])], { keepdims: 0 }, { name: 'masked_sum' });
      tok = g.one('Div', [sum, g.one('ReduceSum', [m, g.ints('tok_axis2', [1])], { keepdims: 0 })]);
    } else if (kind === 'last-from-mask') {
      const len = g.one('Sub', [g.one('Cast', [g.one('ReduceSum', ['attention_mask', g.ints('ax1', [1])], { keepdims: 1 })], { to: 7 }), g.ints('one', [1])]);
      tok = g.one('GatherND', [h, len], { batch_dims: 1 }, { name: 'last_token' });
    } else tok = g.one('Squeeze', [g.one('Slice', [h, g.ints('s0', [0]), g.ints('s1', [1]), g.ints('s_ax', [1])], {}, { name: 'cls' }), g.ints('sq', [1])]);
    g.one('MatMul', [tok, g.weight('a', [8, 1])], {}, { out: 'y' });
    g.output('y', ['batch', 1]);
    return decodeModel(modelBytes(g.graph()), `${kind}.onnx`);
  };
  const mean = detectReadout(mainCtx(build('masked-mean')), 7);
  assert.deepEqual(mean && [mean.readout, mean.node, mean.mask], ['mean', 'masked_sum', 'attention_mask']);
  const last = detectReadout(mainCtx(build('last-from-mask')), 7);
  assert.deepEqual(last && [last.readout, last.node, last.mask], ['last', 'last_token', 'attention_mask']);
  const first = detectReadout(mainCtx(build('slice-first')), 7);
  assert.deepEqual(first && [first.readout, first.node, first.mask], ['first', 'cls', undefined]);
});
