/**
 * The theory's own network class with summed heads (no output projection; docs/theory.md §a): recognized as in
 * class, with value weights that reproduce the model's output through the theory's forward pass; each head masked
 * for the measured comparison by zeroing its term of the sum; pruned by removing its Q/K/V slices and its term,
 * every constant kept, so the pruned model equals the masked original to 1e-5 — and equals an independent
 * reference, the original with that head's value columns zeroed. The same for a network exported by `train`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNpz } from '../../src/data/npz';
import { modelTask } from '../../src/pipeline/model/modelTask';
import { captureAttention } from '../../src/onnx/run/capture';
import { measureHeadRemoval } from '../../src/pipeline/headRemoval';
import { onnx } from 'onnx-proto';
import { decodeModel } from '../../src/onnx/format/read';
import { detectAttention } from '../../src/onnx/detect/detect';
import { ModelEditor } from '../../src/onnx/edit/edit';
import { mainCtx } from '../../src/onnx/edit/headMap';
import { maskedModel, maskFactors, parseHeadList, planRemoval, pruneBlocker, pruneModel, headMaps } from '../../src/onnx/edit/prune';
import { checkTheoryClass, detectReadout, findTheoryInput } from '../../src/pipeline/model/theoryClass';
import { compareOutputs, runAll } from '../../src/onnx/run/verify';
import { networkOutput } from '../../src/theory/weights';
import { readoutWeights } from '../../src/theory/attention';
import { exportOnnx } from '../../src/train/export';
import { initParams } from '../../src/train/model';
import type { OnnxModel } from '../../src/onnx/format/types';
import type { ModelInputs } from '../../src/onnx/run/feeds';
import { inputs, normal, summedHeadsModel } from './models';

/** The model with the value-projection columns of `heads` (layer → heads) zeroed: those heads add nothing. */
function zeroValueColumns(bytes: Uint8Array, weightOf: (l: number) => string, headWidth: number, heads: Map<number, number[]>): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  for (const [l, hs] of heads) {
    const t = m.graph!.initializer!.find((x) => x.name === weightOf(l))!;
    const dims = (t.dims as number[]).map(Number);
    const raw = t.rawData!;
    const f = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    for (let r = 0; r < dims[0]; r++) for (const h of hs) for (let j = 0; j < headWidth; j++) f[r * dims[1] + h * headWidth + j] = 0;
    t.rawData = new Uint8Array(f.buffer);
  }
  return onnx.ModelProto.encode(m).finish();
}

async function checkSummedPrune(model: OnnxModel, spec: string, data: ModelInputs, expect: number[], zeroed: Uint8Array) {
  const det = detectAttention(model);
  const plan = planRemoval(det, parseHeadList(spec));
  const pruned = pruneModel(model, det, plan);
  const masked = maskedModel(model, det, maskFactors(plan));
  const a = await runAll(masked.bytes(), model, data, 'masked');
  const b = await runAll(pruned.editor.bytes(), model, data, 'pruned');
  const z = await runAll(zeroed, model, data, 'zeroed');
  const orig = await runAll(new ModelEditor(model).bytes(), model, data, 'original');
  const tol = 1e-5 * Math.max(1, compareOutputs(a, b).maxAbs);
  assert.ok(compareOutputs(a, b).maxAbsDiff <= tol, `${spec}: pruned vs masked ${compareOutputs(a, b).maxAbsDiff}`);
  assert.ok(compareOutputs(a, z).maxAbsDiff <= tol, `${spec}: masked vs zeroed value columns ${compareOutputs(a, z).maxAbsDiff}`);
  assert.ok(compareOutputs(orig, b).maxAbsDiff > 1e-4, `${spec}: pruning changed the output`);
  const again = detectAttention(decodeModel(pruned.editor.bytes(), 'pruned.onnx'));
  assert.deepEqual(
    again.blocks.map((x) => x.queryHeads),
    expect,
  );
  assert.ok(
    again.blocks.every((x) => x.headSum),
    'the pruned blocks still sum their heads',
  );
  // Every constant of the original survives unchanged (the sum's scales are not renormalized).
  const read = new Set(model.graph.nodes.flatMap((n) => n.inputs));
  const scalars = (m: onnx.IModelProto) =>
    new Map(
      (m.graph!.initializer ?? [])
        .filter((t) => (t.dims ?? []).length === 0 && t.dataType === 1 && read.has(t.name ?? ''))
        .map((t) => [t.name, Buffer.from(t.rawData!).toString('hex')]),
    );
  const before = scalars(model.proto);
  const after = scalars(pruned.editor.proto);
  for (const [k, v] of before) assert.equal(after.get(k), v, `constant ${k}`);
  return pruned;
}

