/**
 * Models next to the code: the Python code lens finds `torch.onnx.export(…, "x.onnx")` and
 * `nn.MultiheadAttention(` lines and shows a model's prediction only when an analysis of it exists; the
 * `.onnx` inspection request gives the blocks and heads the ONNX reader detects.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CodeLens, Hover, MarkupContent } from 'vscode-languageserver';
import { FIXTURE_WORKSPACE, serverOnFixture } from './fixture';
import { findModelSites, pythonCodeLenses } from '../../src/lsp/features/python';
import { headline } from '../../src/lsp/features/codeLens';
import { percent, rankedHeads } from '../../src/lsp/features/heads';
import { CreateModelConfigRequest, CreatePrunedConfigRequest, InspectModelRequest, PruneRequest, ReportRequest, SweepRequest } from '../../../shared/protocol';
import { loadConfig } from '../../src/config/load';
import { fakeReport } from '../report/fixture';
import { invalidModels } from '../onnx/invalidModels';

describe('Python sites of a model', () => {
  const text = readFileSync(path.join(FIXTURE_WORKSPACE, 'train.py'), 'utf8');

  test('export calls with their .onnx path and MultiheadAttention lines are found (0-based lines)', () => {
    assert.deepEqual(findModelSites(text), { exports: [{ line: 20, target: 'models/model.onnx' }], attention: [8, 9] });
  });

  test('multi-line export calls, comments and non-.onnx targets', () => {
    const src = [
      '# torch.onnx.export(m, x, "commented.onnx")',
      'torch.onnx.export(',
      '    model,',
      "    args, f='out/m.onnx',",
      ')',
      'torch.onnx.export(model, x, buffer)',
    ].join('\n');
    assert.deepEqual(findModelSites(src), { exports: [{ line: 1, target: 'out/m.onnx' }], attention: [] });
  });

  test("lenses show a model's analysis on its export and attention lines, and nothing without one", () => {
    const dir = '/ws/scripts';
    const model = path.resolve(dir, 'models/model.onnx');
    const report = fakeReport();
    assert.deepEqual(
      pythonCodeLenses(text, dir, ['/ws'], () => undefined),
      [],
    );
    const lenses: CodeLens[] = pythonCodeLenses(text, dir, ['/ws'], (p) => (p === model ? { report, configUri: 'file:///ws/m.attention.yaml' } : undefined));
    assert.deepEqual([...new Set(lenses.map((l) => l.range.start.line))], [20, 8, 9]);
    const onExport = lenses.filter((l) => l.range.start.line === 20);
    // Short: the model, the prediction and the three most relevant heads; the details in the tooltip.
    assert.deepEqual(
      onExport.map((l) => l.command!.title),
      ['model.onnx: predicted 93.3% · top heads L0·H0, L1·H0, L0·H1', 'Prune heads...'],
    );
    const tip = (onExport[0].data as { tooltip: string }).tooltip;
    assert.equal(tip.split('\n')[0], 'Predicted test accuracy 93.3% (GP limit 82.9%) · ε_g 0.577 (GP limit 0.792) at N = 10, T_B = 0.01');
    assert.equal(tip.split('\n')[1], 'Heads by relevance: #1 L0·H0 1.00, #2 L1·H0 0.90, #3 L0·H1 0.27, #4 L1·H1 0.21');
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
    // The workspace's configs are read when the server starts: model.attention.yaml names this model.
    const r = await f.s.poll('the config naming the model', async () => {
      const x = await f.s.request(InspectModelRequest, { uri });
      return x.configs.length ? x : undefined;
    });
    assert.deepEqual(r.configs, [path.join(f.dir, 'model.attention.yaml')]);
    assert.equal(r.createConfig, undefined, 'a config exists: nothing to create');
    assert.equal(r.error, undefined);
    assert.equal(r.bytes, 97387);
    assert.equal(r.summary?.attention.blocks.length, 2);
    assert.deepEqual(
      r.heads.map((h) => [h.layer, h.head, h.score]),
      [0, 1].flatMap((l) => [0, 1, 2, 3].map((h) => [l, h, undefined])),
    );
    assert.match(r.analysisNote, /^No relevance scores yet: model\.attention\.yaml names this model but has not been analysed/);
    assert.match(r.analysisNote, /attention: \{kind: model, model: model\.onnx\}/);
    assert.doesNotMatch(r.analysisNote, /not available/);
    await assert.rejects(f.s.request(InspectModelRequest, { uri: pathToFileURL(path.join(f.dir, 'nope.onnx')).href }), /cannot read/);
  });

  test('after a config analyses the model, its Python lines, its model view and the config show that analysis', async () => {
    const config = await f.s.open(path.join(f.dir, 'model.attention.yaml'));
    const done = await f.s.waitForState(config, ['done', 'error'], 0, 120_000);
    assert.equal(done.state, 'done', done.error);
    const { report } = await f.s.request(ReportRequest, { uri: config });
    assert.ok(report);
    assert.deepEqual(report.settings.heads, [4, 4]);
    // train.py exports "models/model.onnx" relative to the workspace: the lens finds this analysis.
    const py = pathToFileURL(path.join(f.dir, 'train.py')).href;
    const lenses = await f.s.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri: py } });
    assert.deepEqual([...new Set(lenses.map((l) => l.range.start.line))], [20, 8, 9]);
    // Built from the report: predicted and measured full-model accuracy, the three most relevant heads.
    const top = rankedHeads(report)
      .slice(0, 3)
      .map((h) => `L${h.layer}·H${h.head}`)
      .join(', ');
    const m0 = report.head_removal_measured!;
    assert.equal(
      lenses[0].command?.title,
      `model.onnx: predicted ${percent(report.metrics.acc_mean_predictor)} (measured ${percent(m0.full)}) · top heads ${top}`,
    );
    assert.match((lenses[0].data as { tooltip: string }).tooltip, new RegExp(`^${headline(report).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
    assert.deepEqual(lenses[0].command?.arguments, [config]);
    assert.deepEqual(lenses[1].command?.arguments, [config]);
    // The model view shows the same relevance scores as the report, block by block.
    const m = await f.s.request(InspectModelRequest, { uri: pathToFileURL(path.join(f.dir, 'models', 'model.onnx')).href });
    const scores = new Map(report.head_scores_ascending.map((h) => [`${h.layer}.${h.head}`, h.score]));
    assert.deepEqual(
      m.heads.map((h) => h.score),
      m.heads.map((h) => scores.get(`${h.layer}.${h.head}`)),
    );
    assert.equal(m.heads.filter((h) => h.rank === 1).length, 1);
    assert.match(m.analysisNote, /^Relevance from the analysis of .*model\.attention\.yaml/);
    // The model's own measurement of removing each head, next to the prediction.
    assert.deepEqual(
      report.head_removal_measured?.heads.map((h) => `${h.layer}:${h.head}`),
      report.head_scores_ascending.map((h) => `${h.layer}:${h.head}`),
    );
    assert.ok(report.head_removal_measured!.heads.every((h) => h.value !== null && h.value >= 0 && h.value <= 1));
    // The analysis's warnings (e.g. a model outside the theory's class) are warnings on `attention.model`, one line
    // each (the headline; the details are in the hover).
    const warnings = (f.s.diagnostics.get(config) ?? []).filter((d) => d.code === 'analysis-warning');
    assert.deepEqual(
      warnings.map((d) => [d.severity, d.range.start.line, d.message]),
      report.warnings.map((w) => [2, 5, w.split('\n')[0]]),
    );
    assert.ok(
      warnings.every((d) => !d.message.includes('\n') && d.message.length <= 150),
      warnings.map((d) => d.message).join(' | '),
    );
    const hover = await f.s.request<Hover>('textDocument/hover', { textDocument: { uri: config }, position: { line: 5, character: 12 } });
    const text = (hover.contents as MarkupContent).value;
    // The hover leads with the head table (measured column included), the details of the warnings below it.
    assert.match(text, /^\| rank \| head \| score \| measured accuracy without it \|/);
    assert.ok(text.indexOf('**Warnings**') > text.indexOf('| rank |'));
    assert.match(text, /The theory's class: attention from the input/);
  });

  test('pruning heads of a model config writes a verified, smaller model with measured and predicted effects', async () => {
    const config = pathToFileURL(path.join(f.dir, 'model.attention.yaml')).href;
    const output = path.join(f.dir, 'models', 'pruned.onnx');
    const r = await f.s.request(PruneRequest, { uri: config, heads: [{ layer: 0, head: 1 }], output });
    assert.equal(r.wrote, 'model');
    assert.equal(r.output, output);
    assert.deepEqual(r.removed, [{ layer: 0, head: 1 }]);
    assert.match(r.verification ?? '', /^equals the original with these heads masked on \d+ examples/);
    assert.equal(r.measured?.kind, 'accuracy');
    assert.ok(r.measured!.count > 0);
    assert.ok(r.predicted, "the theory's prediction is reported next to the measurement");
    const { report } = await f.s.request(ReportRequest, { uri: config });
    assert.deepEqual(r.predicted!.before, report!.metrics);
    // The written model is a valid ONNX model with one head fewer in block 0.
    const pruned = await f.s.request(InspectModelRequest, { uri: pathToFileURL(output).href });
    assert.equal(pruned.error, undefined);
    assert.deepEqual(
      pruned.summary!.attention.blocks.map((b) => b.queryHeads),
      [3, 4],
    );
    // Never over an existing file unless asked; nothing is written for a head that does not exist.
    await assert.rejects(f.s.request(PruneRequest, { uri: config, heads: [{ layer: 1, head: 0 }], output }), /already exists/);
    const none = path.join(f.dir, 'models', 'x.onnx');
    await assert.rejects(f.s.request(PruneRequest, { uri: config, heads: [{ layer: 1, head: 9 }], output: none }));
    assert.equal(existsSync(none), false);
  });

  test('after pruning: the comparison, original head names in the model view, and a config for the pruned model (never over a file)', async () => {
    const config = pathToFileURL(path.join(f.dir, 'model.attention.yaml')).href;
    const output = path.join(f.dir, 'models', 'loop.onnx');
    const r = await f.s.request(PruneRequest, { uri: config, heads: [{ layer: 1, head: 1 }], output });
    const c = r.comparison!;
    assert.deepEqual(
      [c.original.heads, c.pruned.heads],
      [
        [4, 4],
        [4, 3],
      ],
    );
    assert.ok(c.pruned.parameters < c.original.parameters && c.pruned.file_bytes < c.original.file_bytes);
    assert.ok(c.original.latency!.runs >= 3 && c.pruned.latency!.median_ms > 0);
    const view = await f.s.request(InspectModelRequest, { uri: pathToFileURL(output).href });
    assert.deepEqual(
      view.heads.filter((h) => h.layer === 1).map((h) => [h.head, h.original?.head]),
      [
        [0, undefined],
        [1, 2],
        [2, 3],
      ],
    );
    const made = await f.s.request(CreatePrunedConfigRequest, { uri: config, model: output });
    const file = path.join(f.dir, 'models', 'loop.attention.yaml');
    assert.equal(made.config, pathToFileURL(file).href);
    const original = loadConfig(path.join(f.dir, 'model.attention.yaml'));
    const cfg = loadConfig(file);
    assert.deepEqual([cfg.attention?.model, cfg.data, cfg.widths, cfg.temperature], [output, original.data, original.widths, original.temperature]);
    const text = readFileSync(file, 'utf8');
    const again = await f.s.request(CreatePrunedConfigRequest, { uri: config, model: output });
    assert.equal(again.config, pathToFileURL(path.join(f.dir, 'models', 'loop-2.attention.yaml')).href);
    assert.equal(readFileSync(file, 'utf8'), text);
    await assert.rejects(f.s.request(CreatePrunedConfigRequest, { uri: config, model: 'loop.onnx' }), /not an absolute \.onnx path/);
  });

  test('a model without a config but with data beside it: the view offers a config, which is created (never over a file) and analysed', async () => {
    const other = path.join(f.dir, 'other');
    mkdirSync(other);
    copyFileSync(path.join(f.dir, 'models', 'model.onnx'), path.join(other, 'tiny.onnx'));
    copyFileSync(path.join(f.dir, 'models', 'data.npz'), path.join(other, 'tiny.npz'));
    const model = pathToFileURL(path.join(other, 'tiny.onnx')).href;
    const before = await f.s.request(InspectModelRequest, { uri: model });
    assert.deepEqual(before.configs, []);
    assert.deepEqual(before.createConfig, { data: path.join(other, 'tiny.npz'), config: path.join(other, 'tiny.attention.yaml') });
    assert.match(before.analysisNote, /tiny\.npz sits beside the model, so a config can be created for it/);

    const made = await f.s.request(CreateModelConfigRequest, { uri: model });
    const file = path.join(other, 'tiny.attention.yaml');
    assert.equal(made.config, pathToFileURL(file).href);
    assert.equal(made.data, path.join(other, 'tiny.npz'));
    const text = readFileSync(file, 'utf8');
    const cfg = loadConfig(file);
    assert.deepEqual([cfg.attention?.kind, cfg.attention?.model, cfg.data], ['model', path.join(other, 'tiny.onnx'), path.join(other, 'tiny.npz')]);
    // The server knows the new config at once: the view now offers to analyse it instead.
    const after = await f.s.request(InspectModelRequest, { uri: model });
    assert.deepEqual([after.configs, after.createConfig], [[file], undefined]);
    // Asked again, it picks a new name and leaves the first file as it was.
    const again = await f.s.request(CreateModelConfigRequest, { uri: model });
    assert.equal(again.config, pathToFileURL(path.join(other, 'tiny-2.attention.yaml')).href);
    assert.equal(readFileSync(file, 'utf8'), text);

    const uri = await f.s.open(file);
    const done = await f.s.waitForState(uri, ['done', 'error'], 0, 120_000);
    assert.equal(done.state, 'done', done.error);
    const analysed = await f.s.request(InspectModelRequest, { uri: model });
    assert.equal(analysed.analysisConfig, file);
    assert.equal(analysed.heads.filter((h) => h.score !== undefined).length, 8);
  });

  test('a model with no data beside it: the note says what to add, and no config is created', async () => {
    const lonely = path.join(f.dir, 'lonely');
    mkdirSync(lonely);
    copyFileSync(path.join(f.dir, 'models', 'model.onnx'), path.join(lonely, 'solo.onnx'));
    const model = pathToFileURL(path.join(lonely, 'solo.onnx')).href;
    const r = await f.s.request(InspectModelRequest, { uri: model });
    assert.equal(r.createConfig, undefined);
    assert.match(r.analysisNote, /Put solo\.npz or data\.npz beside the model to have the config created for you\.$/);
    await assert.rejects(f.s.request(CreateModelConfigRequest, { uri: model }), /no labelled data beside solo\.onnx: put solo\.npz or data\.npz/);
    assert.deepEqual(readdirSync(lonely), ['solo.onnx']);
  });

  test("an invalid model: the model view gets the checker's one-line reason, not a summary", async () => {
    const dir = path.join(f.dir, 'broken-model');
    mkdirSync(dir);
    const file = path.join(dir, 'cycle.onnx');
    writeFileSync(file, invalidModels().find((m) => m.name === 'cycle')!.bytes);
    const r = await f.s.request(InspectModelRequest, { uri: pathToFileURL(file).href });
    assert.equal(r.summary, undefined);
    assert.equal(r.error, `${file}: invalid model: the graph has a cycle: 'A' → 'B' → 'A' (each node reads the next one's output), at node 'A' (Add)`);
  });

  test('attentionPaths.maxPaths stops sweeps and prunes of a config with more paths (16 here) with the reason', async () => {
    const config = pathToFileURL(path.join(f.dir, 'model.attention.yaml')).href;
    // The server pulls new settings after the notification; it then re-publishes every config's state.
    const settle = async (settings: Record<string, unknown>) => {
      const since = f.s.results.length;
      await f.s.setSettings(settings);
      await f.s.waitFor('the new settings to apply', () => (f.s.results.length > since ? true : undefined));
    };
    await settle({ maxPaths: 10 });
    const output = path.join(f.dir, 'models', 'too-many.onnx');
    await assert.rejects(
      f.s.request(SweepRequest, { uri: config, widths: [10, 100] }),
      /this config has 4² = 16 attention paths \(heads \[4, 4\]; paths multiply across layers\), more than the path limit 10 \(--max-paths on the command line, attentionPaths\.maxPaths in the editor\); use fewer heads or layers, or raise the limit to sweep its width/,
    );
    await assert.rejects(
      f.s.request(PruneRequest, { uri: config, heads: [{ layer: 0, head: 0 }], output }),
      /this config has 4² = 16 attention paths \(heads \[4, 4\]; paths multiply across layers\), more than the path limit 10 .*; reducing P would not help\. Analyse the model in layer windows: `attention\.windows: 1` .* or raise the limit to prune it/,
    );
    assert.equal(existsSync(output), false);
    // A plain config's prune predicts from an analysis, which the same limit stops.
    const markov = pathToFileURL(path.join(f.dir, 'markov.attention.yaml')).href;
    await settle({ maxPaths: 3 });
    await assert.rejects(
      f.s.request(PruneRequest, { uri: markov, heads: [{ layer: 0, head: 0 }], output: path.join(f.dir, 'plan.json') }),
      /this config has 2² = 4 attention paths \(heads \[2, 2\]; paths multiply across layers\), more than the path limit 3 .*; use fewer heads or layers, or raise the limit to analyse it whole/,
    );
    await settle({});
    const r = await f.s.request(SweepRequest, { uri: markov, widths: [10] });
    assert.equal(r.sweep.rows.length, 1);
  });
});

describe('a model view in Restricted Mode', () => {
  const f = serverOnFixture({ trusted: false });

  test('offers no config to create and refuses to create one', async () => {
    // A model no config names, with data beside it: trusted, this would offer a config.
    const other = path.join(f.dir, 'other');
    mkdirSync(other);
    copyFileSync(path.join(f.dir, 'models', 'model.onnx'), path.join(other, 'm.onnx'));
    copyFileSync(path.join(f.dir, 'models', 'data.npz'), path.join(other, 'data.npz'));
    const model = pathToFileURL(path.join(other, 'm.onnx')).href;
    const r = await f.s.request(InspectModelRequest, { uri: model });
    assert.deepEqual(r.configs, []);
    assert.equal(r.createConfig, undefined);
    assert.match(r.analysisNote, /Restricted Mode: trust it to run the model\.$/);
    await assert.rejects(f.s.request(CreateModelConfigRequest, { uri: model }), /Restricted Mode/);
    assert.deepEqual(readdirSync(other).sort(), ['data.npz', 'm.onnx']);
  });
});
