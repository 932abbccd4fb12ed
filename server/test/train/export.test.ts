/**
 * ONNX export (train/export.ts): the project's attention detector finds one unfused block per layer with the
 * network's heads and head sizes; ONNX Runtime reproduces the tfjs network to 1e-5 (and the float64 oracle);
 * removing a head's rows from the output projection equals removing the head; the Q/K file loads as the project's
 * attention parameters.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { decodeModel } from '../../src/onnx/format/read';
import { detectAttention } from '../../src/onnx/detect/detect';
import { loadAttentionParams } from '../../src/data/load';
import { writeNpz } from '../../src/data/npz';
import { selectBackend } from '../../src/train/backend';
import { exportOnnx, layerWeightNames } from '../../src/train/export';
import { TfNetwork, initParams, removalGains, type NetworkShape } from '../../src/train/model';
import { attentionArrays, runOnnx } from '../../src/train/run';
import { maxAbs, maxAbsDiff, oracleOutputs, smallMarkov } from './helpers';

const task = smallMarkov(30, 2, 2);
const base = { N0: task.train.features, T: task.train.tokens };

before(async () => {
  await selectBackend('auto');
});

describe('the exported model is detected as the network it came from', () => {
  const cases: NetworkShape[] = [
    { ...base, heads: [2, 2], G: 4, widths: [6, 5, 4], readout: 'last' },
    { ...base, heads: [3], G: 5, widths: [4, 3], readout: 'first' },
    { ...base, heads: [2, 1, 4], G: 3, widths: [5, 4, 6, 2], readout: 'mean' },
  ];
  for (const shape of cases) {
    it(`heads [${shape.heads}], G ${shape.G}, widths [${shape.widths}], readout ${shape.readout}`, () => {
      const model = decodeModel(exportOnnx(initParams(shape, 1)), 'model.onnx');
      const det = detectAttention(model);
      assert.equal(det.blocks.length, shape.heads.length, det.summary);
      det.blocks.forEach((b, l) => {
        assert.equal(b.form, 'unfused');
        assert.equal(b.queryHeads, shape.heads[l], `block ${l} heads`);
        assert.equal(b.kvHeads, shape.heads[l]);
        assert.equal(b.headSizeQK, shape.G);
        assert.equal(b.headSizeV, shape.widths[l + 1]);
        assert.equal(b.inputSize, shape.N0);
        assert.equal(b.cross, false, 'queries and keys read the same input tokens');
        assert.ok(Math.abs(b.scale! - 1 / Math.sqrt(shape.G)) < 1e-7);
        assert.equal(b.confidence, 'high');
        const w = layerWeightNames(l + 1);
        assert.equal(b.weights.query?.weight.name, w.query);
        assert.equal(b.weights.key?.weight.name, w.key);
        assert.equal(b.weights.value?.weight.name, w.value);
        assert.equal(b.weights.output?.weight.name, w.output);
      });
      const meta = JSON.parse(model.metadata['attention_paths.network']);
      assert.deepEqual(
        [meta.N0, meta.T, meta.heads, meta.G, meta.widths, meta.readout],
        [shape.N0, shape.T, shape.heads, shape.G, shape.widths, shape.readout],
      );
    });
  }
});

describe('ONNX Runtime reproduces the trained network', () => {
  for (const readout of ['last', 'first', 'mean'] as const) {
    it(`to 1e-5 (readout ${readout}), and the float64 oracle`, async () => {
      const shape: NetworkShape = { ...base, heads: [2, 3], G: 4, widths: [6, 5, 4], readout };
      const p = initParams(shape, 8);
      const net = new TfNetwork(p);
      try {
        const f = net.predict(task.train);
        const bytes = exportOnnx(net.params());
        const g = await runOnnx(bytes, task.train);
        assert.ok(maxAbs(f) > 0.1);
        assert.ok(maxAbsDiff(g, f) <= 1e-5, `max |ORT − tfjs| = ${maxAbsDiff(g, f)}`);
        const oracle = await oracleOutputs(p, task.train);
        assert.ok(maxAbsDiff(g, oracle) <= 2e-5 * Math.max(1, maxAbs(oracle)), `max |ORT − oracle| = ${maxAbsDiff(g, oracle)}`);
      } finally {
        net.dispose();
      }
    });
  }

  it('slicing a head out of Q/K/V and the output projection (with rescaling) equals removing it in the network', async () => {
    // What a pruning tool does to the exported graph, done by hand on the initializers: drop head 1 of layer 1.
    const shape: NetworkShape = { ...base, heads: [3, 2], G: 4, widths: [5, 4, 3], readout: 'last' };
    const p = initParams(shape, 21);
    const net = new TfNetwork(p);
    try {
      const want = net.predict(task.train, removalGains(shape.heads, 0, 1));
      const m = onnx.ModelProto.decode(exportOnnx(p));
      const H = 3;
      const keep = [0, 2];
      const w = layerWeightNames(1);
      const f32 = (t: onnx.ITensorProto) => new Float32Array(Uint8Array.from(t.rawData!).buffer); // copy: decoded bytes may be an unaligned view
      const set = (t: onnx.ITensorProto, dims: number[], v: Float32Array) => {
        t.dims = dims;
        t.rawData = new Uint8Array(v.buffer);
      };
      for (const t of m.graph!.initializer!) {
        const dims = (t.dims as number[]).map(Number);
        if (t.name === w.query || t.name === w.key || t.name === w.value) {
          // [in, H·d] → keep columns of the kept heads
          const [rows, cols] = dims;
          const d = cols / H;
          const v = f32(t);
          const out = new Float32Array(rows * keep.length * d);
          for (let r = 0; r < rows; r++) keep.forEach((h, k) => out.set(v.subarray(r * cols + h * d, r * cols + (h + 1) * d), r * keep.length * d + k * d));
          set(t, [rows, keep.length * d], out);
        } else if (t.name === w.output) {
          // [H·n, n] → keep the kept heads' row blocks, × √(H/(H−1))
          const [rows, n] = dims;
          const d = rows / H;
          const v = f32(t);
          const out = new Float32Array(keep.length * d * n);
          keep.forEach((h, k) => out.set(v.subarray(h * d * n, (h + 1) * d * n), k * d * n));
          set(
            t,
            [keep.length * d, n],
            out.map((x) => x * Math.sqrt(H / (H - 1))),
          );
        } else if (t.name === 'layer1.qk_heads_shape' || t.name === 'layer1.v_heads_shape') {
          t.int64Data = (t.int64Data as number[]).map((x, i) => (i === 2 ? keep.length : Number(x)));
        } else if (t.name === 'layer1.merged_shape') {
          t.int64Data = (t.int64Data as number[]).map((x, i) => (i === 2 ? (Number(x) / H) * keep.length : Number(x)));
        }
      }
      const pruned = onnx.ModelProto.encode(m).finish();
      const got = await runOnnx(pruned, task.train);
      assert.ok(maxAbsDiff(got, want) <= 1e-5, `max |pruned ONNX − network without the head| = ${maxAbsDiff(got, want)}`);
      assert.equal(detectAttention(decodeModel(pruned)).blocks[0].queryHeads, 2);
    } finally {
      net.dispose();
    }
  });
});

describe('the trained Q/K file', () => {
  it('loads as Q/K attention parameters with the network heads', () => {
    const shape: NetworkShape = { ...base, heads: [2, 3], G: 4, widths: [3, 3, 3], readout: 'last' };
    const p = initParams(shape, 4);
    const dir = mkdtempSync(join(tmpdir(), 'ap-train-'));
    const path = join(dir, 'attention.npz');
    writeNpz(path, attentionArrays(p));
    const layers = loadAttentionParams(path, 'qk', { N0: shape.N0 });
    assert.equal(layers.length, 2);
    layers.forEach((layer, l) => {
      assert.equal(layer.kind, 'qk');
      if (layer.kind !== 'qk') return;
      assert.equal(layer.heads, shape.heads[l]);
      assert.equal(layer.G, shape.G);
      assert.deepEqual(Array.from(layer.Q), Array.from(p.Q[l]));
      assert.deepEqual(Array.from(layer.K), Array.from(p.K[l]));
    });
  });

  it('export refuses parameters that do not fit the shape', () => {
    const shape: NetworkShape = { ...base, heads: [2], G: 4, widths: [3, 3], readout: 'last' };
    const p = initParams(shape, 4);
    assert.throws(() => exportOnnx({ ...p, Q: [p.Q[0].subarray(2)] }), /Q_1 has .* expected \[2, 4, 14\]/);
    assert.throws(() => exportOnnx({ ...p, a: Float64Array.from([1, 2, Infinity]) }), /a holds Infinity/);
  });
});
