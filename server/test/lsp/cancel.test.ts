/**
 * Cancellation latency through the language server (issue 7: "Cancel stops the work within 1 s"): the Cancel of
 * an automatic analysis's work-done progress, an edit that supersedes a running analysis, and the cancellation of
 * an analyze request each stop the job's process — it is gone from the server's children — within 1 s, and the
 * server answers with the new state.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CancellationTokenSource } from 'vscode-languageserver/node';
import { serverOnFixture } from './fixture';
import { busiestDescendant, waitGone } from '../helpers/procs';
import { AnalyzeRequest } from '../../../shared/protocol';
import type { LspSession } from '../helpers/lspSession';

// Long enough to cancel in the middle of real work (attention and the solve run ONNX Runtime GEMMs).
const LONG = 'task: markov\nP: 600\nP_test: 300\nwidths: 10\n';
const BOUND_MS = 1000;

interface ProgressNote {
  token: string | number;
  value: { kind: 'begin' | 'report' | 'end'; title?: string; message?: string };
}

/** The token of the server's progress whose title names `file`, once it reports real work (attention or later). */
function workingProgress(s: LspSession, file: string, since: number): Promise<string | number> {
  const name = path.basename(file);
  return s.waitFor(
    `${name}'s analysis at work`,
    () => {
      const notes = s.progress.slice(since) as ProgressNote[];
      const begin = notes.find((p) => p.value.kind === 'begin' && p.value.title?.includes(name));
      if (!begin) return undefined;
      return notes.some((p) => p.token === begin.token && /^(computing attention|computing path features|solving)\b/.test(p.value.message ?? ''))
        ? begin.token
        : undefined;
    },
    180_000,
  );
}

/** Polls (progress notes come as work goes on) until the analysis reports work, then the job process (the busiest child). */
async function jobPid(s: LspSession): Promise<number> {
  await new Promise((r) => setTimeout(r, 200)); // let the job use CPU, so it is the busiest child, not the spare
  const pid = busiestDescendant(s.pid);
  assert.ok(pid, 'the server has a job process');
  return pid;
}

describe('cancellation latency', () => {
  const f = serverOnFixture({ settings: { confirmAboveSeconds: 1e9 } });

  test('Cancel on the work-done progress of an automatic analysis: process gone and state cancelled within 1 s', async () => {
    const file = path.join(f.dir, 'cancel-progress.attention.yaml');
    writeFileSync(file, LONG);
    const since = f.s.progress.length;
    const uri = await f.s.open(file);
    const token = await workingProgress(f.s, file, since);
    const pid = await jobPid(f.s);
    const results = f.s.results.length;
    const t0 = performance.now();
    await f.s.conn.sendNotification('window/workDoneProgress/cancel', { token });
    const gone = await waitGone(f.s.pid, pid, 5000);
    await f.s.waitForState(uri, ['cancelled'], results, 5000);
    const stateMs = performance.now() - t0;
    assert.ok(gone <= BOUND_MS, `the job process took ${gone.toFixed(0)} ms to go`);
    assert.ok(stateMs <= BOUND_MS + 100, `the cancelled state came ${stateMs.toFixed(0)} ms after the cancel`);
    assert.equal(f.s.alive, true);
  });

  test("an edit that changes the config stops the stale analysis's process within 1 s of the edit", async () => {
    const file = path.join(f.dir, 'cancel-edit.attention.yaml');
    writeFileSync(file, LONG + 'seed: 1\n');
    const since = f.s.progress.length;
    const uri = await f.s.open(file);
    await workingProgress(f.s, file, since);
    const pid = await jobPid(f.s);
    const results = f.s.results.length;
    const t0 = performance.now();
    await f.s.change(uri, 2, 'task: markov\nP: 20\nP_test: 40\nwidths: 10\ntemperature: 0.02\n');
    const gone = await waitGone(f.s.pid, pid, 5000);
    assert.ok(gone <= BOUND_MS, `the stale job process took ${gone.toFixed(0)} ms to go (${(performance.now() - t0).toFixed(0)} ms after the edit)`);
    const r = await f.s.waitForState(uri, ['done', 'error'], results, 120_000);
    assert.equal(r.state, 'done', r.error);
    assert.equal(r.summary?.temperature, 0.02);
  });

  test('cancelling an analyze request stops its process within 1 s and answers RequestCancelled', async () => {
    const file = path.join(f.dir, 'cancel-request.attention.yaml');
    writeFileSync(file, LONG + 'seed: 2\n');
    const uri = pathToFileURL(file).href;
    const source = new CancellationTokenSource();
    const since = f.s.progress.length;
    const answer = f.s.conn.sendRequest(AnalyzeRequest, { uri, workDoneToken: 'cancel-request' }, source.token).then(
      () => 'answered',
      (e: { code?: number }) => e.code,
    );
    await f.s.waitFor(
      "the request's progress at work",
      () =>
        (f.s.progress.slice(since) as ProgressNote[]).some(
          (p) => p.token === 'cancel-request' && /^(computing attention|computing path features|solving)\b/.test(p.value.message ?? ''),
        ) || undefined,
      180_000,
    );
    const pid = await jobPid(f.s);
    source.cancel();
    const gone = await waitGone(f.s.pid, pid, 5000);
    assert.ok(gone <= BOUND_MS, `the job process took ${gone.toFixed(0)} ms to go`);
    assert.equal(await answer, -32800, 'the request answers with LSP RequestCancelled');
  });
});
