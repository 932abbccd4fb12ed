import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { u1HeatmapSpec, headScoresSpec, sweepSpec, pcOverlapSpec, headRemovalSpec } from '../../../shared/charts';
import { formatNumber, widthLabel } from '../../../shared/format';
import { renderSvg } from '../../src/report/svg';
import { VEGA_LITE_SCHEMA, type VegaLiteSpec } from '../../../shared/theme';
import { fakeModelReport, fakeReport, fakeSweep, U1 } from './fixture';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- chart specs are walked by key path in these tests
type Obj = Record<string, any>;

/** The `<path>`/`<line>` items of the first mark group whose class starts with `mark-<type> role-mark` and contains `name`. */
function markItems(svg: string, type: string, name = ''): string[] {
  const groups = svg.split(`<g class="mark-${type} role-mark`).slice(1);
  const g = groups.find((x) => x.slice(0, x.indexOf('>')).includes(name));
  assert.ok(g, `no mark-${type} group ${name} in the SVG`);
  const body = g.slice(g.indexOf('>') + 1, g.indexOf('</g>'));
  return body.match(/<(path|line)\b[^>]*>/g) ?? [];
}

/** Text of the axis labels (all axes). */
function axisLabels(svg: string): string[] {
  const out: string[] = [];
  for (const part of svg.split('<g class="mark-text role-axis-label"').slice(1)) {
    const body = part.slice(0, part.indexOf('</g>'));
    for (const m of body.matchAll(/<text[^>]*>([^<]*)<\/text>/g)) out.push(m[1]);
  }
  return out;
}

const theme = { foreground: '#cccccc', background: '#1e1e1e', fontFamily: 'Segoe UI' };

describe('u1HeatmapSpec', () => {
  const report = fakeReport();
  const spec = u1HeatmapSpec(report) as Obj;

  test('data values are U₁ cell by cell, row-major, labelled with the path labels', () => {
    const values = spec.data.values as Obj[];
    assert.equal(values.length, 16);
    const labels = ['g', 'a1', 'd', 'a2'];
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        assert.deepEqual(values[i * 4 + j], { row: labels[i], column: labels[j], i, j, value: U1[i][j] });
      }
    }
  });

  test('axes keep path order; colour scale diverges around 0 with domain ±max|U₁|', () => {
    assert.equal(spec.$schema, VEGA_LITE_SCHEMA);
    assert.deepEqual(spec.encoding.x.sort, ['g', 'a1', 'd', 'a2']);
    assert.deepEqual(spec.encoding.y.sort, ['g', 'a1', 'd', 'a2']);
    assert.equal(spec.encoding.color.scale.domainMid, 0);
    assert.deepEqual(spec.encoding.color.scale.domain, [-13.4, 13.4]);
    assert.equal(spec.title.text, 'Order parameter U₁ (N = 10, T_B = 0.01)');
    assert.deepEqual(
      spec.encoding.tooltip.map((t: Obj) => t.field),
      ['row', 'column', 'value'],
    );
    assert.equal(spec.config, undefined, 'no colours without a theme');
  });

  test('unequal widths show as a list in the title; a wrong-shaped U₁ throws', () => {
    const r = fakeReport();
    r.settings.widths = [10, 20, 30];
    r.settings.temperature = 0.25;
    assert.equal((u1HeatmapSpec(r) as Obj).title.text, 'Order parameter U₁ (N = [10, 20, 30], T_B = 0.25)');
    r.U[0] = [
      [1, 2],
      [3, 4],
    ];
    assert.throws(() => u1HeatmapSpec(r), { message: 'u1HeatmapSpec: U_1 must be 4 × 4 (one row and column per path), got 2 × 2' });
  });

  test('renders to an SVG with one rect per cell, in place, and the path labels on both axes', async () => {
    const svg = await renderSvg(spec);
    assert.match(svg, /^<svg /);
    const cells = markItems(svg, 'rect');
    assert.equal(cells.length, 16);
    // The first cell is (π = g, π′ = g) with the largest value: the darkest red, at the origin.
    assert.match(cells[0], /aria-label="path π′: g; path π: g;/);
    assert.match(cells[0], /d="M0,0h48v48h-48Z"/);
    assert.match(cells[2], /aria-label="path π′: d; path π: g; .*−4\.6/);
    assert.deepEqual(axisLabels(svg), ['g', 'a1', 'd', 'a2', 'g', 'a1', 'd', 'a2']);
    assert.ok(svg.includes('Order parameter U₁ (N = 10, T_B = 0.01)'));
  });

  test('a theme sets background, text colour and font', async () => {
    const themed = u1HeatmapSpec(report, theme) as Obj;
    assert.equal(themed.config.background, '#1e1e1e');
    assert.equal(themed.config.axis.labelColor, '#cccccc');
    assert.equal(themed.config.font, 'Segoe UI');
    const svg = await renderSvg(themed);
    assert.match(svg, /<rect width="\d+" height="\d+" fill="#1e1e1e"\/>/);
    assert.ok(svg.includes('fill="#cccccc"'));
    assert.ok(svg.includes('font-family="Segoe UI"'));
  });
});

