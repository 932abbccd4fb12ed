/**
 * Integration tests inside a real VS Code extension host (code-server 4.100.3 = VS Code 1.100.3), run by
 * scripts/e2e.mjs on a fresh copy of test-fixtures/workspace. They use the real `vscode` API: the
 * extension's code lens, inlay hints, hovers and diagnostics as VS Code sees them, the charts webview,
 * and the custom editor for `.onnx` files.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionState } from '../../client/src/extension';
import type { RenderInfo } from '../../client/src/panels/charts';
import { InspectModelRequest, PruneRequest, SweepRequest, type InspectModelResult, type PruneResult, type SweepResult } from '../../server/src/protocol';

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
    assert.deepEqual(titles, ['Predicted test accuracy 96.5% (GP limit 85.0%) · ε_g 0.5264 (GP limit 0.8022) at N = 10, T_B = 0.01', 'Show charts', 'Prune heads...']);
  });

  it('marks the prunable head with an information diagnostic on its layer of `heads`', async () => {
    const d = await eventually('the prunable-head diagnostic', () => vscode.languages.getDiagnostics(config).find((x) => x.code === 'prunable-head'));
    assert.equal(d.severity, vscode.DiagnosticSeverity.Information);
    assert.deepEqual([d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character], [4, 11, 4, 12]);
    assert.match(d.message, /^layer 1 · head 1: relevance score 0\.14 < 0\.2 \(rank 4 of 4\)/);
  });

  it('shows each head\'s relevance and rank as inlay hints on `heads`', async () => {
    const hints = await vscode.commands.executeCommand<vscode.InlayHint[]>('vscode.executeInlayHintProvider', config, new vscode.Range(0, 0, 20, 0));
    assert.deepEqual(
      hints.map((h) => [h.position.line, h.position.character, typeof h.label === 'string' ? h.label : h.label.map((p) => p.value).join('')]),
      [
        [4, 9, 'h0 .82 #2, h1 .61 #3'],
        [4, 12, 'h0 1.00 #1, h1 .14 #4'],
      ],
    );
  });

  it('explains a value on hover (quantity, value, how it was computed)', async () => {
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', config, new vscode.Position(1, 8));
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(text, /\| finite width \(N = 10\) \| 96\.5% \| 0\.5264 \|/);
    assert.match(text, /THEORY\.md section d/);
  });

  it('reports a broken config\'s errors at the right lines', async () => {
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

  it('"Show Theory Charts" draws the U₁ heatmap and the head relevance bars in a webview', async () => {
    const info = await vscode.commands.executeCommand<RenderInfo>('attentionPaths.showCharts', config);
    assert.ok(info, 'the command returned no render information');
    assert.equal(info.charts, 2);
    assert.ok(info.marks >= 2, `only ${info.marks} mark groups were drawn`);
  });

  it('a width sweep gives finite-width values that approach the GP limit, and the charts add the sweep', async () => {
    const r = await api.client.sendRequest<SweepResult>(SweepRequest, { uri: config.toString(), widths: [10, 100000] });
    const [n10, nBig] = r.sweep.rows;
    assert.equal(n10.metrics.acc_mean_predictor, 0.965);
    assert.ok(Math.abs(nBig.metrics.eg_total - r.sweep.gp.eg_total) < Math.abs(n10.metrics.eg_total - r.sweep.gp.eg_total));
    const info = await vscode.commands.executeCommand<RenderInfo>('attentionPaths.showCharts', config);
    assert.equal(info.charts, 3);
  });

  it('pruning heads writes a plan with the predicted effect (the report\'s value for one head)', async () => {
    const output = workspaceFile('pruned-heads.json').fsPath;
    const r = await api.client.sendRequest<PruneResult>(PruneRequest, { uri: config.toString(), heads: [{ layer: 1, head: 1 }], output });
    assert.ok(existsSync(output));
    const plan = JSON.parse(readFileSync(output, 'utf8'));
    assert.deepEqual(plan.removed.map((h: { layer: number; head: number }) => [h.layer, h.head]), [[1, 1]]);
    assert.equal(plan.predicted.acc_mean_predictor, r.predicted!.after.acc_mean_predictor);
    assert.equal(r.predicted!.after.acc_mean_predictor, 0.935);
  });

  it('pruning heads of a model config writes a pruned ONNX model that opens in the model editor with fewer heads', async () => {
    const modelConfig = workspaceFile('model.attention.yaml');
    const output = workspaceFile('models', 'pruned.onnx');
    const r = await api.client.sendRequest<PruneResult>(PruneRequest, { uri: modelConfig.toString(), heads: [{ layer: 1, head: 2 }], output: output.fsPath });
    assert.equal(r.wrote, 'model');
    assert.match(r.verification ?? '', /^equals the original with these heads masked/);
    assert.equal(r.measured?.kind, 'accuracy');
    assert.ok(existsSync(output.fsPath));
    const m = await api.client.sendRequest<InspectModelResult>(InspectModelRequest, { uri: output.toString() });
    assert.deepEqual(m.summary?.attention.blocks.map((b) => b.queryHeads), [4, 3]);
  });

  it('"Analyze Model or Config" on an .onnx file opens the read-only model editor', async () => {
    const model = workspaceFile('models', 'model.onnx');
    await vscode.commands.executeCommand('attentionPaths.analyze', model);
    const tab = await eventually('the model editor tab', () => {
      const t = vscode.window.tabGroups.activeTabGroup.activeTab;
      return t?.input instanceof vscode.TabInputCustom ? t : undefined;
    });
    const input = tab.input as vscode.TabInputCustom;
    assert.equal(input.viewType, 'attentionPaths.onnxModel');
    assert.equal(path.basename(input.uri.fsPath), 'model.onnx');
  });

  it('shows no prediction next to Python code whose model nobody has analysed', async () => {
    const py = workspaceFile('train.py');
    await vscode.window.showTextDocument(py);
    assert.deepEqual(await lensTitles(py), []);
  });
});
