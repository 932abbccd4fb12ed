/**
 * The Attention Paths language server (bundled as dist/server.js; the extension starts it over IPC, tests
 * over stdio — `createConnection` picks the transport from argv: --node-ipc, --stdio, --socket=N).
 *
 * This file only wires LSP to the rest: documents and settings in, diagnostics, code lenses, inlay hints,
 * hovers and the custom requests of `protocol.ts` out. Every analysis runs in a child process
 * (lsp/jobs/jobs.ts, dist/job.js), so the server answers requests while the theory is solved, a stale
 * analysis is stopped by killing its process, and nothing an analysis does can take the server down.
 */
import { debugStack, isExpectedRefusal, userMessage } from '../util/errors';
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CodeActionKind,
  CodeLensRefreshRequest,
  createConnection,
  ErrorCodes,
  FileChangeType,
  LSPErrorCodes,
  ProposedFeatures,
  ResponseError,
  TextDocuments,
  TextDocumentSyncKind,
  type CancellationToken,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { ConfigAnalyses, NotRunnable, type ConfigDoc, type ProgressHandle } from './documents/configs';
import { fileDigest } from './documents/cache';
import { JobCancelled, JobRunner } from './jobs/jobs';
import { DEFAULT_JOB_HEAP_MB, jobHeapLimitMb } from './jobs/heapLimit';
import { AnalysisStore } from './documents/store';
import { describeCost } from '../pipeline/resources';
import { modelPruneResult, writePrunePlan } from './features/prune';
import { findConfigFiles } from './documents/workspace';
import { createModelConfig, dataBesideModel, freeConfigPath } from '../pipeline/model/modelConfig';
import { writePrunedConfig } from '../pipeline/prunedConfig';
import { mappedHeadCounts } from '../onnx/edit/headOrigins';
import { readModel } from '../onnx/format/read';
import { configCodeLenses } from './features/codeLens';
import { configDiagnostics } from './features/diagnostics';
import { configHover } from './features/hover';
import { configCodeActions } from './features/codeActions';
import { configInlayHints } from './features/inlayHints';
import { pythonCodeLenses } from './features/python';
import { rankedHeads } from './features/heads';
import { isWouldOverwrite } from '../io/paths';
import {
  AnalyzeRequest,
  CreateModelConfigRequest,
  DEFAULT_SETTINGS,
  InspectArraysRequest,
  InspectModelRequest,
  CreatePrunedConfigRequest,
  ModelChangedNotification,
  PruneRequest,
  ReportRequest,
  ResultsNotification,
  SweepRequest,
  TrustGrantedNotification,
  isConfigFileName,
  isModelFileName,
  type AnalyzeParams,
  type AnalyzeResult,
  type CreateModelConfigParams,
  type CreateModelConfigResult,
  type InitializationOptions,
  type InspectModelParams,
  type CreatePrunedConfigParams,
  type InspectArraysParams,
  type ArraysSummary,
  type InspectModelResult,
  type ModelHead,
  type PruneParams,
  type PruneResult,
  type ReportParams,
  type ReportResult,
  type ResultsParams,
  type ServerSettings,
  type SweepParams,
  type SweepResult,
  type WithProgressToken,
} from '../../../shared/protocol';
import { isWidthList, WIDTH_RANGE } from '../../../shared/width';
import { gemmBackendEnv, setGemmBackend } from '../linalg/gemm';
import type { JobProgress } from './jobs/jobTypes';

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);

let settings: ServerSettings = { ...DEFAULT_SETTINGS };
let trusted = false;
let roots: string[] = [];
const caps = { workDoneProgress: false, codeLensRefresh: false, inlayHintRefresh: false, configuration: false };

let traceJobs = false;
const runner = new JobRunner(path.join(__dirname, 'job.js'), Math.max(1, availableParallelism() - 1), () => gemmBackendEnv(settings.computeBackend), {
  heapLimitMb: jobHeapLimitMb,
  spare: true,
  spareHeapMb: DEFAULT_JOB_HEAP_MB,
  // What job processes print (Node warnings, a fatal error's report) is for the trace, not the user.
  log: (line) => traceJobs && connection.console.log(line),
});

