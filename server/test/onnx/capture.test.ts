/**
 * Capturing per-head attention: Softmax outputs of unfused blocks against PyTorch's probabilities
 * (onnx-torch fixtures), and fused operators recomputed from their definitions, checked against ONNX Runtime's
 * output and the reference outputs shipped with the ONNX backend tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { captureAttention, type BlockCapture } from '../../src/onnx/run/capture';
import { decodeModel, readModel } from '../../src/onnx/format/read';
import { loadModelInputs, readTensorFolder } from '../../src/onnx/run/feeds';
import { readNpz } from '../../src/data/npz';
import { readNpy } from '../../src/data/npy';
import { buildMha, NODE_TESTS, OPENVINO, TORCH, type MhaOptions } from './build';
import { inputs, msAttention, msGqa, msMha, normal, onnxAttention3d } from './models';

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'same length');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Every query row sums to 1 (or is all zero when every key is masked); returns the number of zero rows. */
function rowsStochastic(c: BlockCapture): number {
  let zero = 0;
  for (let r = 0; r < c.probs.length / c.keys; r++) {
    let s = 0;
    for (let t = 0; t < c.keys; t++) {
      const p = c.probs[r * c.keys + t];
      assert.ok(p >= 0 && p <= 1 + 1e-9, `probability ${p} in [0, 1]`);
      s += p;
    }
    if (s === 0) zero++;
    else assert.ok(Math.abs(s - 1) < 1e-5, `row ${r} sums to ${s}`);
  }
  assert.equal(zero, c.maskedRows);
  return zero;
}

for (const name of ['A_mha_opset17', 'B_bert_div']) {
  test(`${name}: captured Softmax probabilities equal PyTorch's attention (attn_probs.npz) to 1e-5`, async () => {
    const dir = join(TORCH, name);
    const model = readModel(join(dir, 'model.onnx'));
    const data = loadModelInputs(join(dir, 'data.npz'), model);
    assert.equal(data.count, 256);
    const c = await captureAttention(model, data, { outputs: true, batchSize: 100 });
    const ref = readNpz(join(dir, 'attn_probs.npz'));
    assert.equal(c.blocks.length, 2);
    for (const b of c.blocks) {
      assert.equal(b.source, 'softmax');
      assert.deepEqual([b.count, b.heads, b.queries, b.keys], [256, 4, 12, 12]);
      rowsStochastic(b);
      const r = ref.get(`layer${b.index}`)!;
      assert.deepEqual(r.shape, [16, 4, 12, 12]);
      const err = maxDiff(r.data, b.probs.subarray(0, r.data.length));
      assert.ok(err < 1e-5, `layer ${b.index}: max |ORT − torch| = ${err}`);
    }
    // Batches of 100 (the last one shorter) join into the same outputs as PyTorch's.
    const y = c.tensors.get('y')!;
    assert.deepEqual(y.dims, [256, 1]);
    assert.ok(maxDiff(readNpy(join(dir, 'expected_output.npy')).data, y.data) < 1e-5);
  });
}

const FUSED_NODE_TESTS = [
  'test_attention_4d',
  'test_attention_3d',
  'test_attention_3d_gqa',
  'test_attention_3d_diff_heads_sizes_attn_mask',
  'test_attention_4d_causal_with_past_and_present',
  'test_attention_23_boolmask_fullymasked_row_nan_robustness',
];

for (const name of FUSED_NODE_TESTS) {
  test(`${name}: operator output recomputed from the per-head probabilities equals output_0.pb and ONNX Runtime`, async () => {
    const dir = join(NODE_TESTS, name);
    const model = readModel(join(dir, 'model.onnx'));
    const c = await captureAttention(model, loadModelInputs(dir, model), { keepOperatorOutputs: true });
    const b = c.blocks[0];
    assert.equal(b.source, 'recomputed');
    const expected = readTensorFolder(join(dir, 'test_data_set_0'), 'output')[0].array;
    assert.deepEqual(b.check!.recomputed!.dims, expected.dims);
    const err = maxDiff(expected.data, b.check!.recomputed!.data);
    assert.ok(err < 1e-6, `recomputed vs reference output: ${err}`);
    assert.ok(b.check!.maxAbsError < 1e-5, `recomputed vs ONNX Runtime: ${b.check!.maxAbsError}`);
    const zero = rowsStochastic(b);
    if (name.includes('fullymasked')) assert.equal(zero, 2, 'the fully masked query rows have zero attention');
    else assert.equal(zero, 0);
    if (name.includes('gqa')) assert.deepEqual([b.heads, b.kvHeads], [9, 3]);
    if (name.includes('past')) assert.deepEqual([b.queries, b.keys], [4, 7]);
  });
}

