/**
 * The analysis state of every config file the server knows (open in an editor, or found in the
 * workspace): parse on each change, then — after a short pause in typing, and only in a trusted
 * workspace — analyse in a worker. A change that alters the config's content key cancels the stale job;
 * identical content reuses the cached report. Requests (analyze, sweep, prune) join the same jobs.
 *
 * No LSP types here: the server wires `ConfigHost` to diagnostics, code lens refresh, progress and
 * notifications.
 */
import { userMessage } from '../../util/errors';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseConfig, type ParseConfigResult } from '../../config/load';
import { ConfigOutline } from '../../config/outline';
import type { AnalysisConfig } from '../../config/types';
import type { AnalysisReport, Metrics, SweepReport } from '../../../../shared/report';
import type { AnalysisState, ServerSettings } from '../../../../shared/protocol';
import type { HeadIndex } from '../../pipeline/silence';
import type { PruneSummary } from '../../pipeline/pruneModel';
import { configInputs, contentKey, LruCache, stableJson } from './cache';
import { JobCancelled, JobDeclined, JobError, JobRunner } from '../jobs/jobs';
import type { JobProgress } from '../jobs/jobTypes';
import type { CostEstimate } from '../../pipeline/resources';
import type { AnalysisStore } from './store';

/** One config file and what is known about it. */
export interface ConfigDoc {
  uri: string;
  /** File-system path of `uri`. */
  path: string;
  /** Editor version (-1 for a file read from disk). */
  version: number;
  open: boolean;
  text: string;
  outline: ConfigOutline;
  parsed: ParseConfigResult;
  /** The config the analysis runs on (settings applied), when the text has no errors. */
  config?: AnalysisConfig;
  state: AnalysisState;
  /** Content key of the analysis that `state` / `report` belong to. */
  key?: string;
  /** The config (stable JSON) that analysis is of: an edit that changes the config makes `state` / `report` stale. */
  keyConfig?: string;
  report?: AnalysisReport;
  sweep?: SweepReport;
  /** One-line reason when `state` is `error`. */
  error?: string;
  /** The config entry (JSON pointer) the error is about, when the pipeline named it (e.g. "/P" for too little memory). */
  errorPointer?: string;
  /** When `state` is `cancelled` because the user declined the analysis's cost: that cost. */
  declined?: CostEstimate;
  progress?: JobProgress;
  /** Aborts this document's own (automatic) analysis. */
  controller?: AbortController;
  /** The config (stable JSON) that analysis runs on, to stop it at once when an edit changes the config. */
  controllerConfig?: string;
  timer?: NodeJS.Timeout;
}

/** A started work-done progress (the server maps it to LSP `$/progress`). */
export interface ProgressHandle {
  report(p: JobProgress): void;
  done(): void;
}

/** What the analyses need from the language server. */
export interface ConfigHost {
  settings(): ServerSettings;
  trusted(): boolean;
  /** The state, report or diagnostics-relevant facts of `doc` changed. */
  changed(doc: ConfigDoc): void;
  /** Starts a work-done progress; `cancel` is called when the user cancels it. */
  beginProgress(title: string, cancel: () => void): ProgressHandle | undefined;
  /**
   * Asks the user whether an analysis above `confirmAboveSeconds` may run (resolves true to run it). Without it
   * every analysis runs.
   */
  confirm?(doc: ConfigDoc, cost: CostEstimate): Promise<boolean>;
  log(message: string): void;
}

/** Options of a request-driven run. */
export interface RequestOptions {
  signal?: AbortSignal;
  onProgress?: (p: JobProgress) => void;
}

/** Thrown for requests that cannot run (config errors, restricted mode); the message is one readable paragraph. */
export class NotRunnable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotRunnable';
  }
}

/**
 * The config to analyse: the parsed config with the user's default temperature when the file leaves
 * `temperature` out (the CLI uses CONFIG_DEFAULTS; the editor lets the setting decide).
 */
export function effectiveConfig(parsed: ParseConfigResult, outline: ConfigOutline, settings: ServerSettings): AnalysisConfig | undefined {
  if (!parsed.config) return undefined;
  if (outline.has('/temperature')) return parsed.config;
  return { ...parsed.config, temperature: settings.temperature };
}

