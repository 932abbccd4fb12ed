/**
 * Runs jobs (`jobTypes.ts`) in child processes (dist/job.js, child_process.fork, IPC for progress and results),
 * off the language server's process, so the server keeps answering requests while the theory is solved and
 * nothing a job does can take the server down.
 *
 * - One process per job, killed with SIGKILL when the job ends or is no longer wanted. Killing a process is
 *   safe at any moment, also inside ONNX Runtime's native code (ending a worker thread there aborts the whole
 *   process: `terminate called after throwing an instance of 'Napi::Error'`), and the memory goes back at once.
 * - Each process gets a V8 heap limit (`--max-old-space-size`, from `heapLimitMb(spec)`), so a runaway job dies
 *   at a bound of its own instead of exhausting the machine. A process that dies (out of memory, a signal, a
 *   native abort) rejects its callers with a one-line JobDied; the server goes on.
 * - At most `concurrency` jobs run; further jobs wait in a queue (first in, first out). With `spare`, one idle
 *   process is kept started (modules loaded) so that a new job does not wait for Node to start.
 * - Jobs are shared by key: a second caller with the same key waits on the running job instead of starting
 *   another. Each caller has its own AbortSignal; the job is stopped only when every caller has given up (so a
 *   closed editor does not cancel what a command still waits for).
 * - Analyses report their estimated cost before the large work (`cost` message); callers with `confirm` decide
 *   whether it runs (the editor asks above `attentionPaths.confirmAboveSeconds`).
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { CostEstimate } from '../../pipeline/resources';
import type { ChildMessage, JobProgress, JobResults, JobSpec, ParentMessage } from './jobTypes';

/** Options of one `JobRunner.run` call. */
export interface RunJobOptions {
  /** This caller gives up when it fires; the job stops when no caller is left. */
  signal?: AbortSignal;
  onProgress?: (p: JobProgress) => void;
  /** Called once when the job leaves the queue and its process starts. */
  onStart?: () => void;
  /**
   * Decides whether the job may do its large work, given its estimated cost (analyze and sweep jobs). Without it
   * the caller accepts any cost. The job runs when one of its callers accepts; a caller that declines is
   * rejected with JobDeclined.
   */
  confirm?: (cost: CostEstimate) => boolean | Promise<boolean>;
}

/** An error thrown by a job inside its process (message as the pipeline wrote it). */
export class JobError extends Error {
  constructor(
    message: string,
    public readonly jobName: string,
    public readonly workerStack?: string,
    /** The config entry the failure is about (JSON pointer), when the pipeline named one. */
    public readonly pointer?: string,
  ) {
    super(message);
    this.name = 'JobError';
  }
}

/** A job's process died without answering (out of memory, killed, native abort); the message is one line. */
export class JobDied extends JobError {
  constructor(message: string) {
    super(message, 'JobDied');
    this.name = 'JobDied';
  }
}

/** The reason a caller's promise rejects with when its signal fires. */
export class JobCancelled extends Error {
  constructor(what: string) {
    super(`${what} was cancelled`);
    this.name = 'JobCancelled';
  }
}

/** The caller's `confirm` declined the job's cost. */
export class JobDeclined extends JobCancelled {
  constructor(
    what: string,
    public readonly cost: CostEstimate,
  ) {
    super(what);
    this.message = `${what} was not started (its cost was declined)`;
    this.name = 'JobDeclined';
  }
}

interface Waiter {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onProgress?: (p: JobProgress) => void;
  onStart?: () => void;
  confirm?: RunJobOptions['confirm'];
  /** Whether this waiter already answered the job's cost. */
  asked?: boolean;
}

interface Shared {
  key: string;
  spec: JobSpec;
  waiters: Set<Waiter>;
  child?: ChildProcess;
  heapMb?: number;
  started: boolean;
  finished: boolean;
  lastProgress?: JobProgress;
  /** The cost the job reported, while it waits for the go-ahead. */
  cost?: CostEstimate;
  released: boolean;
}

