/**
 * One rule per quantity: every place a width N is accepted (the config schema, the expanded settings, the CLI's
 * --widths, the editor's Sweep Width box and the server's sweep request) follows shared/width.ts, so N = 0.5 is
 * refused everywhere — the sweep request used to accept any N > 0. (The request itself: server/test/lsp/analysis.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isWidth, isWidthList, MAX_WIDTH, MIN_WIDTH } from '../../../shared/width';
import { parseWidths as clientWidths } from '../../../client/src/text';
import { parseWidths as cliWidths } from '../../src/cli/options';
import { expandSettings } from '../../src/config/expand';
import { parseConfig } from '../../src/config/load';

const SAMPLES = [0.5, 1, 1.5, 10, 1e15, 2e15, 0, -5, NaN, Infinity];

test('the width rule: finite numbers from 1 to 1e15, fractional allowed', () => {
  assert.deepEqual(
    SAMPLES.map((n) => isWidth(n)),
    [false, true, true, true, true, false, false, false, false, false],
  );
  assert.equal(isWidthList([]), false);
  assert.equal(isWidthList([10, 0.5]), false);
  assert.equal(isWidthList([10, 1000]), true);
  assert.deepEqual([MIN_WIDTH, MAX_WIDTH], [1, 1e15]);
});

test('Sweep Width (client), --widths (CLI), expandSettings and the config file agree with it on every sample', () => {
  for (const n of SAMPLES) {
    const ok = isWidth(n);
    assert.equal(clientWidths(String(n)) !== undefined, ok, `Sweep Width ${n}`);
    assert.equal(
      (() => {
        try {
          cliWidths(String(n));
          return true;
        } catch {
          return false;
        }
      })(),
      ok,
      `--widths ${n}`,
    );
    if (Number.isFinite(n)) {
      assert.equal(
        (() => {
          try {
            expandSettings({ widths: n, variances: 1 }, 1, [2]);
            return true;
          } catch {
            return false;
          }
        })(),
        ok,
        `expandSettings ${n}`,
      );
      const r = parseConfig(`task: markov\nwidths: ${n}\n`, 'w.attention.yaml');
      assert.equal(!r.issues.some((i) => i.severity === 'error' && i.pointer.startsWith('/widths')), ok, `config widths: ${n}`);
    }
  }
});

test('Sweep Width refuses N = 0.5 before anything is sent', () => {
  assert.equal(clientWidths('0.5'), undefined);
  assert.equal(clientWidths('10, 0.5'), undefined);
  assert.deepEqual(clientWidths('10, 30,100'), [10, 30, 100]);
});