export class ConfigAnalyses {
  private readonly docs = new Map<string, ConfigDoc>();
  private readonly reports = new LruCache<AnalysisReport>(32);
  private readonly sweeps = new LruCache<SweepReport>(16);
  private readonly silenced = new LruCache<Metrics>(64);
  /** Content keys whose cost the user accepted (asked once per content). */
  private readonly approved = new LruCache<true>(64);
  /** Reports and the analysed configs on disk, for restoring them after a restart (set once the client gave a folder). */
  store?: AnalysisStore;

  /**
   * @param runner the worker-thread job runner
   * @param host callbacks into the server
   * @param debounceMs pause after the last edit before an automatic analysis starts
   */
  constructor(
    private readonly runner: JobRunner,
    private readonly host: ConfigHost,
    private readonly debounceMs = 300,
  ) {}

  get(uri: string): ConfigDoc | undefined {
    return this.docs.get(uri);
  }

  /**
   * A config's text changed (opened, edited, or read from disk). Parses it, reports, and — when `open`
   * and the text is valid and the workspace trusted — schedules its analysis.
   */
  update(uri: string, text: string, version: number, open: boolean): ConfigDoc {
    const prev = this.docs.get(uri);
    if (prev && prev.open && !open) return prev; // the editor's text wins over the file on disk
    const path = fileURLToPath(uri);
    const outline = new ConfigOutline(text);
    const parsed = parseConfig(text, path);
    const doc: ConfigDoc = prev ?? { uri, path, version, open, text, outline, parsed, state: 'idle' };
    Object.assign(doc, { version, open, text, outline, parsed, config: effectiveConfig(parsed, outline, this.host.settings()) });
    this.docs.set(uri, doc);
    this.schedule(doc);
    return doc;
  }

  /** The editor closed the document: stop its automatic analysis; keep it known (diagnostics stay). */
  close(uri: string): void {
    const doc = this.docs.get(uri);
    if (!doc) return;
    doc.open = false;
    clearTimeout(doc.timer);
    doc.controller?.abort();
  }

  /** The file is gone: forget it. */
  remove(uri: string): ConfigDoc | undefined {
    const doc = this.docs.get(uri);
    if (!doc) return undefined;
    clearTimeout(doc.timer);
    doc.controller?.abort();
    this.docs.delete(uri);
    this.store?.forget(uri);
    return doc;
  }

  /**
   * After a restart: every config the store says was analysed gets its report back — from the store when its
   * content (and the files it reads) is unchanged, else from a new analysis (queued like any other, asked first
   * when long). Configs with errors keep their diagnostics only.
   * @returns how many were restored from the store and how many analyses were started
   */
  async restore(): Promise<{ restored: number; analysing: number }> {
    const store = this.store;
    if (!store) return { restored: 0, analysing: 0 };
    let restored = 0;
    let analysing = 0;
    for (const { uri } of store.analysedConfigs()) {
      let doc: ConfigDoc;
      try {
        doc = await this.docFor(uri);
      } catch {
        store.forget(uri); // the file is gone
        continue;
      }
      if (!doc.config || doc.parsed.issues.some((i) => i.severity === 'error') || !this.host.trusted()) continue;
      if (doc.state === 'done' || doc.state === 'running' || doc.state === 'queued') continue;
      const config = doc.config;
      const key = await contentKey('analyze', config);
      if (this.reports.get(key) ?? store.loadReport(key)) restored++;
      else analysing++;
      const controller = new AbortController();
      doc.controller = controller;
      doc.controllerConfig = stableJson(config);
      void this.runAnalysis(doc, key, config, { signal: controller.signal, serverProgress: true }).catch((e: unknown) => {
        if (!(e instanceof JobCancelled)) this.host.log(`re-analysis of ${doc.path} after the restart failed: ${(e as Error).message.split('\n')[0]}`);
      });
    }
    return { restored, analysing };
  }

  /** Settings or trust changed: re-derive every config and reschedule the open ones. */
  refreshAll(): void {
    for (const doc of this.docs.values()) {
      doc.config = effectiveConfig(doc.parsed, doc.outline, this.host.settings());
      this.schedule(doc);
    }
  }

  /** Files changed on disk: re-check every config that names one of them (existence, and content keys). */
  inputsChanged(paths: string[]): void {
    const changed = new Set(paths);
    for (const doc of this.docs.values()) {
      const refs = doc.config ? configInputs(doc.config) : [];
      const mentions = refs.some((p) => changed.has(p)) || doc.parsed.issues.some((i) => paths.some((p) => i.message.includes(p)));
      if (!mentions) continue;
      doc.parsed = parseConfig(doc.text, doc.path);
      doc.config = effectiveConfig(doc.parsed, doc.outline, this.host.settings());
      this.schedule(doc);
    }
  }

