/**
 * Bad input never crashes or hangs: each case gives an OnnxReadError with a clear reason, and models that
 * decode despite corruption still go through detection without throwing.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { decodeModel, readModel } from '../../src/onnx/format/read';
import { OnnxReadError, type OnnxErrorKind } from '../../src/onnx/format/errors';
import { detectAttention } from '../../src/onnx/detect/detect';
import { inspectModel, formatInspect } from '../../src/onnx/detect/inspect';
import { Random } from '../../src/util/random';
import { GraphBuilder, modelBytes, TORCH, floatTensor } from './build';

const tmp = mkdtempSync(join(tmpdir(), 'onnx-fuzz-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const MODEL = join(TORCH, 'B_bert_div', 'model.onnx');

function write(name: string, bytes: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}

function rejects(p: string, kind: OnnxErrorKind, re: RegExp): void {
  assert.throws(
    () => readModel(p),
    (e: unknown) => {
      assert.ok(e instanceof OnnxReadError, `expected OnnxReadError, got ${String(e)}`);
      assert.equal(e.kind, kind, e.message);
      assert.ok(e.message.startsWith(`${p}: `), e.message);
      assert.match(e.message, re);
      return true;
    },
  );
}

test('zero-byte file', () => {
  rejects(write('empty.onnx', new Uint8Array(0)), 'not-onnx', /not an ONNX model: the file is empty/);
});

test('missing file and folder', () => {
  rejects(join(tmp, 'nope.onnx'), 'io', /cannot read: no such file/);
  mkdirSync(join(tmp, 'dir.onnx'));
  rejects(join(tmp, 'dir.onnx'), 'io', /folder/);
});

test('truncated model at many lengths', () => {
  const full = readFileSync(MODEL);
  const lengths = [1, 2, 5, 10, 50, 100, 1000, 4096, Math.floor(full.length / 3), Math.floor(full.length / 2), full.length - 100, full.length - 1];
  for (const n of lengths) {
    const p = write(`trunc-${n}.onnx`, full.subarray(0, n));
    rejects(p, 'not-onnx', /not an ONNX model: (truncated|the protobuf has no|protobuf decoding failed)/);
  }
});

test('random bytes (fixed seed)', () => {
  const rng = new Random(20240601);
  for (let i = 0; i < 300; i++) {
    const n = 1 + rng.int(i < 200 ? 64 : 5000);
    const b = new Uint8Array(n);
    for (let k = 0; k < n; k++) b[k] = rng.int(256);
    assert.throws(
      () => decodeModel(b, `random-${i}`),
      (e: unknown) => e instanceof OnnxReadError && e.kind === 'not-onnx' && e.message.startsWith(`random-${i}: not an ONNX model: `),
      `random case ${i}`,
    );
  }
});

test('a protobuf that is a TensorProto, a GraphProto, or a model without graph/opset', () => {
  const tensor = onnx.TensorProto.encode(floatTensor('w', [2, 2], [1, 2, 3, 4])).finish();
  rejects(write('tensor.onnx', tensor), 'not-onnx', /not a ModelProto/);
  const g = new GraphBuilder();
  g.input('x', [2]);
  g.one('Relu', ['x'], {}, { out: 'y' });
  g.output('y', [2]);
  const graph = onnx.GraphProto.encode(g.graph()).finish();
  rejects(write('graph.onnx', graph), 'not-onnx', /not a ModelProto/);
  const noGraph = onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }] }).finish();
  rejects(write('nograph.onnx', noGraph), 'not-onnx', /no graph/);
  const noOpset = onnx.ModelProto.encode({ irVersion: 8, graph: g.graph() }).finish();
  rejects(write('noopset.onnx', noOpset), 'not-onnx', /no opset_import/);
  const noIr = onnx.ModelProto.encode({ opsetImport: [{ domain: '', version: 17 }], graph: g.graph() }).finish();
  rejects(write('noir.onnx', noIr), 'not-onnx', /no ir_version/);
});

test('IR version 13 (ONNX 1.20) is read, and ONNX Runtime runs the same bytes; IR 14 is refused', async () => {
  const g = new GraphBuilder();
  g.input('x', [2]);
  g.one('Relu', ['x'], {}, { out: 'y' });
  g.output('y', [2]);
  const bytes = modelBytes(g.graph(), { ir: 13 });
  const path = write('ir13.onnx', bytes);
  const m = readModel(path);
  assert.equal(m.irVersion, 13);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([-1, 2]), [2]) });
  assert.deepEqual(Array.from(out.y.data as Float32Array), [0, 2]);
  await session.release();
  rejects(write('ir14.onnx', modelBytes(g.graph(), { ir: 14 })), 'unsupported', /IR version 14 is outside the supported range 3–13/);
});

test('unsupported IR version and opsets', () => {
  const g = new GraphBuilder();
  g.input('x', [2]);
  g.one('Relu', ['x'], {}, { out: 'y' });
  g.output('y', [2]);
  rejects(write('ir99.onnx', modelBytes(g.graph(), { ir: 99 })), 'unsupported', /IR version 99 is outside the supported range/);
  rejects(write('ir2.onnx', modelBytes(g.graph(), { ir: 2 })), 'unsupported', /IR version 2/);
  rejects(write('op99.onnx', modelBytes(g.graph(), { opsets: { '': 99 } })), 'unsupported', /default-domain opset 99/);
  rejects(write('ms9.onnx', modelBytes(g.graph(), { opsets: { '': 17, 'com.microsoft': 9 } })), 'unsupported', /com\.microsoft/);
  rejects(write('nodomain.onnx', modelBytes(g.graph(), { opsets: { 'com.microsoft': 1 } })), 'invalid', /domain 'ai\.onnx', which opset_import does not list/);
});

test('missing initializer referenced by a node', () => {
  const g = new GraphBuilder();
  g.input('x', [1, 4]);
  g.one('MatMul', ['x', 'W_missing'], {}, { out: 'y', name: 'proj' });
  g.output('y', [1, 4]);
  rejects(
    write('missing-init.onnx', modelBytes(g.graph())),
    'invalid',
    /invalid model: the node reads 'W_missing', which no initializer, graph input or node provides \(missing initializer\?\), at node 'proj' \(MatMul\)$/,
  );
  const h = new GraphBuilder();
  h.input('x', [2]);
  h.one('Relu', ['x'], {}, { out: 'y' });
  h.output('z', [2]);
  rejects(write('missing-out.onnx', modelBytes(h.graph())), 'invalid', /no node, input or initializer produces it, at graph output 'z'$/);
});

test('corrupted models (bit flips, fixed seed): OnnxReadError or a result, never a crash', () => {
  const full = readFileSync(MODEL);
  const rng = new Random(7);
  let decoded = 0;
  for (let i = 0; i < 60; i++) {
    const b = Uint8Array.from(full);
    const flips = 1 + rng.int(8);
    for (let k = 0; k < flips; k++) b[rng.int(b.length)] ^= 1 << rng.int(8);
    try {
      const m = decodeModel(b, `flip-${i}`);
      const r = detectAttention(m);
      assert.equal(typeof r.summary, 'string');
      JSON.stringify(r);
      decoded++;
    } catch (e) {
      assert.ok(e instanceof OnnxReadError, `flip case ${i}: ${e instanceof Error ? e.stack : String(e)}`);
    }
  }
  assert.ok(decoded > 0, 'some corrupted models should still decode');
});

test('inspect reports read errors as OnnxReadError too', () => {
  const p = write('inspect-empty.onnx', new Uint8Array(0));
  assert.throws(() => formatInspect(inspectModel(p)), OnnxReadError);
});