const analyses = new ConfigAnalyses(runner, {
  settings: () => settings,
  trusted: () => trusted,
  changed: (doc) => publish(doc),
  beginProgress,
  confirm: confirmCost,
  log: (m) => connection.console.log(m),
});

/** The question before a long analysis (window/showMessageRequest): "Run" starts it, anything else leaves it. */
async function confirmCost(doc: ConfigDoc, cost: Parameters<typeof describeCost>[0]): Promise<boolean> {
  const name = path.basename(doc.path);
  const limit = settings.confirmAboveSeconds;
  try {
    const answer = await connection.window.showInformationMessage(
      `Attention Paths: analysing ${name} needs ${describeCost(cost)}, more than attentionPaths.confirmAboveSeconds (${limit} s). Run it?`,
      { title: 'Run' },
      { title: 'Cancel' },
    );
    return answer?.title === 'Run';
  } catch {
    return false; // the client could not ask: do not start long work unasked
  }
}

/** Settings as the client sends them, checked; a bad value falls back to its default with a log line. */
function readSettings(raw: Record<string, unknown> | null | undefined): ServerSettings {
  const r = raw ?? {};
  const num = (key: string, v: unknown, def: number, ok: (n: number) => boolean) => {
    if (v === undefined || v === null) return def;
    if (typeof v === 'number' && ok(v)) return v;
    connection.console.warn(`attentionPaths.${key}: ${JSON.stringify(v)} is not valid; using ${def}`);
    return def;
  };
  const codeLens = (r.codeLens ?? {}) as Record<string, unknown>;
  return {
    temperature: num('temperature', r.temperature, DEFAULT_SETTINGS.temperature, (n) => n > 0),
    prunableScoreThreshold: num('prunableScoreThreshold', r.prunableScoreThreshold, DEFAULT_SETTINGS.prunableScoreThreshold, (n) => n >= 0 && n <= 1),
    maxPaths: num('maxPaths', r.maxPaths, DEFAULT_SETTINGS.maxPaths, (n) => Number.isInteger(n) && n >= 1),
    computeBackend: r.computeBackend === 'js' ? 'js' : 'auto',
    codeLensEnabled: codeLens.enabled !== false,
    confirmAboveSeconds: num('confirmAboveSeconds', r.confirmAboveSeconds, DEFAULT_SETTINGS.confirmAboveSeconds, (n) => n >= 0),
  };
}

async function pullSettings(): Promise<void> {
  if (!caps.configuration) return;
  try {
    settings = readSettings((await connection.workspace.getConfiguration('attentionPaths')) as Record<string, unknown>);
    setGemmBackend(settings.computeBackend);
  } catch (e) {
    connection.console.warn(`could not read the attentionPaths settings: ${(e as Error).message}`);
  }
}

let refreshTimer: NodeJS.Timeout | undefined;
/** Asks the client to re-request code lenses and inlay hints (batched: many documents may change at once). */
function scheduleRefresh(): void {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = undefined;
    if (caps.codeLensRefresh) void connection.sendRequest(CodeLensRefreshRequest.type).catch(() => undefined);
    if (caps.inlayHintRefresh) void connection.languages.inlayHint.refresh().catch(() => undefined);
  }, 50);
}

function publish(doc: ConfigDoc): void {
  void connection.sendDiagnostics({ uri: doc.uri, diagnostics: configDiagnostics(doc, settings.prunableScoreThreshold) });
  const note: ResultsParams = { uri: doc.uri, version: doc.version, state: doc.state, error: doc.error };
  if (doc.state === 'done' && doc.report) {
    note.summary = { metrics: doc.report.metrics, gp: doc.report.gp.metrics, widths: doc.report.settings.widths, temperature: doc.report.settings.temperature };
  }
  void connection.sendNotification(ResultsNotification, note);
  scheduleRefresh();
}

function beginProgress(title: string, cancel: () => void): ProgressHandle | undefined {
  if (!caps.workDoneProgress) return undefined;
  let ended = false;
  const reporter = connection.window.createWorkDoneProgress().then(
    (r) => {
      if (ended) {
        r.done();
        return undefined;
      }
      r.begin(`Attention Paths: ${title}`, 0, undefined, true);
      r.token.onCancellationRequested(cancel);
      return r;
    },
    () => undefined, // the client refused a progress: the work runs without one
  );
  return {
    report: (p) => void reporter.then((r) => r?.report(p.percent ?? 0, p.message)),
    done: () => {
      ended = true;
      void reporter.then((r) => r?.done());
    },
  };
}