  /** The latest analysis of a config that reads `modelPath` (attention.kind model), if one succeeded. */
  modelAnalysis(modelPath: string): { doc: ConfigDoc; report: AnalysisReport } | undefined {
    for (const doc of this.docs.values()) {
      if (doc.report && doc.config?.attention?.model === modelPath) return { doc, report: doc.report };
    }
    return undefined;
  }

  /** Paths of the known valid configs whose `attention.model` is `modelPath`, sorted. */
  configsForModel(modelPath: string): string[] {
    return [...this.docs.values()]
      .filter((d) => d.config?.attention?.kind === 'model' && d.config.attention.model === modelPath)
      .map((d) => d.path)
      .sort();
  }

  /**
   * The config at `uri` as an analysis would run it (its editor text, else the file).
   * @throws NotRunnable for config errors or an untrusted workspace
   */
  async runnableConfig(uri: string): Promise<AnalysisConfig> {
    return this.runnable(await this.docFor(uri));
  }

  /**
   * Analyses the config at `uri` (its editor text, else the file) and resolves with the report; reuses a
   * cached report for the same content unless `force`.
   * @throws NotRunnable for config errors or an untrusted workspace; JobError when the analysis fails;
   *   JobCancelled when `signal` fires first.
   */
  async analyze(uri: string, opts: RequestOptions & { force?: boolean } = {}): Promise<{ report: AnalysisReport; cached: boolean }> {
    const doc = await this.docFor(uri);
    const config = this.runnable(doc);
    const key = await contentKey('analyze', config);
    // The user's Cancel means "stop this analysis": also the automatic run of the same content it joined.
    opts.signal?.addEventListener('abort', () => this.runner.cancel(key), { once: true });
    return this.runAnalysis(doc, key, config, { ...opts });
  }

  /**
   * Width sweep of the config at `uri` (finite width versus GP, docs/theory.md §c and §e).
   * @throws as `analyze`
   */
  async sweep(uri: string, widths: number[], opts: RequestOptions = {}): Promise<SweepReport> {
    const doc = await this.docFor(uri);
    const config = this.runnable(doc);
    const key = await contentKey('sweep', config, widths);
    let sweep = this.sweeps.get(key);
    if (!sweep) {
      opts.signal?.addEventListener('abort', () => this.runner.cancel(key), { once: true });
      const confirm = (cost: CostEstimate) => this.confirmCost(doc, key, cost, () => false);
      sweep = await this.runner.run(key, { kind: 'sweep', config, widths, maxPaths: this.host.settings().maxPaths }, { ...opts, confirm });
      this.sweeps.set(key, sweep);
    }
    doc.sweep = sweep;
    this.host.changed(doc);
    return sweep;
  }

  /**
   * Predicted metrics with `removed` heads silenced together, from the config's current analysis
   * (analysed first when needed).
   * @throws as `analyze`
   */
  async silence(uri: string, removed: HeadIndex[], opts: RequestOptions = {}): Promise<{ report: AnalysisReport; metrics: Metrics }> {
    const { report } = await this.analyze(uri, opts);
    const doc = this.docs.get(uri)!;
    const config = this.runnable(doc);
    const order = [...removed].sort((a, b) => a.layer - b.layer || a.head - b.head);
    const key = await contentKey('silence', config, order);
    let metrics = this.silenced.get(key);
    if (!metrics) {
      metrics = await this.runner.run(key, { kind: 'silence', config, U1: report.U[0], removed: order }, opts);
      this.silenced.set(key, metrics);
    }
    return { report, metrics };
  }

  /**
   * Prunes heads from the ONNX model a config analyses and writes the pruned model to `output` (verified,
   * and measured when the data has labels). Never cached: it writes a file.
   * @throws NotRunnable when the config does not analyse a model; JobError with the pruner's reason
   *   (nothing is written then)
   */
  async pruneModel(uri: string, heads: HeadIndex[], output: string, overwrite: boolean, opts: RequestOptions = {}): Promise<PruneSummary> {
    const doc = await this.docFor(uri);
    const config = this.runnable(doc);
    const model = config.attention?.kind === 'model' ? config.attention.model : undefined;
    if (!model) throw new NotRunnable(`${doc.path} does not analyse an ONNX model (attention.kind model), so there is no model to prune`);
    // The editor compares the two models side by side, latency included.
    const job = { model, out: output, heads, config, force: overwrite, latency: true };
    return this.runner.run(`prune:${output}:${Date.now()}`, { kind: 'pruneModel', job, maxPaths: this.host.settings().maxPaths }, opts);
  }

