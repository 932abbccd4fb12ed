/**
 * The on-disk stage cache (pipeline/stageCache.ts): a hit returns exactly what was computed, a broken entry is
 * recomputed, the folder stays under its size cap (least recently used entries go first), and the key of the
 * attention and path features ignores the solve's settings but not the data or σ0².
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { cachedStage, stageKey } from '../../src/pipeline/stageCache';
import { featureStageKey } from '../../src/pipeline/prepare';
import { loadConfig } from '../../src/config/load';
import { FIXTURE_WORKSPACE } from '../lsp/fixture';

describe('stage cache', () => {
  test('a miss computes and stores; a hit returns the same arrays and metadata without computing', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ap-sc-'));
    try {
      let calls = 0;
      const compute = async () => {
        calls++;
        return { meta: { note: 'x', n: [1, 2] }, arrays: [Float64Array.from([1.5, -0, Math.PI]), new Float64Array(0), Float64Array.from([1e-300])] };
      };
      const a = await cachedStage('t', 'k1', compute, { dir });
      const b = await cachedStage('t', 'k1', compute, { dir });
      assert.deepEqual([a.reused, b.reused, calls], [false, true, 1]);
      assert.deepEqual(b.entry.meta, { note: 'x', n: [1, 2] });
      assert.deepEqual(
        b.entry.arrays.map((x) => Array.from(x)),
        [[1.5, -0, Math.PI], [], [1e-300]],
      );
      assert.ok(Object.is(b.entry.arrays[0][1], -0));
      // A truncated entry is a miss: computed again and stored again.
      writeFileSync(path.join(dir, 't-k1.bin'), Buffer.from([9, 0, 0, 0, 123]));
      const c = await cachedStage('t', 'k1', compute, { dir });
      assert.deepEqual([c.reused, calls], [false, 2]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the folder is kept under its cap, least recently used first; an entry over a quarter of the cap is not stored', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ap-sc-'));
    try {
      const entry = (n: number) => async () => ({ meta: null, arrays: [new Float64Array(n)] });
      const maxBytes = 40_000; // each entry of 1000 doubles is about 8 KB
      for (const k of ['a', 'b', 'c', 'd']) await cachedStage('t', k, entry(1000), { dir, maxBytes });
      await new Promise((r) => setTimeout(r, 20));
      await cachedStage('t', 'a', entry(1000), { dir, maxBytes }); // 'a' used again: now the most recent
      for (const k of ['e', 'f']) await cachedStage('t', k, entry(1000), { dir, maxBytes });
      const names = readdirSync(dir).sort();
      const total = names.reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
      assert.ok(total <= maxBytes, `${total} bytes`);
      assert.ok(names.includes('t-a.bin') && !names.includes('t-b.bin'), names.join());
      const big = await cachedStage('t', 'big', entry(2000), { dir, maxBytes });
      assert.equal(big.reused, false);
      assert.ok(!readdirSync(dir).includes('t-big.bin'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the features key changes with the data, the readout and σ0², not with widths, temperature or the solver', async () => {
    const config = loadConfig(path.join(FIXTURE_WORKSPACE, 'markov.attention.yaml'));
    const key = (c = config, readout: 'first' | 'last' = 'last', s0 = 1) => featureStageKey(c, readout, s0, [2, 2]);
    const base = await key();
    assert.equal(await key({ ...config, widths: [30, 30, 30], temperature: 0.5, solver: { ...config.solver, tolerance: 1e-6 } }), base);
    for (const other of [await key({ ...config, P: 40 }), await key({ ...config, seed: 1 }), await key(config, 'first'), await key(config, 'last', 2)])
      assert.notEqual(other, base);
    assert.equal(stageKey({ b: 1, a: [1, { d: 2, c: 3 }] }), stageKey({ a: [1, { c: 3, d: 2 }], b: 1 }));
  });
});
