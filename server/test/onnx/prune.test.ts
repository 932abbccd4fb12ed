/**
 * Pruning heads: the pruned model runs in ONNX Runtime and equals the original with the same heads masked (to
 * 1e-5) — on the PyTorch fixtures also equal to their masked_*.npy outputs — for unfused blocks in several export
 * styles and opsets and for fused operators whose projections are outside; fixtures whose heads are fixed by
 * graph inputs are refused with the reason.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeModel, readModel } from '../../src/onnx/format/read';
import { detectAttention } from '../../src/onnx/detect/detect';
import { loadModelInputs, type ModelInputs } from '../../src/onnx/run/feeds';
import { ModelEditor } from '../../src/onnx/edit/edit';
import { writeModelFile } from '../../src/onnx/edit/write';
import { maskedModel, maskFactors, parseHeadList, planRemoval, pruneModel } from '../../src/onnx/edit/prune';
import { compareOutputs, runAll } from '../../src/onnx/run/verify';
import type { OnnxModel } from '../../src/onnx/format/types';
import { readNpy } from '../../src/data/npy';
import { buildMha, NODE_TESTS, OPENVINO, TORCH, type MhaOptions } from './build';
import { foldedSplitModel, inputs, msAttention, msGqa, msMha, normal, onnxAttention3d, onnxAttention4d, zeroOutputHeads } from './models';

const tmp = mkdtempSync(join(tmpdir(), 'prune-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Ref {
  weight: string;
  axis: 0 | 1;
  dv: number;
}

/** Prunes `spec`, checks pruned = masked (and = the independent zeroed-weights model), and the new head counts. */
async function checkPrune(model: OnnxModel, spec: string, data: ModelInputs, expectHeads: number[], ref?: Ref, rescale = false) {
  const det = detectAttention(model);
  const plan = planRemoval(det, parseHeadList(spec), rescale);
  const pruned = pruneModel(model, det, plan);
  const masked = maskedModel(model, det, maskFactors(plan));
  const a = await runAll(masked.bytes(), model, data, 'masked');
  const b = await runAll(pruned.editor.bytes(), model, data, 'pruned');
  const orig = await runAll(new ModelEditor(model, { inlineExternal: true }).bytes(), model, data, 'original');
  const cmp = compareOutputs(a, b);
  assert.ok(cmp.maxAbsDiff <= 1e-5 * Math.max(1, cmp.maxAbs), `${spec}: pruned vs masked ${cmp.maxAbsDiff}`);
  assert.ok(compareOutputs(orig, b).maxAbsDiff > 1e-4, `${spec}: pruning changed the outputs`);
  if (ref) {
    const r = plan[0];
    const z = zeroOutputHeads(new ModelEditor(model).bytes(), ref.weight, ref.axis, ref.dv, r.removed, r.scale);
    const c = await runAll(z, model, data, 'zeroed');
    assert.ok(compareOutputs(c, a).maxAbsDiff <= 1e-5 * Math.max(1, cmp.maxAbs), `${spec}: masked vs zeroed output rows`);
  }
  const again = detectAttention(decodeModel(pruned.editor.bytes(), 'pruned.onnx'));
  assert.deepEqual(
    again.blocks.map((x) => x.queryHeads),
    expectHeads,
    `${spec}: heads after pruning`,
  );
  assert.deepEqual(pruned.after, expectHeads);
  return { pruned, plan, a, b };
}

const MASKED: [string, string, number[]][] = [
  ['masked_L0H1', '0:1', [3, 4]],
  ['masked_L1H0H3', '1:0,1:3', [4, 2]],
  ['masked_L0H1_L1H0H3', '0:1,1:0,1:3', [3, 2]],
];

for (const name of ['A_mha_opset17', 'B_bert_div']) {
  test(`${name}: pruned models equal the masked original and PyTorch's masked_*.npy outputs`, async () => {
    const dir = join(TORCH, name);
    const model = readModel(join(dir, 'model.onnx'));
    const data = loadModelInputs(join(dir, 'data.npz'), model);
    for (const [file, spec, heads] of MASKED) {
      const { a, b } = await checkPrune(model, spec, data, heads);
      const torch = readNpy(join(dir, `${file}.npy`));
      for (const out of [a, b]) {
        let err = 0;
        out.get('y')!.data.forEach((v, i) => (err = Math.max(err, Math.abs(v - torch.data[i]))));
        assert.ok(err < 1e-5, `${file}: ${err}`);
      }
    }
  });
}