  /** Stops all automatic analyses (shutdown). */
  dispose(): void {
    for (const doc of this.docs.values()) {
      clearTimeout(doc.timer);
      doc.controller?.abort();
    }
  }

  private async docFor(uri: string): Promise<ConfigDoc> {
    const known = this.docs.get(uri);
    if (known) return known;
    let text: string;
    try {
      text = await readFile(fileURLToPath(uri), 'utf8');
    } catch (e) {
      throw new NotRunnable(`cannot read ${fileURLToPath(uri)}: ${(e as Error).message}`);
    }
    return this.update(uri, text, -1, false);
  }

  private runnable(doc: ConfigDoc): AnalysisConfig {
    const errors = doc.parsed.issues.filter((i) => i.severity === 'error');
    if (errors.length || !doc.config) {
      const first = errors[0];
      const where = first ? `${first.line}:${first.column}: ${first.message}` : 'the config is not valid';
      throw new NotRunnable(`${doc.path} has ${errors.length || 1} error(s); fix them first (${where})`);
    }
    if (!this.host.trusted()) {
      throw new NotRunnable('this workspace is in Restricted Mode: Attention Paths runs no analysis until you trust the workspace');
    }
    return doc.config;
  }

  /** Decides what a changed document needs: nothing to run (invalid, restricted, closed) or a debounced analysis. */
  private schedule(doc: ConfigDoc): void {
    clearTimeout(doc.timer);
    const hasErrors = doc.parsed.issues.some((i) => i.severity === 'error') || !doc.config;
    if (hasErrors || !this.host.trusted()) {
      doc.controller?.abort();
      doc.controller = undefined;
      Object.assign(doc, {
        state: hasErrors ? 'invalid' : 'restricted',
        key: undefined,
        keyConfig: undefined,
        report: undefined,
        error: undefined,
        progress: undefined,
      });
      this.host.changed(doc);
      return;
    }
    const config = stableJson(doc.config);
    const busy = doc.state === 'running' || doc.state === 'queued';
    if (doc.open && busy && doc.controller && doc.controllerConfig !== config) {
      // The running analysis is of a config that no longer exists: stop it now, not after the typing pause
      // (an edit of a comment or of formatting leaves the config, and the analysis, alone).
      doc.controller.abort();
      doc.controller = undefined;
    }
    if (doc.key !== undefined && doc.keyConfig !== config) {
      // The state and report on record are of another config: publishing them with this version would show the
      // old numbers as this text's (the soak's final 'done' with the previous widths). The new text's analysis
      // follows after the pause; a job still running for the old config no longer reaches this document.
      Object.assign(doc, {
        key: undefined,
        keyConfig: undefined,
        state: doc.open ? 'queued' : 'idle',
        report: undefined,
        error: undefined,
        errorPointer: undefined,
        declined: undefined,
        progress: undefined,
      });
    }
    if (doc.open && (doc.state === 'idle' || doc.state === 'invalid' || doc.state === 'restricted')) doc.state = 'queued';
    else if (!doc.open && (doc.state === 'invalid' || doc.state === 'restricted')) doc.state = 'idle';
    this.host.changed(doc); // diagnostics of the new text right away; the analysis follows after the pause
    if (!doc.open) return;
    const version = doc.version;
    doc.timer = setTimeout(() => {
      void this.autoAnalyze(doc, version);
    }, this.debounceMs);
  }

  private async autoAnalyze(doc: ConfigDoc, version: number): Promise<void> {
    const config = doc.config;
    if (!config) return;
    const key = await contentKey('analyze', config);
    if (doc.version !== version || !doc.open) return; // edited again while hashing: that edit schedules its own run
    if (doc.key === key && (doc.state === 'done' || doc.state === 'running' || doc.state === 'queued')) return;
    doc.controller?.abort(); // the input changed: the previous job is stale
    const controller = new AbortController();
    doc.controller = controller;
    doc.controllerConfig = stableJson(config);
    try {
      await this.runAnalysis(doc, key, config, { signal: controller.signal, serverProgress: true });
    } catch (e) {
      if (!(e instanceof JobCancelled)) this.host.log(`analysis of ${doc.path} failed: ${userMessage(e)}`);
    }
  }