for (const [expanded, fused] of [
  ['test_attention_4d_expanded', 'test_attention_4d'],
  ['test_attention_3d_gqa_expanded', 'test_attention_3d_gqa'],
]) {
  test(`${expanded}: the inlined function's Softmax gives the probabilities recomputed for ${fused}`, async () => {
    const load = async (n: string) => {
      const m = readModel(join(NODE_TESTS, n, 'model.onnx'));
      return { data: loadModelInputs(join(NODE_TESTS, n), m), c: await captureAttention(m, loadModelInputs(join(NODE_TESTS, n), m)) };
    };
    const a = await load(expanded);
    const b = await load(fused);
    assert.deepEqual([...a.data.arrays.get('Q')!.data.slice(0, 4)], [...b.data.arrays.get('Q')!.data.slice(0, 4)], 'same inputs');
    assert.equal(a.c.blocks[0].source, 'softmax');
    assert.equal(a.c.blocks[0].heads, b.c.blocks[0].heads);
    assert.ok(maxDiff(a.c.blocks[0].probs, b.c.blocks[0].probs) < 1e-6);
  });
}

const vals = (dims: number[], v: number[]) => ({ dims, data: Float64Array.from(v) });

test('com.microsoft fixtures (OpenVINO): Attention, qkv_hidden_sizes, masks + past, GroupQueryAttention with rotary', async () => {
  const cases: [string, Record<string, { dims: number[]; data: Float64Array }>, number[]][] = [
    ['attention', { input: normal([2, 4, 3], 1) }, [2, 2, 4, 4]],
    ['attention_qkv_hidden_sizes', { input: normal([2, 4, 3], 2) }, [2, 2, 4, 4]],
    [
      'attention_dynamic_shapes',
      {
        input: normal([2, 3, 4], 3),
        weights: normal([4, 12], 4),
        bias: normal([12], 5),
        mask: vals([2, 5], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]),
        past: normal([2, 2, 2, 2, 2], 6),
      },
      [2, 2, 3, 5],
    ],
    // Subsequent prompt: 3 new tokens after 2 cached ones (total_sequence_length is supplied: the model omits it).
    [
      'gqa_rotary',
      {
        query: normal([1, 3, 64], 7),
        past_key: normal([1, 1, 2, 16], 8),
        past_value: normal([1, 1, 2, 16], 9),
        seqlens_k: vals([1, 1], [4]),
        cos_cache: normal([8, 8], 10),
        sin_cache: normal([8, 8], 12),
      },
      [1, 2, 3, 5],
    ],
    // Token generation with padding: two sequences of different lengths.
    [
      'gqa_rotary',
      {
        query: normal([2, 1, 64], 13),
        past_key: normal([2, 1, 5, 16], 14),
        past_value: normal([2, 1, 5, 16], 15),
        seqlens_k: vals([2, 1], [5, 3]),
        cos_cache: normal([8, 8], 16),
        sin_cache: normal([8, 8], 17),
      },
      [2, 2, 1, 6],
    ],
  ];
  for (const [name, arrays, shape] of cases) {
    const model = readModel(join(OPENVINO, `${name}.onnx`));
    const c = await captureAttention(model, inputs(model, arrays));
    const b = c.blocks[0];
    assert.deepEqual([b.count, b.heads, b.queries, b.keys], shape, name);
    assert.ok(b.check!.maxAbsError < 1e-5 * Math.max(1, b.check!.maxAbs), `${name}: ${b.check!.maxAbsError}`);
    rowsStochastic(b);
    if (name === 'gqa_rotary') {
      assert.equal(b.kvHeads, 1);
      assert.match(c.repairs[0], /total_sequence_length/);
    }
    if (name === 'attention_dynamic_shapes') {
      // Keys 3 and 4 of the second sequence are masked by mask_index (−10000 added): no attention to them.
      for (let h = 0; h < 2; h++) for (let s = 0; s < 3; s++) assert.ok(b.probs[((1 * 2 + h) * 3 + s) * 5 + 4] < 1e-30);
    }
  }
});

