/**
 * The palette commands (category "Attention Paths"): Analyze Model or Config, Show Theory Charts, Prune
 * Heads..., Sweep Width, Create Config for ONNX Model, Restart Server, Show Output. Long work runs in the server with a cancellable
 * progress notification here; failures show a message with a "Show Output" action.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { LSPErrorCodes, ResponseError, WorkDoneProgress, type WorkDoneProgressBegin, type WorkDoneProgressReport } from 'vscode-languageclient/node';
import {
  AnalyzeRequest,
  Commands,
  CreateModelConfigRequest,
  CreatePrunedConfigRequest,
  InspectModelRequest,
  PruneRequest,
  ReportRequest,
  SweepRequest,
  isConfigFileName,
  isModelFileName,
  type AnalyzeResult,
  type CreateModelConfigResult,
  type PruneResult,
  type ReportResult,
  type SweepResult,
} from '../../shared/protocol';
import type { ExtensionState } from './ctx';
import { headName, layerName } from '../../shared/format';
import { ChartsPanel } from './panels/charts';
import type { RenderInfo } from './webview/messages';
import { OnnxEditorProvider } from './panels/onnxEditor';
import { modelAnalysisMessage, num, parseWidths, WIDTHS_HINT, pct, pruneMessage, summary } from './text';

const CONFIG_GLOB = '**/{*.attention.yaml,*.attention.yml,*.attention.json,attention-paths.yaml,attention-paths.yml,attention-paths.json}';

/** A command argument as VS Code passes it (explorer: Uri; code lens: URI string), as a Uri. */
function asUri(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  if (typeof arg === 'string' && arg) return vscode.Uri.parse(arg);
  return undefined;
}

/**
 * The config a command acts on: its argument, else the active editor's config, else one the user picks
 * from the workspace. Undefined when there is none or the pick is dismissed.
 */
async function pickConfig(arg: unknown): Promise<vscode.Uri | undefined> {
  const given = asUri(arg);
  if (given) return given;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active && isConfigFileName(active.path)) return active;
  const files = await vscode.workspace.findFiles(CONFIG_GLOB, '**/node_modules/**', 200);
  if (files.length === 0) {
    void vscode.window.showWarningMessage('Attention Paths: no config file in this workspace (*.attention.yaml, *.attention.json or attention-paths.yaml).');
    return undefined;
  }
  if (files.length === 1) return files[0];
  const picked = await vscode.window.showQuickPick(
    files.map((f) => ({ label: path.basename(f.path), description: vscode.workspace.asRelativePath(f), uri: f })),
    { title: 'Attention Paths: choose a config' },
  );
  return picked?.uri;
}

/**
 * Sends a request with a cancellable progress notification that shows the server's progress messages.
 * @returns the result, or undefined when the user cancelled or it failed (the failure is shown).
 */