describe('headScoresSpec', () => {
  const report = fakeReport();
  const spec = headScoresSpec(report) as Obj;

  test('one bar per head, sorted by score (highest first), with the silencing predictions', () => {
    const values = spec.data.values as Obj[];
    assert.deepEqual(
      values.map((v) => [v.label, v.score, v.acc_silenced, v.eg_silenced, v.acc_full]),
      [
        ['L0·H0', 1, 0.61, 0.95, 0.933],
        ['L1·H0', 0.9, 0.7, 0.9, 0.933],
        ['L0·H1', 0.27, 0.93, 0.6, 0.933],
        ['L1·H1', 0.21, 0.931, 0.58, 0.933],
      ],
    );
    assert.deepEqual(
      spec.encoding.y.sort,
      values.map((v) => v.label),
    );
    assert.ok(spec.encoding.tooltip.some((t: Obj) => t.field === 'acc_silenced'));
    assert.match(spec.title.subtitle, /0-based/);
    assert.equal(spec.title.subtitle, 'layer and head 0-based (as in the path labels); predicted accuracy (theory, N = 10) 0.933');
    assert.doesNotMatch(spec.title.subtitle, /full model accuracy/);
  });

  test('with head_removal_measured, the subtitle also gives the measured full-model accuracy', () => {
    const s = (headScoresSpec(fakeModelReport()) as Obj).title.subtitle;
    assert.equal(
      s,
      'layer and head 0-based (as in the path labels); predicted accuracy (theory, N = 10) 0.933; measured full-model accuracy 0.800 (ONNX Runtime, 128 test examples)',
    );
  });

  test('renders one bar per head with the head labels on the axis', async () => {
    const svg = await renderSvg(spec);
    const bars = markItems(svg, 'rect');
    assert.equal(bars.length, 4);
    assert.deepEqual(
      axisLabels(svg).filter((l) => l.startsWith('L')),
      ['L0·H0', 'L1·H0', 'L0·H1', 'L1·H1'],
    );
    // Bar lengths are proportional to the score (x domain [0, 1], width 360).
    const widths = bars.map((b) => Number(/d="M0,[\d.]+h([\d.]+)/.exec(b)?.[1]));
    assert.deepEqual(widths, [360, 324, 97.2, 75.6]);
  });
});

describe('sweepSpec', () => {
  const sweep = fakeSweep();
  const spec = sweepSpec(sweep) as Obj;

  test('two panels (accuracy, ε_g), log N axis, rows sorted by N, GP limit as a dashed rule', () => {
    assert.equal(spec.vconcat.length, 2);
    const [acc, eg] = spec.vconcat as Obj[];
    assert.deepEqual(
      acc.layer[0].data.values.map((v: Obj) => [v.N, v.value, v.alpha, v.converged]),
      [
        [10, 0.933, 10, true],
        [30, 0.924, 100 / 30, true],
        [100, 0.895, 1, true],
        [1000, 0.835, 0.1, false],
      ],
    );
    assert.deepEqual(
      eg.layer[0].data.values.map((v: Obj) => v.value),
      [0.577, 0.62, 0.7, 0.8],
    );
    assert.equal(acc.layer[0].encoding.x.scale.type, 'log');
    assert.deepEqual(acc.layer[0].mark, { type: 'line', point: true });
    assert.equal(acc.layer[1].mark.type, 'rule');
    assert.deepEqual(acc.layer[1].mark.strokeDash, [6, 4]);
    assert.deepEqual(acc.layer[1].data.values, [{ series: 'GP limit', value: 0.829 }]);
    assert.deepEqual(eg.layer[1].data.values, [{ series: 'GP limit', value: 0.792 }]);
  });

  test('renders two lines with 4 points each and two dashed rules', async () => {
    const svg = await renderSvg(spec);
    for (const panel of ['concat_0', 'concat_1']) {
      assert.equal(markItems(svg, 'line', panel).length, 1);
      assert.equal(markItems(svg, 'symbol', panel).length, 4);
      const rules = markItems(svg, 'rule', panel);
      assert.equal(rules.length, 1);
      assert.match(rules[0], /stroke-dasharray="6,4"/);
    }
    assert.ok(svg.includes('accuracy of the mean predictor'));
    assert.ok(svg.includes('generalization error ε_g'));
    assert.ok(axisLabels(svg).includes('1,000'));
  });
});

describe("pcOverlapSpec (the paper's Fig. 2c)", () => {
  const spec = pcOverlapSpec(fakeReport()) as Obj;

  test('one point per PC rank and kernel: cumulative overlap against rank, finite width first', () => {
    const values = spec.data.values as Obj[];
    assert.deepEqual(
      values.map((v) => [v.series, v.rank, v.eigenvalue, v.overlap, v.cumulative]),
      [
        ['finite width (N = 10)', 1, 40, 0.5, 0.5],
        ['finite width (N = 10)', 2, 12, 0.3, 0.8],
        ['finite width (N = 10)', 3, 5, 0.05, 0.85],
        ['finite width (N = 10)', 4, 2, 0.01, 0.86],
        ['GP limit', 1, 20, 0.1, 0.1],
        ['GP limit', 2, 10, 0.2, 0.3],
        ['GP limit', 3, 8, 0.1, 0.4],
        ['GP limit', 4, 6, 0.05, 0.45],
      ],
    );
    assert.equal(spec.encoding.y.field, 'cumulative');
    assert.deepEqual(spec.encoding.y.scale.domain, [0, 1]);
    assert.deepEqual(spec.encoding.x.scale.domain, [1, 4]);
    assert.deepEqual(spec.encoding.color.scale.domain, ['finite width (N = 10)', 'GP limit']);
    assert.match(spec.title.subtitle.join(' '), /first 4 of 100 principal components/);
  });

  test('renders two lines with 4 points each, placed by their cumulative overlap', async () => {
    const svg = await renderSvg(spec);
    // One line mark group per series (vega facets the line by colour), one path each.
    assert.equal(svg.split('<g class="mark-line role-mark').length - 1, 2);
    const points = markItems(svg, 'symbol');
    assert.equal(points.length, 8);
    // y axis [0, 1] over a height of 200: the finite-width curve's first point (0.5) at y = 100, its last (0.86) at 28.
    const ys = points.map((p) => Number(/transform="translate\([\d.]+,([\d.]+)\)"/.exec(p)?.[1]));
    assertCloseList(ys, [100, 40, 30, 28, 180, 140, 120, 110]);
    assert.ok(svg.includes('Overlap of the kernel PCs with the labels'));
  });

  test('a report without the overlap (older versions) is refused with the reason', () => {
    const r = fakeReport();
    delete r.kernel_pc_overlap;
    assert.throws(() => pcOverlapSpec(r), /the report has no kernel_pc_overlap/);
    const bad = fakeReport();
    bad.kernel_pc_overlap!.gp.overlap.pop();
    assert.throws(() => pcOverlapSpec(bad), /GP limit overlap has 3 entries, expected k = 4/);
  });
});

describe('headRemovalSpec', () => {
  test('model config: predicted and measured accuracy per head, most relevant first; a head that could not be masked has no measured point', async () => {
    const spec = headRemovalSpec(fakeModelReport()) as Obj;
    const points = spec.layer[1].data.values as Obj[];
    assert.deepEqual(
      points.map((v) => [v.label, v.series.split(' ')[0], v.value, Number(v.change.toFixed(3))]),
      [
        ['L0·H0', 'predicted', 0.61, -0.323],
        ['L0·H0', 'measured', 0.65, -0.15],
        ['L1·H0', 'predicted', 0.7, -0.233],
        ['L1·H0', 'measured', 0.72, -0.08],
        ['L0·H1', 'predicted', 0.93, -0.003],
        ['L1·H1', 'predicted', 0.931, -0.002],
        ['L1·H1', 'measured', 0.79, -0.01],
      ],
    );
    assert.deepEqual(
      spec.layer[0].data.values.map((r: Obj) => r.full),
      [0.933, 0.8],
    );
    assert.deepEqual(spec.layer[1].encoding.y.sort, ['L0·H0', 'L1·H0', 'L0·H1', 'L1·H1']);
    assert.match(spec.title.subtitle[0], /measured on 128 test examples \(model output 'y'\)/);
    // Where the chart lacks a measured point it says why; then how far to trust the prediction.
    assert.equal(spec.title.subtitle[1], 'not measured: L0·H1 — layer 0: removing all 1 heads would remove the block; keep at least one head');
    assert.equal(spec.title.subtitle[2], 'full model: measured 80.0% vs predicted 93.3% (−13.3 points); Spearman ρ with the measured drop:');
    assert.equal(spec.title.subtitle[3], 'relevance +1.00, predicted accuracy drop +1.00 (3 heads)');
    const svg = await renderSvg(spec);
    assert.equal(markItems(svg, 'symbol').length, 7);
    assert.equal(markItems(svg, 'rule').length, 2);
  });

  test('plain config: only the predicted values, labelled as such', async () => {
    const spec = headRemovalSpec(fakeReport()) as Obj;
    const points = spec.layer[1].data.values as Obj[];
    assert.equal(points.length, 4);
    assert.ok(points.every((p) => p.series === 'predicted (theory: head silenced in U₁)'));
    assert.deepEqual(spec.layer[1].encoding.color.scale.domain, ['predicted (theory: head silenced in U₁)']);
    assert.match(spec.title.subtitle[0], /^predicted only: nothing measured/);
    const svg = await renderSvg(spec);
    assert.equal(markItems(svg, 'symbol').length, 4);
    assert.equal(markItems(svg, 'rule').length, 1);
  });
});

function assertCloseList(a: number[], e: number[]): void {
  assert.equal(a.length, e.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - e[i]) < 0.01, `item ${i}: ${x} vs ${e[i]}`));
}

