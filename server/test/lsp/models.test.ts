/**
 * Models next to the code: the Python code lens finds `torch.onnx.export(…, "x.onnx")` and
 * `nn.MultiheadAttention(` lines and shows a model's prediction only when an analysis of it exists; the
 * `.onnx` inspection request gives the blocks and heads the ONNX reader detects.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CodeLens } from 'vscode-languageserver';
import { FIXTURE_WORKSPACE, serverOnFixture } from './fixture';
import { findModelSites, pythonCodeLenses } from '../../src/features/python';
import { headline } from '../../src/features/codeLens';
import { InspectModelRequest, PruneRequest, ReportRequest, type InspectModelResult, type PruneResult, type ReportResult } from '../../src/protocol';
import { fakeReport } from '../report/fixture';

describe('Python sites of a model', () => {
  const text = readFileSync(path.join(FIXTURE_WORKSPACE, 'train.py'), 'utf8');

  test('export calls with their .onnx path and MultiheadAttention lines are found (0-based lines)', () => {
    assert.deepEqual(findModelSites(text), { exports: [{ line: 20, target: 'models/model.onnx' }], attention: [8, 9] });
  });

  test('multi-line export calls, comments and non-.onnx targets', () => {
    const src = ['# torch.onnx.export(m, x, "commented.onnx")', 'torch.onnx.export(', '    model,', "    args, f='out/m.onnx',", ')', 'torch.onnx.export(model, x, buffer)'].join('\n');
    assert.deepEqual(findModelSites(src), { exports: [{ line: 1, target: 'out/m.onnx' }], attention: [] });
  });

  test('lenses show a model\'s analysis on its export and attention lines, and nothing without one', () => {
    const dir = '/ws/scripts';
    const model = path.resolve(dir, 'models/model.onnx');
    const report = fakeReport();
    assert.deepEqual(pythonCodeLenses(text, dir, ['/ws'], () => undefined), []);
    const lenses: CodeLens[] = pythonCodeLenses(text, dir, ['/ws'], (p) => (p === model ? { report, configUri: 'file:///ws/m.attention.yaml' } : undefined));
    assert.deepEqual([...new Set(lenses.map((l) => l.range.start.line))], [20, 8, 9]);
    const onExport = lenses.filter((l) => l.range.start.line === 20).map((l) => l.command!.title);
    assert.deepEqual(onExport, [
      'model.onnx: Predicted test accuracy 93.3% (GP limit 82.9%) · ε_g 0.577 (GP limit 0.792) at N = 10, T_B = 0.01',
      'Head ranking: #1 L0h0 1.00 · #2 L1h0 0.90 · #3 L0h1 0.27 · #4 L1h1 0.21',
      'Show charts',
      'Prune heads...',
    ]);
  });
});

describe('models in the workspace, through the server', () => {
  const f = serverOnFixture();

  test('a Python file that exports a model nobody has analysed gets no code lens (no invented numbers)', async () => {
    const uri = await f.s.open(path.join(f.dir, 'train.py'), 'python');
    assert.deepEqual(await f.s.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri } }), []);
  });

  test('inspecting the fixture model: two attention blocks of four heads, no relevance without an analysis', async () => {
    const uri = pathToFileURL(path.join(f.dir, 'models', 'model.onnx')).href;
    const r = await f.s.request<InspectModelResult>(InspectModelRequest, { uri });
    assert.equal(r.error, undefined);
    assert.equal(r.bytes, 97387);
    assert.equal(r.summary?.attention.blocks.length, 2);
    assert.deepEqual(
      r.heads.map((h) => [h.layer, h.head, h.score]),
      [0, 1].flatMap((l) => [0, 1, 2, 3].map((h) => [l, h, undefined])),
    );
    assert.match(r.analysisNote, /capturing attention from ONNX models is not available in this version/);
    await assert.rejects(f.s.request(InspectModelRequest, { uri: pathToFileURL(path.join(f.dir, 'nope.onnx')).href }), /cannot read/);
  });

  test('after a config analyses the model, its Python lines, its model view and the config show that analysis', async () => {
    const config = await f.s.open(path.join(f.dir, 'model.attention.yaml'));
    const done = await f.s.waitForState(config, ['done', 'error'], 0, 120_000);
    assert.equal(done.state, 'done', done.error);
    const { report } = await f.s.request<ReportResult>(ReportRequest, { uri: config });
    assert.ok(report);
    assert.deepEqual(report.settings.heads, [4, 4]);
    // train.py exports "models/model.onnx" relative to the workspace: the lens finds this analysis.
    const py = pathToFileURL(path.join(f.dir, 'train.py')).href;
    const lenses = await f.s.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri: py } });
    assert.deepEqual([...new Set(lenses.map((l) => l.range.start.line))], [20, 8, 9]);
    assert.equal(lenses[0].command?.title, `model.onnx: ${headline(report)}`);
    assert.deepEqual(lenses[2].command?.arguments, [config]);
    // The model view shows the same relevance scores as the report, block by block.
    const m = await f.s.request<InspectModelResult>(InspectModelRequest, { uri: pathToFileURL(path.join(f.dir, 'models', 'model.onnx')).href });
    const scores = new Map(report.head_scores_ascending.map((h) => [`${h.layer}.${h.head}`, h.score]));
    assert.deepEqual(
      m.heads.map((h) => h.score),
      m.heads.map((h) => scores.get(`${h.layer}.${h.head}`)),
    );
    assert.equal(m.heads.filter((h) => h.rank === 1).length, 1);
    assert.match(m.analysisNote, /relevance from the analysis of .*model\.attention\.yaml/);
    // The analysis's warnings (e.g. a model outside the theory's class) are warnings on `attention.model`.
    const warnings = (f.s.diagnostics.get(config) ?? []).filter((d) => d.code === 'analysis-warning');
    assert.deepEqual(
      warnings.map((d) => [d.severity, d.range.start.line, d.message]),
      report.warnings.map((w) => [2, 5, w]),
    );
  });

  test('pruning heads of a model config writes a verified, smaller model with measured and predicted effects', async () => {
    const config = pathToFileURL(path.join(f.dir, 'model.attention.yaml')).href;
    const output = path.join(f.dir, 'models', 'pruned.onnx');
    const r = await f.s.request<PruneResult>(PruneRequest, { uri: config, heads: [{ layer: 0, head: 1 }], output });
    assert.equal(r.wrote, 'model');
    assert.equal(r.output, output);
    assert.deepEqual(r.removed, [{ layer: 0, head: 1 }]);
    assert.match(r.verification ?? '', /^equals the original with these heads masked on \d+ examples/);
    assert.equal(r.measured?.kind, 'accuracy');
    assert.ok(r.measured!.count > 0);
    assert.ok(r.predicted, 'the theory\'s prediction is reported next to the measurement');
    const { report } = await f.s.request<ReportResult>(ReportRequest, { uri: config });
    assert.deepEqual(r.predicted!.before, report!.metrics);
    // The written model is a valid ONNX model with one head fewer in block 0.
    const pruned = await f.s.request<InspectModelResult>(InspectModelRequest, { uri: pathToFileURL(output).href });
    assert.equal(pruned.error, undefined);
    assert.deepEqual(pruned.summary!.attention.blocks.map((b) => b.queryHeads), [3, 4]);
    // Never over an existing file unless asked; nothing is written for a head that does not exist.
    await assert.rejects(f.s.request(PruneRequest, { uri: config, heads: [{ layer: 1, head: 0 }], output }), /already exists/);
    const none = path.join(f.dir, 'models', 'x.onnx');
    await assert.rejects(f.s.request(PruneRequest, { uri: config, heads: [{ layer: 1, head: 9 }], output: none }));
    assert.equal(existsSync(none), false);
  });
});