/** Progress of a request's job, reported on the work-done token the client sent (if any). */
function progressOf(params: WithProgressToken): (p: JobProgress) => void {
  if (params.workDoneToken === undefined) return () => undefined;
  const reporter = connection.window.attachWorkDoneProgress(params.workDoneToken);
  return (p) => reporter.report(p.percent ?? 0, p.message);
}

/** An AbortSignal that fires when the LSP request is cancelled. */
function signalOf(token: CancellationToken): AbortSignal {
  const c = new AbortController();
  if (token.isCancellationRequested) c.abort();
  else token.onCancellationRequested(() => c.abort());
  return c.signal;
}

/**
 * Maps a failure to the ResponseError the client shows: one line (`userMessage`), cancellations with the LSP code.
 * The Output channel gets that line (a refusal as information, a bug as an error); stacks go only to the trace
 * (`$/logTrace`, shown when `attentionPaths.trace.server` is on).
 */
function toResponseError(e: unknown): ResponseError<void> {
  if (e instanceof ResponseError) return e;
  if (e instanceof JobCancelled) return new ResponseError(LSPErrorCodes.RequestCancelled, e.message);
  if (e instanceof NotRunnable || isWouldOverwrite(e)) return new ResponseError(ErrorCodes.InvalidRequest, e.message);
  const line = userMessage(e);
  if (isExpectedRefusal(e)) connection.console.info(line);
  else connection.console.error(line);
  const stack = debugStack(e);
  if (stack) connection.tracer.log(line, stack);
  return new ResponseError(isExpectedRefusal(e) ? ErrorCodes.InvalidRequest : ErrorCodes.InternalError, line);
}

/** Runs a request handler, turning its failures into ResponseErrors. */
async function answer<T>(work: () => Promise<T>): Promise<T | ResponseError<void>> {
  try {
    return await work();
  } catch (e) {
    return toResponseError(e);
  }
}

function configUri(uri: string): string {
  if (!uri.startsWith('file:')) throw new ResponseError(ErrorCodes.InvalidParams, `only file URIs are supported, got ${uri}`);
  if (!isConfigFileName(uri)) {
    throw new ResponseError(
      ErrorCodes.InvalidParams,
      `${fileURLToPath(uri)} is not an Attention Paths config (*.attention.yaml|yml|json or attention-paths.yaml|yml|json)`,
    );
  }
  return uri;
}

connection.onInitialize((params): InitializeResult => {
  const c = params.capabilities;
  caps.workDoneProgress = !!c.window?.workDoneProgress;
  caps.codeLensRefresh = !!c.workspace?.codeLens?.refreshSupport;
  caps.inlayHintRefresh = !!c.workspace?.inlayHint?.refreshSupport;
  caps.configuration = !!c.workspace?.configuration;
  const init = params.initializationOptions as InitializationOptions | undefined;
  trusted = init?.trusted === true;
  traceJobs = params.trace === 'verbose';
  if (typeof init?.storageDir === 'string' && path.isAbsolute(init.storageDir)) {
    try {
      analyses.store = new AnalysisStore(init.storageDir);
    } catch (e) {
      connection.console.warn(`cannot keep reports in ${init.storageDir} (they will not survive a restart): ${(e as Error).message}`);
    }
  }
  const folders = params.workspaceFolders?.map((f) => f.uri) ?? (params.rootUri ? [params.rootUri] : []);
  roots = folders.filter((u) => u.startsWith('file:')).map((u) => fileURLToPath(u));
  return {
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      codeLensProvider: { resolveProvider: false },
      inlayHintProvider: { resolveProvider: false },
      hoverProvider: true,
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
    },
    serverInfo: { name: 'attention-paths' },
  };
});

connection.onInitialized(async () => {
  await pullSettings();
  // Problems of config files that are not open yet (parsed only; analysis starts when one is opened).
  const files = await findConfigFiles(roots);
  for (const file of files) {
    const uri = pathToFileURL(file).href;
    if (analyses.get(uri)) continue;
    try {
      analyses.update(uri, await readFile(file, 'utf8'), -1, false);
    } catch (e) {
      connection.console.warn(`cannot read ${file}: ${(e as Error).message}`);
    }
  }
  // After a restart (crash or command): what was analysed before comes back, from the stored reports when unchanged.
  const { restored, analysing } = await analyses.restore();
  if (restored + analysing) connection.console.log(`restored ${restored} analysed config(s) from the previous session; re-analysing ${analysing}`);
});