/** Rough share of the whole analysis reached when a stage starts (the solve's length is unknown in advance). */
const STAGE_PERCENT: Record<string, number> = { data: 2, attention: 8, features: 25, solve: 30, predict: 85, relevance: 92 };

function toProgress(m: Extract<ChildMessage, { type: 'progress' }>): JobProgress {
  const percent = m.fraction !== undefined ? Math.round(100 * m.fraction) : STAGE_PERCENT[m.stage];
  return { stage: m.stage, message: m.message, percent };
}

/** Options of a JobRunner beyond its process entry and concurrency. */
export interface JobRunnerOptions {
  /** Environment of each new process (read at start, e.g. ATTENTION_PATHS_NO_ORT=1 for the JS backend). */
  env?: () => NodeJS.ProcessEnv;
  /** V8 heap limit (MB) of the process for `spec`; undefined: Node's default. */
  heapLimitMb?: (spec: JobSpec) => number | undefined;
  /** Keep one idle process started for the next job (with heap limit `spareHeapMb`). */
  spare?: boolean;
  /** Heap limit of the spare process; a job whose limit differs gets a fresh process. */
  spareHeapMb?: number;
  /** Where the processes' stderr lines go (Node warnings, fatal-error reports). */
  log?: (line: string) => void;
}

/** One started process that no job owns yet. */
interface Spare {
  child: ChildProcess;
  heapMb?: number;
  envKey: string;
  stderr: { tail: string };
}

/** Bytes of a process's stderr kept to explain its death. */
const STDERR_TAIL = 8192;

export class JobRunner {
  private readonly inflight = new Map<string, Shared>();
  private readonly queue: Shared[] = [];
  private readonly children = new Set<ChildProcess>();
  private running = 0;
  private disposed = false;
  private spare?: Spare;
  private readonly opts: JobRunnerOptions;

  /**
   * @param childPath absolute path of the job process bundle (dist/job.js)
   * @param concurrency how many jobs may run at once (≥ 1)
   * @param env environment of each new process (kept for callers of the earlier signature; also in `options`)
   */
  constructor(
    private readonly childPath: string,
    private readonly concurrency: number,
    env?: () => NodeJS.ProcessEnv,
    options: JobRunnerOptions = {},
  ) {
    if (!(concurrency >= 1)) throw new Error(`JobRunner: concurrency must be ≥ 1, got ${concurrency}`);
    this.opts = { ...options, env: options.env ?? env };
  }

  /** Number of jobs running or queued. */
  get pending(): number {
    return this.inflight.size;
  }

  /** Whether a job with this key is running or queued. */
  has(key: string): boolean {
    return this.inflight.has(key);
  }

  /** Process ids of the job processes alive now (running jobs and the spare). */
  pids(): number[] {
    return [...this.children].map((c) => c.pid).filter((p): p is number => p !== undefined);
  }

  /** Process id of the running job with this key, if it has started. */
  pidOf(key: string): number | undefined {
    return this.inflight.get(key)?.child?.pid;
  }

  /**
   * Runs `spec` (or joins the running job with the same `key`) and resolves with its result.
   * @throws JobError when the job fails in its process; JobCancelled when `signal` fires first; JobDeclined when
   *   `confirm` declines its cost; JobDied when its process dies without answering (reason in one line).
   */
  run<K extends JobSpec['kind']>(key: string, spec: Extract<JobSpec, { kind: K }>, opts: RunJobOptions = {}): Promise<JobResults[K]> {
    if (this.disposed) return Promise.reject(new Error('the analysis service has shut down'));
    const what = `${spec.kind} job`;
    if (opts.signal?.aborted) return Promise.reject(new JobCancelled(what));
    let shared = this.inflight.get(key);
    if (!shared) {
      shared = { key, spec, waiters: new Set(), started: false, finished: false, released: false };
      this.inflight.set(key, shared);
      this.queue.push(shared);
    }
    const job = shared;
    return new Promise<JobResults[K]>((resolve, reject) => {
      const waiter: Waiter = { resolve: resolve as (v: unknown) => void, reject, onProgress: opts.onProgress, onStart: opts.onStart, confirm: opts.confirm };
      job.waiters.add(waiter);
      if (job.started) opts.onStart?.();
      if (job.lastProgress) opts.onProgress?.(job.lastProgress);
      opts.signal?.addEventListener('abort', () => this.leave(job, waiter, new JobCancelled(what)), { once: true });
      if (job.cost) this.decide(job, [waiter]);
      this.pump();
    });
  }

