/**
 * Token inputs (README "A text classifier"): a BERT-style export fed by `input_ids` and `attention_mask` (int64) —
 * the project's own text classifier (server/src/train/textClassifier.ts, test-fixtures/text-classifier made by
 * scripts/makeTextFixture.ts) — captured, analysed and pruned end to end; the mask is honoured: the theory's
 * readout and path features skip padding tokens, so what sits at padded positions cannot change the analysis.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load';
import type { AnalysisConfig } from '../../src/config/types';
import { analyze } from '../../src/pipeline/analyze';
import { runPruneJob } from '../../src/pipeline/pruneModel';
import { modelTask } from '../../src/pipeline/model/modelTask';
import { decodeModel } from '../../src/onnx/format/read';
import { checkInputs } from '../../src/onnx/run/feeds';
import { runAll } from '../../src/onnx/run/verify';
import { readNpz, writeNpz } from '../../src/data/npz';
import { readoutWeights } from '../../src/theory/attention';
import { pathTokenWeights, skipPaddingTokens } from '../../src/theory/paths';
import { exportTextClassifier, forwardText, initTextParams, textTask, TEXT_VOCAB } from '../../src/train/textClassifier';
import { selectBackend } from '../../src/train/backend';
import { formatAnalysis } from '../../src/report/summary';
import { FIXTURES } from '../onnx/build';

const DIR = join(FIXTURES, 'text-classifier');
const tmp = mkdtempSync(join(tmpdir(), 'token-inputs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const fast = (c: AnalysisConfig): AnalysisConfig => ({ ...c, solver: { tolerance: 1e-9, maxIterations: 300 } });

test('the mean, first and last readouts read real tokens only when a token mask is given', () => {
  // One example, one head, T = 3; token 2 is padding. A[s, t]: column t (a query) sums to 1.
  const A = { heads: 1, tokens: 3, count: 1, data: Float64Array.from([0.5, 0.2, 0.1, 0.3, 0.7, 0.1, 0.2, 0.1, 0.8]) };
  const mask = Float64Array.of(1, 1, 0);
  const col = (t: number) => [0, 1, 2].map((s) => A.data[s * 3 + t]);
  const close = (a: ArrayLike<number>, b: number[]) => b.forEach((v, i) => assert.ok(Math.abs(a[i] - v) < 1e-15, `${a[i]} vs ${v}`));
  close(
    readoutWeights(A, 'mean', mask),
    col(0).map((v, s) => (v + col(1)[s]) / 2),
  );
  close(
    readoutWeights(A, 'mean'),
    col(0).map((v, s) => (v + col(1)[s] + col(2)[s]) / 3),
  );
  close(readoutWeights(A, 'last', mask), col(1));
  close(readoutWeights(A, 'first', mask), col(0));
  // Path features skip padding keys: the weight on token 2 goes to 0 and the rest renormalizes.
  const c = pathTokenWeights([A], 'mean', mask);
  const before = Array.from(c);
  const worst = skipPaddingTokens(c, mask, 1, 1, 3);
  assert.ok(Math.abs(worst - before[2]) < 1e-15);
  close(c, [before[0] / (before[0] + before[1]), before[1] / (before[0] + before[1]), 0]);
  // Unmasked examples are untouched, and a model that never attends padding is unchanged.
  const none = Float64Array.of(0.25, 0.75, 0);
  assert.equal(skipPaddingTokens(none, mask, 1, 1, 3), 0);
  close(none, [0.25, 0.75, 0]);
});

test('the synthetic task: [CLS] first, padding masked, both labels, negation flips the label', () => {
  const s = textTask(200, 12, 5);
  assert.equal(s.y.filter((v) => v > 0).length, 100);
  let padded = 0;
  for (let p = 0; p < s.count; p++) {
    const ids = Array.from(s.ids.subarray(p * 12, (p + 1) * 12));
    const mask = Array.from(s.mask.subarray(p * 12, (p + 1) * 12));
    assert.equal(ids[0], 1);
    const len = mask.indexOf(0) < 0 ? 12 : mask.indexOf(0);
    assert.ok(len >= 4);
    assert.ok(mask.slice(len).every((m) => m === 0) && ids.slice(len).every((i) => i === 0));
    padded += 12 - len;
    const at = ids.findIndex((i) => i >= 2 && i <= 7);
    const sign = ids[at] <= 4 ? 1 : -1;
    assert.equal(s.y[p], ids[at - 1] === TEXT_VOCAB.indexOf('not') ? -sign : sign);
  }
  assert.ok(padded > 200, 'sentences are padded');
  assert.deepEqual(Array.from(textTask(20, 12, 5).ids), Array.from(textTask(20, 12, 5).ids));
});

test('the exported classifier computes in ONNX Runtime what the tfjs network computes', async () => {
  await selectBackend('auto');
  const params = initTextParams({ vocab: TEXT_VOCAB.length, T: 8, d: 8, heads: [2, 2] }, 3);
  const set = textTask(24, 8, 4);
  const bytes = exportTextClassifier(params);
  const model = decodeModel(bytes, 'text.onnx');
  assert.deepEqual(
    model.graph.inputs.map((i) => [i.name, i.elemType]),
    [
      ['input_ids', 7],
      ['attention_mask', 7],
    ],
  );
  const feeds = new Map([
    ['input_ids', { dims: [24, 8], data: Float64Array.from(set.ids) }],
    ['attention_mask', { dims: [24, 8], data: Float64Array.from(set.mask) }],
  ]);
  const ort = (await runAll(bytes, model, checkInputs(model, feeds, 'text'), 'text', { outputs: ['logits'] })).get('logits')!;
  const f = forwardText(params, set);
  assert.deepEqual(ort.dims, [24, 1]);
  for (let i = 0; i < 24; i++) assert.ok(Math.abs(f[i] - ort.data[i]) < 1e-4, `${i}: tfjs ${f[i]} vs ONNX Runtime ${ort.data[i]}`);
});

test('the text-classifier fixture end to end: int64 ids and mask captured, the mask honoured, heads scored and measured', async () => {
  const config = fast(loadConfig(join(DIR, 'text.attention.yaml')));
  const r = await analyze(config, { measureHeadRemoval: true, maxPaths: 256 });
  assert.deepEqual(r.settings.heads, [4, 4]);
  assert.equal(r.settings.readout, 'mean');
  assert.deepEqual([r.task.P, r.task.P_test, r.task.N0, r.task.T], [160, 160, 16, 12]);
  const m = r.model!;
  assert.equal(m.input.tensor, 'embeddings_out', 'x is the token embeddings (Gather + positions)');
  const data = readNpz(join(DIR, 'data.npz'));
  const pads = [...data.get('attention_mask_train')!.data, ...data.get('attention_mask_test')!.data].filter((v) => v === 0).length;
  assert.deepEqual(m.token_mask, { input: 'attention_mask', padding_tokens: pads, tokens: 320 * 12 });
  assert.ok(pads > 500);
  assert.match(formatAnalysis(r), /token inputs: 'attention_mask' marks \d+ of 3840 tokens as padding; the readout and the path features skip them/);
  // The model masks padding keys, so its attention never reads them: nothing to renormalize, no warning.
  assert.ok(!r.warnings.some((w) => /reads padding tokens/.test(w)), r.warnings.join('\n'));
  assert.equal(r.solver.converged, true);
  assert.equal(r.head_scores_ascending.length, 8);
  const hm = r.head_removal_measured!;
  assert.equal(hm.full, 1);
  assert.ok(hm.heads.every((h) => h.value !== null));
  // The negation needs attention: some single head carries it, and the theory scores it most relevant.
  const worst = hm.heads.reduce((a, b) => (b.value! < a.value! ? b : a));
  assert.ok(worst.value! < 0.8, `the most needed head leaves ${worst.value}`);
  const top = r.head_scores_ascending[r.head_scores_ascending.length - 1];
  assert.deepEqual([top.layer, top.head], [worst.layer, worst.head]);
  assert.ok(r.rank_correlations && r.rank_correlations.heads === 8);

  // Honoured, not passed through: scramble the token ids at padded positions. The model's output cannot change
  // (padding keys are masked, the pool is over real tokens), and neither may the theory's analysis.
  const scrambled = new Map<string, { shape: readonly number[]; data: ArrayLike<number> }>();
  for (const [k, v] of data) {
    if (!k.startsWith('input_ids')) {
      scrambled.set(k, { shape: v.shape, data: v.data });
      continue;
    }
    const mask = data.get(k.replace('input_ids', 'attention_mask'))!.data;
    scrambled.set(k, { shape: v.shape, data: Array.from(v.data, (id, i) => (mask[i] === 0 ? 2 + (i % 14) : id)) });
  }
  const file = join(tmp, 'scrambled.npz');
  writeNpz(file, scrambled, { dtype: '<i8' });
  const r2 = await analyze({ ...config, data: file });
  const maxDiff = (a: number[][], b: number[][]) => Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i][j]))));
  assert.ok(maxDiff(r2.U[0], r.U[0]) < 1e-6, `U₁ moved by ${maxDiff(r2.U[0], r.U[0])}`);
  assert.ok(Math.abs(r2.metrics.eg_total - r.metrics.eg_total) < 1e-8);
  assert.deepEqual(
    r2.head_scores_ascending.map((h) => `${h.layer}:${h.head}`),
    r.head_scores_ascending.map((h) => `${h.layer}:${h.head}`),
  );
  // That is the mask at work: the readout over all T tokens (padded queries included) does change.
  const [a, b] = await Promise.all([
    modelTask({ model: config.attention!.model!, data: config.data! }),
    modelTask({ model: config.attention!.model!, data: file }),
  ]);
  assert.ok(a.task.train.tokenMask);
  const weights = (t: typeof a, masked: boolean) => {
    const att = t.layers.map((l) => ({ heads: l.heads, tokens: 12, count: 160, data: (l as { train: Float64Array }).train }));
    return pathTokenWeights(att, 'mean', masked ? t.task.train.tokenMask : undefined);
  };
  const diff = (x: Float64Array, y: Float64Array) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
  assert.ok(diff(weights(a, true), weights(b, true)) < 1e-6);
  assert.ok(diff(weights(a, false), weights(b, false)) > 1e-3, 'unmasked, the padded queries would move the readout');
});

test('the text classifier prunes: pruned ≡ masked on the int64 data, measured before and after, ordered by predicted effect', async () => {
  const config = fast(loadConfig(join(DIR, 'text.attention.yaml')));
  const out = join(tmp, 'pruned.onnx');
  const s = await runPruneJob({ model: config.attention!.model!, out, config, dropLowest: 2 });
  assert.ok(existsSync(out));
  assert.deepEqual(s.headsBefore, [4, 4]);
  assert.equal(
    s.headsAfter.reduce((a, b) => a + b, 0),
    6,
  );
  assert.ok(!('skipped' in s.verification), JSON.stringify(s.verification));
  if (!('skipped' in s.verification)) assert.ok(s.verification.maxAbsDiff <= s.verification.tolerance);
  assert.ok(s.measured && s.measured.before.value === 1);
  // The two heads dropped are the first two of the analysis' pruning order (least harmful first).
  const r = await analyze(config);
  assert.deepEqual(
    s.removed.map((h) => `${h.layer}:${h.head}`),
    r.pruning_order!.slice(0, 2).map((h) => `${h.layer}:${h.head}`),
  );
  // The pruned model still classifies the (int64) test split.
  assert.ok(s.measured!.after.value >= 0.9, `after pruning: ${s.measured!.after.value}`);
});

test('--drop-lowest more heads than the model can lose is refused from the model alone, before the data or the theory', async () => {
  const config = fast(loadConfig(join(DIR, 'text.attention.yaml')));
  const stages: string[] = [];
  const job = (dropLowest: number) =>
    runPruneJob({ model: config.attention!.model!, out: join(tmp, `drop-${dropLowest}.onnx`), config, dropLowest, onProgress: (stage) => stages.push(stage) });
  await assert.rejects(job(8), /^Error: --drop-lowest 8 would remove all 8 heads$/);
  await assert.rejects(job(7), /^Error: --drop-lowest 7: only 6 head\(s\) can be removed, keeping one head per layer$/);
  assert.deepEqual(stages, [], 'nothing ran before the refusal');
  assert.ok(!existsSync(join(tmp, 'drop-8.onnx')));
});

test('prune asks before the theory it runs: a declined cost stops --drop-lowest before anything is written', async () => {
  const config = fast(loadConfig(join(DIR, 'text.attention.yaml')));
  const out = join(tmp, 'declined.onnx');
  const costs: number[] = [];
  const confirmCost = (c: { seconds: number }) => {
    costs.push(c.seconds);
    throw new Error('declined');
  };
  await assert.rejects(runPruneJob({ model: config.attention!.model!, out, config, dropLowest: 2, confirmCost }), /^Error: declined$/);
  assert.equal(costs.length, 1);
  assert.ok(costs[0] > 0);
  assert.ok(!existsSync(out));
});