test('A_mha_opset17: rescaling the remaining heads by √(H/(H−removed)) matches scaled output-projection columns', async () => {
  const model = readModel(join(TORCH, 'A_mha_opset17', 'model.onnx'));
  const data = loadModelInputs(join(TORCH, 'A_mha_opset17', 'data.npz'), model);
  const { plan } = await checkPrune(model, '0:1,0:2', data, [2, 4], { weight: 'layers.0.attn.out_proj.weight', axis: 1, dv: 8 }, true);
  assert.ok(Math.abs(plan[0].scale - Math.SQRT2) < 1e-15);
});

const X = (T = 6, E = 32, B = 3, seed = 5) => normal([B, T, E], seed);
const vals = (dims: number[], v: number[]) => ({ dims, data: Float64Array.from(v) });

const STYLES: [string, MhaOptions, string, number, Record<string, { dims: number[]; data: Float64Array }>][] = [
  ['BERT, Div on the scores (opset 17)', {}, '0:1,0:2', 2, { x: X() }],
  ['scale on the query (opset 13)', { scale: 'query', opset: 13 }, '0:0', 3, { x: X() }],
  ['scale split over Q and K, Mul (opset 14)', { scale: 'query+key', opset: 14 }, '0:3', 3, { x: X() }],
  ['cross-attention from a second input (opset 14)', { cross: true, opset: 14 }, '0:2', 3, { x: X(), mem: normal([3, 5, 32], 9) }],
  ['ViT packed QKV with Gather (opset 17)', { style: 'packed' }, '0:0,0:3', 2, { x: X() }],
  ['grouped-query repeat_kv, whole group (opset 20)', { kvH: 2, opset: 20 }, '0:2-3', 2, { x: X() }],
  ['per-head bias input, Gather inserted (opset 17)', { mask: 'per-head' }, '0:1', 3, { x: X(), bias: normal([3, 4, 6, 6], 7) }],
  ['T5 constant per-head bias, sliced (opset 17)', { mask: 'const-per-head', scale: 'none' }, '0:0,0:2', 2, { x: X() }],
  [
    'HF extended mask at opset 11, Softmax axis 3',
    { mask: 'hf', opset: 11 },
    '0:3',
    3,
    { x: X(), attention_mask: vals([3, 6], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0]) },
  ],
];

for (const [what, o, spec, left, data] of STYLES) {
  test(`synthetic ${what}: pruned = masked = zeroed output rows`, async () => {
    const model = decodeModel(buildMha(o).bytes, 'synthetic.onnx');
    await checkPrune(model, spec, inputs(model, data), [left], { weight: 'Wo', axis: 0, dv: 8 });
  });
}

test('synthetic Gemm(transB) output projection on flattened tokens (opset 17)', async () => {
  const model = decodeModel(buildMha({ gemmOut: true }).bytes, 'gemm.onnx');
  await checkPrune(model, '0:2', inputs(model, { x: X() }), [3], { weight: 'Wo', axis: 1, dv: 8 });
});

test('synthetic nn.MultiheadAttention with Split and folded heads, run-time Reshape shapes (opset 13)', async () => {
  const model = decodeModel(foldedSplitModel(), 'folded.onnx');
  await checkPrune(model, '0:0,0:1', inputs(model, { x: X() }), [2], { weight: 'out_proj.weight', axis: 1, dv: 8 });
});

const FUSED: [string, () => Uint8Array, string, number, (b: number) => Record<string, { dims: number[]; data: Float64Array }>, Ref][] = [
  [
    'ai.onnx Attention 3-D, GQA 4/2, per-head mask, causal (opset 23)',
    () => onnxAttention3d({ kvH: 2, perHeadMask: true, causal: true }),
    '0:2-3',
    2,
    () => ({ x: X() }),
    { weight: 'Wo', axis: 0, dv: 8 },
  ],
  [
    'ai.onnx Attention 4-D with Reshape/Transpose head split (opset 23)',
    () => onnxAttention4d(),
    '0:1',
    3,
    () => ({ x: X(5) }),
    { weight: 'Wo', axis: 0, dv: 8 },
  ],
  ['com.microsoft MultiHeadAttention with bias and per-head attention_bias', () => msMha(), '0:0,0:3', 2, () => ({ x: X() }), { weight: 'Wo', axis: 0, dv: 8 }],
  [
    'com.microsoft Attention (merged QKV weight) with mask_index',
    () => msAttention({ mask: true }),
    '0:1',
    3,
    () => ({ x: X(5, 16), mask_index: vals([3, 5], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0]) }),
    { weight: 'Wo', axis: 0, dv: 4 },
  ],
  [
    'com.microsoft GroupQueryAttention, separate projections',
    () => msGqa(),
    '0:0-1',
    2,
    () => ({ x: X(), seqlens_k: vals([3], [5, 5, 5]), total_sequence_length: vals([], [6]) }),
    { weight: 'Wo', axis: 0, dv: 8 },
  ],
  [
    'com.microsoft GroupQueryAttention, packed QKV projection',
    () => msGqa({ packed: true }),
    '0:2-3',
    2,
    () => ({ x: X(), seqlens_k: vals([3], [5, 5, 5]), total_sequence_length: vals([], [6]) }),
    { weight: 'Wo', axis: 0, dv: 8 },
  ],
];

