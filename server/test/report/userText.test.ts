/**
 * What the editor and the CLI write for people: the one head notation, one-line warnings, how far to trust a
 * prediction on a measured model, inlay hints that show every head within VS Code's per-line limit, and the
 * attention maps a report keeps (with their chart).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { formatCorrelation, headList, headName } from '../../../shared/format';
import { splitWarning } from '../../../shared/format';
import { agreementSentence, measuredAgreement } from '../../../shared/agreement';
import { tensorLabel } from '../../src/report/summary';
import { fitLayerHints, INLAY_LINE_BUDGET, rankedHeads, scoreBar, type RankedHead } from '../../src/lsp/features/heads';
import { attentionMaps, ATTENTION_MAP_BUDGET } from '../../src/pipeline/attentionMaps';
import { attentionCells, attentionMapsSpec } from '../../../shared/charts';
import { renderSvg } from '../../src/report/svg';
import { linkTheory } from '../../src/lsp/features/theoryLinks';
import { fakeModelReport, fakeReport } from './fixture';
import type { LayerAttention } from '../../src/theory/attention';

describe('notation and words', () => {
  test("heads are written L<layer>·H<head>, both 0-based like the CLI's layer:head", () => {
    assert.equal(headName(0, 1), 'L0·H1');
    assert.equal(
      headList([
        { layer: 1, head: 0 },
        { layer: 0, head: 3 },
      ]),
      'L1·H0, L0·H3',
    );
  });

  test('a long tensor name keeps its start and its end, so windows whose inputs differ in the middle stay apart', () => {
    const a = '/encoder/layers.1/norm2/LayerNormalization_output_0';
    const b = '/encoder/layers.3/norm2/LayerNormalization_output_0';
    assert.equal(tensorLabel('/Add_output_0'), '/Add_output_0');
    assert.equal(tensorLabel(a).length, 48);
    assert.notEqual(tensorLabel(a), tensorLabel(b));
    assert.equal(tensorLabel(a), '/encoder/layers.1/norm2/…rNormalization_output_0');
  });

  test('a rank correlation without spread says so, and a value has its sign', () => {
    assert.equal(formatCorrelation(null), 'undefined (no spread)');
    assert.equal(formatCorrelation(-0.456), '−0.46');
    assert.equal(formatCorrelation(0.5), '+0.50');
  });

  test('a warning is its first line in the editor, the rest below; a long one-line warning is cut at its first clause', () => {
    assert.deepEqual(splitWarning('short and plain'), { headline: 'short and plain' });
    assert.deepEqual(splitWarning('headline here\ndetails with /graph/Add_output_0'), {
      headline: 'headline here',
      details: 'details with /graph/Add_output_0',
    });
    const long = `the effect of removing each head could not be measured: ${'x'.repeat(200)}`;
    assert.deepEqual(splitWarning(long), { headline: 'the effect of removing each head could not be measured …', details: long });
  });

  test('theory references become links to the shipped docs/theory.md at their section', () => {
    assert.equal(
      linkTheory('score (docs/theory.md §g) and docs/theory.md §d–e.'),
      'score ([docs/theory.md §g](command:attentionPaths.openTheory?%5B%22g%22%5D "Open docs/theory.md at section g")) and ' +
        '[docs/theory.md §d–e](command:attentionPaths.openTheory?%5B%22d%22%5D "Open docs/theory.md at section d").',
    );
    // The older citation form (reports written before the rewrite) links the same way.
    assert.equal(
      linkTheory('THEORY.md sections c and e'),
      '[docs/theory.md §c and e](command:attentionPaths.openTheory?%5B%22c%22%5D "Open docs/theory.md at section c")',
    );
    assert.equal(
      linkTheory('docs/theory.md §c and §e'),
      '[docs/theory.md §c and §e](command:attentionPaths.openTheory?%5B%22c%22%5D "Open docs/theory.md at section c")',
    );
    assert.equal(linkTheory('a THEORY.md sectional view'), 'a THEORY.md sectional view');
  });
});

describe('how far to trust a prediction on a measured model', () => {
  test('rank correlations of the measured drops with relevance and with the predicted drops, and the full-model gap', () => {
    // Measured drops (full 0.8): L0·H0 0.15, L1·H0 0.08, L1·H1 0.01 (L0·H1 not measured); scores 1, 0.9, 0.21.
    const a = measuredAgreement(fakeModelReport())!;
    assert.equal(a.heads, 3);
    assert.equal(a.spearman_score_vs_measured_drop, 1);
    assert.equal(a.spearman_predicted_vs_measured_drop, 1);
    assert.equal(a.predicted_full, 0.933);
    assert.equal(a.measured_full, 0.8);
    assert.ok(Math.abs(a.gap - (0.8 - 0.933)) < 1e-15);
    // L1·H0 measured at 0.6: drops 0.15, 0.2, 0.01 → ranks (2, 3, 1) against scores (3, 2, 1): ρ = 1 − 6·2/(3·8) = 0.5.
    const r = fakeModelReport();
    r.head_removal_measured!.heads.find((h) => h.layer === 1 && h.head === 0)!.value = 0.6;
    assert.ok(Math.abs(measuredAgreement(r)!.spearman_score_vs_measured_drop! - 0.5) < 1e-12);
    assert.match(
      agreementSentence(r),
      /^Measured 80\.0% against predicted 93\.3% for the full model \(−13\.3 points\); .*relevance score ρ = \+0\.50.*The prediction is the theory's Bayesian network/,
    );
  });

  test('nothing to say without a measurement, or with fewer than 3 measured heads', () => {
    assert.equal(measuredAgreement(fakeReport()), undefined);
    assert.equal(agreementSentence(fakeReport()), '');
    const r = fakeModelReport();
    r.head_removal_measured!.heads = r.head_removal_measured!.heads.slice(0, 2);
    assert.equal(measuredAgreement(r)!.spearman_score_vs_measured_drop, null);
  });
});

describe('inlay hints that fit', () => {
  const heads = (perLayer: number[]): RankedHead[] => {
    const all = perLayer.flatMap((H, l) => Array.from({ length: H }, (_, h) => ({ layer: l, head: h, score: ((l * 7 + h * 3) % 10) / 10 + 0.05 })));
    return [...all].sort((a, b) => b.score - a.score).map((h, i) => ({ ...h, rank: i + 1 }));
  };
  const length = (texts: string[], prefixed: boolean) => texts.join('').length + (prefixed ? 3 * (texts.length - 1) + 1 : texts.length);

  test('every head of every layer is shown, as scores, ranks or bars, within the per-line limit', () => {
    const two = fitLayerHints(rankedHeads(fakeReport()), [0, 1], false);
    assert.deepEqual(two, { detail: 'scores', texts: ['H0 1.00 #1, H1 .27 #3', 'H0 .90 #2, H1 .21 #4'] });
    const four = fitLayerHints(heads([4, 4]), [0, 1], true);
    assert.equal(four.detail, 'ranks');
    assert.equal(four.texts[0].split(' ').length, 5); // "L0" and one rank per head
    const eight = fitLayerHints(heads([8, 8]), [0, 1], true);
    assert.equal(eight.detail, 'bars');
    assert.deepEqual(
      eight.texts.map((t) => [...t.slice(3)].length),
      [8, 8],
    );
    for (const f of [
      [two, false],
      [four, true],
      [eight, true],
    ] as const)
      assert.ok(length(f[0].texts, f[1]) <= INLAY_LINE_BUDGET, f[0].texts.join(' · '));
    assert.deepEqual([0, 0.124, 0.125, 0.5, 0.99, 1].map(scoreBar), ['▁', '▁', '▂', '▅', '█', '█']);
  });
});

describe('attention maps', () => {
  // Two layers (2 and 1 heads), T = 3, 20 test examples; A[p, h, s, t] with columns over keys s summing to 1.
  const layer = (H: number, P: number, T: number, seed: number): LayerAttention => {
    const data = new Float64Array(P * H * T * T);
    for (let b = 0; b < P * H; b++)
      for (let t = 0; t < T; t++) {
        const w = Array.from({ length: T }, (_, s) => 1 + ((b * 5 + s * 3 + t + seed) % 7));
        const sum = w.reduce((x, y) => x + y, 0);
        for (let s = 0; s < T; s++) data[b * T * T + s * T + t] = w[s] / sum;
      }
    return { heads: H, tokens: T, count: P, data };
  };
  const att = [layer(2, 20, 3, 0), layer(1, 20, 3, 1)];
  const y = Array.from({ length: 20 }, (_, i) => (i % 2 ? 1 : -1));

  test('the first 8 test examples, every head, transposed to [query][key] with rows summing to 1 (3 decimals)', () => {
    const m = attentionMaps(att, y, 'theory');
    assert.deepEqual(m.examples, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(m.labels, [-1, 1, -1, 1, -1, 1, -1, 1]);
    assert.deepEqual(
      m.layers.map((l) => [l.layer, l.heads, l.maps.length, l.maps[0].length, l.maps[0][0].length]),
      [
        [0, 2, 8, 2, 9],
        [1, 1, 8, 1, 9],
      ],
    );
    const T = 3;
    const A = att[0].data;
    // Example 5, head 1, query t = 2, key s = 0 is A[5, 1, 0, 2].
    assert.equal(m.layers[0].maps[5][1][2 * T + 0], Math.round(1000 * A[((5 * 2 + 1) * T + 0) * T + 2]) / 1000);
    for (const l of m.layers)
      for (const ex of l.maps) for (const h of ex) for (let t = 0; t < T; t++) assert.ok(Math.abs(h[t * T] + h[t * T + 1] + h[t * T + 2] - 1) <= 0.0015);
  });

  test('fewer examples when H_tot·T² is large; none, with the reason, when one example is over the budget', () => {
    const big = (T: number) => [{ heads: 4, tokens: T, count: 10, data: new Float64Array(10 * 4 * T * T) }];
    assert.equal(attentionMaps(big(48), y, 'captured').examples.length, Math.floor(ATTENTION_MAP_BUDGET / (4 * 48 * 48)));
    const none = attentionMaps(big(130), y, 'captured');
    assert.deepEqual(none.examples, []);
    assert.match(none.omitted!, /one example's maps would hold 67600 numbers \(H_tot·T² = 4·130²\)/);
  });

  test('the chart: one tile per head titled with its name, relevance and rank, one rect per weight', async () => {
    const report = { ...fakeReport(), attention_maps: attentionMaps(att, y, 'theory') };
    report.settings.heads = [2, 1];
    report.head_scores_ascending = [
      { layer: 1, head: 0, score: 0.3 },
      { layer: 0, head: 1, score: 0.6 },
      { layer: 0, head: 0, score: 1 },
    ];
    const cells = attentionCells(report, 5);
    assert.equal(cells.length, 3 * 9);
    assert.deepEqual([...new Set(cells.map((c) => c.tile))], ['L0·H0 · relevance 1.00 (#1)', 'L0·H1 · relevance 0.60 (#2)', 'L1·H0 · relevance 0.30 (#3)']);
    const spec = attentionMapsSpec(report, undefined, { example: 5 }) as { title: { text: string }; vconcat: unknown[] };
    assert.equal(spec.title.text, 'Attention of each head: test example 5 (label +1)');
    assert.equal(spec.vconcat.length, 2);
    const svg = await renderSvg(spec);
    assert.equal((svg.match(/<g class="mark-rect role-mark/g) ?? []).length, 3);
    for (const t of ['L0·H0 · relevance 1.00 (#1)', 'L1·H0 · relevance 0.30 (#3)']) assert.ok(svg.includes(`>${t}<`), t);
    // The cells' weights are the report's, in row-major (query, key) order: rect count per tile is T².
    const rects = svg
      .split('<g class="mark-rect role-mark')
      .slice(1)
      .map((g) => (g.slice(0, g.indexOf('</g>')).match(/<path/g) ?? []).length);
    assert.deepEqual(rects, [9, 9, 9]);
    assert.throws(() => attentionMapsSpec(report, undefined, { example: 8 }), /example 8 is not kept \(the report keeps 8\)/);
  });
});