  /**
   * Stops the job with this key whoever waits for it (the user's Cancel): every caller is rejected with
   * JobCancelled and its process is killed. No-op when no such job runs.
   */
  cancel(key: string): void {
    const job = this.inflight.get(key);
    if (!job) return;
    const waiters = [...job.waiters];
    job.waiters.clear();
    this.stop(job);
    for (const w of waiters) w.reject(new JobCancelled(`${job.spec.kind} job`));
  }

  /** Stops every job, the spare process, and refuses new ones. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const all = [...this.inflight.values()];
    for (const j of all) {
      for (const w of j.waiters) w.reject(new Error('the analysis service has shut down'));
      j.waiters.clear();
      this.stop(j);
    }
    if (this.spare) this.spare.child.kill('SIGKILL');
    this.spare = undefined;
  }

  /** A caller gives up: it is rejected with `reason`; the job stops when it was the last. */
  private leave(job: Shared, waiter: Waiter, reason: Error): void {
    if (!job.waiters.delete(waiter)) return;
    waiter.reject(reason);
    if (job.waiters.size === 0) this.stop(job);
  }

  private stop(job: Shared): void {
    if (job.finished) return;
    job.finished = true;
    this.inflight.delete(job.key);
    const qi = this.queue.indexOf(job);
    if (qi >= 0) this.queue.splice(qi, 1);
    job.child?.kill('SIGKILL'); // 'exit' then frees the slot
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length) {
      const job = this.queue.shift()!;
      this.start(job);
    }
    if (this.opts.spare && !this.disposed && !this.spare && this.inflight.size > 0) this.spare = this.forkSpare();
  }

  private envNow(): NodeJS.ProcessEnv {
    return this.opts.env?.() ?? process.env;
  }

  private forkChild(heapMb: number | undefined, env: NodeJS.ProcessEnv): { child: ChildProcess; stderr: { tail: string } } {
    const execArgv = heapMb ? [`--max-old-space-size=${Math.round(heapMb)}`] : [];
    const child = fork(this.childPath, [], { execArgv, env, serialization: 'advanced', stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.children.add(child);
    const stderr = { tail: '' };
    const keep = (d: Buffer) => {
      const text = d.toString();
      stderr.tail = (stderr.tail + text).slice(-STDERR_TAIL);
      for (const line of text.split('\n')) if (line.trim()) this.opts.log?.(`job process ${child.pid}: ${line}`);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('exit', () => this.children.delete(child));
    child.on('error', () => undefined); // reported through 'exit' (or fork's own failure below)
    return { child, stderr };
  }

  private forkSpare(): Spare | undefined {
    try {
      const env = this.envNow();
      const { child, stderr } = this.forkChild(this.opts.spareHeapMb, env);
      const spare: Spare = { child, heapMb: this.opts.spareHeapMb, envKey: JSON.stringify(env), stderr };
      child.on('exit', () => {
        if (this.spare === spare) this.spare = undefined;
      });
      return spare;
    } catch {
      return undefined; // no spare: the next job forks its own process
    }
  }

  /** The spare process when it fits the job (same heap limit and environment), else a new process. */
  private processFor(heapMb: number | undefined): { child: ChildProcess; stderr: { tail: string } } {
    const env = this.envNow();
    const s = this.spare;
    if (s && s.heapMb === heapMb && s.envKey === JSON.stringify(env) && s.child.exitCode === null && s.child.signalCode === null && s.child.connected) {
      this.spare = undefined;
      return s;
    }
    return this.forkChild(heapMb, env);
  }

  private start(job: Shared): void {
    this.running++;
    job.started = true;
    for (const w of job.waiters) w.onStart?.();
    const heapMb = this.opts.heapLimitMb?.(job.spec);
    let answered = false;
    const settle = (fn: (w: Waiter) => void) => {
      answered = true;
      if (!job.finished) {
        job.finished = true;
        this.inflight.delete(job.key);
      }
      for (const w of job.waiters) fn(w);
      job.waiters.clear();
    };
    let proc: { child: ChildProcess; stderr: { tail: string } };
    try {
      proc = this.processFor(heapMb);
    } catch (e) {
      this.running--;
      settle((w) => w.reject(new JobDied(`the ${job.spec.kind} job could not start a process: ${(e as Error).message}`)));
      queueMicrotask(() => this.pump());
      return;
    }
    const { child, stderr } = proc;
    job.child = child;
    job.heapMb = heapMb;
    let exited = false;
    child.on('message', (m: ChildMessage) => {
      if (job.finished) return;
      if (m.type === 'progress') {
        job.lastProgress = toProgress(m);
        for (const w of job.waiters) w.onProgress?.(job.lastProgress);
      } else if (m.type === 'cost') {
        job.cost = m.cost;
        this.decide(job, [...job.waiters]);
      } else if (m.type === 'done') {
        settle((w) => w.resolve(m.result));
        child.kill('SIGKILL');
      } else if (m.type === 'failed') {
        const e = new JobError(m.message, m.name, m.stack, m.pointer);
        settle((w) => w.reject(e));
        child.kill('SIGKILL');
      }
    });
    const onGone = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      if (exited) return;
      exited = true;
      this.running--;
      if (!answered && !job.finished) settle((w) => w.reject(new JobDied(deathReason(job.spec.kind, code, signal, stderr.tail, heapMb, error))));
      this.pump();
    };
    child.on('exit', (code, signal) => onGone(code, signal));
    child.on('error', (e) => {
      // fork failed (no process) or the channel broke; a live process still ends in 'exit'
      if (child.pid === undefined || child.exitCode !== null) onGone(child.exitCode, null, e);
    });
    const msg: ParentMessage = { type: 'run', spec: job.spec };
    try {
      child.send(msg);
    } catch (e) {
      child.kill('SIGKILL');
      onGone(null, null, e as Error);
    }
    if (job.finished) child.kill('SIGKILL'); // stopped while starting
  }

  /**
   * The job reported its cost: it goes ahead when a caller without `confirm` waits for it or one of `asking`
   * accepts; a caller that declines leaves (rejected with JobDeclined).
   */
  private decide(job: Shared, asking: Waiter[]): void {
    const cost = job.cost;
    if (!cost || job.released || job.finished) return;
    const release = () => {
      if (job.released || job.finished) return;
      job.released = true;
      job.cost = undefined;
      const go: ParentMessage = { type: 'go' };
      job.child?.send(go, (e) => e && undefined);
    };
    if ([...job.waiters].some((w) => !w.confirm)) return release();
    for (const w of asking) {
      if (w.asked || !w.confirm) continue;
      w.asked = true;
      void Promise.resolve()
        .then(() => w.confirm!(cost))
        .then(
          (ok) => (ok ? release() : this.leave(job, w, new JobDeclined(`${job.spec.kind} job`, cost))),
          () => this.leave(job, w, new JobDeclined(`${job.spec.kind} job`, cost)),
        );
    }
  }
}

/** One line on why a job process died, from its exit and the end of its stderr. */
function deathReason(kind: string, code: number | null, signal: NodeJS.Signals | null, stderr: string, heapMb: number | undefined, error?: Error): string {
  if (/heap out of memory|Allocation failed|out of memory|Reached heap limit|Cannot allocate memory/i.test(stderr)) {
    const limit = heapMb ? ` (its heap limit was ${Math.round(heapMb)} MB)` : '';
    return `the ${kind} job ran out of memory and was stopped${limit}; reduce P or P_test, or free memory`;
  }
  if (error) return `the ${kind} job's process failed: ${error.message.split('\n')[0]}`;
  if (signal === 'SIGKILL') return `the ${kind} job's process was killed (SIGKILL; the system may have run out of memory)`;
  if (signal) return `the ${kind} job's process died from signal ${signal}`;
  return `the ${kind} job's process exited with code ${code} before answering`;
}
