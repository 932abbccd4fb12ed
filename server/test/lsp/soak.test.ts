/**
 * A bounded soak of the language server over stdio (issue 7): 300 rapid edits of one config, valid and invalid
 * text in turn, changing P, widths and heads, with pauses that let analyses start so that later edits supersede
 * them while they run. The server must stay alive, its resident memory (with its job processes) stay bounded,
 * every analysis progress must end, and the final diagnostics must be those of the final text (the same as a
 * fresh server's on that text alone).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { serverOnFixture } from './fixture';
import { LspSession } from '../helpers/lspSession';
import { descendantsOf, rssBytes, treeRssBytes } from '../helpers/procs';
import { Random } from '../../src/util/random';
import { soakText, writeSoakData } from '../helpers/soak';

const EDITS = 300;
const MB = 2 ** 20;

const FINAL = 'task: markov\nP: 30\nP_test: 50\nwidths: 17\ntemperature: 0.013\n';

describe('language-server soak', () => {
  const f = serverOnFixture({ settings: { confirmAboveSeconds: 1e9 } });

  test(`${EDITS} rapid edits, valid and invalid in turn, superseding running analyses: alive, bounded memory, final diagnostics of the final text`, async (t) => {
    writeSoakData(path.join(f.dir, 'soak.npz'));
    const file = path.join(f.dir, 'soak.attention.yaml');
    writeFileSync(file, FINAL);
    const uri = await f.s.open(
      file,
      'yaml',
      soakText(0, () => 0.3),
    );
    const rng = new Random(11);
    const rnd = () => rng.uniform();
    const startRss = rssBytes(f.s.pid);
    let peakTree = treeRssBytes(f.s.pid);
    const sampler = setInterval(() => (peakTree = Math.max(peakTree, treeRssBytes(f.s.pid))), 100);
    const jobPids = new Set<number>();
    let version = 1;
    try {
      for (let i = 1; i <= EDITS; i++) {
        await f.s.change(uri, ++version, soakText(i, rnd));
        for (const d of descendantsOf(f.s.pid)) jobPids.add(d);
        // Every tenth valid text stays long enough (past the 300 ms pause) for its analysis to start.
        const pause = i % 20 === 0 ? 350 + rnd() * 900 : 5 + rnd() * 20;
        await new Promise((r) => setTimeout(r, pause));
        assert.equal(f.s.alive, true, `the server died after edit ${i}`);
      }
      const since = f.s.results.length;
      await f.s.change(uri, ++version, FINAL);
      // A result of an earlier text may still be on its way (sent before the server saw the final edit): only a
      // result published for the final version counts. One of that version carrying other widths would be a bug.
      const r = await f.s.waitForState(uri, ['done', 'error'], since, 180_000, version);
      assert.equal(r.state, 'done', r.error);
      assert.deepEqual(r.summary?.widths, [17, 17, 17]);
      assert.equal(r.summary?.temperature, 0.013);
    } finally {
      clearInterval(sampler);
    }
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(f.s.alive, true);
    // Every analysis that began ended (none left hanging in the editor's progress).
    const notes = f.s.progress as Array<{ token: string | number; value: { kind: string } }>;
    const begun = new Set(notes.filter((n) => n.value.kind === 'begin').map((n) => n.token));
    const ended = new Set(notes.filter((n) => n.value.kind === 'end').map((n) => n.token));
    assert.ok(begun.size >= 10, `only ${begun.size} analyses started during the soak`);
    assert.deepEqual(
      [...begun].filter((t) => !ended.has(t)),
      [],
      'progress that never ended',
    );
    // Memory: the server with its job processes stays within 1 GB; the server itself does not grow by more than 150 MB.
    const endRss = rssBytes(f.s.pid);
    t.diagnostic(
      `server RSS ${(startRss / MB).toFixed(0)} → ${(endRss / MB).toFixed(0)} MB, peak with jobs ${(peakTree / MB).toFixed(0)} MB; ${begun.size} analyses begun, ${jobPids.size} job processes`,
    );
    assert.ok(peakTree < 1024 * MB, `peak resident memory of the server and its jobs ${(peakTree / MB).toFixed(0)} MB`);
    assert.ok(endRss - startRss < 150 * MB, `the server grew from ${(startRss / MB).toFixed(0)} MB to ${(endRss / MB).toFixed(0)} MB`);
    // Stale job processes are gone: at most the warm spare is left.
    assert.ok(descendantsOf(f.s.pid).length <= 1, `job processes left: ${descendantsOf(f.s.pid).join(', ')}`);
    assert.ok(jobPids.size >= 5, `only ${jobPids.size} job processes were seen`);

    // The oracle: a fresh server that only ever saw the final text publishes the same diagnostics.
    const fresh = await LspSession.start({ workspace: f.dir, settings: { confirmAboveSeconds: 1e9 } });
    try {
      const other = path.join(f.dir, 'oracle.attention.yaml');
      writeFileSync(other, FINAL);
      const ouri = await fresh.open(other);
      const o = await fresh.waitForState(ouri, ['done', 'error'], 0, 180_000);
      assert.equal(o.state, 'done', o.error);
      assert.deepEqual(f.s.diagnostics.get(uri), fresh.diagnostics.get(ouri));
      assert.deepEqual(o.summary, f.s.results.filter((x) => x.uri === uri).at(-1)?.summary);
    } finally {
      await fresh.stop();
    }
  });
});
