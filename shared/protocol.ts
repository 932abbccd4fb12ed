/**
 * The custom part of the protocol between the extension (client/) and the language server (server/src/server.ts):
 * every request and notification beyond standard LSP, each a typed object (`RequestType<Params, Result>`,
 * `NotificationType<Params>`) that binds its method name to its parameter and result types, so that
 * `client.sendRequest(AnalyzeRequest, params)` and `connection.onRequest(AnalyzeRequest, handler)` are checked on
 * both sides (like vscode-eslint's shared/ and rust-analyzer's lsp_ext.ts). Also the settings with their defaults
 * (package.json `contributes.configuration`, checked by server/test/manifest/package.test.ts), the command ids and
 * the config-file globs.
 *
 * This folder (shared/) is the contract: the client, the webview, the server and the CLI import it; it imports
 * nothing from them, nothing from Node (`node:`) and not `vscode` (server/test/manifest/boundaries.test.ts).
 *
 * Conventions: URIs are `file://` URI strings as LSP sends them. Layers and heads are 0-based, as in the
 * report and the path labels. A request that fails answers with an LSP ResponseError whose message is
 * one line a person can read; a cancelled request answers with the LSP RequestCancelled code.
 */
import { NotificationType, NotificationType0, RequestType } from 'vscode-languageserver-protocol';
import type { AnalysisReport, Metrics, SweepReport } from './report';
import type { ArraysSummary, BlockGraph, InspectSummary, PruneComparison } from './model';

export type { AnalysisReport, SweepReport, Metrics, BlockGraph, ArraysSummary, PruneComparison };

/** The language client's id; `attentionPaths.trace.server` is read under this name. */
export const CLIENT_ID = 'attentionPaths';

/**
 * Config files the server treats as analysis configs. Documented in the README; the same globs are in
 * package.json (jsonValidation, yamlValidation, activationEvents).
 */
export const CONFIG_GLOBS = [
  '**/*.attention.yaml',
  '**/*.attention.yml',
  '**/*.attention.json',
  '**/attention-paths.yaml',
  '**/attention-paths.yml',
  '**/attention-paths.json',
];

/** Whether a file name (or path) matches one of `CONFIG_GLOBS`. */
export function isConfigFileName(fileName: string): boolean {
  const base = fileName.replace(/^.*[\\/]/, '');
  return /\.attention\.(ya?ml|json)$/i.test(base) || /^attention-paths\.(ya?ml|json)$/i.test(base);
}

/** Whether a file name (or path) is an ONNX model. */
export function isModelFileName(fileName: string): boolean {
  return /\.onnx$/i.test(fileName);
}

/** Command ids (package.json `contributes.commands`); code lenses of the server name them too. */
export const Commands = {
  analyze: 'attentionPaths.analyze',
  showCharts: 'attentionPaths.showCharts',
  pruneHeads: 'attentionPaths.pruneHeads',
  sweepWidth: 'attentionPaths.sweepWidth',
  createModelConfig: 'attentionPaths.createModelConfig',
  restartServer: 'attentionPaths.restartServer',
  showOutput: 'attentionPaths.showOutput',
  /** Opens the shipped docs/theory.md at a section: argument the section letter a–j. */
  openTheory: 'attentionPaths.openTheory',
} as const;

/** Settings under `attentionPaths.*` that the server uses (package.json `contributes.configuration`). */
export interface ServerSettings {
  /** T_B used when a config leaves `temperature` out. Default 0.01 (the CLI's default). */
  temperature: number;
  /** Heads whose relevance score (max-normalized, docs/theory.md §g) is below this get an information diagnostic. */
  prunableScoreThreshold: number;
  /** Configs with more attention paths H_1···H_L than this are not analysed, swept or pruned (the solve grows with paths²). */
  maxPaths: number;
  /** `auto`: large matrix products in ONNX Runtime's CPU engine when it loads; `js`: plain JavaScript only. */
  computeBackend: 'auto' | 'js';
  /** Show code lenses (configs and Python files). */
  codeLensEnabled: boolean;
  /** Analyses estimated to take longer than this (seconds) are confirmed first ("Run" / "Cancel"); 0 asks for every one. */
  confirmAboveSeconds: number;
}

export const DEFAULT_SETTINGS: ServerSettings = {
  temperature: 0.01,
  prunableScoreThreshold: 0.2,
  maxPaths: 256,
  computeBackend: 'auto',
  codeLensEnabled: true,
  confirmAboveSeconds: 30,
};

/** What the server passes in `initializationOptions`. */
export interface InitializationOptions {
  /** `vscode.workspace.isTrusted` at start. In an untrusted workspace nothing is analysed (no model is run). */
  trusted: boolean;
  /**
   * A folder the server may write (VS Code's workspace storage): the latest reports and which configs were
   * analysed are kept there, so that a restarted server restores them. Without it nothing is kept.
   */
  storageDir?: string;
}

