/**
 * Synthetic models built with the ONNX protobuf API in export styles the fixtures do not cover (scale on the
 * query, cross-attention, packed QKV with Gather, grouped-query repeat, per-head bias, Gemm output, folded heads
 * with Split and run-time Reshape shapes, fused ops with outside projections, subgraphs, causal masks), plus
 * models without attention. Every model that should be valid is also run in ONNX Runtime.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodeModel } from '../../src/onnx/format/read';
import { detectAttention } from '../../src/onnx/detect/detect';
import type { AttentionBlock, DetectionResult } from '../../src/onnx/detect/blocks';
import { buildMha, GraphBuilder, modelBytes, type MhaOptions } from './build';
import { foldedSplitModel } from './models';

const tmp = mkdtempSync(join(tmpdir(), 'onnx-synth-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let counter = 0;

/** Runs the model in ONNX Runtime on deterministic inputs (dims: symbolic → 2) and checks the outputs are finite. */
async function runs(bytes: Uint8Array, feeds: Record<string, { dims: number[]; type?: 'float32' | 'int64' | 'bool'; data?: number[] }>): Promise<void> {
  const p = join(tmp, `m${counter++}.onnx`);
  writeFileSync(p, bytes);
  const s = await ort.InferenceSession.create(p);
  const f: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) {
    const n = v.dims.reduce((a, b) => a * b, 1);
    const vals = v.data ?? Array.from({ length: n }, (_, i) => Math.sin(i + 1));
    if (v.type === 'int64') f[k] = new ort.Tensor('int64', BigInt64Array.from(vals.map((x) => BigInt(x))), v.dims);
    else if (v.type === 'bool') f[k] = new ort.Tensor('bool', Uint8Array.from(vals), v.dims);
    else f[k] = new ort.Tensor('float32', Float32Array.from(vals), v.dims);
  }
  const out = await s.run(f);
  for (const t of Object.values(out)) assert.ok((t.data as Float32Array).every(Number.isFinite), 'ORT output is finite');
}

function detect(bytes: Uint8Array, opts = {}): DetectionResult {
  const r = detectAttention(decodeModel(bytes, 'synthetic.onnx'), opts);
  JSON.parse(JSON.stringify(r));
  return r;
}

function one(bytes: Uint8Array): AttentionBlock {
  const r = detect(bytes);
  assert.equal(r.blocks.length, 1, r.summary);
  return r.blocks[0];
}

const X = { x: { dims: [2, 6, 32] } };

function mha(o: MhaOptions): { bytes: Uint8Array; b: AttentionBlock } {
  const { bytes } = buildMha(o);
  return { bytes, b: one(bytes) };
}

test('BERT style: Div after the score MatMul, MatMul output projection', async () => {
  const { bytes, b } = mha({});
  assert.equal(b.queryHeads, 4);
  assert.equal(b.kvHeads, 4);
  assert.equal(b.headSizeQK, 8);
  assert.equal(b.hiddenSize, 32);
  assert.equal(b.inputSize, 32);
  assert.equal(b.scalePlacement, 'scores');
  assert.equal(b.weights.query!.weight.name, 'Wq');
  assert.equal(b.weights.key!.weight.name, 'Wk');
  assert.equal(b.weights.value!.weight.name, 'Wv');
  assert.equal(b.weights.output!.weight.name, 'Wo');
  assert.equal(b.weights.output!.bias!.name, 'bo');
  assert.equal(b.nodes.outputProjection, 'out_proj');
  assert.equal(b.cross, false);
  assert.equal(b.confidence, 'high');
  await runs(bytes, X);
});

test('scale on the query before Q·Kᵀ', async () => {
  const { bytes, b } = mha({ scale: 'query' });
  assert.equal(b.scalePlacement, 'query');
  assert.ok(Math.abs(b.scale! - 1 / Math.sqrt(8)) < 1e-6);
  assert.equal(b.queryHeads, 4);
  assert.equal(b.weights.query!.weight.name, 'Wq', 'the projection is found through the scale Mul');
  await runs(bytes, X);
});

test('scale split over Q and K (sqrt each) with scores Mul absent', async () => {
  const { bytes, b } = mha({ scale: 'query+key' });
  assert.equal(b.scalePlacement, 'query+key');
  assert.ok(Math.abs(b.scale! - 1 / Math.sqrt(8)) < 1e-6);
  await runs(bytes, X);
});