test('synthetic fused operators: MultiHeadAttention, Attention with mask_index and causal, GroupQueryAttention, ai.onnx per-head mask', async () => {
  const x = (T: number, E: number, seed: number) => normal([3, T, E], seed);
  const cases: [string, Uint8Array, Record<string, { dims: number[]; data: Float64Array }>][] = [
    ['MultiHeadAttention + bias + attention_bias', msMha(), { x: x(6, 32, 1) }],
    ['com.microsoft Attention, unidirectional', msAttention({ unidirectional: true }), { x: x(5, 16, 2) }],
    [
      'com.microsoft Attention, raw mask',
      msAttention({ mask: true }),
      { x: x(5, 16, 3), mask_index: vals([3, 5], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0]) },
    ],
    ['GroupQueryAttention, first prompt', msGqa(), { x: x(6, 32, 4), seqlens_k: vals([3], [5, 5, 5]), total_sequence_length: vals([], [6]) }],
    [
      'GroupQueryAttention, packed, first prompt',
      msGqa({ packed: true }),
      { x: x(6, 32, 5), seqlens_k: vals([3], [5, 5, 5]), total_sequence_length: vals([], [6]) },
    ],
    ['ai.onnx Attention, per-head mask, causal', onnxAttention3d({ perHeadMask: true, causal: true, kvH: 2 }), { x: x(6, 32, 6) }],
  ];
  for (const [what, bytes, arrays] of cases) {
    const model = decodeModel(bytes, `${what}.onnx`);
    const c = await captureAttention(model, inputs(model, arrays), { batchSize: 2 });
    const b = c.blocks[0];
    assert.equal(b.count, 3, what);
    assert.ok(b.check!.maxAbsError < 1e-5 * Math.max(1, b.check!.maxAbs), `${what}: ${b.check!.maxAbsError}`);
    rowsStochastic(b);
    if (what.includes('unidirectional') || what.includes('GroupQuery') || what.includes('causal')) {
      for (let r = 0; r < b.count * b.heads; r++)
        for (let s = 0; s < b.queries; s++) for (let t = s + 1; t < b.keys; t++) assert.ok(b.probs[(r * b.queries + s) * b.keys + t] < 1e-4, `${what}: causal`);
    }
  }
});

test('a fused operator whose recomputed output misses the tolerance is an error, not a result', async () => {
  const model = decodeModel(msMha(), 'mha.onnx');
  await assert.rejects(captureAttention(model, inputs(model, { x: normal([2, 6, 32], 3) }), { tolerance: 0 }), /not reliable and are not reported/);
});

/** Float64 attention of a `buildMha` model from its weights: softmax((x Wq + bq)_h (src Wk + bk)_g ᵀ/√d). */
function referenceProbs(
  model: ReturnType<typeof decodeModel>,
  x: Float64Array,
  src: Float64Array,
  B: number,
  T: number,
  S: number,
  E: number,
  H: number,
  kvH: number,
): Float64Array {
  const w = (n: string) => Float64Array.from(model.graph.initializers.get(n)!.data() as Float32Array);
  const [Wq, bq, Wk, bk] = [w('Wq'), w('bq'), w('Wk'), w('bk')];
  const d = E / H;
  const proj = (inp: Float64Array, L: number, W: Float64Array, b: Float64Array, width: number) => {
    const out = new Float64Array(B * L * width);
    for (let r = 0; r < B * L; r++)
      for (let j = 0; j < width; j++) {
        let s = b[j];
        for (let i = 0; i < E; i++) s += inp[r * E + i] * W[i * width + j];
        out[r * width + j] = s;
      }
    return out;
  };
  const q = proj(x, T, Wq, bq, E);
  const k = proj(src, S, Wk, bk, kvH * d);
  const p = new Float64Array(B * H * T * S);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / kvH));
      for (let t = 0; t < T; t++) {
        const row = new Float64Array(S);
        for (let s = 0; s < S; s++) {
          let dot = 0;
          for (let i = 0; i < d; i++) dot += q[(b * T + t) * E + h * d + i] * k[(b * S + s) * kvH * d + g * d + i];
          row[s] = dot / Math.sqrt(d);
        }
        const m = Math.max(...row);
        const e = row.map((v) => Math.exp(v - m));
        const sum = e.reduce((a, c) => a + c, 0);
        for (let s = 0; s < S; s++) p[((b * H + h) * T + t) * S + s] = e[s] / sum;
      }
    }
  return p;
}

for (const [what, o] of [
  ['BERT, Div on the scores (opset 17)', {}],
  ['scale on the query (opset 13)', { scale: 'query', opset: 13 }],
  ['cross-attention (opset 14)', { cross: true, opset: 14 }],
  ['grouped-query repeat_kv (opset 20)', { kvH: 2, opset: 20 }],
  ['Softmax axis 3 at opset 11', { opset: 11 }],
] as [string, MhaOptions][]) {
  test(`synthetic ${what}: captured probabilities equal a float64 computation from the weights`, async () => {
    const model = decodeModel(buildMha(o).bytes, 'synthetic.onnx');
    const B = 3;
    const S = o.cross ? 5 : 6;
    const x = normal([B, 6, 32], 21);
    const mem = normal([B, S, 32], 22);
    const c = await captureAttention(model, inputs(model, o.cross ? { x, mem } : { x }), { batchSize: 2 });
    const b = c.blocks[0];
    assert.deepEqual([b.count, b.heads, b.queries, b.keys], [B, 4, 6, S]);
    rowsStochastic(b);
    const ref = referenceProbs(model, x.data, (o.cross ? mem : x).data, B, 6, S, 32, 4, o.kvH ?? 4);
    assert.ok(maxDiff(ref, b.probs) < 1e-5, `${what}: ${maxDiff(ref, b.probs)}`);
  });
}