async function withProgress<T>(
  state: ExtensionState,
  title: string,
  send: (token: vscode.CancellationToken, workDoneToken: string) => Promise<T>,
): Promise<T | undefined> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Attention Paths: ${title}`, cancellable: true },
    async (progress, token) => {
      const workDoneToken = `attention-paths-${Date.now()}-${Math.random().toString(36).slice(2)}`;
      let last = 0;
      const sub = state.client.onProgress(WorkDoneProgress.type, workDoneToken, (v) => {
        if (v.kind === 'end') return;
        const p = v as WorkDoneProgressBegin | WorkDoneProgressReport;
        const pct = p.percentage ?? last;
        progress.report({ message: p.message, increment: Math.max(0, pct - last) });
        last = Math.max(last, pct);
      });
      try {
        return await send(token, workDoneToken);
      } catch (e) {
        if (token.isCancellationRequested || (e instanceof ResponseError && e.code === LSPErrorCodes.RequestCancelled)) {
          state.output.appendLine(`${title}: cancelled`);
          return undefined;
        }
        showError(state, `${title} failed: ${(e as Error).message}`);
        return undefined;
      } finally {
        sub.dispose();
      }
    },
  );
}

/** An error message with a "Show Output" action (the server's log has the details). */
export function showError(state: ExtensionState, message: string): void {
  state.output.appendLine(message);
  void vscode.window.showErrorMessage(`Attention Paths: ${message}`, 'Show Output').then((a) => a && state.output.show(true));
}

/** The config's report: the server's latest, else a fresh analysis (with progress). */
async function ensureReport(state: ExtensionState, uri: vscode.Uri): Promise<ReportResult | undefined> {
  const latest = await state.client.sendRequest(ReportRequest, { uri: uri.toString() });
  if (latest.report) return latest;
  const r = await withProgress(state, `Analyzing ${path.basename(uri.path)}`, (token, workDoneToken) =>
    state.client.sendRequest(AnalyzeRequest, { uri: uri.toString(), workDoneToken }, token),
  );
  if (!r) return undefined;
  // The server knows the document now (model path, sweep); the report is the one just computed.
  const after = await state.client.sendRequest(ReportRequest, { uri: uri.toString() });
  return { ...after, state: 'done', report: r.report };
}

/** The `.onnx` file of the active tab (the model view or any editor of it), if any. */
function activeModelUri(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  const uri = input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText ? input.uri : undefined;
  return uri && isModelFileName(uri.path) ? uri : undefined;
}

/**
 * "Analyze Model or Config" on an `.onnx` file: opens the model view, then analyses the config that names the model
 * (`attention: {kind: model}`) when there is one. Without one, says how to get relevance for the model and offers to
 * create the config when labelled data sits beside it.
 */
async function analyzeModel(state: ExtensionState, model: vscode.Uri): Promise<AnalyzeResult | undefined> {
  await vscode.commands.executeCommand('vscode.openWith', model, OnnxEditorProvider.viewType);
  const info = await state.client.sendRequest(InspectModelRequest, { uri: model.toString() });
  if (!info.error && info.configs.length) return analyze(state, vscode.Uri.file(info.configs[0]));
  // An unreadable model has nothing to analyse: its reason (as the model view shows it), not advice about data for it.
  const m = modelAnalysisMessage(path.basename(model.path), info);
  if (m.kind === 'error') {
    showError(state, m.text);
    return undefined;
  }
  // Not awaited: the command ends here; the message's action (if taken) creates and analyses the config.
  void vscode.window.showInformationMessage(`Attention Paths: ${m.text}`, ...(m.create ? [m.create] : [])).then((a) => {
    if (a && a === m.create) void createModelConfig(state, model);
  });
  return undefined;
}

/**
 * Creates a config beside an `.onnx` file that analyses the model on the labelled data beside it (the server writes it,
 * never over an existing file), opens it beside the current editor and analyses it with a progress notification.
 * @returns the new config and the analysis (result undefined when cancelled or failed; the failure is shown)
 */
async function createModelConfig(state: ExtensionState, arg: unknown): Promise<{ config: vscode.Uri; result?: AnalyzeResult } | undefined> {
  const model = asUri(arg) ?? activeModelUri();
  if (!model || !isModelFileName(model.path)) {
    void vscode.window.showWarningMessage('Attention Paths: open an .onnx model (or choose one in the explorer) to create a config for it.');
    return undefined;
  }
  let created: CreateModelConfigResult;
  try {
    created = await state.client.sendRequest(CreateModelConfigRequest, { uri: model.toString() });
  } catch (e) {
    showError(state, `no config was created for ${path.basename(model.path)}: ${(e as Error).message}`);
    return undefined;
  }
  const config = vscode.Uri.parse(created.config);
  state.output.appendLine(`created ${config.fsPath} for ${model.fsPath} (data ${created.data})`);
  await vscode.window.showTextDocument(config, { viewColumn: vscode.ViewColumn.Beside, preview: false, preserveFocus: true });
  return { config, result: await analyze(state, config) };
}

async function analyze(state: ExtensionState, arg: unknown): Promise<AnalyzeResult | undefined> {
  const given = asUri(arg) ?? vscode.window.activeTextEditor?.document.uri ?? activeModelUri();
  if (given && isModelFileName(given.path)) return analyzeModel(state, given);
  const uri = await pickConfig(arg);
  if (!uri) return undefined;
  const r = await withProgress(state, `Analyzing ${path.basename(uri.path)}`, (token, workDoneToken) =>
    state.client.sendRequest(AnalyzeRequest, { uri: uri.toString(), workDoneToken }, token),
  );
  if (r) {
    state.output.appendLine(`${uri.fsPath}: ${summary(r.report)}${r.cached ? ' (cached)' : ''}`);
    void vscode.window
      .showInformationMessage(`Attention Paths: ${path.basename(uri.path)}: ${summary(r.report)}`, 'Show Charts', 'Prune Heads...')
      .then((a) => {
        if (a === 'Show Charts') void vscode.commands.executeCommand(Commands.showCharts, uri);
        if (a === 'Prune Heads...') void vscode.commands.executeCommand(Commands.pruneHeads, uri);
      });
  }
  return r;
}

/** Opens the charts; resolves with what the webview drew (undefined when there was nothing to show). */
async function showCharts(state: ExtensionState, arg: unknown): Promise<RenderInfo | undefined> {
  const uri = await pickConfig(arg);
  if (!uri) return undefined;
  const r = await ensureReport(state, uri);
  if (!r?.report) return undefined;
  try {
    return await ChartsPanel.show(state, uri, r.report, r.sweep);
  } catch (e) {
    showError(state, `the charts could not be drawn: ${(e as Error).message}`);
    return undefined;
  }
}

async function sweepWidth(state: ExtensionState, arg: unknown): Promise<SweepResult | undefined> {
  const uri = await pickConfig(arg);
  if (!uri) return undefined;
  const text = await vscode.window.showInputBox({
    title: 'Attention Paths: Sweep Width',
    prompt: 'Widths N to solve the theory at (every layer and the readout), comma-separated',
    value: '10,30,100,300,1000',
    validateInput: (v) => (parseWidths(v) ? undefined : WIDTHS_HINT),
  });
  const widths = text === undefined ? undefined : parseWidths(text);
  if (!widths) return undefined;
  const r = await withProgress(state, `Sweeping width N over ${widths.join(', ')}`, (token, workDoneToken) =>
    state.client.sendRequest(SweepRequest, { uri: uri.toString(), widths, workDoneToken }, token),
  );
  if (r) {
    const latest = await ensureReport(state, uri);
    if (latest?.report)
      ChartsPanel.show(state, uri, latest.report, r.sweep).catch((e: Error) => showError(state, `the charts could not be drawn: ${e.message}`));
  }
  return r;
}

async function pruneHeads(state: ExtensionState, arg: unknown): Promise<PruneResult | undefined> {
  const uri = await pickConfig(arg);
  if (!uri) return undefined;
  const r = await ensureReport(state, uri);
  const report = r?.report;
  if (!report) return undefined;
  const threshold = vscode.workspace.getConfiguration('attentionPaths').get<number>('prunableScoreThreshold', 0.2);
  // Model configs: heads of blocks that cannot be pruned are refused here, before any question (with the reason).
  const blocked = new Map((report.model?.blocks ?? []).filter((b) => b.prune_blocker).map((b) => [b.layer, b.prune_blocker!]));
  const names = report.model?.head_origins;
  const was = (l: number, h: number) => {
    const o = names?.layers[l];
    return o && (o.layer !== l || o.heads[h] !== h) ? ` (was ${headName(o.layer, o.heads[h])})` : '';
  };
  if (r.model && report.model && report.model.blocks.length > 0 && report.model.blocks.every((b) => b.prune_blocker)) {
    const why = [...blocked].map(([l, w]) => `${layerName(l)}: ${w}`).join('; ');
    void vscode.window.showWarningMessage(`Attention Paths: no head of ${path.basename(r.model)} can be removed: ${why}`);
    return undefined;
  }
  const ranked = [...report.head_scores_ascending].sort((a, b) => b.score - a.score || a.layer - b.layer || a.head - b.head);
  const measured = report.head_removal_measured;
  const items: (vscode.QuickPickItem & { head?: { layer: number; head: number } })[] = ranked.map((h, i) => {
    const sil = report.head_silencing.find((s) => s.layer === h.layer && s.head === h.head);
    const row = measured?.heads.find((x) => x.layer === h.layer && x.head === h.head);
    const f = measured?.metric === 'accuracy' ? pct : num;
    // Windowed analyses: the head's own window predicted it (docs/windows.md).
    const full = (h.window !== undefined ? report.windows?.[h.window]?.metrics : undefined) ?? report.metrics;
    const win = h.window !== undefined ? `window ${h.window}: ` : '';
    // Model configs: the model's own measured metric without this head comes first (it is what pruning will do).
    const measuredText =
      measured && row
        ? row.value === null
          ? `not measured: ${row.reason ?? 'the block cannot be masked'}`
          : `measured ${f(row.value)} without it (full ${f(measured.full)})`
        : undefined;
    const predictedText = sil ? `${win}predicted ${pct(sil.acc_mean_predictor)} (full ${pct(full.acc_mean_predictor)})` : undefined;
    return {
      label: `${headName(h.layer, h.head)}${was(h.layer, h.head)}`,
      description: [measuredText ?? predictedText, `relevance ${h.score.toFixed(3)} · #${i + 1}`].filter(Boolean).join(' · '),
      detail:
        [measuredText ? predictedText : undefined, sil ? `predicted ε_g ${num(sil.eg_total)} (full ${num(full.eg_total)})` : undefined]
          .filter(Boolean)
          .join(' · ') || undefined,
      picked: h.score < threshold,
      head: { layer: h.layer, head: h.head },
    };
  });
  // Least harmful first: by the predicted ε_g increase when silenced (`pruning_order`, comparable across layer
  // windows), else least relevant first. Heads of blocks that cannot be pruned are not offered; a separator per
  // such block says why.
  const order = report.pruning_order?.map((h) => `${h.layer}:${h.head}`);
  if (order && order.length === items.length)
    items.sort((a, b) => order.indexOf(`${a.head?.layer}:${a.head?.head}`) - order.indexOf(`${b.head?.layer}:${b.head?.head}`));
  else items.reverse();
  const offered = items.filter((it) => it.head && !blocked.has(it.head.layer));
  for (const [l, why] of blocked) offered.push({ label: `${layerName(l)} not offered: ${why}`, kind: vscode.QuickPickItemKind.Separator });
  const picked = await vscode.window.showQuickPick(offered, {
    title: order
      ? 'Attention Paths: heads to prune (least harmful first: predicted ε_g increase when silenced)'
      : 'Attention Paths: heads to prune (least relevant first)',
    placeHolder: `pre-selected: relevance below ${threshold} (attentionPaths.prunableScoreThreshold)`,
    canPickMany: true,
    matchOnDescription: true,
  });
  if (!picked || picked.length === 0) return undefined;
  const heads = picked.flatMap((p) => (p.head ? [p.head] : []));
  // A config that analyses a model prunes that model; any other config gets a plan with the prediction.
  const model = r.model ? vscode.Uri.file(r.model) : undefined;
  const output = await vscode.window.showSaveDialog(
    model
      ? {
          title: 'Attention Paths: save the pruned model',
          defaultUri: model.with({ path: model.path.replace(/\.onnx$/i, '.pruned.onnx') }),
          filters: { 'ONNX model': ['onnx'] },
        }
      : {
          title: 'Attention Paths: save the pruning plan',
          defaultUri: uri.with({ path: `${uri.path.replace(/\.(attention\.)?(ya?ml|json)$/i, '')}.pruned-heads.json` }),
          filters: { 'Pruning plan (JSON)': ['json'] },
        },
  );
  if (!output) return undefined;
  const what = model ? `pruning ${heads.length} head(s) from ${path.basename(model.path)}` : `predicting the effect of removing ${heads.length} head(s)`;
  const result = await withProgress(state, what, (token, workDoneToken) =>
    // The save dialog already asked before replacing a file.
    state.client.sendRequest(PruneRequest, { uri: uri.toString(), heads, output: output.fsPath, overwrite: true, workDoneToken }, token),
  );
  if (result) {
    const msg = pruneMessage(result);
    state.output.appendLine(`${uri.fsPath}: ${msg} Written: ${result.output}${result.verification ? `; ${result.verification}` : ''}`);
    for (const n of result.notes) state.output.appendLine(`  note: ${n}`);
    const actions = result.wrote === 'model' ? ['Analyze Pruned Model', 'Open Model', 'Show Charts'] : ['Open Plan', 'Show Charts'];
    void vscode.window.showInformationMessage(`Attention Paths: ${msg}`, ...actions).then((a) => {
      if (a === 'Open Plan') void vscode.window.showTextDocument(vscode.Uri.file(result.output));
      if (a === 'Open Model') void vscode.commands.executeCommand('vscode.open', vscode.Uri.file(result.output));
      if (a === 'Show Charts') void vscode.commands.executeCommand(Commands.showCharts, uri);
      if (a === 'Analyze Pruned Model') void analyzePrunedModel(state, uri, result.output);
    });
  }
  return result;
}