describe('helpers and renderSvg', () => {
  test('formatNumber and widthLabel', () => {
    assert.equal(formatNumber(0.01), '0.01');
    assert.equal(formatNumber(1e-9), '1e-9');
    assert.equal(formatNumber(12.3456), '12.35');
    assert.equal(widthLabel([50, 50, 50]), 'N = 50');
    assert.equal(widthLabel([10, 20]), 'N = [10, 20]');
  });

  test('renderSvg refuses to load data from a URL', async () => {
    const spec: VegaLiteSpec = {
      $schema: VEGA_LITE_SCHEMA,
      data: { url: 'https://example.com/data.json' },
      mark: 'point',
      encoding: { x: { field: 'a', type: 'quantitative' } },
    };
    const warnings: string[] = [];
    await assert.rejects(
      renderSvg(spec, { onWarning: (m) => warnings.push(m) }),
      /^Error: renderSvg: no network or file access while rendering \(tried to load "https:\/\/example.com\/data.json"\); inline the data as values$/,
    );
    assert.ok(
      warnings.some((w) => w.startsWith('WARN Loading failed https://example.com/data.json')),
      warnings.join('\n'),
    );
  });

  test('the report charts render without vega warnings', async () => {
    const warnings: string[] = [];
    const onWarning = (m: string) => warnings.push(m);
    await renderSvg(u1HeatmapSpec(fakeReport()), { onWarning });
    await renderSvg(headScoresSpec(fakeReport(), theme), { onWarning });
    await renderSvg(sweepSpec(fakeSweep()), { onWarning });
    await renderSvg(pcOverlapSpec(fakeReport(), theme), { onWarning });
    await renderSvg(headRemovalSpec(fakeModelReport(), theme), { onWarning });
    await renderSvg(headRemovalSpec(fakeReport()), { onWarning });
    assert.deepEqual(warnings, []);
  });
});
