/**
 * The server stays responsive while it analyses (the work is in a worker thread), and a change to the
 * config stops the stale analysis instead of finishing it.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { serverOnFixture } from './fixture';

// The Markov task at P = 600, P_test = 1000 takes several seconds: long enough to measure during (P = 100 now
// solves in about 1 s, too close to the bound of ten request pairs answered during it).
const LONG = 'task: markov\nwidths: 10\ntemperature: 0.01\nP: 600\n';

interface ProgressNote {
  token: string | number;
  value: { kind: 'begin' | 'report' | 'end'; title?: string; message?: string };
}

describe('responsiveness during a long analysis', () => {
  const f = serverOnFixture();

  test('hover and code lens requests are answered within 250 ms while the analysis runs', async () => {
    const file = path.join(f.dir, 'long.attention.yaml');
    writeFileSync(file, LONG);
    const uri = await f.s.open(file);
    await f.s.waitForState(uri, ['running']);
    const latencies: number[] = [];
    let done = false;
    const finished = f.s.waitForState(uri, ['done', 'error'], 0, 120_000).then(() => (done = true));
    while (!done && latencies.length < 40) {
      const t = performance.now();
      await f.s.request('textDocument/hover', { textDocument: { uri }, position: { line: 0, character: 1 } });
      await f.s.request('textDocument/codeLens', { textDocument: { uri } });
      latencies.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 50));
    }
    const whileRunning = latencies.length;
    await finished;
    assert.ok(whileRunning >= 10, `only ${whileRunning} request pairs were answered during the analysis`);
    const max = Math.max(...latencies);
    assert.ok(max < 250, `slowest request pair took ${max.toFixed(0)} ms (all: ${latencies.map((x) => x.toFixed(0)).join(', ')})`);
  });

  test('changing the config stops the stale analysis; the result is that of the new text', async () => {
    const file = path.join(f.dir, 'stale.attention.yaml');
    // Another seed than the first test's config: the same content would come from the cache without running.
    writeFileSync(file, LONG + 'seed: 1\n');
    const progressBefore = f.s.progress.length;
    const uri = await f.s.open(file);
    await f.s.waitForState(uri, ['running']);
    const firstToken = await f.s.waitFor(
      "the first job's progress",
      () =>
        (f.s.progress.slice(progressBefore) as ProgressNote[]).find((p) => p.value.kind === 'begin' && /stale\.attention\.yaml/.test(p.value.title ?? ''))
          ?.token,
    );
    const since = f.s.results.length;
    await f.s.change(uri, 2, 'task: markov\nwidths: 10\ntemperature: 0.02\nP: 40\nP_test: 100\n');
    const r = await f.s.waitForState(uri, ['done', 'error'], since, 120_000);
    assert.equal(r.state, 'done', r.error);
    assert.equal(r.summary?.temperature, 0.02);
    const first = (f.s.progress as ProgressNote[]).filter((p) => p.token === firstToken).map((p) => p.value);
    assert.equal(first[first.length - 1].kind, 'end', "the stale job's progress ended");
    assert.equal(
      first.some((v) => /^scoring heads/.test(v.message ?? '')),
      false,
      `the stale job reached its last stage: ${first.map((v) => v.message).join(' | ')}`,
    );
  });
});