test('cross-attention: keys and values from a second input', async () => {
  const { bytes, b } = mha({ cross: true, S: 5 });
  assert.equal(b.cross, true);
  assert.equal(b.weights.query!.input, 'x');
  assert.equal(b.weights.key!.input, 'mem');
  assert.equal(b.weights.value!.input, 'mem');
  assert.deepEqual(b.probs!.shape, ['batch', 4, 6, 5]);
  await runs(bytes, { ...X, mem: { dims: [2, 5, 32] } });
});

test('ViT/timm packed QKV: one projection, Reshape [B,T,3,H,d], Transpose, Gather', async () => {
  const { bytes, b } = mha({ style: 'packed', scale: 'scores-mul' });
  assert.equal(b.queryHeads, 4);
  assert.equal(b.headSizeQK, 8);
  for (const [role, r] of [
    ['query', [0, 32]],
    ['key', [32, 64]],
    ['value', [64, 96]],
  ] as const) {
    assert.equal(b.weights[role]!.weight.name, 'Wqkv');
    assert.deepEqual(b.weights[role]!.weight.range, r);
    assert.deepEqual(b.weights[role]!.bias!.range, r);
  }
  await runs(bytes, X);
});

test('grouped-query attention (unfused repeat_kv) with a padding mask', async () => {
  const { bytes, b } = mha({ kvH: 2, mask: 'padding' });
  assert.equal(b.queryHeads, 4);
  assert.equal(b.kvHeads, 2);
  assert.equal(b.groupSize, 2);
  assert.deepEqual(b.weights.key!.weight.shape, [32, 16]);
  assert.equal(b.masks[0].name, 'mask');
  assert.equal(b.masks[0].carriesHeadAxis, false);
  await runs(bytes, { ...X, mask: { dims: [2, 1, 1, 6] } });
});

test('per-head additive bias carries the head axis; Gemm(transB) output projection', async () => {
  const { bytes, b } = mha({ mask: 'per-head', gemmOut: true });
  assert.equal(b.masks[0].name, 'bias');
  assert.equal(b.masks[0].carriesHeadAxis, true);
  assert.equal(b.masks[0].headAxis, 1);
  assert.equal(b.weights.output!.weight.layout, 'out,in');
  assert.equal(b.weights.output!.weight.headAxis, 1);
  assert.equal(b.weights.output!.weight.layoutText, '[out, in] Gemm transB');
  await runs(bytes, { ...X, bias: { dims: [2, 4, 6, 6] } });
});

test('HF BERT at opset 11: Softmax axis 3, Unsqueeze with attribute axes, extended attention mask', async () => {
  const { bytes, b } = mha({ opset: 11, mask: 'hf' });
  assert.equal(b.queryHeads, 4);
  assert.equal(b.headSizeQK, 8);
  assert.equal(b.masks.length, 1);
  assert.deepEqual(b.masks[0].sources, ['attention_mask']);
  assert.deepEqual(b.masks[0].shape, ['batch', 1, 1, 6]);
  assert.equal(b.masks[0].carriesHeadAxis, false);
  assert.equal(b.masks[0].node, 'add_mask');
  await runs(bytes, { ...X, attention_mask: { dims: [2, 6], type: 'int64', data: [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1] } });
});

test('T5 style: no scale, constant per-head relative position bias', async () => {
  const { bytes, b } = mha({ scale: 'none', mask: 'const-per-head' });
  assert.equal(b.scalePlacement, 'none');
  assert.equal(b.scale, 1);
  assert.equal(b.masks[0].name, 'rel_bias');
  assert.equal(b.masks[0].kind, 'initializer');
  assert.equal(b.masks[0].constant, true);
  assert.equal(b.masks[0].carriesHeadAxis, true);
  assert.equal(b.masks[0].headAxis, 1);
  await runs(bytes, X);
});

