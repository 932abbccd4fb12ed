/**
 * An edit that changes the config makes the analysis on record stale at once (the CI soak's failure: the first
 * result published for the final text was 'done' with the previous text's widths, because the edit republished
 * the old report under the new version until the typing pause ran out). Every result the server publishes for
 * a version must be of that version's config; an edit of a comment only keeps the analysis.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { serverOnFixture } from './fixture';

const text = (widths: number, comment = '') => `${comment}task: markov\nP: 30\nP_test: 50\nwidths: ${widths}\ntemperature: 0.013\n`;

describe('results after an edit', () => {
  const f = serverOnFixture({ settings: { confirmAboveSeconds: 1e9 } });

  test('a changed config is never shown with the previous analysis; a comment edit keeps it', async () => {
    const file = path.join(f.dir, 'stale.attention.yaml');
    writeFileSync(file, text(17));
    const uri = await f.s.open(file, 'yaml', text(17));
    const first = await f.s.waitForState(uri, ['done', 'error'], 0, 120_000, 1);
    assert.equal(first.state, 'done', first.error);
    assert.deepEqual(first.summary?.widths, [17, 17, 17]);

    let since = f.s.results.length;
    await f.s.change(uri, 2, text(21));
    const second = await f.s.waitForState(uri, ['done', 'error'], since, 120_000, 2);
    assert.equal(second.state, 'done', second.error);
    assert.deepEqual(second.summary?.widths, [21, 21, 21]);
    const ofVersion2 = f.s.results.slice(since).filter((r) => r.uri === uri && r.version === 2);
    assert.notEqual(ofVersion2[0]?.state, 'done', 'the first result of the edited text was already done');
    for (const r of ofVersion2.filter((r) => r.state === 'done')) assert.deepEqual(r.summary?.widths, [21, 21, 21]);

    since = f.s.results.length;
    await f.s.change(uri, 3, text(21, '# only a comment\n'));
    const third = await f.s.waitFor('the result of version 3', () => f.s.results.slice(since).find((r) => r.uri === uri && r.version === 3));
    assert.equal(third.state, 'done');
    assert.deepEqual(third.summary?.widths, [21, 21, 21]);
  });
});