connection.onDidChangeConfiguration(async () => {
  await pullSettings();
  analyses.refreshAll();
  scheduleRefresh();
});

connection.onNotification(TrustGrantedNotification, () => {
  trusted = true;
  analyses.refreshAll();
});

documents.onDidChangeContent((e) => {
  if (isConfigFileName(e.document.uri)) analyses.update(e.document.uri, e.document.getText(), e.document.version, true);
});
documents.onDidClose(async (e) => {
  const uri = e.document.uri;
  analyses.close(uri);
  // Unsaved edits are gone with the editor: the diagnostics should describe the file on disk again.
  if (isConfigFileName(uri) && uri.startsWith('file:')) {
    try {
      analyses.update(uri, await readFile(fileURLToPath(uri), 'utf8'), -1, false);
    } catch {
      if (analyses.remove(uri)) void connection.sendDiagnostics({ uri, diagnostics: [] });
    }
  }
});

connection.onDidChangeWatchedFiles(async ({ changes }) => {
  const inputs: string[] = [];
  for (const ch of changes) {
    if (!ch.uri.startsWith('file:')) continue;
    const file = fileURLToPath(ch.uri);
    if (isConfigFileName(file)) {
      if (ch.type === FileChangeType.Deleted) {
        if (analyses.remove(ch.uri)) void connection.sendDiagnostics({ uri: ch.uri, diagnostics: [] });
      } else if (!documents.get(ch.uri)) {
        try {
          analyses.update(ch.uri, await readFile(file, 'utf8'), -1, false);
        } catch (e) {
          connection.console.warn(`cannot read ${file}: ${(e as Error).message}`);
        }
      }
    } else {
      inputs.push(file);
      if (isModelFileName(file)) void connection.sendNotification(ModelChangedNotification, { uri: ch.uri });
    }
  }
  if (inputs.length) analyses.inputsChanged(inputs);
});

connection.onCodeLens((params) => {
  if (!settings.codeLensEnabled) return [];
  const uri = params.textDocument.uri;
  const doc = analyses.get(uri);
  if (doc) return configCodeLenses(doc);
  const text = documents.get(uri);
  if (text && text.languageId === 'python' && uri.startsWith('file:')) {
    return pythonCodeLenses(text.getText(), path.dirname(fileURLToPath(uri)), roots, (model) => {
      const a = analyses.modelAnalysis(model);
      return a && { report: a.report, configUri: a.doc.uri };
    });
  }
  return [];
});

connection.languages.inlayHint.on((params) => {
  const doc = analyses.get(params.textDocument.uri);
  return doc ? configInlayHints(doc) : [];
});

connection.onCodeAction((params) => {
  const doc = analyses.get(params.textDocument.uri);
  return doc ? configCodeActions(doc, params.context.diagnostics) : [];
});

connection.onHover((params) => {
  const doc = analyses.get(params.textDocument.uri);
  return doc ? configHover(doc, params.position.line, params.position.character) : null;
});

connection.onRequest(AnalyzeRequest, (params: AnalyzeParams, token) =>
  answer<AnalyzeResult>(async () => {
    const uri = configUri(params.uri);
    const { report, cached } = await analyses.analyze(uri, { force: params.force, signal: signalOf(token), onProgress: progressOf(params) });
    return { uri, report, cached };
  }),
);

connection.onRequest(ReportRequest, (params: ReportParams) =>
  answer<ReportResult>(async () => {
    const doc = analyses.get(params.uri);
    if (!doc) return { uri: params.uri, state: 'unknown' };
    const model = doc.config?.attention?.kind === 'model' ? doc.config.attention.model : undefined;
    return { uri: doc.uri, state: doc.state, report: doc.state === 'done' ? doc.report : undefined, sweep: doc.sweep, error: doc.error, model };
  }),
);