for (const [what, build, spec, left, data, ref] of FUSED) {
  test(`fused ${what}: projections outside are pruned, attributes rewritten`, async () => {
    const model = decodeModel(build(), 'fused.onnx');
    const { pruned } = await checkPrune(model, spec, inputs(model, data(3)), [left], ref);
    const node = pruned.editor.graph.node.find((n) => ['Attention', 'MultiHeadAttention', 'GroupQueryAttention'].includes(n.opType ?? ''))!;
    const attr = (n: string) => node.attribute?.find((a) => a.name === n)?.i;
    if (node.domain === 'com.microsoft') assert.equal(Number(attr('num_heads')), left);
    else if (attr('q_num_heads') !== undefined && attr('q_num_heads') !== null) assert.equal(Number(attr('q_num_heads')), left);
  });
}

test('fixtures whose heads are fixed by graph inputs or that have no output projection are refused with the reason', () => {
  const reasons: Record<string, RegExp> = {
    test_attention_3d: /query projection is not in the model.*fixed by that tensor's shape/,
    test_attention_4d: /query projection is not in the model/,
    test_attention_3d_gqa: /query projection is not in the model/,
    test_attention_4d_expanded: /query projection is not in the model|no output projection/,
    test_attention_4d_causal_with_past_and_present: /key\/value cache|query projection/,
  };
  for (const [name, why] of Object.entries(reasons)) {
    const model = readModel(join(NODE_TESTS, name, 'model.onnx'));
    const det = detectAttention(model);
    const spec = `0:${(det.blocks[0].kvHeads ?? 1) < (det.blocks[0].queryHeads ?? 1) ? '0-2' : '0'}`;
    assert.throws(() => pruneModel(model, det, planRemoval(det, parseHeadList(spec))), why, name);
  }
  const ov: Record<string, RegExp> = {
    attention: /no output projection/,
    attention_qkv_hidden_sizes: /no output projection/,
    attention_dynamic_shapes: /key\/value cache|not an initializer/,
  };
  for (const [name, why] of Object.entries(ov)) {
    const model = readModel(join(OPENVINO, `${name}.onnx`));
    const det = detectAttention(model);
    assert.throws(() => pruneModel(model, det, planRemoval(det, parseHeadList('0:0'))), why, name);
  }
});

test('a model with external data is pruned into a new file with external data beside it', async () => {
  const src = readModel(join(TORCH, 'B_bert_div', 'model.onnx'));
  const dir = join(tmp, 'ext');
  const ed = new ModelEditor(src);
  const all = new Set(ed.graph.initializer.filter((t) => (t.rawData?.length ?? 0) > 64).map((t) => t.name ?? ''));
  writeModelFile(ed.proto, join(dir, 'model.onnx'), { externalize: all });
  assert.ok(existsSync(join(dir, 'model.onnx.data')));
  const model = readModel(join(dir, 'model.onnx'));
  assert.ok(model.externalDataBytes > 0);
  const data = loadModelInputs(join(TORCH, 'B_bert_div', 'data.npz'), model);
  const det = detectAttention(model);
  const plan = planRemoval(det, parseHeadList('0:1'));
  const pruned = pruneModel(model, det, plan);
  const files = writeModelFile(pruned.editor.proto, join(dir, 'pruned.onnx'), { externalize: pruned.external });
  assert.deepEqual(files.map((f) => f.split('/').pop()).sort(), ['pruned.onnx', 'pruned.onnx.data']);
  assert.ok(statSync(join(dir, 'pruned.onnx')).size < statSync(join(dir, 'model.onnx')).size + 4096, 'weights stay outside the .onnx');
  const reread = readModel(join(dir, 'pruned.onnx'));
  assert.ok(reread.externalDataBytes > 0);
  const a = await runAll(maskedModel(model, det, maskFactors(plan)).bytes(), model, data, 'masked');
  const b = await runAll(new ModelEditor(reread, { inlineExternal: true }).bytes(), reread, data, 'reread');
  assert.ok(compareOutputs(a, b).maxAbsDiff < 1e-5);
  assert.throws(() => writeModelFile(pruned.editor.proto, join(dir, 'pruned.onnx'), { externalize: pruned.external }), /already exists/);
  assert.equal(readdirSync(dir).filter((f) => f.includes('.tmp-')).length, 0, 'no temporary files left');
});
