/**
 * A minimal LSP client for tests and the latency benchmark: spawns the bundled language server
 * (dist/server.js) over stdio, as vscode-eslint's server tests do, and answers the server's own requests
 * the way VS Code would (settings, progress creation, refreshes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type Diagnostic,
  type ProtocolConnection,
  type RequestType,
} from 'vscode-languageserver/node';
import { ResultsNotification, type ResultsParams } from '../../../shared/protocol';

/** The repository root: the nearest folder above this module with the project's package.json (works from source and from a bundle in dist/). */
function repoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'attention-paths') return dir;
    if (path.dirname(dir) === dir) throw new Error(`no attention-paths package.json above ${__dirname}`);
  }
}

export const SERVER_JS = path.join(repoRoot(), 'dist', 'server.js');

export interface SessionOptions {
  /** Workspace folder (absolute). */
  workspace: string;
  trusted?: boolean;
  /** Settings the server gets for `attentionPaths` (the shape package.json declares). */
  settings?: Record<string, unknown>;
  /** Extra environment of the server process. */
  env?: NodeJS.ProcessEnv;
  /** The server bundle to run (default: this checkout's dist/server.js). */
  serverJs?: string;
  /** A command (and its arguments) the server is started under, e.g. ['prlimit', '--data=4000000000']. */
  wrap?: string[];
  /** `initializationOptions.storageDir`: where the server keeps reports for a restart. */
  storageDir?: string;
  /**
   * The answer to the server's questions (window/showMessageRequest): the title of the action to pick, or null to
   * dismiss. Default: the first action.
   */
  answer?: (message: string, actions: string[]) => string | null;
}

/** A question the server asked (window/showMessageRequest) and what the session answered. */
export interface AskedMessage {
  message: string;
  actions: string[];
  answered: string | null;
}

export class LspSession {
  readonly diagnostics = new Map<string, Diagnostic[]>();
  readonly results: ResultsParams[] = [];
  readonly progress: unknown[] = [];
  readonly log: string[] = [];
  readonly asked: AskedMessage[] = [];
  private listeners: Array<() => void> = [];
  private exited = false;
  private died: Promise<never> = new Promise(() => undefined);

  private constructor(
    readonly conn: ProtocolConnection,
    private readonly proc: ChildProcess,
    private settings: Record<string, unknown>,
  ) {}

  /** Process id of the server (of the wrapping command when `wrap` is given; it execs the server). */
  get pid(): number {
    return this.proc.pid!;
  }