/**
 * The loop after pruning: writes a config beside the pruned model that reuses the original config's data and
 * settings (the server writes it, never over an existing file), opens it and analyses it.
 * @returns the new config and its analysis (undefined when it failed; the failure is shown)
 */
export async function analyzePrunedModel(
  state: ExtensionState,
  config: vscode.Uri,
  model: string,
): Promise<{ config: vscode.Uri; result?: AnalyzeResult } | undefined> {
  let created: CreateModelConfigResult;
  try {
    created = await state.client.sendRequest(CreatePrunedConfigRequest, { uri: config.toString(), model });
  } catch (e) {
    showError(state, `no config was created for ${path.basename(model)}: ${(e as Error).message}`);
    return undefined;
  }
  const uri = vscode.Uri.parse(created.config);
  state.output.appendLine(`created ${uri.fsPath} for the pruned model ${model} (data ${created.data})`);
  await vscode.window.showTextDocument(uri, { viewColumn: vscode.ViewColumn.Beside, preview: false, preserveFocus: true });
  return { config: uri, result: await analyze(state, uri) };
}

/** Registers every command; their results are returned so tests can check them. */
export function registerCommands(state: ExtensionState): void {
  const reg = (id: string, fn: (...args: unknown[]) => unknown) => state.context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  reg(Commands.analyze, (arg) => analyze(state, arg));
  reg(Commands.showCharts, (arg) => showCharts(state, arg));
  reg(Commands.pruneHeads, (arg) => pruneHeads(state, arg));
  reg(Commands.sweepWidth, (arg) => sweepWidth(state, arg));
  reg(Commands.createModelConfig, (arg) => createModelConfig(state, arg));
  reg(Commands.restartServer, async () => {
    state.output.appendLine('restarting the language server');
    await state.client.restart();
  });
  reg(Commands.showOutput, () => state.output.show(true));
  reg(Commands.openTheory, (section) => openTheory(state, section));
  // Saves a chart of the open charts panel (the page's Export buttons ask where; this takes the path): for tests and keybindings.
  reg('attentionPaths.exportChart', async (id, format, target) => {
    const panel = ChartsPanel.open;
    if (!panel || typeof id !== 'string' || (format !== 'svg' && format !== 'png')) return undefined;
    const bytes = await panel.exportChart(id, format);
    const uri = asUri(target);
    if (uri) await vscode.workspace.fs.writeFile(uri, bytes);
    return bytes.length;
  });
}

