import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandSettings } from '../../src/config/expand';

test('single numbers expand to [N_1..N_L, N_a] and [σ0²..σL², σa²]', () => {
  assert.deepEqual(expandSettings({ widths: 10, variances: 1 }, 2, [2, 2]), { widths: [10, 10, 10], variances: [1, 1, 1, 1] });
  assert.deepEqual(expandSettings({ widths: 50, variances: 0.5 }, 1, [4]), { widths: [50, 50], variances: [0.5, 0.5, 0.5] });
});

test('arrays of the right length are copied, not shared', () => {
  const widths = [10, 20, 30];
  const out = expandSettings({ widths, variances: [1, 2, 3, 4] }, 2, [2, 1]);
  assert.deepEqual(out, { widths: [10, 20, 30], variances: [1, 2, 3, 4] });
  assert.notEqual(out.widths, widths);
});

test('wrong lengths throw with the expected layout', () => {
  assert.throws(() => expandSettings({ widths: [10, 10], variances: 1 }, 2, [2, 2]), {
    message: 'widths has 2 entries; with heads [2, 2] (L = 2) expected 3: [N_1, N_2, N_a]',
  });
  assert.throws(() => expandSettings({ widths: 10, variances: [1, 1, 1] }, 2, [2, 2]), {
    message: 'variances has 3 entries; with heads [2, 2] (L = 2) expected 4: [σ0², σ1², σ2², σa²]',
  });
  assert.throws(() => expandSettings({ widths: [1, 2, 3, 4, 5, 6, 7], variances: 1 }, 5, [1, 1, 1, 1, 1]), {
    message: 'widths has 7 entries; with heads [1, 1, 1, 1, 1] (L = 5) expected 6: [N_1, …, N_5, N_a]',
  });
});

test('bad L, heads or values throw', () => {
  assert.throws(() => expandSettings({ widths: 10, variances: 1 }, 0, []), /L \(number of layers\) must be an integer ≥ 1, got 0/);
  assert.throws(() => expandSettings({ widths: 10, variances: 1 }, 2, [2]), /heads \[2\] has 1 entries but L = 2/);
  assert.throws(() => expandSettings({ widths: [10, 0], variances: 1 }, 1, [2]), /widths\[1\] must be a number ≥ 1 \(got 0\)/);
  assert.throws(() => expandSettings({ widths: 10, variances: -1 }, 1, [2]), /variances\[0\] must be a number > 0 \(got -1\)/);
});
