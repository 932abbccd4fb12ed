/**
 * The worker-thread job runner (analysis/jobs.ts) with the real worker bundle (dist/worker.js): jobs run
 * and return the pipeline's result, callers with the same key share one job, a job stops when its last
 * caller gives up, failures come back as JobError, and the queue keeps going after each of these.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { JobCancelled, JobError, JobRunner } from '../../src/analysis/jobs';
import { defaultConfig } from '../../src/config/defaults';
import type { AnalysisConfig } from '../../src/config/types';
import { analyze } from '../../src/pipeline/analyze';

const WORKER = path.resolve(__dirname, '../../../dist/worker.js');
const small = (): AnalysisConfig => ({ ...defaultConfig(), P: 20, P_test: 40 });
const full = (): AnalysisConfig => defaultConfig(); // P = 100, P_test = 1000: several seconds

describe('JobRunner', () => {
  // A stage cache of its own (pipeline/stageCache.ts), so every stage runs here whatever ran before.
  const cacheDir = mkdtempSync(path.join(tmpdir(), 'ap-jobs-cache-'));
  const runner = new JobRunner(WORKER, 1, () => ({ ...process.env, ATTENTION_PATHS_CACHE_DIR: cacheDir }));
  after(async () => {
    await runner.dispose();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  test('an analysis in a worker equals the same analysis in-process', async () => {
    const stages: string[] = [];
    const [inWorker, inProcess] = await Promise.all([
      runner.run('a', { kind: 'analyze', config: small(), maxPaths: 256 }, { onProgress: (p) => stages.push(p.stage) }),
      analyze(small()),
    ]);
    assert.deepEqual(inWorker.U, inProcess.U);
    assert.deepEqual(inWorker.metrics, inProcess.metrics);
    assert.deepEqual(inWorker.kernel_pc_overlap, inProcess.kernel_pc_overlap);
    assert.deepEqual([...new Set(stages)], ['data', 'attention', 'features', 'solve', 'predict', 'relevance', 'kernel PCs']);
    assert.equal(runner.pending, 0);
  });

  test('a job stops when its only caller gives up, and the next job runs', async () => {
    const c = new AbortController();
    let started = false;
    const p = runner.run('long', { kind: 'analyze', config: full(), maxPaths: 256 }, { signal: c.signal, onStart: () => (started = true) });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(started, true);
    const t0 = performance.now();
    c.abort();
    await assert.rejects(p, JobCancelled);
    assert.ok(performance.now() - t0 < 100, 'the caller is released at once');
    assert.equal(runner.pending, 0);
    const next = await runner.run('after', { kind: 'analyze', config: small(), maxPaths: 256 });
    assert.equal(next.task.P, 20);
  });

  test('callers with the same key share one job; it survives one of them giving up', async () => {
    const a = new AbortController();
    let startsA = 0;
    let startsB = 0;
    const pa = runner.run('shared', { kind: 'analyze', config: small(), maxPaths: 256 }, { signal: a.signal, onStart: () => startsA++ });
    const pb = runner.run('shared', { kind: 'analyze', config: small(), maxPaths: 256 }, { onStart: () => startsB++ });
    assert.equal(runner.pending, 1);
    a.abort();
    await assert.rejects(pa, JobCancelled);
    const report = await pb;
    assert.equal(report.task.P_test, 40);
    assert.equal(startsB, 1);
  });

  test('a failing job rejects with the pipeline\'s message; maxPaths refuses large configs before the solve', async () => {
    await assert.rejects(
      runner.run('bad', { kind: 'analyze', config: { ...small(), data: '/nonexistent/x.npz', task: undefined }, maxPaths: 256 }),
      (e: unknown) => e instanceof JobError && /x\.npz/.test(e.message),
    );
    await assert.rejects(
      runner.run('big', { kind: 'analyze', config: small(), maxPaths: 3 }),
      (e: unknown) => e instanceof JobError && /4 attention paths \(heads \[2, 2\]\), more than the setting attentionPaths\.maxPaths = 3/.test(e.message),
    );
  });
});