  /** Whether the server process has exited. */
  get alive(): boolean {
    return !this.exited && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Starts the server and completes the initialize handshake. */
  static async start(opts: SessionOptions): Promise<LspSession> {
    // Each session has its own stage cache (pipeline/stageCache.ts), so no test sees another run's entries.
    const cacheDir = mkdtempSync(path.join(tmpdir(), 'ap-stage-cache-'));
    const env = { ...process.env, ATTENTION_PATHS_CACHE_DIR: cacheDir, ...opts.env };
    const [cmd, ...pre] = opts.wrap?.length ? [...opts.wrap, process.execPath] : [process.execPath];
    const proc = spawn(cmd, [...pre, opts.serverJs ?? SERVER_JS, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'], env });
    proc.once('exit', () => rmSync(cacheDir, { recursive: true, force: true }));
    const conn = createProtocolConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
    const s = new LspSession(conn, proc, opts.settings ?? {});
    proc.stderr!.on('data', (d: Buffer) => s.log.push(d.toString()));
    // A server that dies must fail the waiting test, not leave it hanging on a promise nothing settles.
    const died = new Promise<never>((_, reject) =>
      proc.once('exit', (code, signal) => {
        s.exited = true;
        reject(new Error(`the language server exited (code ${code}, signal ${signal}); log:\n${s.log.join('')}`));
        s.notify();
      }),
    );
    died.catch(() => undefined);
    s.died = died;
    conn.onNotification('textDocument/publishDiagnostics', (p: { uri: string; diagnostics: Diagnostic[] }) => {
      s.diagnostics.set(p.uri, p.diagnostics);
      s.notify();
    });
    conn.onNotification(ResultsNotification, (p: ResultsParams) => {
      s.results.push(p);
      s.notify();
    });
    conn.onNotification('window/logMessage', (p: { message: string }) => s.log.push(p.message));
    conn.onNotification('$/progress', (p: unknown) => {
      s.progress.push(p);
      s.notify();
    });
    conn.onRequest('workspace/configuration', (p: { items: unknown[] }) => p.items.map(() => s.settings));
    conn.onRequest('window/workDoneProgress/create', () => null);
    conn.onRequest('window/showMessageRequest', (p: { message: string; actions?: Array<{ title: string }> }) => {
      const actions = (p.actions ?? []).map((a) => a.title);
      const answered = opts.answer ? opts.answer(p.message, actions) : (actions[0] ?? null);
      s.asked.push({ message: p.message, actions, answered });
      s.notify();
      return answered === null ? null : { title: answered };
    });
    conn.onRequest('workspace/codeLens/refresh', () => null);
    conn.onRequest('workspace/inlayHint/refresh', () => null);
    conn.onRequest('client/registerCapability', () => null);
    conn.listen();
    const root = pathToFileURL(opts.workspace).href;
    await Promise.race([
      died,
      conn.sendRequest('initialize', {
        processId: process.pid,
        rootUri: root,
        workspaceFolders: [{ uri: root, name: path.basename(opts.workspace) }],
        capabilities: {
          window: { workDoneProgress: true },
          workspace: { configuration: true, codeLens: { refreshSupport: true }, inlayHint: { refreshSupport: true } },
          textDocument: { publishDiagnostics: {}, codeLens: {}, inlayHint: {}, hover: { contentFormat: ['markdown'] } },
        },
        initializationOptions: { trusted: opts.trusted ?? true, ...(opts.storageDir ? { storageDir: opts.storageDir } : {}) },
      }),
    ]);
    await conn.sendNotification('initialized', {});
    return s;
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  /** Resolves when `check` returns a value (checked after each notification), or rejects after `timeoutMs`. */
  waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 30_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const run = () => {
        if (this.exited) {
          done();
          reject(new Error(`the language server exited while waiting for ${what}; log:\n${this.log.join('')}`));
          return;
        }
        let v: T | undefined;
        try {
          v = check();
        } catch (e) {
          done();
          reject(e);
          return;
        }
        if (v !== undefined) {
          done();
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; server log:\n${this.log.join('\n')}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== run);
      };
      this.listeners.push(run);
      run();
    });
  }

  /** Polls an asynchronous check (e.g. a request) every 100 ms until it returns a value, or rejects after `timeoutMs`. */
  async poll<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits for a results notification of `uri` in one of `states` (after the `since`-th notification). */
  waitForState(uri: string, states: ResultsParams['state'][], since = 0, timeoutMs = 60_000, minVersion = -Infinity): Promise<ResultsParams> {
    return this.waitFor(
      `${uri} to reach ${states.join('/')}`,
      () => this.results.slice(since).find((r) => r.uri === uri && r.version >= minVersion && states.includes(r.state)),
      timeoutMs,
    );
  }

  /** Opens a file (its text from disk unless given) as VS Code would; returns its URI. */
  async open(file: string, languageId = 'yaml', text?: string): Promise<string> {
    const uri = pathToFileURL(file).href;
    await this.conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId, version: 1, text: text ?? readFileSync(file, 'utf8') } });
    return uri;
  }

  /** Replaces a document's whole text. */
  async change(uri: string, version: number, text: string): Promise<void> {
    await this.conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
  }

  async setSettings(settings: Record<string, unknown>): Promise<void> {
    this.settings = settings;
    await this.conn.sendNotification('workspace/didChangeConfiguration', { settings: {} });
  }

  /** Sends a request of the contract (shared/protocol.ts: params and result typed) or, by method name, any other. */
  request<P, R>(type: RequestType<P, R, void>, params: P): Promise<R>;
  request<R>(method: string, params: unknown): Promise<R>;
  request(method: string | RequestType<unknown, unknown, void>, params: unknown): Promise<unknown> {
    return Promise.race([this.died, this.conn.sendRequest(method as string, params)]);
  }

  /** Kills the server with SIGKILL, as a crash would end it (no shutdown; its job processes see the IPC channel close). */
  async kill(): Promise<void> {
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    if (this.alive) this.proc.kill('SIGKILL');
    if (this.proc.exitCode === null && this.proc.signalCode === null) await exited;
    this.conn.dispose();
  }

  /** Shuts the server down cleanly (kills it if it does not exit within 5 s). */
  async stop(): Promise<void> {
    try {
      await Promise.race([this.conn.sendRequest('shutdown'), new Promise((r) => setTimeout(r, 5000))]);
      await this.conn.sendNotification('exit');
    } catch {
      // already gone
    }
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    if (!this.exited && this.proc.exitCode === null) await exited;
    clearTimeout(timer);
    this.conn.dispose();
  }
}