connection.onRequest(SweepRequest, (params: SweepParams, token) =>
  answer<SweepResult>(async () => {
    const uri = configUri(params.uri);
    const widths = params.widths;
    if (!isWidthList(widths)) {
      throw new ResponseError(ErrorCodes.InvalidParams, `widths must be a non-empty list of widths N ${WIDTH_RANGE}, got ${JSON.stringify(widths)}`);
    }
    return { uri, sweep: await analyses.sweep(uri, widths, { signal: signalOf(token), onProgress: progressOf(params) }) };
  }),
);

connection.onRequest(PruneRequest, (params: PruneParams, token) =>
  answer<PruneResult>(async () => {
    const uri = configUri(params.uri);
    if (!Array.isArray(params.heads) || params.heads.length === 0) throw new ResponseError(ErrorCodes.InvalidParams, 'choose at least one head to prune');
    if (!params.output || !path.isAbsolute(params.output))
      throw new ResponseError(ErrorCodes.InvalidParams, `the output path must be absolute, got ${JSON.stringify(params.output)}`);
    const opts = { signal: signalOf(token), onProgress: progressOf(params) };
    const overwrite = params.overwrite === true;
    if ((await analyses.runnableConfig(uri)).attention?.kind === 'model') {
      return modelPruneResult(uri, await analyses.pruneModel(uri, params.heads, params.output, overwrite, opts));
    }
    const { report, metrics } = await analyses.silence(uri, params.heads, opts);
    return writePrunePlan(fileURLToPath(uri), uri, report, params.heads, metrics, params.output, overwrite);
  }),
);

connection.onRequest(InspectModelRequest, (params: InspectModelParams, token) =>
  answer<InspectModelResult>(async () => {
    if (!params.uri.startsWith('file:') || !isModelFileName(params.uri)) throw new ResponseError(ErrorCodes.InvalidParams, `not an .onnx file: ${params.uri}`);
    const file = fileURLToPath(params.uri);
    const st = await stat(file).catch((e: Error) => {
      throw new ResponseError(ErrorCodes.InvalidParams, `cannot read ${file}: ${e.message}`);
    });
    const analysis = analyses.modelAnalysis(file);
    const configs = analyses.configsForModel(file);
    const base: InspectModelResult = { uri: params.uri, bytes: st.size, modified: st.mtime.toISOString(), heads: [], configs, analysisNote: '' };
    const data = dataBesideModel(file);
    if (!analysis && configs.length === 0 && data && trusted) base.createConfig = { data, config: freeConfigPath(file) };
    base.analysisNote = modelNote(file, analysis?.doc.path, configs, data);
    try {
      const digest = await fileDigest(file);
      const summary = await runner.run(`inspect:${digest}`, { kind: 'inspect', path: file }, { signal: signalOf(token) });
      // The drawing of each block: a failure here leaves the rest of the view as it is.
      const graphs = await runner.run(`blockGraphs:${digest}`, { kind: 'blockGraphs', path: file }, { signal: signalOf(token) }).catch((e: unknown) => {
        if (e instanceof JobCancelled) throw e;
        connection.console.warn(`${file}: the attention blocks could not be drawn: ${userMessage(e)}`);
        return undefined;
      });
      const ranked = analysis ? rankedHeads(analysis.report) : [];
      const heads: ModelHead[] = summary.attention.blocks.flatMap((b) =>
        Array.from({ length: b.queryHeads ?? 0 }, (_, h) => {
          const r = ranked.find((x) => x.layer === b.index && x.head === h);
          const o = summary.headMap?.layers[b.index];
          const original = o && (o.layer !== b.index || o.heads[h] !== h) ? { layer: o.layer, head: o.heads[h] } : undefined;
          return { layer: b.index, head: h, score: r?.score, rank: r?.rank, ...(original ? { original } : {}) };
        }),
      );
      return { ...base, summary, heads, analysisConfig: analysis?.doc.path, graphs, warnings: analysis?.report.warnings };
    } catch (e) {
      if (e instanceof JobCancelled) throw e;
      return { ...base, error: userMessage(e) };
    }
  }),
);

connection.onRequest(InspectArraysRequest, (params: InspectArraysParams, token) =>
  answer<ArraysSummary>(async () => {
    if (!params.uri.startsWith('file:') || !/\.np[yz]$/i.test(params.uri))
      throw new ResponseError(ErrorCodes.InvalidParams, `not an .npz or .npy file: ${params.uri}`);
    const file = fileURLToPath(params.uri);
    return runner.run(`arrays:${await fileDigest(file)}`, { kind: 'arrays', path: file }, { signal: signalOf(token) });
  }),
);