/**
 * Opens the shipped theory document docs/theory.md at the heading of `section` (a letter a–o; its headings start
 * "## a." … as the sections are cited), or at its top. Resolves with the editor, undefined when the file is missing.
 */
async function openTheory(state: ExtensionState, section: unknown): Promise<vscode.TextEditor | undefined> {
  const uri = vscode.Uri.joinPath(state.context.extensionUri, 'docs', 'theory.md');
  let text: string;
  try {
    text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
  } catch {
    showError(state, `the theory document is missing from this installation (${uri.fsPath})`);
    return undefined;
  }
  const letter = typeof section === 'string' && /^[a-o]$/i.test(section) ? section.toLowerCase() : undefined;
  const line = letter === undefined ? -1 : theoryHeadingLine(text, letter);
  const pos = new vscode.Position(Math.max(0, line), 0);
  const editor = await vscode.window.showTextDocument(uri, { preview: true, selection: new vscode.Range(pos, pos) });
  editor.revealRange(new vscode.Range(pos, pos), vscode.TextEditorRevealType.AtTop);
  return editor;
}

/** The 0-based line of the markdown heading of theory section `letter` ("## g. Head relevance", "## (g) …", "## Section g …"), or -1. */
export function theoryHeadingLine(text: string, letter: string): number {
  const heading = new RegExp(`^#{1,4}\\s+(?:section\\s+)?\\(?${letter}[.):\\s]`, 'i');
  return text.split('\n').findIndex((l) => heading.test(l));
}
