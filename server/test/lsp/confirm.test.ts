/**
 * Asking before long work (issue 7): an analysis estimated above `attentionPaths.confirmAboveSeconds` is put to the
 * user with window/showMessageRequest ("… needs about N s and M MB … Run it?", Run / Cancel) before its large work.
 * Cancel leaves the config unanalysed with an information diagnostic that states the cost, and stops the job's
 * process; Run (here through the Analyze request) runs it.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { serverOnFixture } from './fixture';
import { descendantsOf } from '../helpers/procs';
import { AnalyzeRequest } from '../../../shared/protocol';

describe('confirming long analyses', () => {
  const answers = ['Cancel', 'Run'];
  // Threshold 0: every analysis counts as long here.
  const f = serverOnFixture({ settings: { confirmAboveSeconds: 0 }, answer: () => answers.shift() ?? null });

  test('Cancel leaves an information diagnostic with the cost; Run through Analyze runs it', async () => {
    const file = path.join(f.dir, 'ask.attention.yaml');
    writeFileSync(file, 'task: markov\nP: 20\nP_test: 40\nwidths: 10\n');
    const uri = await f.s.open(file);
    const r = await f.s.waitForState(uri, ['cancelled', 'done', 'error'], 0, 120_000);
    assert.equal(r.state, 'cancelled');
    assert.equal(f.s.asked.length, 1);
    const q = f.s.asked[0];
    assert.deepEqual(q.actions, ['Run', 'Cancel']);
    assert.match(
      q.message,
      /^Attention Paths: analysing ask\.attention\.yaml needs about \d+ s and \d+ MB \(mostly from [A-Za-z_]+ = [\d[\], ]+\), more than attentionPaths\.confirmAboveSeconds \(0 s\)\. Run it\?$/,
    );
    const d = await f.s.waitFor('the not-analysed note', () => f.s.diagnostics.get(uri)?.find((x) => x.code === 'not-analysed'));
    assert.equal(d.severity, 3, 'information');
    assert.match(
      d.message,
      /^not analysed: it needs about \d+ s and \d+ MB .*; run "Attention Paths: Analyze Model or Config" to start it, or raise attentionPaths\.confirmAboveSeconds$/,
    );
    // The declined job's process is gone (at most the idle spare is left).
    await f.s.poll('the declined job to end', async () => (descendantsOf(f.s.pid).length <= 1 ? true : undefined), 10_000);

    const done = await f.s.request(AnalyzeRequest, { uri });
    assert.equal(done.report.task.P, 20);
    assert.equal(f.s.asked.length, 2);
    assert.equal(f.s.asked[1].answered, 'Run');
    await f.s.waitFor('the note to go', () => (f.s.diagnostics.get(uri)?.some((x) => x.code === 'not-analysed') ? undefined : true));
  });
});