test('nn.MultiheadAttention with Split and heads folded into the batch axis', async () => {
  const bytes = foldedSplitModel();
  const b = one(bytes);
  assert.equal(b.headLayout, 'folded');
  assert.equal(b.queryHeads, 4);
  assert.equal(b.headsFrom, 'reshape');
  assert.equal(b.headSizeQK, 8);
  assert.deepEqual(b.probs!.shape, ['4*batch', 6, 6]);
  assert.equal(b.scalePlacement, 'query');
  assert.deepEqual(b.weights.query!.weight.range, [0, 32]);
  assert.deepEqual(b.weights.key!.weight.range, [32, 64]);
  assert.deepEqual(b.weights.value!.weight.range, [64, 96]);
  assert.equal(b.weights.output!.weight.name, 'out_proj.weight');
  await runs(bytes, X);
});

/** ai.onnx Attention (opset 23) on 3-D projected inputs, with an output projection. */
function fusedOnnxModel(kvH = 2): Uint8Array {
  const E = 32;
  const d = 8;
  const g = new GraphBuilder(5);
  g.input('x', ['batch', 6, E]);
  const q = g.one('MatMul', ['x', g.weight('Wq', [E, E])], {}, { name: 'q_proj' });
  const k = g.one('MatMul', ['x', g.weight('Wk', [E, kvH * d])], {}, { name: 'k_proj' });
  const v = g.one('MatMul', ['x', g.weight('Wv', [E, kvH * d])], {}, { name: 'v_proj' });
  const y = g.one('Attention', [q, k, v], { q_num_heads: 4, kv_num_heads: kvH, is_causal: 1 }, { name: 'attn' });
  g.one('MatMul', [y, g.weight('Wo', [E, E])], {}, { out: 'y', name: 'o_proj' });
  g.output('y', ['batch', 6, E]);
  return modelBytes(g.graph(), { ir: 10, opsets: { '': 23 } });
}

test('ai.onnx Attention with projections outside the operator (GQA 4/2, causal)', async () => {
  const bytes = fusedOnnxModel();
  const b = one(bytes);
  assert.equal(b.form, 'ai.onnx.Attention');
  assert.equal(b.queryHeads, 4);
  assert.equal(b.kvHeads, 2);
  assert.equal(b.groupSize, 2);
  assert.equal(b.headSizeQK, 8);
  assert.equal(b.causal, true);
  assert.equal(b.weights.query!.weight.name, 'Wq');
  assert.equal(b.weights.key!.weight.name, 'Wk');
  assert.equal(b.weights.value!.weight.name, 'Wv');
  assert.equal(b.weights.output!.weight.name, 'Wo');
  assert.equal(b.inputSize, 32);
  assert.equal(b.cross, false);
  await runs(bytes, X);
});

test('com.microsoft MultiHeadAttention with outside projections and an in-operator bias', async () => {
  const E = 32;
  const g = new GraphBuilder(9);
  g.input('x', ['batch', 6, E]);
  g.input('enc', ['batch', 5, E]);
  const q = g.one('MatMul', ['x', g.weight('Wq', [E, E])]);
  const k = g.one('MatMul', ['enc', g.weight('Wk', [E, E])]);
  const v = g.one('MatMul', ['enc', g.weight('Wv', [E, E])]);
  const y = g.one('MultiHeadAttention', [q, k, v, g.weight('qkv_bias', [3 * E])], { num_heads: 4 }, { domain: 'com.microsoft', name: 'mha' });
  g.one('MatMul', [y, g.weight('Wo', [E, E])], {}, { out: 'y' });
  g.output('y', ['batch', 6, E]);
  const bytes = modelBytes(g.graph(), { opsets: { '': 17, 'com.microsoft': 1 } });
  const b = one(bytes);
  assert.equal(b.form, 'com.microsoft.MultiHeadAttention');
  assert.equal(b.queryHeads, 4);
  assert.equal(b.kvHeads, 4);
  assert.equal(b.headSizeQK, 8);
  assert.equal(b.headSizeV, 8);
  assert.equal(b.cross, true);
  assert.equal(b.weights.key!.input, 'enc');
  assert.deepEqual(b.weights.query!.bias!.range, [0, 32]);
  assert.deepEqual(b.weights.value!.bias!.range, [64, 96]);
  assert.equal(b.weights.output!.weight.name, 'Wo');
  await runs(bytes, { ...X, enc: { dims: [2, 5, 32] } });
});

