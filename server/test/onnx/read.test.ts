/** readModel: fixtures decode with the right structure; tensors, attributes, subgraphs, external data. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { decodeModel, readModel } from '../../src/onnx/format/read';
import { OnnxReadError } from '../../src/onnx/format/errors';
import { toFloat64, viewBytes } from '../../src/onnx/format/tensor';
import { attrInt, attrInts } from '../../src/onnx/format/graph';
import { GraphBuilder, modelBytes, NODE_TESTS, OPENVINO, TORCH, floatTensor } from './build';

const tmp = mkdtempSync(join(tmpdir(), 'onnx-read-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('torch fixture: opsets, inputs without initializers, initializer views', () => {
  const m = readModel(join(TORCH, 'A_mha_opset17', 'model.onnx'));
  assert.equal(m.irVersion, 8);
  assert.deepEqual(m.opsets, { 'ai.onnx': 17 });
  assert.equal(m.producerName, 'pytorch');
  assert.deepEqual(
    m.graph.inputs.map((i) => [i.name, i.shape]),
    [['X', ['batch', 12, 16]]],
  );
  assert.deepEqual(m.graph.outputs[0].shape, ['batch', 1]);
  assert.equal(m.graph.nodes.length, 210);
  const w = m.graph.initializers.get('onnx::MatMul_249')!;
  assert.deepEqual(w.dims, [32, 96]);
  assert.equal(w.dataTypeName, 'FLOAT');
  const d = w.data();
  assert.ok(d instanceof Float32Array);
  assert.equal(d.length, 32 * 96);
  assert.ok(d.every(Number.isFinite));
  assert.equal(w.data(), d, 'data() is cached');
  const sm = m.graph.nodes.find((n) => n.name === '/layers.0/attn/Softmax')!;
  assert.equal(sm.domain, 'ai.onnx');
  assert.equal(attrInt(sm, 'axis', 99), -1);
  const tr = m.graph.nodes.find((n) => n.name === '/layers.0/attn/Transpose_3')!;
  assert.deepEqual(attrInts(tr, 'perm'), [1, 2, 0]);
});

test('raw_data is viewed without copying when aligned, copied when not', () => {
  const buf = new Uint8Array(17);
  new Float32Array(buf.buffer, 4, 3).set([1, 2, 3]);
  const aligned = viewBytes(buf.subarray(4, 16), 1, 3, 't') as Float32Array;
  assert.equal(aligned.buffer, buf.buffer, 'aligned view shares the buffer');
  assert.deepEqual(Array.from(aligned), [1, 2, 3]);
  const shifted = new Uint8Array(17);
  shifted.set(buf.subarray(4, 16), 1);
  const un = viewBytes(shifted.subarray(1, 13), 1, 3, 't') as Float32Array;
  assert.notEqual(un.buffer, shifted.buffer);
  assert.deepEqual(Array.from(un), [1, 2, 3]);
  assert.throws(() => viewBytes(buf.subarray(0, 8), 1, 3, 'short'), /holds 8 bytes/);
});

test('typed data fields: float_data, int64_data, double_data, int32_data, strings, float16', () => {
  const g = new GraphBuilder();
  g.input('x', [2]);
  g.inits.push({ name: 'f', dims: [2], dataType: 1, floatData: [1.5, -2] });
  g.inits.push({ name: 'i', dims: [3], dataType: 7, int64Data: [1, -2, 3] });
  g.inits.push({ name: 'dd', dims: [1], dataType: 11, doubleData: [0.1] });
  g.inits.push({ name: 'i8', dims: [2], dataType: 3, int32Data: [-5, 7] });
  g.inits.push({ name: 'h', dims: [2], dataType: 10, int32Data: [0x3c00, 0xc000] });
  g.inits.push({ name: 's', dims: [2], dataType: 8, stringData: [Buffer.from('a'), Buffer.from('βc')] });
  g.one('Identity', ['x'], {}, { out: 'y' });
  g.output('y', [2]);
  const m = decodeModel(modelBytes(g.graph()));
  const t = (n: string) => m.graph.initializers.get(n)!;
  assert.deepEqual(Array.from(t('f').data() as Float32Array), [1.5, -2]);
  const i = t('i').data() as BigInt64Array;
  assert.ok(i instanceof BigInt64Array);
  assert.deepEqual(Array.from(i), [1n, -2n, 3n]);
  assert.deepEqual(Array.from(t('dd').data() as Float64Array), [0.1]);
  assert.deepEqual(Array.from(t('i8').data() as Int8Array), [-5, 7]);
  assert.deepEqual(Array.from(toFloat64(t('h'))), [1, -2]);
  assert.deepEqual(t('s').data(), ['a', 'βc']);
  assert.equal(m.graph.inputs.length, 1, 'initializers are not inputs');
});

test('attributes decode to JS values, subgraphs (If) are decoded with their path and outer scope', () => {
  const then = new GraphBuilder();
  then.one('Relu', ['x'], {}, { out: 't_out' });
  then.output('t_out', [2]);
  const els = new GraphBuilder();
  els.one('Neg', ['x'], {}, { out: 'e_out' });
  els.output('e_out', [2]);
  const g = new GraphBuilder();
  g.input('x', [2]);
  g.input('c', [], 9);
  g.one('If', ['c'], { then_branch: { g: then.graph('then') }, else_branch: { g: els.graph('else') } }, { out: 'y', name: 'branch' });
  g.one('LeakyRelu', ['y'], { alpha: { f: 0.25 } }, { out: 'z' });
  g.output('z', [2]);
  const m = decodeModel(modelBytes(g.graph(), { opsets: { '': 17 } }));
  const iff = m.graph.nodes[0];
  const tb = iff.attributes.then_branch;
  assert.equal(tb.type, 'GRAPH');
  assert.equal(m.graph.subgraphs.length, 2);
  assert.equal(m.graph.subgraphs[0].path, 'branch/then_branch');
  assert.equal(m.graph.subgraphs[0].parent, m.graph);
  assert.equal(m.graph.subgraphs[0].nodes[0].opType, 'Relu');
  const lr = m.graph.nodes[1].attributes.alpha;
  assert.equal(lr.type, 'FLOAT');
  assert.equal(lr.value, 0.25);
});

test('sparse initializers are densified', () => {
  const g = new GraphBuilder();
  g.input('x', [4]);
  const graph = g.graph();
  graph.sparseInitializer = [{ dims: [4], values: floatTensor('sp', [2], [5, 7]), indices: { name: 'sp_i', dims: [2], dataType: 7, int64Data: [1, 3] } }];
  graph.node = [{ opType: 'Add', input: ['x', 'sp'], output: ['y'] }];
  graph.output = [{ name: 'y' }];
  const m = decodeModel(modelBytes(graph));
  const sp = m.graph.initializers.get('sp')!;
  assert.equal(sp.sparse, true);
  assert.deepEqual(Array.from(sp.data() as Float32Array), [0, 5, 0, 7]);
});

test('value infos: dim_value, dim_param and anonymous dims; models without shapes', () => {
  const m = readModel(join(OPENVINO, 'attention_dynamic_shapes.onnx'));
  const byName = Object.fromEntries(m.graph.inputs.map((i) => [i.name, i]));
  assert.equal(byName.input.shape, null);
  assert.deepEqual(byName.mask.shape, [null, null]);
  assert.deepEqual(m.opsets, { 'ai.onnx': 11, 'com.microsoft': 1 });
  const gqa = readModel(join(OPENVINO, 'gqa_rotary.onnx'));
  assert.deepEqual(gqa.graph.inputs[0].shape, ['batch_size', 'sequence_length', 64]);
  const n = gqa.graph.nodes[0];
  assert.equal(n.domain, 'com.microsoft');
  assert.deepEqual(n.inputs.slice(0, 3), ['query', '', '']);
  const past = readModel(join(NODE_TESTS, 'test_attention_4d_causal_with_past_and_present', 'model.onnx'));
  assert.equal(past.irVersion, 12);
  assert.deepEqual(past.opsets, { 'ai.onnx': 24 });
});

// ---------------------------------------------------------------------------------------------------------------
// External data

/** A model with one external initializer W [2, 3] at `location` (and its bytes written to `file` when given). */
function externalModel(dir: string, location: string, opts: { write?: string | null; offset?: number; length?: number; dims?: number[] } = {}): string {
  mkdirSync(dir, { recursive: true });
  const dims = opts.dims ?? [2, 3];
  const ext: onnx.IStringStringEntryProto[] = [{ key: 'location', value: location }];
  if (opts.offset !== undefined) ext.push({ key: 'offset', value: String(opts.offset) });
  if (opts.length !== undefined) ext.push({ key: 'length', value: String(opts.length) });
  const g = new GraphBuilder();
  g.input('x', [1, 2]);
  g.inits.push({ name: 'W', dims, dataType: 1, dataLocation: 1, externalData: ext });
  g.one('MatMul', ['x', 'W'], {}, { out: 'y' });
  g.output('y', [1, 3]);
  const path = join(dir, 'model.onnx');
  writeFileSync(path, modelBytes(g.graph()));
  if (opts.write) {
    const pad = new Uint8Array(opts.offset ?? 0);
    writeFileSync(join(dir, opts.write), Buffer.concat([pad, Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer)]));
  }
  return path;
}

