/** The client's words and numbers (client/src/text.ts), without VS Code. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modelAnalysisMessage, num, parseWidths, pct, pruneMessage, summary } from '../src/text';
import type { AnalysisReport, Metrics, PruneResult } from '../../shared/protocol';

const metrics = (acc: number, eg: number): Metrics => ({ eg_bias: eg / 2, eg_variance: eg / 2, eg_total: eg, acc_mean_predictor: acc, acc_probabilistic: acc });

test('pct: a fraction as a percentage with one decimal', () => {
  assert.equal(pct(0.9571), '95.7%');
  assert.equal(pct(1), '100.0%');
  assert.equal(pct(0), '0.0%');
  assert.equal(pct(0.00049), '0.0%');
});

test('num: four significant digits without trailing zeros', () => {
  assert.equal(num(0.4275), '0.4275');
  assert.equal(num(0.42751), '0.4275');
  assert.equal(num(12), '12');
  assert.equal(num(1234567), '1235000');
  assert.equal(num(2.5e-7), '2.5e-7');
  assert.equal(num(-0.0123456), '-0.01235');
});

test('parseWidths: comma-separated widths N ≥ 1, spaces and empty entries ignored', () => {
  assert.deepEqual(parseWidths('10,30,100'), [10, 30, 100]);
  assert.deepEqual(parseWidths(' 10, 30 ,100, '), [10, 30, 100]);
  assert.deepEqual(parseWidths('1, 2.5, 1e3'), [1, 2.5, 1000]);
  for (const bad of ['', ' , ', '10,abc', '10,0', '-5', '10,Infinity', 'NaN']) assert.equal(parseWidths(bad), undefined, JSON.stringify(bad));
});

test('parseWidths refuses N < 1, as the CLI and the config schema do (N = 0.5 was solved from Sweep Width)', () => {
  assert.equal(parseWidths('0.5'), undefined);
  assert.equal(parseWidths('10, 0.99'), undefined);
  // …and N > 1e15, where the action overflows to NaN (the schema's maximum).
  assert.equal(parseWidths('10, 1e308'), undefined);
  assert.deepEqual(parseWidths('1e15'), [1e15]);
});

test('summary: finite-width accuracy and ε_g next to the GP limit', () => {
  const r = { metrics: metrics(0.9571, 0.42751), gp: { metrics: metrics(0.825, 0.744) } } as unknown as AnalysisReport;
  assert.equal(summary(r), 'accuracy 95.7% (GP limit 82.5%), ε_g 0.4275 (GP limit 0.744)');
});

test('pruneMessage: a pruned model with measured and predicted effects', () => {
  const r: PruneResult = {
    uri: 'file:///w/model.attention.yaml',
    wrote: 'model',
    output: '/w/models/model.pruned.onnx',
    removed: [
      { layer: 0, head: 1 },
      { layer: 1, head: 3 },
    ],
    predicted: { before: metrics(0.9, 0.5), after: metrics(0.875, 0.61234) },
    measured: { kind: 'accuracy', before: 0.95, after: 0.9375, count: 32 },
    notes: [],
  };
  assert.equal(
    pruneMessage(r),
    'Removing L0·H1, L1·H3; measured accuracy 95.0% → 93.8% (32 test examples); predicted accuracy 90.0% → 87.5%, ε_g 0.5 → 0.6123. ' +
      'Pruned model written to model.pruned.onnx.',
  );
});

test('pruneMessage: a plan with an MSE measurement, or with neither measurement nor prediction', () => {
  const base = {
    uri: 'file:///w/a.attention.yaml',
    wrote: 'plan' as const,
    output: '/w/a.pruned-heads.json',
    removed: [{ layer: 2, head: 0 }],
    notes: ['no model to prune'],
  };
  assert.equal(
    pruneMessage({ ...base, measured: { kind: 'mse', before: 0.123456, after: 0.2, count: 10 } }),
    'Removing L2·H0; measured mse 0.1235 → 0.2 (10 test examples). Plan written to a.pruned-heads.json (no model to prune).',
  );
  assert.equal(pruneMessage(base), 'Removing L2·H0. Plan written to a.pruned-heads.json (no model to prune).');
});

test('pruneMessage: a pruned model with the side-by-side comparison (parameters, file size, latency)', () => {
  const side = (heads: number[], parameters: number, file_bytes: number, ms: number) => ({
    heads,
    parameters,
    file_bytes,
    latency: { median_ms: ms, min_ms: ms, max_ms: ms, runs: 21, batch: 64 },
  });
  const r: PruneResult = {
    uri: 'file:///w/model.attention.yaml',
    wrote: 'model',
    output: '/w/models/model.pruned.onnx',
    removed: [{ layer: 0, head: 1 }],
    measured: { kind: 'accuracy', before: 0.95, after: 0.95, count: 100 },
    comparison: { original: side([4, 4, 4], 152913, 646092, 47.9), pruned: side([3, 4, 4], 148769, 625700, 47.75) },
    notes: [],
  };
  assert.equal(
    pruneMessage(r),
    'Removing L0·H1; measured accuracy 95.0% → 95.0% (100 test examples); parameters 152,913 → 148,769, file 630.9 KB → 611.0 KB, ' +
      'latency 47.90 → 47.75 ms per batch of 64. Pruned model written to model.pruned.onnx.',
  );
});

// Found by a newcomer's run in the editor: "Analyze Model or Config" on a truncated .onnx advised putting data beside
// the model; it now gives the model's reason, as the model view does.
test('modelAnalysisMessage: an unreadable model gets its reason; a readable one the note and the config to create', () => {
  const bad = modelAnalysisMessage('bad.onnx', {
    error: 'not an ONNX model: truncated (file cut short?)',
    analysisNote: 'No relevance scores yet. Put bad.npz …',
  });
  assert.deepEqual(bad, { kind: 'error', text: 'bad.onnx cannot be analysed: not an ONNX model: truncated (file cut short?)' });
  const ok = modelAnalysisMessage('m.onnx', { analysisNote: 'No relevance scores yet.', createConfig: { data: '/w/data.npz', config: '/w/m.attention.yaml' } });
  assert.deepEqual(ok, { kind: 'info', text: 'No relevance scores yet.', create: 'Create m.attention.yaml' });
  assert.deepEqual(modelAnalysisMessage('m.onnx', { analysisNote: 'note' }), { kind: 'info', text: 'note' });
});