/** The analysis state of one config document. */
export type AnalysisState =
  /** Valid, not analysed (a file that is not open in an editor). */
  | 'idle'
  /** Config errors: fix them first (see the diagnostics). */
  | 'invalid'
  /** The workspace is not trusted: nothing runs. */
  | 'restricted'
  | 'queued'
  | 'running'
  | 'done'
  | 'error'
  | 'cancelled';

/**
 * A token for LSP work-done progress that the client created for one request (LSP `WorkDoneProgressParams`);
 * the server reports the job's stages on it, which the client shows in its progress notification.
 */
export interface WithProgressToken {
  workDoneToken?: string | number;
}

/** A head, 0-based layer and head. */
export interface HeadRef {
  layer: number;
  head: number;
}

// ---------------------------------------------------------------------------------------------------
// Requests (client → server)

/**
 * `attentionPaths/analyze`: analyse a config (open or on disk) and answer with its report. Reuses the
 * running job or the cached report for identical content unless `force`. Cancelling the request cancels
 * the work when nobody else waits for it.
 */
export interface AnalyzeParams extends WithProgressToken {
  uri: string;
  /** Run again even when a report for this content is cached. */
  force?: boolean;
}
export interface AnalyzeResult {
  uri: string;
  report: AnalysisReport;
  /** True when the report came from the content cache. */
  cached: boolean;
}
export const AnalyzeRequest = new RequestType<AnalyzeParams, AnalyzeResult, void>('attentionPaths/analyze');

/** `attentionPaths/report`: the latest state and report of a config, without starting work. */
export interface ReportParams {
  uri: string;
}
export interface ReportResult {
  uri: string;
  state: AnalysisState | 'unknown';
  report?: AnalysisReport;
  /** The latest width sweep of this config, when one was run. */
  sweep?: SweepReport;
  error?: string;
  /** The ONNX model the config analyses (`attention.kind: model`), absolute; pruning writes a pruned copy of it. */
  model?: string;
}
export const ReportRequest = new RequestType<ReportParams, ReportResult, void>('attentionPaths/report');

/** `attentionPaths/sweep`: finite-width versus GP accuracy and ε_g over widths N (docs/theory.md §c, §e). */
export interface SweepParams extends WithProgressToken {
  uri: string;
  /** Widths N (> 0), solved in the given order. */
  widths: number[];
}
export interface SweepResult {
  uri: string;
  sweep: SweepReport;
}
export const SweepRequest = new RequestType<SweepParams, SweepResult, void>('attentionPaths/sweep');

/**
 * `attentionPaths/prune`: remove heads. When the config analyses an ONNX model (`attention.kind: model`), a
 * pruned model is written to `output` (`.onnx`), after checking in ONNX Runtime that it reproduces the
 * original with the same heads masked; with labelled data the effect is measured on the test split next to
 * the theory's prediction. For other configs there is no model to prune: a pruning plan (JSON) is written
 * with the theory's prediction of removing the heads together (their paths zeroed in U₁, no
 * re-optimization; docs/theory.md §g).
 */
export interface PruneParams extends WithProgressToken {
  uri: string;
  heads: HeadRef[];
  /** Absolute path of the file to write (`.onnx` for a model config, else `.json`); refused when it exists and `overwrite` is not set. */
  output: string;
  overwrite?: boolean;
}
export interface PruneResult {
  uri: string;
  /** What was written to `output`. */
  wrote: 'model' | 'plan';
  output: string;
  removed: HeadRef[];
  /** The theory's test metrics of the full model and with the removed heads silenced together (absent when no analysis was possible). */
  predicted?: { before: Metrics; after: Metrics };
  /** Measured on labelled data with the original and the pruned model (model configs with labels only). */
  measured?: { kind: 'accuracy' | 'mse'; before: number; after: number; count: number };
  /** How the pruned model was checked (one line), for `wrote: 'model'`. */
  verification?: string;
  /** Model configs: the original and the pruned model side by side (heads, parameters, file size, measured metric, latency). */
  comparison?: PruneComparison;
  /** Things to know (why there is no measurement, pruner notes), one line each. */
  notes: string[];
}
export const PruneRequest = new RequestType<PruneParams, PruneResult, void>('attentionPaths/prune');

/**
 * `attentionPaths/createPrunedConfig`: after a model config's heads were pruned, writes a config beside the pruned
 * model that analyses it the way the original was analysed (the original's data, split and theory settings;
 * `attention.model` the pruned file), as `<pruned>.attention.yaml` or the next free name (never over a file). The
 * server knows the new config at once (its analysis starts when the client opens it).
 */