  private async runAnalysis(
    doc: ConfigDoc,
    key: string,
    config: AnalysisConfig,
    opts: RequestOptions & { force?: boolean; serverProgress?: boolean },
  ): Promise<{ report: AnalysisReport; cached: boolean }> {
    const cached = opts.force ? undefined : (this.reports.get(key) ?? this.fromStore(key));
    if (cached) {
      doc.key = key;
      doc.keyConfig = stableJson(config);
      this.set(doc, key, { state: 'done', report: cached, error: undefined, errorPointer: undefined, declined: undefined, progress: undefined });
      this.store?.record(doc.uri, key);
      return { report: cached, cached: true };
    }
    const joining = this.runner.has(key);
    if (!(joining && doc.key === key))
      this.set(doc, key, {
        state: 'queued',
        keyConfig: stableJson(config),
        report: undefined,
        error: undefined,
        errorPointer: undefined,
        declined: undefined,
        progress: undefined,
      });
    const name = doc.path.replace(/^.*[\\/]/, '');
    // The automatic analysis reports through LSP work-done progress (cancellable there: Cancel stops the job's
    // process, whoever else waits for it); a command shows its own cancellable notification in the client, so it
    // opens none here.
    const handle = opts.serverProgress && !joining ? this.host.beginProgress(`Analyzing ${name}`, () => this.runner.cancel(key)) : undefined;
    let lastStage = '';
    try {
      const report = await this.runner.run(
        key,
        { kind: 'analyze', config, maxPaths: this.host.settings().maxPaths },
        {
          signal: opts.signal,
          confirm: (cost) => this.confirmCost(doc, key, cost),
          onStart: () => this.set(doc, key, { state: 'running' }),
          onProgress: (p) => {
            if (p.stage === 'cache') this.host.log(`${name}: ${p.message}`); // what a re-analysis did not redo
            handle?.report(p);
            opts.onProgress?.(p);
            if (doc.key !== key) return;
            doc.progress = p;
            if (p.stage !== lastStage) {
              lastStage = p.stage;
              this.host.changed(doc);
            }
          },
        },
      );
      this.reports.set(key, report);
      void this.store
        ?.save(doc.uri, key, report)
        .then((failed) => failed && this.host.log(`the report of ${doc.path} could not be kept for a restart: ${failed}`));
      this.set(doc, key, { state: 'done', report, error: undefined, errorPointer: undefined, declined: undefined, progress: undefined });
      return { report, cached: false };
    } catch (e) {
      const cancelled = e instanceof JobCancelled;
      // A cancelled caller does not decide the document's state while someone else still runs the job.
      if (!(cancelled && this.runner.has(key))) {
        if (e instanceof JobDeclined) this.set(doc, key, { state: 'cancelled', declined: e.cost, progress: undefined });
        else if (cancelled) this.set(doc, key, { state: 'cancelled', progress: undefined });
        else this.set(doc, key, { state: 'error', error: userMessage(e), errorPointer: e instanceof JobError ? e.pointer : undefined, progress: undefined });
      }
      throw e;
    } finally {
      handle?.done();
    }
  }

  private fromStore(key: string): AnalysisReport | undefined {
    const r = this.store?.loadReport(key);
    if (r) this.reports.set(key, r);
    return r;
  }

  /**
   * Whether an analysis of `key` may run at `cost`: at once up to the setting `confirmAboveSeconds` or when the
   * user accepted this content before; otherwise the user is asked (once per content). A superseded analysis is
   * not asked about.
   */
  private async confirmCost(doc: ConfigDoc, key: string, cost: CostEstimate, superseded = () => doc.key !== key): Promise<boolean> {
    if (cost.seconds <= this.host.settings().confirmAboveSeconds || this.approved.get(key) || !this.host.confirm) return true;
    if (superseded()) return false;
    const ok = await this.host.confirm(doc, cost);
    if (ok) this.approved.set(key, true);
    return ok;
  }

  /** Updates `doc` when `key` is (or becomes) its current analysis; stale results are dropped. */
  private set(doc: ConfigDoc, key: string, patch: Partial<ConfigDoc>): void {
    if (patch.state === 'queued') doc.key = key;
    if (doc.key !== key) return;
    Object.assign(doc, patch);
    this.host.changed(doc);
  }
}
