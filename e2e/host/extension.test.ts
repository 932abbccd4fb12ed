/**
 * Integration tests inside a real VS Code extension host (code-server 4.100.3 = VS Code 1.100.3), run by
 * scripts/e2e.mjs on a fresh copy of test-fixtures/workspace. They use the real `vscode` API: the
 * extension's code lens, inlay hints, hovers and diagnostics as VS Code sees them, the charts webview (every
 * chart drawn, counted by its SVG marks), and the custom editor for `.onnx` files with the config it creates.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionState } from '../../client/src/ctx';
import type { RenderInfo } from '../../client/src/webview/messages';
import { textsOf, type ExpectedTexts } from '../expectedTexts';
import type { RequestType } from 'vscode-languageserver-protocol';
import { InspectArraysRequest, InspectModelRequest, PruneRequest, ReportRequest, SweepRequest, type AnalyzeResult } from '../../shared/protocol';

const EXTENSION_ID = 'attention-paths.attention-paths';

function workspaceFile(...parts: string[]): vscode.Uri {
  const root = vscode.workspace.workspaceFolders?.[0];
  if (!root) throw new Error('the tests need the fixture workspace open');
  return vscode.Uri.joinPath(root.uri, ...parts);
}

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs` with the last value seen. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 90_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const lensTitles = async (uri: vscode.Uri) =>
  ((await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri)) ?? []).map((l) => l.command?.title ?? '');

describe('Attention Paths in VS Code', () => {
  let api: ExtensionState;
  /**
   * A typed request through the extension's language client, sent by its method name: this test bundle has its own
   * copy of vscode-languageserver-protocol, whose RequestType objects the client's copy does not recognize
   * ("Unknown parameter structure auto": the parameter-structure check compares objects of its own copy).
   */
  const request = <P, R>(type: RequestType<P, R, void>, params: P): Promise<R> => api.client.sendRequest<R>(type.method, params);
  /** What the editor should show for the Markov config, from the server's report (set by the first test). */
  let expected: ExpectedTexts;
  const expectedOf = async (uri: vscode.Uri) => {
    const { report } = await request(ReportRequest, { uri: uri.toString() });
    assert.ok(report, `no report for ${uri.fsPath}`);
    return textsOf(report);
  };
  const config = workspaceFile('markov.attention.yaml');
  const broken = workspaceFile('broken.attention.yaml');

  before(async () => {
    const ext = vscode.extensions.getExtension<ExtensionState>(EXTENSION_ID);
    assert.ok(ext, `extension ${EXTENSION_ID} is not installed`);
    api = await ext.activate();
    await vscode.window.showTextDocument(config);
  });

  it('shows the predicted test accuracy and ε_g (finite width vs GP limit) in a code lens on the config', async () => {
    const titles = await eventually('the analysis code lens', async () => {
      const t = await lensTitles(config);
      return t.some((x) => x.startsWith('Predicted test accuracy')) ? t : undefined;
    });
    // The headline built from the server's own report (e2e/expected.ts), not a literal.
    expected = await expectedOf(config);
    assert.match(expected.lens, /^Predicted test accuracy \d+\.\d% \(GP limit \d+\.\d%\) · ε_g [\d.]+ \(GP limit [\d.]+\) at N = 10, T_B = 0\.01$/);
    assert.deepEqual(titles, [expected.lens, 'Show charts', 'Prune heads...']);
  });

  it('marks the prunable head with an information diagnostic on its layer of `heads`', async () => {
    const d = await eventually('the prunable-head diagnostic', () => vscode.languages.getDiagnostics(config).find((x) => x.code === 'prunable-head'));
    assert.equal(d.severity, vscode.DiagnosticSeverity.Information);
    assert.deepEqual([d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character], [4, 11, 4, 12]);
    const least = expected.heads[expected.heads.length - 1];
    assert.equal(least.name, 'L1·H1');
    assert.ok(d.message.startsWith(least.diagnostic(0.2)), `${d.message} vs ${least.diagnostic(0.2)}`);
  });

  it("shows each head's relevance and rank as inlay hints on `heads`, every head within the line's limit", async () => {
    const hints = await vscode.commands.executeCommand<vscode.InlayHint[]>('vscode.executeInlayHintProvider', config, new vscode.Range(0, 0, 20, 0));
    // Expected from the analysis itself: scores with two decimals, ranks by score.
    const { report } = await request(ReportRequest, { uri: config.toString() });
    const ranked = [...report!.head_scores_ascending].reverse();
    const text = (l: number) =>
      [0, 1]
        .map(
          (h) =>
            `H${h} ${report!.head_scores_ascending
              .find((x) => x.layer === l && x.head === h)!
              .score.toFixed(2)
              .replace(/^0\./, '.')} #${ranked.findIndex((x) => x.layer === l && x.head === h) + 1}`,
        )
        .join(', ');
    const labels = hints.map((h) => [h.position.line, h.position.character, typeof h.label === 'string' ? h.label : h.label.map((p) => p.value).join('')]);
    assert.deepEqual(labels, [
      [4, 9, text(0)],
      [4, 12, text(1)],
    ]);
    assert.deepEqual(
      labels.map((l) => l[2]),
      expected.hints,
    );
  });

  it('explains a value on hover (quantity, value, how it was computed)', async () => {
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', config, new vscode.Position(1, 8));
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(text, /\| finite width \(N = 10\) \| 96\.5% \| 0\.5264 \|/);
    // The theory reference is a link that opens the shipped docs/theory.md at that section.
    assert.match(text, /\[docs\/theory\.md §d\]\(command:attentionPaths\.openTheory\?%5B%22d%22%5D/);
  });

  it('quick fix: the misspelt key of the broken config is renamed by its code action', async () => {
    const doc = await vscode.workspace.openTextDocument(broken);
    await vscode.window.showTextDocument(doc);
    const diag = await eventually('the unknown-key diagnostic', () =>
      vscode.languages.getDiagnostics(broken).find((d) => /unknown key "widht"/.test(d.message)),
    );
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>(
      'vscode.executeCodeActionProvider',
      broken,
      diag.range,
      vscode.CodeActionKind.QuickFix.value,
    );
    const rename = actions.find((a) => a.title === 'Rename "widht" to "widths"');
    assert.ok(rename?.edit, `code actions: ${actions.map((a) => a.title).join(' | ')}`);
    assert.ok(await vscode.workspace.applyEdit(rename.edit));
    assert.equal(doc.lineAt(3).text, 'widths: 10');
    await eventually('one error left', () =>
      vscode.languages.getDiagnostics(broken).filter((d) => d.source === 'attention-paths').length === 1 ? true : undefined,
    );
    // Back to the file on disk for the tests below.
    await vscode.commands.executeCommand('workbench.action.files.revert');
    await eventually('both errors again', () =>
      vscode.languages.getDiagnostics(broken).filter((d) => d.source === 'attention-paths').length === 2 ? true : undefined,
    );
    await vscode.window.showTextDocument(config);
  });

  it("reports a broken config's errors at the right lines", async () => {
    await vscode.window.showTextDocument(broken);
    const diags = await eventually('diagnostics of the broken config', () => {
      const d = vscode.languages.getDiagnostics(broken).filter((x) => x.source === 'attention-paths');
      return d.length === 2 ? d : undefined;
    });
    assert.deepEqual(
      diags.map((d) => [d.severity, d.range.start.line, d.range.start.character, d.range.end.character, d.message]),
      [
        [vscode.DiagnosticSeverity.Error, 2, 13, 17, 'temperature (T_B) must be a number > 0 (got -0.5)'],
        [vscode.DiagnosticSeverity.Error, 3, 0, 5, 'unknown key "widht"; did you mean "widths"?'],
      ],
    );
    assert.deepEqual(await lensTitles(broken), ['Attention Paths: fix 2 config errors to analyse']);
  });

  it('"Show Theory Charts" draws the U₁ heatmap, head relevance, head removal and kernel-PC overlap in a webview', async () => {
    const info = await vscode.commands.executeCommand<RenderInfo>('attentionPaths.showCharts', config);
    assert.ok(info, 'the command returned no render information');
    assert.equal(info.charts, 5);
    // Mark groups and items: 16 heatmap cells; 4 bars; the head-removal chart's full-model rule and one predicted
    // point per head (nothing measured: no model); the kernel-PC chart's two lines (finite width, GP) with 30
    // points each (k = min(30, P = 60)); the attention maps: one tile per head of T × T = 31 × 31 cells.
    assert.deepEqual(info.perChart, {
      'u1-heatmap': { groups: 1, items: 16 },
      'head-scores': { groups: 1, items: 4 },
      'head-removal': { groups: 2, items: 5 },
      'pc-overlap': { groups: 3, items: 62 },
      'attention-maps': { groups: 4, items: 4 * 31 * 31 },
    });
    assert.equal(info.banner, '');
  });

  it('the charts export as SVG and PNG', async () => {
    const svg = workspaceFile('attention-maps.svg');
    const png = workspaceFile('head-scores.png');
    await vscode.commands.executeCommand('attentionPaths.exportChart', 'attention-maps', 'svg', svg);
    await vscode.commands.executeCommand('attentionPaths.exportChart', 'head-scores', 'png', png);
    assert.match(readFileSync(svg.fsPath, 'utf8'), /^<svg[^>]*>[\s\S]*L1·H1 · relevance 0\.14 \(#4\)/);
    assert.deepEqual([...readFileSync(png.fsPath).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  });

  it('the charts say when they are not current: "Failed: …" over the last result after an edit whose analysis fails', async () => {
    const editor = await vscode.window.showTextDocument(config);
    const panel = api.chartsPanel()!;
    const original = editor.document.getText();
    const line = editor.document.lineAt(4);
    await editor.edit((e) => e.replace(line.range, 'heads: [3, 2]'));
    const failed = await eventually('the failed banner', () =>
      /^Failed: heads: the config says \[3, 2\] but the attention has \[2, 2\]/.test(panel.banner) ? panel.banner : undefined,
    );
    assert.match(failed, /The charts below are from the last result\.$/);
    await editor.edit((e) => e.replace(new vscode.Range(0, 0, editor.document.lineCount, 0), original));
    await eventually('the banner gone', () => (panel.banner === '' ? true : undefined));
  });

  it('one charts panel follows the active config', async () => {
    const panel = api.chartsPanel()!;
    // The broken config has no result: the panel says so instead of showing another config's charts.
    const drawnFor = (uri: vscode.Uri) =>
      eventually(`the charts of ${path.basename(uri.fsPath)}`, () => (panel.lastRender?.config === uri.toString() ? panel.lastRender : undefined), 60_000);
    await vscode.window.showTextDocument(broken);
    const info = await drawnFor(broken);
    assert.equal(info.charts, 0);
    assert.match(info.banner, /^Out of date \(config changed\): fix the config's errors|^Not analysed yet/);
    assert.equal(api.chartsPanel(), panel);
    await vscode.window.showTextDocument(config);
    assert.equal((await drawnFor(config)).charts, 5);
  });

  it('a width sweep gives finite-width values that approach the GP limit, and the charts add the sweep', async () => {
    const r = await request(SweepRequest, { uri: config.toString(), widths: [10, 100000] });
    const [n10, nBig] = r.sweep.rows;
    assert.equal(n10.metrics.acc_mean_predictor, expected.accuracy);
    assert.ok(Math.abs(nBig.metrics.eg_total - r.sweep.gp.eg_total) < Math.abs(n10.metrics.eg_total - r.sweep.gp.eg_total));
    const info = await vscode.commands.executeCommand<RenderInfo>('attentionPaths.showCharts', config);
    assert.equal(info.charts, 6);
    assert.ok(info.perChart.sweep.items >= 2 * 3, JSON.stringify(info.perChart.sweep));
  });

  it("pruning heads writes a plan with the predicted effect (the report's value for one head)", async () => {
    const output = workspaceFile('pruned-heads.json').fsPath;
    const r = await request(PruneRequest, { uri: config.toString(), heads: [{ layer: 1, head: 1 }], output });
    assert.ok(existsSync(output));
    const plan = JSON.parse(readFileSync(output, 'utf8'));
    assert.deepEqual(
      plan.removed.map((h: { layer: number; head: number }) => [h.layer, h.head]),
      [[1, 1]],
    );
    assert.equal(plan.predicted.acc_mean_predictor, r.predicted!.after.acc_mean_predictor);
    // one head removed: the report's predicted accuracy with that head silenced
    assert.equal(r.predicted!.after.acc_mean_predictor, expected.heads.find((h) => h.layer === 1 && h.head === 1)!.accSilenced);
  });

  it('shows no prediction next to Python code whose model nobody has analysed', async () => {
    const py = workspaceFile('train.py');
    await vscode.window.showTextDocument(py);
    assert.deepEqual(await lensTitles(py), []);
  });

  it('pruning heads of a model config writes a pruned ONNX model that opens in the model editor with fewer heads', async () => {
    const modelConfig = workspaceFile('model.attention.yaml');
    const output = workspaceFile('models', 'pruned.onnx');
    const r = await request(PruneRequest, { uri: modelConfig.toString(), heads: [{ layer: 1, head: 2 }], output: output.fsPath });
    assert.equal(r.wrote, 'model');
    assert.match(r.verification ?? '', /^equals the original with these heads masked/);
    assert.equal(r.measured?.kind, 'accuracy');
    assert.ok(existsSync(output.fsPath));
    const m = await request(InspectModelRequest, { uri: output.toString() });
    assert.deepEqual(
      m.summary?.attention.blocks.map((b) => b.queryHeads),
      [4, 3],
    );
  });

  it('"Analyze Model or Config" on an .onnx file opens the read-only model editor and analyses the config naming it, with the measured head removal', async () => {
    const model = workspaceFile('models', 'model.onnx');
    const r = await vscode.commands.executeCommand<AnalyzeResult | undefined>('attentionPaths.analyze', model);
    const tab = await eventually('the model editor tab', () => {
      const t = vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((x) => x.input instanceof vscode.TabInputCustom);
      return t;
    });
    const input = tab.input as vscode.TabInputCustom;
    assert.equal(input.viewType, 'attentionPaths.onnxModel');
    assert.equal(path.basename(input.uri.fsPath), 'model.onnx');
    assert.ok(r, 'the config naming the model was not analysed');
    assert.equal(path.basename(vscode.Uri.parse(r.uri).fsPath), 'model.attention.yaml');
    const m = r.report.head_removal_measured;
    assert.ok(m, r.report.warnings.join(' | '));
    assert.equal(m.heads.length, 8);
    assert.ok(m.heads.every((h) => h.value !== null));
    // Now the Python code that exports the model shows that analysis (export line and two attention lines).
    const py = workspaceFile('train.py');
    await vscode.window.showTextDocument(py);
    const titles = await eventually('the Python code lenses', async () => {
      const t = await lensTitles(py);
      return t.length ? t : undefined;
    });
    assert.equal(titles.filter((t) => t.startsWith('model.onnx: predicted ')).length, 3);
  });

  it("the model config's charts put the measured accuracy of each head's removal next to the prediction", async () => {
    const info = await vscode.commands.executeCommand<RenderInfo>('attentionPaths.showCharts', workspaceFile('model.attention.yaml'));
    // Two full-model rules (predicted, measured) and 8 + 8 points; the kernel PCs of P = 128: 30 points per line.
    assert.deepEqual(info.perChart['head-removal'], { groups: 2, items: 18 });
    assert.deepEqual(info.perChart['pc-overlap'], { groups: 3, items: 62 });
  });

  it('after "Restart Server" the open charts panel draws again and the code lens and diagnostics come back, from the kept reports', async () => {
    const info = await vscode.commands.executeCommand<RenderInfo>('attentionPaths.showCharts', config);
    // The analysis's five charts and the sweep of the test before.
    assert.equal(info.charts, 6);
    const before = api.chartDrawings(config)!.count;
    const diagnostics = vscode.languages.getDiagnostics(config).map((d) => d.message);
    await vscode.commands.executeCommand('attentionPaths.restartServer');
    const after = await eventually('the charts panel to draw again after the restart', () => {
      const d = api.chartDrawings(config);
      return d && d.count > before ? d : undefined;
    });
    // The restored report has no sweep (a sweep is not kept), so the five charts of the analysis, current (no
    // "Out of date" banner while the new server does not know the config yet).
    assert.equal(after.info?.charts, 5);
    assert.equal(after.info?.banner, '');
    assert.deepEqual(after.info?.perChart['u1-heatmap'], { groups: 1, items: 16 });
    const titles = await eventually('the code lens after the restart', async () => {
      const t = await lensTitles(config);
      return t.some((x) => x.startsWith('Predicted test accuracy')) ? t : undefined;
    });
    assert.equal(titles[0], expected.lens);
    await eventually('the same diagnostics after the restart', () => {
      const now = vscode.languages.getDiagnostics(config).map((d) => d.message);
      return JSON.stringify(now) === JSON.stringify(diagnostics) ? now : undefined;
    });
  });

  it("the model view gets each attention block's subgraph: projections, scale, mask, softmax, merge", async () => {
    const m = await request(InspectModelRequest, { uri: workspaceFile('models', 'model.onnx').toString() });
    assert.equal(m.graphs?.length, 2);
    for (const g of m.graphs!) {
      const roles = new Set(g.nodes.map((n) => n.role));
      for (const r of ['qkv', 'scale', 'scores', 'softmax', 'context', 'merge', 'output'])
        assert.ok(roles.has(r as never), `block ${g.layer} lacks ${r}: ${[...roles].join(', ')}`);
      assert.ok(g.edges.every((e) => g.nodes.some((n) => n.id === e.from) && g.nodes.some((n) => n.id === e.to)));
    }
  });

  it('an .npz file opens in the read-only array viewer: keys, shapes, statistics and the label balance', async () => {
    const data = workspaceFile('models', 'data.npz');
    await vscode.commands.executeCommand('vscode.open', data);
    const tab = await eventually('the array viewer tab', () =>
      vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputCustom && t.input.viewType === 'attentionPaths.arrays'),
    );
    assert.equal(path.basename((tab.input as vscode.TabInputCustom).uri.fsPath), 'data.npz');
    const a = await request(InspectArraysRequest, { uri: data.toString() });
    const y = a.arrays.find((x) => x.name === 'y')!;
    assert.deepEqual(a.arrays.find((x) => x.name === 'X')?.shape, [256, 12, 16]);
    assert.equal(
      y.labels!.reduce((n, l) => n + l.count, 0),
      256,
    );
    assert.deepEqual(y.labels!.map((l) => l.value).sort(), [-1, 1]);
  });

  it('"Create Config for ONNX Model" writes a config beside a model with data, never over a file, and analyses it', async () => {
    const dir = workspaceFile('other');
    await vscode.workspace.fs.createDirectory(dir);
    await vscode.workspace.fs.copy(workspaceFile('models', 'model.onnx'), vscode.Uri.joinPath(dir, 'tiny.onnx'));
    await vscode.workspace.fs.copy(workspaceFile('models', 'data.npz'), vscode.Uri.joinPath(dir, 'tiny.npz'));
    const model = vscode.Uri.joinPath(dir, 'tiny.onnx');
    const before = await request(InspectModelRequest, { uri: model.toString() });
    assert.equal(path.basename(before.createConfig?.config ?? ''), 'tiny.attention.yaml');
    const r = await vscode.commands.executeCommand<{ config: vscode.Uri; result?: AnalyzeResult }>('attentionPaths.createModelConfig', model);
    assert.equal(path.basename(r.config.fsPath), 'tiny.attention.yaml');
    assert.ok(r.result, 'the new config was not analysed');
    assert.deepEqual(r.result.report.settings.heads, [4, 4]);
    assert.match(readFileSync(r.config.fsPath, 'utf8'), /^data: "tiny\.npz"\nattention:\n {2}kind: model\n {2}model: "tiny\.onnx"$/m);
    const after = await request(InspectModelRequest, { uri: model.toString() });
    assert.equal(after.analysisConfig, r.config.fsPath);
    assert.equal(after.heads.filter((h) => h.rank !== undefined).length, 8);
  });
});
