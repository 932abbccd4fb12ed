/**
 * The measured effect of removing each head from a real model (pipeline/headRemoval.ts, report field
 * `head_removal_measured`), on the fixture workspace's PyTorch export (2 layers × 4 heads, test-fixtures/workspace/
 * models): every head is measured, the full model's accuracy and the single-head values equal what an independent
 * path — `attention-paths prune` writing a pruned model (fewer heads, not a mask) and measuring it — gives for the
 * same heads, and the analysis only measures when asked.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { analyze } from '../../src/pipeline/analyze';
import { loadConfig } from '../../src/config/load';
import { runPruneJob } from '../../src/pipeline/pruneModel';
import type { AnalysisReport } from '../../../shared/report';
import { FIXTURE_WORKSPACE } from '../lsp/fixture';

describe('measured head removal on an ONNX model', () => {
  const configFile = path.join(FIXTURE_WORKSPACE, 'model.attention.yaml');
  let report: AnalysisReport;
  before(async () => {
    report = await analyze(loadConfig(configFile), { measureHeadRemoval: true });
  });

  it('measures every head of the model on the test split, in report order', () => {
    const m = report.head_removal_measured;
    assert.ok(m, `no measurement; warnings: ${report.warnings.join(' | ')}`);
    assert.equal(m.metric, 'accuracy');
    assert.equal(m.output, 'y');
    assert.equal(m.count, report.task.P_test);
    assert.deepEqual(
      m.heads.map((h) => [h.layer, h.head]),
      report.head_scores_ascending.map((h) => [h.layer, h.head]),
    );
    // Accuracies are counts over the test examples; removing a head changes the model's output.
    for (const h of m.heads) {
      assert.ok(h.value !== null, h.reason);
      assert.equal(Math.round(h.value * m.count), h.value * m.count);
    }
    assert.ok(
      m.heads.some((h) => h.value !== m.full),
      'at least one head changes the accuracy',
    );
    assert.ok(report.timings_ms.head_removal > 0);
  });

  it('agrees with pruning the model: the pruned model of each of two heads measures the same accuracy', async () => {
    const m = report.head_removal_measured!;
    // The most and the least relevant head.
    const picks = [m.heads[m.heads.length - 1], m.heads[0]];
    const dir = mkdtempSync(path.join(tmpdir(), 'ap-removal-'));
    for (const [i, h] of picks.entries()) {
      const s = await runPruneJob({
        model: path.join(FIXTURE_WORKSPACE, 'models', 'model.onnx'),
        out: path.join(dir, `pruned-${i}.onnx`),
        heads: [{ layer: h.layer, head: h.head }],
        config: loadConfig(configFile),
      });
      assert.ok(s.measured, s.notes.join('; '));
      assert.equal(s.measured.before.value, m.full, 'full model');
      assert.equal(s.measured.after.value, h.value, `without layer ${h.layer} · head ${h.head}`);
      assert.equal(s.measured.after.count, m.count);
    }
  });

  it('the predicted values sit next to the measured ones for the same heads; without the option nothing is measured', async () => {
    const sil = report.head_silencing.map((h) => `${h.layer}.${h.head}`).sort();
    assert.deepEqual(report.head_removal_measured!.heads.map((h) => `${h.layer}.${h.head}`).sort(), sil);
    const plain = await analyze(loadConfig(configFile));
    assert.equal(plain.head_removal_measured, undefined);
    assert.equal(plain.timings_ms.head_removal, undefined);
    // The theory's numbers do not depend on the measurement.
    assert.deepEqual(plain.head_silencing, report.head_silencing);
    assert.deepEqual(plain.kernel_pc_overlap, report.kernel_pc_overlap);
  });
});