/** The model view's sentence on where relevance comes from (see InspectModelResult.analysisNote). */
function modelNote(file: string, analysed: string | undefined, configs: string[], data: string | undefined): string {
  const name = path.basename(file);
  if (analysed) return `Relevance from the analysis of ${analysed}.`;
  const how = `Relevance scores come from analysing a config with "attention: {kind: model, model: ${name}}" and "data: <file>" (the model's inputs keyed by input name, with labels y = ±1): Attention Paths runs the model, captures each head's attention and solves the theory on it.`;
  const restricted = trusted ? '' : ' This workspace is in Restricted Mode: trust it to run the model.';
  if (configs.length)
    return `No relevance scores yet: ${configs.map((c) => path.basename(c)).join(', ')} name${configs.length === 1 ? 's' : ''} this model but ${configs.length === 1 ? 'has' : 'have'} not been analysed (or the analysis failed; see its diagnostics). ${how}${restricted}`;
  if (data) return `No relevance scores yet. ${how} ${path.basename(data)} sits beside the model, so a config can be created for it.${restricted}`;
  return `No relevance scores yet. ${how} Put ${path.basename(file, path.extname(file))}.npz or data.npz beside the model to have the config created for you.${restricted}`;
}

connection.onRequest(CreateModelConfigRequest, (params: CreateModelConfigParams) =>
  answer<CreateModelConfigResult>(async () => {
    if (!params.uri.startsWith('file:') || !isModelFileName(params.uri)) throw new ResponseError(ErrorCodes.InvalidParams, `not an .onnx file: ${params.uri}`);
    if (!trusted) throw new NotRunnable('this workspace is in Restricted Mode: Attention Paths creates and runs nothing until you trust the workspace');
    const model = fileURLToPath(params.uri);
    if (!existsSync(model)) throw new ResponseError(ErrorCodes.InvalidParams, `cannot read ${model}: no such file`);
    let made: ReturnType<typeof createModelConfig>;
    try {
      made = createModelConfig(model);
    } catch (e) {
      throw new NotRunnable((e as Error).message);
    }
    const uri = pathToFileURL(made.config).href;
    analyses.update(uri, made.text, -1, false);
    connection.console.log(`created ${made.config} for ${model} (data ${made.data})`);
    return { config: uri, data: made.data };
  }),
);

connection.onRequest(CreatePrunedConfigRequest, (params: CreatePrunedConfigParams) =>
  answer<CreateModelConfigResult>(async () => {
    if (!trusted) throw new NotRunnable('this workspace is in Restricted Mode: Attention Paths creates and runs nothing until you trust the workspace');
    if (!params.model || !path.isAbsolute(params.model) || !isModelFileName(params.model))
      throw new ResponseError(ErrorCodes.InvalidParams, `not an absolute .onnx path: ${JSON.stringify(params.model)}`);
    if (!existsSync(params.model)) throw new ResponseError(ErrorCodes.InvalidParams, `cannot read ${params.model}: no such file`);
    const original = await analyses.runnableConfig(configUri(params.uri));
    if (original.attention?.kind !== 'model' || !original.data)
      throw new NotRunnable(
        `${fileURLToPath(params.uri)} does not analyse an ONNX model on a data file, so there is nothing to reuse for ${path.basename(params.model)}`,
      );
    let made: ReturnType<typeof writePrunedConfig>;
    try {
      // A model whose shapes do not tell its head counts gets the pruned counts from its head map.
      const counts = original.heads !== undefined ? (mappedHeadCounts(readModel(params.model)) ?? undefined) : undefined;
      made = writePrunedConfig(original, params.model, counts);
    } catch (e) {
      throw new NotRunnable((e as Error).message);
    }
    const uri = pathToFileURL(made.config).href;
    analyses.update(uri, made.text, -1, false);
    connection.console.log(`created ${made.config} for the pruned model ${params.model} (data ${original.data})`);
    return { config: uri, data: original.data };
  }),
);

connection.onShutdown(async () => {
  analyses.dispose();
  await runner.dispose();
});

documents.listen(connection);
connection.listen();