export interface CreatePrunedConfigParams {
  /** The original model config's URI. */
  uri: string;
  /** Absolute path of the pruned `.onnx` file. */
  model: string;
}

/** `attentionPaths/inspectModel`: what an `.onnx` file holds (for the read-only model editor). */
export interface InspectModelParams {
  uri: string;
}
export interface ModelHead {
  layer: number;
  head: number;
  /** Relevance score from the latest analysis of a config that uses this model, when there is one. */
  score?: number;
  rank?: number;
  /** For a pruned model (head map in its metadata): the head's layer and number in the model it was pruned from. */
  original?: HeadRef;
}
export interface InspectModelResult {
  uri: string;
  /** File size in bytes and modification time (ISO 8601). */
  bytes: number;
  modified: string;
  /** The model summary (header, inputs/outputs, attention blocks), or absent when it could not be read. */
  summary?: InspectSummary;
  /** Why `summary` is absent (one line). */
  error?: string;
  /** Heads per attention block as detected, with relevance when an analysis of this model exists. */
  heads: ModelHead[];
  /** The config whose analysis gave the relevance scores, when there is one. */
  analysisConfig?: string;
  /** Configs of the workspace (absolute paths) whose `attention.model` is this file, analysed or not. */
  configs: string[];
  /**
   * Present when no config names this model, labelled data sits beside it (`<model>.npz`, else `data.npz`) and the
   * workspace is trusted: the data file and the config file that `CreateModelConfigRequest` would write (absolute).
   */
  createConfig?: { data: string; config: string };
  /** One or two sentences on where relevance scores come from for this model, and what to do to get them. */
  analysisNote: string;
  /** Each attention block's subgraph (projections, scale, mask, Softmax, merge), for the view's drawing. */
  graphs?: BlockGraph[];
  /** The warnings of the analysis that gave the relevance scores (they may name the model's nodes). */
  warnings?: string[];
}
export const InspectModelRequest = new RequestType<InspectModelParams, InspectModelResult, void>('attentionPaths/inspectModel');

/**
 * `attentionPaths/inspectArrays`: what an `.npz` or `.npy` file holds (for the read-only array viewer): each
 * array's name, dtype, shape, min/max/mean, the label balance of label-like arrays and a small preview.
 */
export interface InspectArraysParams {
  uri: string;
}
export const InspectArraysRequest = new RequestType<InspectArraysParams, ArraysSummary, void>('attentionPaths/inspectArrays');

/**
 * `attentionPaths/createModelConfig`: writes a config beside an `.onnx` file that analyses the model's attention on
 * the labelled data beside it (`data: <model>.npz | data.npz`, `attention: { kind: model, model: <file> }`), named
 * `<model>.attention.yaml` or, when that exists, `<model>-2.attention.yaml`, … (an existing file is never
 * replaced). Refused in Restricted Mode and when no data file sits beside the model. The server knows the new
 * config at once (its analysis starts when the client opens it).
 */
export interface CreateModelConfigParams {
  /** The `.onnx` file's URI. */
  uri: string;
}
export interface CreateModelConfigResult {
  /** The new config's URI. */
  config: string;
  /** The data file it names (absolute path). */
  data: string;
}
export const CreateModelConfigRequest = new RequestType<CreateModelConfigParams, CreateModelConfigResult, void>('attentionPaths/createModelConfig');

/** Answers with the new config, as `CreateModelConfigRequest` does (declared here, after its result type). */
export const CreatePrunedConfigRequest = new RequestType<CreatePrunedConfigParams, CreateModelConfigResult, void>('attentionPaths/createPrunedConfig');

// ---------------------------------------------------------------------------------------------------
// Notifications

/** `attentionPaths/results` (server → client): a config's analysis state changed. */
export interface ResultsParams {
  uri: string;
  /**
   * The editor version of the document when the server published this (-1 for a file read from disk). A result
   * sent just before the server received a newer edit carries the older version, so a client (or a test) that
   * has sent version v ignores results below v instead of taking them for the analysis of v's text.
   */
  version: number;
  state: AnalysisState;
  /** Headline numbers when `state` is `done`. */
  summary?: { metrics: Metrics; gp: Metrics; widths: number[]; temperature: number };
  error?: string;
}
export const ResultsNotification = new NotificationType<ResultsParams>('attentionPaths/results');

/** `attentionPaths/modelChanged` (server → client): an `.onnx` file changed on disk (the model editor reloads). */
export interface ModelChangedParams {
  uri: string;
}
export const ModelChangedNotification = new NotificationType<ModelChangedParams>('attentionPaths/modelChanged');

/** `attentionPaths/trustGranted` (client → server): the workspace became trusted; analyses may run now. */
export const TrustGrantedNotification = new NotificationType0('attentionPaths/trustGranted');
