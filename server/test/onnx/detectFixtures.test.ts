/**
 * Every reference model (test-fixtures/onnx, test-fixtures/onnx-torch) is detected with the right form, block
 * count, head counts, grouped-query ratio, head sizes, hidden size and weights (torch: compared with meta.json).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readModel } from '../../src/onnx/format/read';
import { detectAttention } from '../../src/onnx/detect/detect';
import type { AttentionBlock } from '../../src/onnx/detect/blocks';
import { NODE_TESTS, OPENVINO, TORCH } from './build';

interface Expect {
  file: string;
  form: AttentionBlock['form'];
  blocks: number;
  q: number;
  kv: number;
  d: number | null;
  dv: number | null;
  hidden: number | null;
  extra?: (b: AttentionBlock) => void;
}

const CASES: Expect[] = [
  { file: join(NODE_TESTS, 'test_attention_4d', 'model.onnx'), form: 'ai.onnx.Attention', blocks: 1, q: 3, kv: 3, d: 8, dv: 8, hidden: 24 },
  {
    file: join(NODE_TESTS, 'test_attention_4d_expanded', 'model.onnx'),
    form: 'unfused',
    blocks: 1,
    q: 3,
    kv: 3,
    d: 8,
    dv: 8,
    hidden: 24,
    extra: (b) => {
      assert.equal(b.headLayout, 'bnsh');
      assert.equal(b.scalePlacement, 'query+key');
      assert.ok(Math.abs(b.scale! - 1 / Math.sqrt(8)) < 1e-6);
      assert.equal(b.masks.length, 1);
      assert.equal(b.masks[0].constant, true);
    },
  },
  {
    file: join(NODE_TESTS, 'test_attention_3d', 'model.onnx'),
    form: 'ai.onnx.Attention',
    blocks: 1,
    q: 3,
    kv: 3,
    d: 8,
    dv: 8,
    hidden: 24,
    extra: (b) => assert.equal(b.headsFrom, 'attribute'),
  },
  { file: join(NODE_TESTS, 'test_attention_3d_gqa', 'model.onnx'), form: 'ai.onnx.Attention', blocks: 1, q: 9, kv: 3, d: 8, dv: 8, hidden: 72 },
  {
    file: join(NODE_TESTS, 'test_attention_3d_gqa_expanded', 'model.onnx'),
    form: 'unfused',
    blocks: 1,
    q: 9,
    kv: 3,
    d: 8,
    dv: 8,
    hidden: 72,
    extra: (b) =>
      assert.ok(
        b.nodes.layout.some((n) => n.startsWith('Expand')),
        'the repeat-kv Expand is on the path',
      ),
  },
  {
    file: join(NODE_TESTS, 'test_attention_3d_diff_heads_sizes_attn_mask', 'model.onnx'),
    form: 'ai.onnx.Attention',
    blocks: 1,
    q: 3,
    kv: 3,
    d: 8,
    dv: 10,
    hidden: 24,
    extra: (b) => {
      assert.equal(b.vHiddenSize, 30);
      assert.equal(b.masks.length, 1);
      assert.equal(b.masks[0].name, 'attn_mask');
      assert.equal(b.masks[0].role, 'additive');
      assert.equal(b.masks[0].carriesHeadAxis, false);
    },
  },
  {
    file: join(NODE_TESTS, 'test_attention_4d_causal_with_past_and_present', 'model.onnx'),
    form: 'ai.onnx.Attention',
    blocks: 1,
    q: 3,
    kv: 3,
    d: 8,
    dv: 8,
    hidden: 24,
    extra: (b) => {
      assert.equal(b.causal, true);
      assert.deepEqual(b.kvCache, { pastKey: 'past_key', pastValue: 'past_value', presentKey: 'present_key', presentValue: 'present_value' });
    },
  },
  {
    file: join(NODE_TESTS, 'test_attention_23_boolmask_fullymasked_row_nan_robustness', 'model.onnx'),
    form: 'ai.onnx.Attention',
    blocks: 1,
    q: 2,
    kv: 2,
    d: 8,
    dv: 8,
    hidden: 16,
    extra: (b) => assert.equal(b.masks[0].role, 'bool'),
  },
  {
    file: join(OPENVINO, 'attention.onnx'),
    form: 'com.microsoft.Attention',
    blocks: 1,
    q: 2,
    kv: 2,
    d: 2,
    dv: 2,
    hidden: 4,
    extra: (b) => {
      assert.equal(b.inputSize, 3);
      assert.equal(b.weights.query!.weight.name, 'weights');
      assert.deepEqual(b.weights.query!.weight.range, [0, 4]);
      assert.deepEqual(b.weights.key!.weight.range, [4, 8]);
      assert.deepEqual(b.weights.value!.weight.range, [8, 12]);
      assert.deepEqual(b.weights.value!.bias!.range, [8, 12]);
      assert.equal(b.weights.query!.bias!.name, 'bias');
    },
  },
  {
    file: join(OPENVINO, 'attention_qkv_hidden_sizes.onnx'),
    form: 'com.microsoft.Attention',
    blocks: 1,
    q: 2,
    kv: 2,
    d: 1,
    dv: 4,
    hidden: 2,
    extra: (b) => {
      assert.equal(b.vHiddenSize, 8);
      assert.deepEqual(b.weights.value!.weight.range, [4, 12]);
    },
  },
  {
    file: join(OPENVINO, 'attention_dynamic_shapes.onnx'),
    form: 'com.microsoft.Attention',
    blocks: 1,
    q: 2,
    kv: 2,
    d: null,
    dv: null,
    hidden: null,
    extra: (b) => {
      assert.equal(b.weights.query!.weight.kind, 'graph-input');
      assert.ok(b.notes.some((n) => /head sizes/.test(n)));
      assert.equal(b.kvCache!.pastKey, 'past');
    },
  },
  {
    file: join(OPENVINO, 'gqa_rotary.onnx'),
    form: 'com.microsoft.GroupQueryAttention',
    blocks: 1,
    q: 2,
    kv: 1,
    d: 16,
    dv: 16,
    hidden: 32,
    extra: (b) => {
      assert.equal(b.groupSize, 2);
      assert.equal(b.kvCache!.pastKey, 'past_key');
    },
  },
];

for (const c of CASES) {
  test(`fixture ${c.file.split('/').slice(-2).join('/')}`, () => {
    const r = detectAttention(readModel(c.file));
    assert.equal(r.blocks.length, c.blocks, r.summary);
    for (const b of r.blocks) {
      assert.equal(b.form, c.form);
      assert.equal(b.queryHeads, c.q, 'query heads');
      assert.equal(b.kvHeads, c.kv, 'kv heads');
      assert.equal(b.groupSize, c.q / c.kv, 'GQA ratio');
      assert.equal(b.headSizeQK, c.d, 'qk head size');
      assert.equal(b.headSizeV, c.dv, 'v head size');
      assert.equal(b.hiddenSize, c.hidden, 'hidden size');
      JSON.parse(JSON.stringify(b));
      c.extra?.(b);
    }
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function meta(name: string): any {
  return JSON.parse(readFileSync(join(TORCH, name, 'meta.json'), 'utf8'));
}

test('torch A_mha_opset17 (nn.MultiheadAttention, heads folded into batch) matches meta.json', () => {
  const mj = meta('A_mha_opset17');
  const r = detectAttention(readModel(join(TORCH, 'A_mha_opset17', 'model.onnx')));
  assert.equal(r.blocks.length, mj.layers);
  r.blocks.forEach((b, l) => {
    const w = mj.weights[l];
    assert.equal(b.form, 'unfused');
    assert.equal(b.nodes.softmax, mj.softmax_nodes[l]);
    assert.equal(b.queryHeads, mj.heads_per_layer[l]);
    assert.equal(b.kvHeads, mj.heads_per_layer[l]);
    assert.equal(b.headSizeQK, mj.head_dim);
    assert.equal(b.headSizeV, mj.head_dim);
    assert.equal(b.hiddenSize, mj.hidden_size);
    assert.equal(b.headLayout, 'folded');
    assert.equal(b.scalePlacement, 'query');
    assert.ok(Math.abs(b.scale! - 1 / Math.sqrt(8)) < 1e-6);
    assert.equal(b.cross, false);
    const packed = w.qkv_packed_in_proj;
    for (const [role, range] of [
      ['query', [0, 32]],
      ['key', [32, 64]],
      ['value', [64, 96]],
    ] as const) {
      const p = b.weights[role]!;
      assert.equal(p.weight.name, packed.initializer, role);
      assert.deepEqual(p.weight.shape, packed.shape);
      assert.equal(p.weight.layout, 'in,out');
      assert.equal(p.weight.node, packed.nodes[0]);
      assert.deepEqual(p.weight.range, range);
      assert.deepEqual(p.bias!.range, range);
      assert.equal(p.bias!.name, `layers.${l}.attn.in_proj_bias`);
    }
    const o = b.weights.output!;
    assert.equal(o.weight.name, w.out_proj.initializer);
    assert.equal(o.weight.node, w.out_proj.nodes[0]);
    assert.equal(o.weight.layout, 'out,in');
    assert.equal(o.weight.layoutText, '[out, in] Gemm transB');
    assert.equal(o.weight.headAxis, 1);
    assert.equal(b.confidence, 'high');
  });
});

test('torch B_bert_div (separate q/k/v, view/transpose head split, Div after MatMul, mask) matches meta.json', () => {
  const mj = meta('B_bert_div');
  const r = detectAttention(readModel(join(TORCH, 'B_bert_div', 'model.onnx')));
  assert.equal(r.blocks.length, mj.layers);
  r.blocks.forEach((b, l) => {
    const w = mj.weights[l];
    assert.equal(b.nodes.softmax, mj.softmax_nodes[l]);
    assert.equal(b.queryHeads, 4);
    assert.equal(b.kvHeads, 4);
    assert.equal(b.headSizeQK, 8);
    assert.equal(b.headSizeV, 8);
    assert.equal(b.hiddenSize, 32);
    assert.equal(b.inputSize, 32);
    assert.equal(b.headLayout, 'bnsh');
    assert.equal(b.scalePlacement, 'scores');
    for (const role of ['query', 'key', 'value', 'output'] as const) {
      const p = b.weights[role]!;
      assert.equal(p.weight.name, w[role].initializer, role);
      assert.deepEqual(p.weight.shape, w[role].shape);
      assert.equal(p.weight.node, w[role].nodes[0]);
      assert.equal(p.weight.layout, 'in,out');
      assert.equal(p.weight.range, null);
      assert.equal(p.bias!.name, `layers.${l}.${role}.bias`);
      assert.equal(p.weight.headAxis, role === 'output' ? 0 : 1);
    }
    assert.equal(b.masks.length, 1);
    assert.equal(b.masks[0].name, 'mask');
    assert.deepEqual(b.masks[0].shape, ['batch', 1, 1, 12]);
    assert.equal(b.masks[0].carriesHeadAxis, false);
  });
});