test('external data: read lazily from a file inside the folder, with offset', () => {
  const dir = join(tmp, 'ext-ok');
  const p = externalModel(dir, 'weights/w.bin', { offset: 8, length: 24 });
  mkdirSync(join(dir, 'weights'), { recursive: true });
  writeFileSync(join(dir, 'weights', 'w.bin'), Buffer.concat([Buffer.alloc(8), Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer)]));
  const m = readModel(p);
  const w = m.graph.initializers.get('W')!;
  assert.equal(w.storage, 'external');
  assert.equal(w.external!.offset, 8);
  assert.equal(m.externalDataBytes, 24);
  // Lazy: the bytes are read on first data(), so a change made after opening is seen.
  writeFileSync(join(dir, 'weights', 'w.bin'), Buffer.concat([Buffer.alloc(8), Buffer.from(new Float32Array([6, 5, 4, 3, 2, 1]).buffer)]));
  assert.deepEqual(Array.from(w.data() as Float32Array), [6, 5, 4, 3, 2, 1]);
});

test('external data: locations escaping the folder are refused', () => {
  const outside = join(tmp, 'secret.bin');
  writeFileSync(outside, Buffer.alloc(64));
  for (const [loc, re] of [
    ['../secret.bin', /outside the model's folder/],
    ['a/../../secret.bin', /outside the model's folder/],
    ['/etc/passwd', /absolute path/],
    ['C:\\Windows\\win.ini', /absolute path/],
  ] as const) {
    const p = externalModel(join(tmp, `esc-${loc.replace(/[^a-z]/gi, '')}`), loc);
    for (const check of [true, false]) {
      assert.throws(
        () => readModel(p, { checkExternalData: check }),
        (e: unknown) => e instanceof OnnxReadError && e.kind === 'external-data' && re.test(e.message) && e.message.startsWith(p),
        `${loc} (check ${check})`,
      );
    }
  }
});

test('external data: a symlink inside the folder pointing outside is refused', () => {
  const dir = join(tmp, 'ext-link');
  const p = externalModel(dir, 'w.bin');
  const target = join(tmp, 'outside-weights.bin');
  writeFileSync(target, Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer));
  symlinkSync(target, join(dir, 'w.bin'));
  assert.throws(() => readModel(p), /link to .*outside the model's folder/);
  const lazy = readModel(p, { checkExternalData: false });
  assert.throws(() => lazy.graph.initializers.get('W')!.data(), /outside the model's folder/);
});

test('external data: missing or short files give clear errors', () => {
  const p = externalModel(join(tmp, 'ext-missing'), 'nothere.bin');
  assert.throws(
    () => readModel(p),
    (e: unknown) => e instanceof OnnxReadError && /'nothere.bin', which does not exist/.test(e.message),
  );
  const lazy = readModel(p, { checkExternalData: false });
  assert.throws(() => lazy.graph.initializers.get('W')!.data(), /does not exist/);
  const dir = join(tmp, 'ext-short');
  const q = externalModel(dir, 'w.bin');
  writeFileSync(join(dir, 'w.bin'), Buffer.alloc(10));
  assert.throws(() => readModel(q), /has 10 bytes, fewer than offset 0 \+ length 24/);
});

test('external data over 2 GB: the model opens without reading the weights', () => {
  const dir = join(tmp, 'ext-huge');
  const n = 805306368; // 3 GiB of float32
  const p = externalModel(dir, 'huge.bin', { dims: [n] });
  const huge = join(dir, 'huge.bin');
  writeFileSync(huge, '');
  truncateSync(huge, n * 4); // sparse file: no disk space used, nothing read
  const t0 = Date.now();
  const m = readModel(p, { validateGraph: false });
  assert.ok(Date.now() - t0 < 2000, 'opening took too long');
  assert.equal(m.externalDataBytes, n * 4);
  assert.equal(m.largeExternalData, true);
  assert.equal(m.graph.initializers.get('W')!.dims[0], n);
  assert.ok(existsSync(huge));
});