const FORMS = [
  ['reducesum', 'after'],
  ['reducesum', 'before'],
  ['reducesum', 'none'],
  ['split-add', 'after'],
  ['split-sum', 'before'],
] as const;

for (const [form, scale] of FORMS) {
  test(`summed heads (${form}, scale ${scale}): in the theory's class, masked by zeroing a term, pruned = masked = zeroed value columns`, async () => {
    const bytes = summedHeadsModel({ form, scale, readout: 'last' });
    const model = decodeModel(bytes, `summed-${form}.onnx`);
    const det = detectAttention(model);
    assert.equal(det.blocks.length, 2);
    for (const b of det.blocks) {
      assert.equal(b.headSum?.form, form === 'reducesum' ? 'ReduceSum' : 'Split+Add');
      assert.ok(!b.notes.some((n) => /no output projection found/.test(n)), b.notes.join('; '));
    }
    const scaleExpected = scale === 'before' ? [1 / Math.sqrt(3 * 6), 1 / Math.sqrt(3 * 8)] : [1, 1];
    det.blocks.forEach((b, i) => assert.ok(Math.abs(b.headSum!.scale - scaleExpected[i]) < 1e-7));
    const { maps, errors } = headMaps(model, det);
    det.blocks.forEach((b, i) => assert.equal(pruneBlocker(b, maps[i], errors[i]), null, `block ${i}`));

    // In class, and the effective weights reproduce the model's output (docs/theory.md §a, §f).
    const ctx = mainCtx(model);
    const x = findTheoryInput(ctx, det.blocks[0]);
    const ro = detectReadout(ctx, 5);
    assert.equal(ro?.readout, 'last');
    const cls = checkTheoryClass(ctx, det, x, ro);
    assert.equal(cls.inClass, true, cls.reasons.join('; '));
    const X = normal([4, 5, 6], 3);
    const data = inputs(model, { x: X });
    const out = (await runAll(bytes, model, data, 'summed')).get('y')!;
    const probs = await captureAttention(model, data, { detection: det });
    const w = cls.weights!;
    const V0 = new Float64Array(6 * 6);
    for (let i = 0; i < 6; i++) V0[i * 6 + i] = Math.sqrt(6);
    for (let p = 0; p < 4; p++) {
      const xp = new Float64Array(6 * 5);
      for (let t = 0; t < 5; t++) for (let k = 0; k < 6; k++) xp[k * 5 + t] = X.data[(p * 5 + t) * 6 + k];
      // Theory layout: A[s, t] (key s, query t) per head.
      const att = probs.blocks.map((c) => {
        const A = new Float64Array(c.heads * 25);
        for (let h = 0; h < c.heads; h++)
          for (let t = 0; t < 5; t++) for (let s = 0; s < 5; s++) A[h * 25 + s * 5 + t] = c.probs[((p * c.heads + h) * 5 + t) * 5 + s];
        return A;
      });
      const r = readoutWeights({ heads: 3, tokens: 5, count: 1, data: att[1] }, 'last');
      const f = networkOutput(xp, 6, 5, att, r, V0, w);
      assert.ok(Math.abs(f - out.data[p]) < 1e-5, `example ${p}: theory ${f} vs model ${out.data[p]}`);
    }

    for (const [spec, expect] of [
      ['0:1', [2, 3]],
      ['0:0,1:0,1:2', [2, 1]],
    ] as const) {
      const heads = new Map<number, number[]>();
      for (const h of parseHeadList(spec)) heads.set(h.layer, [...(heads.get(h.layer) ?? []), h.head]);
      const zeroed = zeroValueColumns(bytes, (l) => `Wv${l}`, 8, heads);
      await checkSummedPrune(model, spec, inputs(model, { x: normal([7, 5, 6], 9) }), [...expect], zeroed);
    }
  });
}

