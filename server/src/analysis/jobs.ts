/**
 * Runs jobs (`jobTypes.ts`) in worker threads, off the language server's main thread, so the server keeps
 * answering requests while the theory is solved.
 *
 * - One worker per job, terminated when the job ends: the solver's memory goes back at once and a
 *   stale job can be stopped at any point (terminate), which a cooperative abort could not promise.
 * - At most `concurrency` workers run; further jobs wait in a queue (first in, first out).
 * - Jobs are shared by key: a second caller with the same key waits on the running job instead of
 *   starting another. Each caller has its own AbortSignal; the job is stopped only when every caller
 *   has given up (so a closed editor does not cancel what a command still waits for).
 */
import { Worker } from 'node:worker_threads';
import type { JobProgress, JobResults, JobSpec, WorkerInput, WorkerMessage } from './jobTypes';

/** Options of one `JobRunner.run` call. */
export interface RunJobOptions {
  /** This caller gives up when it fires; the job stops when no caller is left. */
  signal?: AbortSignal;
  onProgress?: (p: JobProgress) => void;
  /** Called once when the job leaves the queue and its worker starts. */
  onStart?: () => void;
}

/** An error thrown by a job inside its worker (message as the pipeline wrote it). */
export class JobError extends Error {
  constructor(
    message: string,
    public readonly jobName: string,
    public readonly workerStack?: string,
  ) {
    super(message);
    this.name = 'JobError';
  }
}

/** The reason a caller's promise rejects with when its signal fires. */
export class JobCancelled extends Error {
  constructor(what: string) {
    super(`${what} was cancelled`);
    this.name = 'JobCancelled';
  }
}

interface Waiter {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onProgress?: (p: JobProgress) => void;
  onStart?: () => void;
}

interface Shared {
  key: string;
  spec: JobSpec;
  waiters: Set<Waiter>;
  worker?: Worker;
  started: boolean;
  finished: boolean;
  lastProgress?: JobProgress;
}

/** Rough share of the whole analysis reached when a stage starts (the solve's length is unknown in advance). */
const STAGE_PERCENT: Record<string, number> = { data: 2, attention: 8, features: 25, solve: 30, predict: 85, relevance: 92 };

function toProgress(m: Extract<WorkerMessage, { type: 'progress' }>): JobProgress {
  const percent = m.fraction !== undefined ? Math.round(100 * m.fraction) : STAGE_PERCENT[m.stage];
  return { stage: m.stage, message: m.message, percent };
}

export class JobRunner {
  private readonly inflight = new Map<string, Shared>();
  private readonly queue: Shared[] = [];
  private running = 0;
  private disposed = false;

  /**
   * @param workerPath absolute path of the worker bundle (dist/worker.js)
   * @param concurrency how many workers may run at once (≥ 1)
   * @param env environment of each new worker (read at start, e.g. ATTENTION_PATHS_NO_ORT=1 for the JS backend)
   */
  constructor(
    private readonly workerPath: string,
    private readonly concurrency: number,
    private readonly env: () => NodeJS.ProcessEnv = () => process.env,
  ) {
    if (!(concurrency >= 1)) throw new Error(`JobRunner: concurrency must be ≥ 1, got ${concurrency}`);
  }

  /** Number of jobs running or queued. */
  get pending(): number {
    return this.inflight.size;
  }

  /** Whether a job with this key is running or queued. */
  has(key: string): boolean {
    return this.inflight.has(key);
  }

  /**
   * Runs `spec` (or joins the running job with the same `key`) and resolves with its result.
   * @throws JobError when the job fails in its worker; JobCancelled when `signal` fires first; Error when
   *   the worker dies without answering (its exit code is named).
   */
  run<K extends JobSpec['kind']>(key: string, spec: Extract<JobSpec, { kind: K }>, opts: RunJobOptions = {}): Promise<JobResults[K]> {
    if (this.disposed) return Promise.reject(new Error('the analysis service has shut down'));
    const what = `${spec.kind} job`;
    if (opts.signal?.aborted) return Promise.reject(new JobCancelled(what));
    let shared = this.inflight.get(key);
    if (!shared) {
      shared = { key, spec, waiters: new Set(), started: false, finished: false };
      this.inflight.set(key, shared);
      this.queue.push(shared);
    }
    const job = shared;
    return new Promise<JobResults[K]>((resolve, reject) => {
      const waiter: Waiter = { resolve: resolve as (v: unknown) => void, reject, onProgress: opts.onProgress, onStart: opts.onStart };
      job.waiters.add(waiter);
      if (job.started) opts.onStart?.();
      if (job.lastProgress) opts.onProgress?.(job.lastProgress);
      opts.signal?.addEventListener(
        'abort',
        () => {
          if (!job.waiters.delete(waiter)) return;
          reject(new JobCancelled(what));
          if (job.waiters.size === 0) this.stop(job);
        },
        { once: true },
      );
      this.pump();
    });
  }

  /** Stops every job and refuses new ones. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const all = [...this.inflight.values()];
    for (const j of all) {
      for (const w of j.waiters) w.reject(new Error('the analysis service has shut down'));
      j.waiters.clear();
      this.stop(j);
    }
  }

  private stop(job: Shared): void {
    if (job.finished) return;
    job.finished = true;
    this.inflight.delete(job.key);
    const qi = this.queue.indexOf(job);
    if (qi >= 0) this.queue.splice(qi, 1);
    if (job.worker) void job.worker.terminate(); // 'exit' then frees the slot
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length) {
      const job = this.queue.shift()!;
      this.start(job);
    }
  }

  private start(job: Shared): void {
    this.running++;
    job.started = true;
    for (const w of job.waiters) w.onStart?.();
    const input: WorkerInput = { spec: job.spec };
    const worker = new Worker(this.workerPath, { workerData: input, env: this.env() });
    job.worker = worker;
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
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') {
        job.lastProgress = toProgress(m);
        for (const w of job.waiters) w.onProgress?.(job.lastProgress);
      } else if (m.type === 'done') {
        settle((w) => w.resolve(m.result));
        void worker.terminate();
      } else {
        const e = new JobError(m.message, m.name, m.stack);
        settle((w) => w.reject(e));
        void worker.terminate();
      }
    });
    worker.on('error', (e) => {
      if (!answered) settle((w) => w.reject(new JobError(`the ${job.spec.kind} worker crashed: ${e.message}`, e.name, e.stack)));
    });
    worker.on('exit', (code) => {
      this.running--;
      if (!answered && job.waiters.size) {
        settle((w) => w.reject(new Error(`the ${job.spec.kind} worker exited with code ${code} before answering`)));
      }
      this.pump();
    });
  }
}
