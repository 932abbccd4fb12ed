/** inspectModel (JSON summary) and formatInspect (the CLI text) on fixtures and a model without attention. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatInspect, inspectModel } from '../../src/onnx/detect/inspect';
import { GraphBuilder, modelBytes, OPENVINO, TORCH } from './build';

test('inspect summary of the torch MHA fixture is plain JSON with header and blocks', () => {
  const s = inspectModel(join(TORCH, 'A_mha_opset17', 'model.onnx'));
  const j = JSON.parse(JSON.stringify(s));
  assert.deepEqual(j, s, 'round-trips through JSON');
  assert.equal(s.irVersion, 8);
  assert.deepEqual(s.opsets, { 'ai.onnx': 17 });
  assert.equal(s.producer, 'pytorch');
  assert.deepEqual(s.inputs, [{ name: 'X', type: 'float', shape: ['batch', 12, 16] }]);
  assert.deepEqual(s.outputs, [{ name: 'y', type: 'float', shape: ['batch', 1] }]);
  assert.equal(s.nodeCount, 210);
  assert.equal(s.opCounts.Softmax, 2);
  assert.equal(s.opCounts.MatMul, 11);
  assert.equal(s.attention.blocks.length, 2);
  assert.equal(s.attention.summary, '2 attention blocks found');
});

test('formatInspect prints a table and per-block weights', () => {
  const text = formatInspect(inspectModel(join(TORCH, 'A_mha_opset17', 'model.onnx')));
  assert.match(text, /^model\.onnx: ONNX IR 8, opsets ai\.onnx 17, producer pytorch 1\.13\.0\n/);
  assert.match(text, /input {3}X: float \[batch, 12, 16\]/);
  assert.match(text, /2 attention blocks found/);
  assert.match(text, /#\s+form\s+heads q\/kv\s+head size qk\/v\s+hidden\s+layout\s+scale\s+cross\s+causal\s+confidence/);
  assert.match(text, /0\s+unfused\s+4\/4\s+8\/8\s+32\s+folded\s+0\.3536 \(query\)\s+no\s+no\s+high/);
  assert.match(text, /Q {2}onnx::MatMul_249 \[32, 96\] cols 0:32 \(\[in, out\] MatMul weight\), bias layers\.0\.attn\.in_proj_bias 0:32/);
  assert.match(text, /O {2}layers\.1\.attn\.out_proj\.weight \[32, 32\] \(\[out, in\] Gemm transB\)/);
});

test('formatInspect shows GQA ratio, masks, caches and notes for fused operators', () => {
  const text = formatInspect(inspectModel(join(OPENVINO, 'gqa_rotary.onnx')));
  assert.match(text, /com\.microsoft\.GroupQueryAttention\s+2\/1 \(GQA ×2\)\s+16\/16\s+32/);
  assert.match(text, /kv cache {2}past past_key \/ past_value, present present_key \/ present_value/);
  assert.match(text, /note: rotary position embedding/);
  const dyn = formatInspect(inspectModel(join(OPENVINO, 'attention_dynamic_shapes.onnx')));
  assert.match(dyn, /2\/2\s+\?\/\?\s+\?/);
  assert.match(dyn, /input {3}input: float \[\?\]/);
});

const dir = mkdtempSync(join(tmpdir(), 'onnx-inspect-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a model without attention: summary line and the rejected candidate', () => {
  const g = new GraphBuilder();
  g.input('x', ['batch', 4]);
  g.one('Softmax', [g.one('MatMul', ['x', g.weight('W', [4, 2])], {}, { name: 'fc' })], { axis: -1 }, { out: 'p', name: 'cls' });
  g.output('p', ['batch', 2]);
  const p = join(dir, 'cls.onnx');
  writeFileSync(p, modelBytes(g.graph()));
  const text = formatInspect(inspectModel(p));
  assert.match(text, /no attention blocks found: closest candidate Softmax 'cls' failed: the Softmax output 'p' is a graph output/);
  assert.match(text, /candidates that did not match:\n {2}Softmax 'cls': /);
});