test('no attention: an MLP gives "no attention blocks found" with the closest candidate', () => {
  const g = new GraphBuilder();
  g.input('x', ['batch', 16]);
  const h = g.one('Relu', [g.one('MatMul', ['x', g.weight('W1', [16, 8])], {}, { name: 'fc1' })]);
  g.one('MatMul', [h, g.weight('W2', [8, 1])], {}, { out: 'y', name: 'fc2' });
  g.output('y', ['batch', 1]);
  const r = detect(modelBytes(g.graph()));
  assert.equal(r.blocks.length, 0);
  assert.match(r.summary, /^no attention blocks found: the model has no Softmax and no fused attention operator; closest candidate MatMul 'fc1'/);
  assert.equal(r.closest!.anchor, 'fc1');
});

test('a Softmax that does not feed a MatMul (classifier) is the closest candidate, with the reason', () => {
  const g = new GraphBuilder();
  g.input('x', ['batch', 16]);
  const logits = g.one('MatMul', ['x', g.weight('W', [16, 3])], {}, { name: 'head' });
  g.one('Softmax', [logits], { axis: -1 }, { out: 'probs', name: 'cls_softmax' });
  g.output('probs', ['batch', 3]);
  const r = detect(modelBytes(g.graph()));
  assert.equal(r.blocks.length, 0);
  assert.equal(r.closest!.anchor, 'cls_softmax');
  assert.match(r.closest!.reason, /graph output, not multiplied by values/);
  assert.match(r.summary, /^no attention blocks found: closest candidate Softmax 'cls_softmax' failed: /);
});

test('a Softmax over scores from a constant-weight MatMul is rejected at that MatMul', () => {
  const g = new GraphBuilder();
  g.input('x', ['batch', 4, 8]);
  const s = g.one('MatMul', ['x', g.weight('W', [8, 4])], {}, { name: 'not_qk' });
  const p = g.one('Softmax', [s], { axis: -1 }, { name: 'sm' });
  g.one('MatMul', [p, 'x'], {}, { out: 'y' });
  g.output('y', ['batch', 4, 8]);
  const r = detect(modelBytes(g.graph()));
  assert.equal(r.blocks.length, 0);
  assert.equal(r.closest!.brokeAt, 'not_qk');
  assert.match(r.closest!.reason, /constant 'W'/);
});

test('Softmax over a non-key axis and Softmax output used as the right operand are rejected with reasons', () => {
  const g = new GraphBuilder();
  g.input('q', ['batch', 2, 5, 4]);
  g.input('k', ['batch', 2, 4, 5]);
  g.input('v', ['batch', 2, 5, 4]);
  const s = g.one('MatMul', ['q', 'k']);
  const p = g.one('Softmax', [s], { axis: 1 }, { name: 'wrong_axis' });
  g.one('MatMul', [p, 'v'], {}, { out: 'y' });
  const p2 = g.one('Softmax', [s], { axis: -1 }, { name: 'right_operand' });
  g.one('MatMul', ['v', p2], {}, { out: 'y2' });
  g.output('y', null);
  g.output('y2', null);
  const r = detect(modelBytes(g.graph()));
  assert.equal(r.blocks.length, 0);
  const byAnchor = Object.fromEntries(r.rejected.map((x) => [x.anchor, x]));
  assert.match(byAnchor.wrong_axis.reason, /axis 1 of a rank-4 tensor/);
  assert.match(byAnchor.right_operand.reason, /right operand/);
});

test('scores by Einsum are reported as not analyzed', () => {
  const g = new GraphBuilder();
  g.input('q', ['batch', 2, 5, 4]);
  g.input('k', ['batch', 2, 5, 4]);
  g.input('v', ['batch', 2, 5, 4]);
  const s = g.one('Einsum', ['q', 'k'], { equation: 'bhqd,bhkd->bhqk' }, { name: 'qk' });
  const p = g.one('Softmax', [s], { axis: -1 });
  g.one('MatMul', [p, 'v'], {}, { out: 'y' });
  g.output('y', null);
  const r = detect(modelBytes(g.graph(), { opsets: { '': 17 } }));
  assert.equal(r.blocks.length, 0);
  assert.equal(r.closest!.brokeAt, 'qk');
  assert.match(r.closest!.reason, /Einsum/);
});