test("a network exported by `train` (the theory's class): pruned = masked to 1e-5, and pruned again", async () => {
  const params = initParams({ N0: 5, T: 4, heads: [3, 2], G: 3, widths: [6, 7, 4], readout: 'mean' }, 4);
  const bytes = exportOnnx(params);
  const model = decodeModel(bytes, 'model.onnx');
  const data = inputs(model, { x: normal([9, 5, 4], 2) });
  const det = detectAttention(model);
  const ctx = mainCtx(model);
  assert.equal(checkTheoryClass(ctx, det, findTheoryInput(ctx, det.blocks[0]), detectReadout(ctx, 4)).inClass, true);
  const zeroed = zeroValueColumns(bytes, (l) => `layer${l + 1}.value.weight`, 7, new Map([[0, [1]]]));
  const plan = planRemoval(det, parseHeadList('0:1'));
  const pruned = pruneModel(model, det, plan);
  const a = await runAll(maskedModel(model, det, maskFactors(plan)).bytes(), model, data, 'masked');
  const b = await runAll(pruned.editor.bytes(), model, data, 'pruned');
  const z = await runAll(zeroed, model, data, 'zeroed');
  assert.ok(compareOutputs(a, b).maxAbsDiff <= 1e-5 * Math.max(1, compareOutputs(a, b).maxAbs));
  assert.ok(compareOutputs(a, z).maxAbsDiff <= 1e-5 * Math.max(1, compareOutputs(a, b).maxAbs));
  // Pruning the pruned model again: its layer 1 loses head 0 as well.
  const second = decodeModel(pruned.editor.bytes(), 'pruned.onnx');
  const det2 = detectAttention(second);
  assert.deepEqual(
    det2.blocks.map((x) => x.queryHeads),
    [2, 2],
  );
  const plan2 = planRemoval(det2, parseHeadList('1:0'));
  const pruned2 = pruneModel(second, det2, plan2);
  const c = await runAll(maskedModel(second, det2, maskFactors(plan2)).bytes(), second, data, 'masked again');
  const d = await runAll(pruned2.editor.bytes(), second, data, 'pruned again');
  assert.ok(compareOutputs(c, d).maxAbsDiff <= 1e-5 * Math.max(1, compareOutputs(c, d).maxAbs));
  assert.deepEqual(pruned2.after, [2, 1]);
});

test('summed heads: every head is masked for the measured comparison, and --rescale prunes to the rescaled mask', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'summed-'));
  try {
    const bytes = summedHeadsModel({ form: 'split-add', scale: 'before', readout: 'mean' });
    const modelPath = join(dir, 'summed.onnx');
    writeFileSync(modelPath, bytes);
    const x = normal([40, 5, 6], 6);
    const model = decodeModel(bytes, 'summed.onnx');
    const out = (await runAll(bytes, model, inputs(model, { x }), 'summed')).get('y')!;
    const y = Float64Array.from(out.data, (v) => (v >= 0 ? 1 : -1));
    const dataPath = join(dir, 'summed.npz');
    writeNpz(dataPath, { x: { shape: x.dims, data: x.data }, y: { shape: [40], data: y } });
    const mt = await modelTask({ model: modelPath, data: dataPath });
    assert.equal(mt.theoryClass.inClass, true, mt.theoryClass.reasons.join('; '));
    const heads = [0, 1, 2].flatMap((h) => [0, 1].map((layer) => ({ layer, head: h })));
    const m = await measureHeadRemoval(
      mt,
      {
        data: dataPath,
        attention: { kind: 'model', model: modelPath },
        widths: 10,
        variances: 1,
        temperature: 0.01,
        solver: { tolerance: 1e-7, maxIterations: 10 },
        seed: 0,
      },
      heads,
    );
    assert.equal(m.full, 1, "the labels are the model's own signs");
    assert.ok(
      m.heads.every((h) => h.value !== null && h.value >= 0 && h.value <= 1),
      JSON.stringify(m.heads),
    );
    assert.ok(
      m.heads.some((h) => h.value! < 1),
      'removing some head changes a prediction',
    );
    // --rescale: the kept terms are multiplied by √(H/(H−removed)) before the sum.
    const det = detectAttention(model);
    const plan = planRemoval(det, parseHeadList('0:2,1:1'), true);
    const a = await runAll(maskedModel(model, det, maskFactors(plan)).bytes(), model, inputs(model, { x }), 'masked');
    const b = await runAll(pruneModel(model, det, plan).editor.bytes(), model, inputs(model, { x }), 'pruned');
    assert.ok(compareOutputs(a, b).maxAbsDiff <= 1e-5 * Math.max(1, compareOutputs(a, b).maxAbs));
    assert.ok(Math.abs(plan[0].scale - Math.sqrt(3 / 2)) < 1e-15);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
