/**
 * An unconverged solve is never shown as a result without saying so: with solver.maxIterations 3 on a
 * many-path data config (64 paths, Newton–CG) the JSON report's first warning, the text summary, the code
 * lens headline, the hover and every chart title flag it; the converged solve of the same config flags nothing.
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
import { Random } from '../../src/util/random';
import { formatAnalysis } from '../../src/report/summary';
import { headline } from '../../src/lsp/features/codeLens';
import { headRemovalSpec, headScoresSpec, pcOverlapSpec, u1HeatmapSpec } from '../../../shared/charts';
import { configHover } from '../../src/lsp/features/hover';
import { ConfigOutline } from '../../src/config/outline';
import { parseConfig } from '../../src/config/load';
import type { ConfigDoc } from '../../src/lsp/documents/configs';
import type { AnalysisReport } from '../../../shared/report';

/** The hover text on the value of `temperature: 0.02` in a config analysed into `report`. */
function temperatureHover(report: AnalysisReport): string {
  const text = 'temperature: 0.02\n';
  const doc = {
    uri: 'file:///x.attention.yaml',
    path: '/x.attention.yaml',
    version: 1,
    open: true,
    text,
    outline: new ConfigOutline(text),
    parsed: parseConfig(text, '/x.attention.yaml'),
    state: 'done',
    report,
  };
  const h = configHover(doc as unknown as ConfigDoc, 0, 14);
  return (h!.contents as { value: string }).value;
}

function manyPathConfig(maxIterations: number): AnalysisConfig {
  const dir = mkdtempSync(join(tmpdir(), 'ap-unconv-'));
  const rng = new Random(5);
  const [P, Pt, N0, T] = [24, 10, 6, 6];
  const X = (n: number) => ({ shape: [n, N0, T], data: Array.from(rng.normals(n * N0 * T)) });
  const y = (n: number) => ({ shape: [n], data: Array.from({ length: n }, (_, i) => (i % 2 ? 1 : -1)) });
  writeNpz(join(dir, 'd.npz'), { X_train: X(P), y_train: y(P), X_test: X(Pt), y_test: y(Pt) });
  return {
    ...defaultConfig(),
    task: undefined,
    data: join(dir, 'd.npz'),
    heads: [4, 4, 4],
    widths: 8,
    temperature: 0.02,
    solver: { tolerance: 1e-9, maxIterations },
  };
}

describe('an unconverged solve is flagged on every surface', () => {
  it('maxIterations 3: JSON warning first, summary, code lens, charts', async () => {
    const r = await analyze(manyPathConfig(3));
    assert.equal(r.solver.converged, false);
    assert.match(r.solver.method, /Newton–CG/);
    assert.equal(r.solver.iterations, 3);
    const grad = r.solver.max_abs_grad_normalized.toExponential(1);
    // JSON: solver.converged false and a top-level warning, listed first
    assert.match(r.warnings[0], new RegExp(`^solver did not converge \\(max\\|∇\\| ${grad.replace('+', '\\+')} > 1e-9\\): Newton iteration limit 3 reached`));
    const json = JSON.parse(JSON.stringify(r));
    assert.equal(json.solver.converged, false);
    assert.ok(typeof json.solver.cg_iterations === 'number' && json.solver.newton_steps <= 3);
    // summary: a line under the header, before any number, and the solver line
    const text = formatAnalysis(r).split('\n');
    assert.match(text[3], /^ {2}SOLVER NOT CONVERGED \(MAX\|∇\| .* > 1E-9\): Newton iteration limit 3 reached/);
    assert.ok(text.some((l) => /^Solver: .*NOT converged after 3 iterations/.test(l)));
    // code lens
    assert.match(headline(r), new RegExp(` · not converged \\(max\\|∇\\| ${grad.replace('+', '\\+')} > 1e-9\\)$`));
    // hover on a value
    assert.match(temperatureHover(r), /\*\*Solver not converged \(max\|∇\| .* > 1e-9\)\*\*: the values below are at the last iterate/);
    // charts
    for (const spec of [u1HeatmapSpec(r), headScoresSpec(r), pcOverlapSpec(r), headRemovalSpec(r)]) {
      assert.match((spec.title as { text: string }).text, / — NOT CONVERGED \(MAX\|∇\| .* > 1E-9\)$/);
    }
  });

  it('the converged solve of the same config flags nothing', async () => {
    const r = await analyze(manyPathConfig(500));
    assert.ok(r.solver.converged, r.solver.stop_reason);
    assert.ok(r.solver.max_abs_grad_normalized < 1e-9);
    assert.ok(!r.warnings.some((w) => /converge/.test(w)));
    assert.ok(!/not converged/i.test(formatAnalysis(r)));
    assert.ok(!/converged \(/.test(headline(r)));
    assert.ok(!/not converged/.test(temperatureHover(r)));
    assert.ok(!/CONVERGED/.test((u1HeatmapSpec(r).title as { text: string }).text));
  });
});