/** A BERT block whose input has no shape and whose Reshape targets come from a graph input. */
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

test('fully dynamic shapes: the head count is reported unknown, and an override fills it', async () => {
  const bytes = dynamicModel();
  const r = detect(bytes);
  assert.equal(r.blocks.length, 1);
  const b = r.blocks[0];
  assert.equal(b.queryHeads, null);
  assert.equal(b.headsFrom, null);
  assert.equal(b.confidence, 'low');
  assert.ok(b.notes.some((n) => /head count cannot be inferred/.test(n)));
  assert.match(r.summary, /unknown head count: pass heads/);
  const o = detect(bytes, { heads: 4 }).blocks[0];
  assert.equal(o.queryHeads, 4);
  assert.equal(o.kvHeads, 4);
  assert.equal(o.headsFrom, 'override');
  assert.equal(o.headSizeQK, 8, 'head size from the Q weight width / heads');
  assert.equal(o.hiddenSize, 32);
  assert.ok(!o.notes.some((n) => /cannot be inferred/.test(n)));
  const ignored = detect(buildMha({}).bytes, { heads: 2 }).blocks[0];
  assert.equal(ignored.queryHeads, 4);
  assert.ok(ignored.notes.some((n) => /override of 2 heads ignored/.test(n)));
  assert.throws(() => detect(bytes, { heads: 0 }), /positive integer/);
  await runs(bytes, {
    x: { dims: [2, 6, 32] },
    split_shape: { dims: [4], type: 'int64', data: [2, 6, 4, 8] },
    merge_shape: { dims: [3], type: 'int64', data: [2, 6, 32] },
  });
});

test('attention inside an If subgraph is found, with the subgraph path', async () => {
  const inner = buildMha({}).builder;
  const body = new GraphBuilder();
  body.nodes.push(...inner.nodes.map((n) => ({ ...n, output: n.output!.map((o) => (o === 'y' ? 'then_y' : o)) })));
  body.inits.push(...inner.inits);
  body.output('then_y', null);
  const els = new GraphBuilder();
  els.one('Identity', ['x'], {}, { out: 'else_y' });
  els.output('else_y', null);
  const g = new GraphBuilder();
  g.input('x', ['batch', 6, 32]);
  g.input('use_attention', [], 9);
  g.one('If', ['use_attention'], { then_branch: { g: body.graph('then') }, else_branch: { g: els.graph('else') } }, { out: 'y', name: 'maybe' });
  g.output('y', null);
  const bytes = modelBytes(g.graph());
  const b = one(bytes);
  assert.equal(b.graph, 'maybe/then_branch');
  assert.equal(b.queryHeads, 4);
  assert.equal(b.weights.query!.weight.name, 'Wq');
  await runs(bytes, { ...X, use_attention: { dims: [], type: 'bool', data: [1] } });
});

test('GPT-2 style causal mask (Where with a constant lower-triangular condition) marks the block causal', async () => {
  const T = 4;
  const g = new GraphBuilder(2);
  g.input('q', ['batch', 2, T, 8]);
  g.input('k', ['batch', 2, T, 8]);
  g.input('v', ['batch', 2, T, 8]);
  const tril = Array.from({ length: T * T }, (_, i) => +(i % T <= Math.floor(i / T)));
  g.inits.push({ name: 'causal', dims: [1, 1, T, T], dataType: 9, int32Data: tril });
  const s = g.one('Mul', [g.one('MatMul', ['q', g.one('Transpose', ['k'], { perm: [0, 1, 3, 2] })]), g.scalar('sc', 1 / Math.sqrt(8))]);
  const masked = g.one('Where', ['causal', s, g.scalar('neg', -1e9)]);
  g.one('MatMul', [g.one('Softmax', [masked], { axis: -1 }), 'v'], {}, { out: 'y' });
  g.output('y', null);
  const bytes = modelBytes(g.graph());
  const b = one(bytes);
  assert.equal(b.causal, true);
  assert.equal(b.masks[0].role, 'where');
  assert.equal(b.masks[0].constant, true);
  assert.equal(b.queryHeads, 2);
  const dims = [2, 2, T, 8];
  await runs(bytes, { q: { dims }, k: { dims }, v: { dims } });
});
