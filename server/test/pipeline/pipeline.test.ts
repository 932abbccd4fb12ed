/**
 * The pipeline from config to report on the built-in tasks: the MNIST one-shot task runs on the real
 * digits, the 2-path Markov variant finds its two paths, heads in the config are checked against the
 * attention, and numerical trouble is an error, never a number.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../../src/pipeline/analyze';
import { defaultConfig } from '../../src/config/defaults';
import type { AnalysisConfig } from '../../src/config/types';
import { writeNpz } from '../../src/data/npz';

const base = (over: Partial<AnalysisConfig>): AnalysisConfig => ({ ...defaultConfig(), ...over });

describe('analyze on the MNIST one-shot task', () => {
  it('runs on the real digits with seeded random Q/K and reports every quantity', async () => {
    const r = await analyze(base({ task: 'mnist-oneshot', P: 80, P_test: 120, heads: [2, 2], temperature: 0.1, readout: undefined }));
    assert.equal(r.task.name, 'mnist-oneshot');
    assert.deepEqual([r.task.P, r.task.P_test, r.task.N0, r.task.T], [80, 120, 83, 48]);
    assert.equal(r.settings.readout, 'mean');
    assert.equal(r.paths.length, 4);
    assert.ok(r.solver.converged, r.solver.stop_reason);
    assert.equal(r.head_scores_ascending.length, 4);
    assert.equal(r.head_scores_ascending[3].score, 1);
    for (const m of [r.metrics, r.gp.metrics]) {
      for (const v of Object.values(m)) assert.ok(Number.isFinite(v));
      assert.ok(m.acc_mean_predictor >= 0 && m.acc_mean_predictor <= 1);
    }
    assert.ok(r.predictor_var_test.every((v) => v >= -1e-12));
    for (const m of [r.metrics, r.gp.metrics]) assert.ok(Math.abs(m.eg_total - m.eg_bias - m.eg_variance) < 1e-12);
    // The order parameter moved away from its GP value (finite width matters at N = 10).
    const offGp = r.U[0].flat().map((v, i) => Math.abs(v - (i % 5 === 0 ? r.gp.scale : 0)));
    assert.ok(Math.max(...offGp) > 1e-3);
  });
});

describe('analyze on the 2-path Markov variant', () => {
  it('has heads [2, 1], paths g and d, and up-weights g', async () => {
    const r = await analyze(base({ task: 'markov-2paths', P: 60, P_test: 200 }));
    assert.deepEqual(r.settings.heads, [2, 1]);
    assert.deepEqual(
      r.paths.map((p) => p.label),
      ['g', 'd'],
    );
    assert.ok(r.U[0][0][0] > r.U[0][1][1], JSON.stringify(r.U[0]));
  });
});

describe("kernel PCs versus the labels on the 4-path Markov task (the paper's Fig. 2c)", () => {
  it('the finite-width kernel puts most of y into a few leading PCs; the GP kernel spreads it', async () => {
    const r = await analyze(base({ task: 'markov', P: 60, P_test: 200 }));
    const o = r.kernel_pc_overlap!;
    assert.deepEqual([o.k, o.P, o.finite.overlap.length, o.gp.overlap.length], [30, 60, 30, 30]);
    assert.equal(o.finite.method, 'dense');
    for (const s of [o.finite, o.gp]) {
      assert.ok(s.cumulative[29] <= 1 + 1e-12);
      assert.ok(s.max_relative_residual < 1e-12);
      for (let i = 1; i < 30; i++) assert.ok(s.eigenvalues[i] <= s.eigenvalues[i - 1]);
    }
    // docs/theory.md §i: U₁ up-weights the good and denoising paths, so the top kernel directions carry the task.
    assert.ok(o.finite.cumulative[4] > 0.7, `finite width, 5 PCs: ${o.finite.cumulative[4]}`);
    assert.ok(o.gp.cumulative[4] < 0.3, `GP, 5 PCs: ${o.gp.cumulative[4]}`);
    assert.ok(o.finite.cumulative[29] > o.gp.cumulative[29]);
    assert.ok(r.timings_ms.kernel_pcs >= 0);
  });
});

describe('config and attention disagreements', () => {
  it('heads in the config must match the attention', async () => {
    await assert.rejects(analyze(base({ task: 'markov', heads: [2, 3] })), /heads: the config says \[2, 3\] but the attention has \[2, 2\]/);
  });
  it('widths with the wrong number of entries name the expected layout', async () => {
    await assert.rejects(analyze(base({ task: 'markov', widths: [10, 10] })), /widths has 2 entries; with heads \[2, 2\] \(L = 2\) expected 3/);
  });
  it('NaN in the attention parameters is refused before any numerics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-pipe-'));
    const N0 = 3;
    const T = 2;
    const X = { shape: [4, N0, T], data: Array.from({ length: 4 * N0 * T }, (_, i) => Math.sin(i)) };
    const y = { shape: [4], data: [1, -1, 1, -1] };
    writeNpz(join(dir, 'd.npz'), { X_train: X, y_train: y, X_test: X, y_test: y });
    const W = Array.from({ length: N0 * N0 }, () => 0.1);
    W[4] = NaN;
    writeNpz(join(dir, 'w.npz'), { W_1: { shape: [1, N0, N0], data: W } });
    await assert.rejects(analyze(base({ task: undefined, data: join(dir, 'd.npz'), attention: { kind: 'w', params: join(dir, 'w.npz') } })), /W_1.*NaN/);
  });
});

describe('numerical trouble is reported, never shown as a number', () => {
  it('a singular training kernel (rank-deficient K, T_B ≈ 0) names the matrix and the pivot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-pipe-'));
    // 12 examples but features of rank 1: K_U has rank ≤ 1, so K + T_B I is singular to rounding.
    const N0 = 2;
    const T = 2;
    const P = 12;
    const X = { shape: [P, N0, T], data: Array.from({ length: P * N0 * T }, (_, i) => (i % (N0 * T) === 0 ? 1 + Math.floor(i / (N0 * T)) : 0)) };
    const y = { shape: [P], data: Array.from({ length: P }, (_, i) => (i % 2 ? 1 : -1)) };
    writeNpz(join(dir, 'd.npz'), { X_train: X, y_train: y, X_test: X, y_test: y });
    writeNpz(join(dir, 'w.npz'), { W_1: { shape: [1, N0, N0], data: [0, 0, 0, 0] } });
    await assert.rejects(
      analyze(base({ task: undefined, data: join(dir, 'd.npz'), attention: { kind: 'w', params: join(dir, 'w.npz') }, temperature: 1e-300 })),
      // sample space: the Cholesky pivot; feature space (chosen here, P = 12 > D = 2): the rounding level of T_B
      /K_U \+ T_B·I \(the 12×12 training kernel\) is (not positive definite: pivot \d+|numerically singular: T_B = 1e-300)/,
    );
    for (const space of ['sample', 'feature'] as const) {
      await assert.rejects(
        analyze(
          base({
            task: undefined,
            data: join(dir, 'd.npz'),
            attention: { kind: 'w', params: join(dir, 'w.npz') },
            temperature: 1e-300,
            solver: { ...defaultConfig().solver, space },
          }),
        ),
        space === 'sample' ? /training kernel\) is not positive definite: pivot \d+/ : /training kernel\) is numerically singular/,
        space,
      );
    }
  });
});

describe('progress during the attention stage', () => {
  // Found by a newcomer's run: at P = 3000 the attention stage ran ~10 s after one message; it now reports each layer.
  it('reports every computed layer of the training and the test examples', async () => {
    const messages: string[] = [];
    const config: AnalysisConfig = { ...defaultConfig(), P: 40, P_test: 200 };
    const { prepare } = await import('../../src/pipeline/prepare');
    await prepare(config, (stage, message) => {
      if (stage === 'attention') messages.push(message);
    });
    assert.deepEqual(messages.slice(1), [
      'computing attention: layer 1 of 2, 40 training examples',
      'computing attention: layer 2 of 2, 40 training examples',
      'computing attention: layer 1 of 2, 200 test examples',
      'computing attention: layer 2 of 2, 200 test examples',
    ]);
  });
});
