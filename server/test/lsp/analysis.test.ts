/**
 * The language server analysing the fixture config (the Markov task, P = 60, P_test = 200): the numbers it
 * shows (code lens, inlay hints, diagnostics, hover) are the pipeline's own, computed here in-process for
 * comparison; the cache answers identical content; the custom requests (report, sweep, prune) agree with
 * the analysis; the server answers while a long analysis runs.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CodeLens, Hover, InlayHint, MarkupContent } from 'vscode-languageserver';
import { LspSession } from '../helpers/lspSession';
import { copyWorkspace } from './fixture';
import { loadConfig } from '../../src/config/load';
import { analyze } from '../../src/pipeline/analyze';
import type { AnalysisReport } from '../../../shared/report';
import { AnalyzeRequest, PruneRequest, ReportRequest, SweepRequest } from '../../../shared/protocol';
import { assertClose } from '../helpers/close';

/** A report without its wall-clock timings (the only field that differs between two runs). */
function comparable(r: AnalysisReport): Omit<AnalysisReport, 'timings_ms'> {
  const { timings_ms: _t, ...rest } = r;
  void _t;
  return rest;
}

describe('analysis of the fixture config', () => {
  let ws: ReturnType<typeof copyWorkspace>;
  let s: LspSession;
  let uri: string;
  let expected: AnalysisReport;
  before(async () => {
    ws = copyWorkspace();
    const file = path.join(ws.dir, 'markov.attention.yaml');
    [s, expected] = await Promise.all([LspSession.start({ workspace: ws.dir }), analyze(loadConfig(file))]);
    uri = await s.open(file);
    await s.waitForState(uri, ['done', 'error']);
  });
  after(async () => {
    await s.stop();
    ws.cleanup();
  });

  test('the server reports exactly what the pipeline computes', async () => {
    const r = await s.request(ReportRequest, { uri });
    assert.equal(r.state, 'done', r.error);
    assert.deepEqual(comparable(r.report!), comparable(expected));
  });

  test('code lens: predicted accuracy and ε_g at finite width next to the GP limit, with the actions', async () => {
    const lenses = await s.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri } });
    const m = expected.metrics;
    const gp = expected.gp.metrics;
    // The fixture's values (fixed seed): 96.5% vs 85.0%, ε_g 0.5264 vs 0.8022.
    assert.equal(m.acc_mean_predictor, 0.965);
    assert.equal(gp.acc_mean_predictor, 0.85);
    assert.deepEqual(
      lenses.map((l) => [l.range.start.line, l.command?.title, l.command?.command, l.command?.arguments]),
      [
        [0, 'Predicted test accuracy 96.5% (GP limit 85.0%) · ε_g 0.5264 (GP limit 0.8022) at N = 10, T_B = 0.01', 'attentionPaths.showCharts', [uri]],
        [0, 'Show charts', 'attentionPaths.showCharts', [uri]],
        [0, 'Prune heads...', 'attentionPaths.pruneHeads', [uri]],
      ],
    );
  });

  test('inlay hints on each layer of `heads`: score and rank of every head', async () => {
    const byHead = new Map(expected.head_scores_ascending.map((h) => [`${h.layer}.${h.head}`, h.score]));
    // Scores as the hint prints them: two decimals, no leading zero (the ranks follow from the fixture's scores below).
    const short = (l: number, h: number) => byHead.get(`${l}.${h}`)!.toFixed(2).replace(/^0\./, '.');
    const hints = await s.request<InlayHint[]>('textDocument/inlayHint', {
      textDocument: { uri },
      range: { start: { line: 0, character: 0 }, end: { line: 20, character: 0 } },
    });
    // `heads: [2, 2]` is line 4 (0-based); its items end at characters 9 and 12.
    assert.deepEqual(
      hints.map((h) => [h.position.line, h.position.character, h.label]),
      [
        [4, 9, `H0 ${short(0, 0)} #2, H1 ${short(0, 1)} #3`],
        [4, 12, `H0 ${short(1, 0)} #1, H1 ${short(1, 1)} #4`],
      ],
    );
    assertClose([byHead.get('0.0')!, byHead.get('0.1')!, byHead.get('1.0')!, byHead.get('1.1')!], [0.82, 0.613, 1, 0.138], 0, 5e-3, 'head scores');
  });

  test('an information diagnostic on the head below the prunable threshold (0.2), at its layer in `heads`', async () => {
    const d = s.diagnostics.get(uri)!;
    assert.equal(d.length, 1, JSON.stringify(d));
    assert.deepEqual([d[0].severity, d[0].code, d[0].range], [3, 'prunable-head', { start: { line: 4, character: 11 }, end: { line: 4, character: 12 } }]);
    const sil = expected.head_silencing.find((h) => h.layer === 1 && h.head === 1)!;
    assert.equal(
      d[0].message,
      `L1·H1: relevance score 0.14 < 0.2 (rank 4 of 4), a pruning candidate. Silencing it predicts accuracy ${(100 * sil.acc_mean_predictor).toFixed(1)}% (full model 96.5%) and ε_g ${Number(sil.eg_total.toPrecision(4))} (0.5264).`,
    );
  });

  test('a higher threshold from the settings marks more heads', async () => {
    const since = s.results.length;
    await s.setSettings({ prunableScoreThreshold: 0.9 });
    await s.waitFor('three prunable heads', () => (s.diagnostics.get(uri)?.length === 3 ? true : undefined));
    await s.setSettings({});
    await s.waitFor('one prunable head again', () => (s.diagnostics.get(uri)?.length === 1 ? true : undefined));
    assert.ok(s.results.length > since);
  });

  test('code lenses can be switched off in the settings', async () => {
    await s.setSettings({ codeLens: { enabled: false } });
    await s.poll('no code lens', async () =>
      (await s.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri } })).length === 0 ? true : undefined,
    );
    await s.setSettings({});
    await s.poll('the code lenses again', async () =>
      (await s.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri } })).length === 3 ? true : undefined,
    );
  });

  test('hover: schema description on a key; value, quantity and method on a value', async () => {
    const onKey = await s.request<Hover>('textDocument/hover', { textDocument: { uri }, position: { line: 6, character: 3 } });
    const keyText = (onKey.contents as MarkupContent).value;
    assert.match(keyText, /^\*\*temperature\*\* — Bayesian temperature T_B: the variance of the Gaussian likelihood/);
    assert.match(keyText, /Default: `0\.01`/);
    const onHeads = await s.request<Hover>('textDocument/hover', { textDocument: { uri }, position: { line: 4, character: 11 } });
    const headsText = (onHeads.contents as MarkupContent).value;
    // The table first, then what it means, with a link that opens the shipped theory document at section g.
    assert.match(headsText, /^\| rank \| head \| score \|/);
    assert.match(headsText, /\| 4 \| L1·H1 \| 0\.14 \| 93\.5% \| 0\.3664 \|/);
    assert.match(headsText, /Relevance of each head of layer L1 \(\[docs\/theory\.md §g\]\(command:attentionPaths\.openTheory\?%5B%22g%22%5D/);
    const onTask = await s.request<Hover>('textDocument/hover', { textDocument: { uri }, position: { line: 1, character: 8 } });
    const taskText = (onTask.contents as MarkupContent).value;
    assert.match(taskText, /P = 60 training and 200 test sequences/);
    assert.match(taskText, /\| finite width \(N = 10\) \| 96\.5% \| 0\.5264 \|/);
    assert.match(taskText, /\| GP limit \(N → ∞\) \| 85\.0% \| 0\.8022 \|/);
    assert.match(taskText, /converged after \d+ iterations/);
  });

  test('identical content is answered from the cache; a comment edit does not re-run the analysis', async () => {
    const again = await s.request(AnalyzeRequest, { uri });
    assert.equal(again.cached, true);
    assert.deepEqual(comparable(again.report), comparable(expected));
    const text = readFileSync(path.join(ws.dir, 'markov.attention.yaml'), 'utf8');
    const since = s.results.length;
    await s.change(uri, 2, text + '# a comment\n');
    const r = await s.waitForState(uri, ['done'], since);
    assert.equal(
      s.results.slice(since).some((x) => x.state === 'running'),
      false,
      'no worker ran for a comment edit',
    );
    assert.equal(r.summary?.metrics.acc_mean_predictor, expected.metrics.acc_mean_predictor);
  });

  test('a width edit re-runs the solve only: the attention and path features come from the stage cache (and the log says so)', async () => {
    const text = readFileSync(path.join(ws.dir, 'markov.attention.yaml'), 'utf8');
    const logged = s.log.length;
    await s.change(uri, 3, text.replace('widths: 10', 'widths: 30'));
    const reportAt = (N: number) =>
      s.poll(
        `the report at N = ${N}`,
        async () => {
          const r = await s.request(ReportRequest, { uri });
          if (r.state === 'error') throw new Error(r.error);
          return r.state === 'done' && r.report?.settings.widths[0] === N ? r.report : undefined;
        },
        90_000,
      );
    const report = await reportAt(30);
    const other = path.join(ws.dir, 'markov-30.yaml'); // not a config name: the server does not pick it up
    writeFileSync(other, text.replace('widths: 10', 'widths: 30'));
    const fresh = await analyze(loadConfig(other));
    // Exactly what a fresh run computes, without computing the attention again.
    assert.deepEqual(comparable(report), comparable(fresh));
    assert.equal(report.timings_ms.attention, 0);
    assert.ok(
      s.log.slice(logged).some((l) => /reused the attention and path features/.test(l)),
      s.log.slice(logged).join('\n'),
    );
    await s.change(uri, 4, text);
    await reportAt(10);
  });

  test('prune: removing one head predicts what the report says for silencing it, written as a plan', async () => {
    const output = path.join(ws.dir, 'plan.json');
    const r = await s.request(PruneRequest, { uri, heads: [{ layer: 1, head: 1 }], output });
    const sil = expected.head_silencing.find((h) => h.layer === 1 && h.head === 1)!;
    assert.equal(r.wrote, 'plan');
    assertClose(r.predicted!.after.eg_total, sil.eg_total, 1e-12, 0, 'ε_g with head 1.1 removed');
    assert.equal(r.predicted!.after.acc_mean_predictor, sil.acc_mean_predictor);
    assert.deepEqual(r.predicted!.before, expected.metrics);
    assert.equal(r.measured, undefined);
    assert.match(r.notes[0], /^nothing measured: this config has no model to prune/);
    const plan = JSON.parse(readFileSync(output, 'utf8'));
    assert.equal(plan.kind, 'pruning-plan');
    assert.deepEqual(plan.removed, [{ layer: 1, head: 1, score: expected.head_scores_ascending[0].score, rank: 4 }]);
    assert.equal(plan.measured, null);
    // Never replaces a file unless asked.
    await assert.rejects(s.request(PruneRequest, { uri, heads: [{ layer: 0, head: 0 }], output }), /already exists/);
    const two = await s.request(PruneRequest, {
      uri,
      heads: [
        { layer: 1, head: 1 },
        { layer: 0, head: 1 },
      ],
      output,
      overwrite: true,
    });
    assert.notEqual(two.predicted!.after.eg_total, r.predicted!.after.eg_total);
    await assert.rejects(s.request(PruneRequest, { uri, heads: [{ layer: 2, head: 0 }], output, overwrite: true }), /L2·H0 does not exist/);
  });

  test('sweep: at N = 10 the sweep reproduces the analysis; the GP row is the GP limit', async () => {
    const r = await s.request(SweepRequest, { uri, widths: [10, 1000] });
    assert.deepEqual(
      r.sweep.rows.map((x) => x.N),
      [10, 1000],
    );
    assertClose(r.sweep.rows[0].metrics.eg_total, expected.metrics.eg_total, 1e-6, 0, 'ε_g at N = 10');
    assertClose(r.sweep.gp.eg_total, expected.gp.metrics.eg_total, 1e-12, 0, 'GP ε_g');
    const report = await s.request(ReportRequest, { uri });
    assert.deepEqual(report.sweep, r.sweep);
    await assert.rejects(s.request(SweepRequest, { uri, widths: [10, -1] }), /widths must be a non-empty list of widths N from 1 to 1e15/);
  });

  test('sweep: a width below 1 (N = 0.5, as typed into Sweep Width) or above 1e15 is refused before any work', async () => {
    for (const widths of [[0.5], [10, 0.5], [2e15], []]) {
      await assert.rejects(s.request(SweepRequest, { uri, widths }), /widths must be a non-empty list of widths N from 1 to 1e15/, JSON.stringify(widths));
    }
  });

  test('a data file that is missing is reported at `data` and nothing runs', async () => {
    const file = path.join(ws.dir, 'data.attention.yaml');
    writeFileSync(file, 'data: missing.npz\n');
    const u = await s.open(file);
    const d = await s.waitFor('the missing-file diagnostic', () => s.diagnostics.get(u)?.[0]);
    assert.deepEqual([d.range.start.line, d.range.start.character, d.range.end.character], [0, 6, 17]);
    assert.match(d.message, /^data file not found: /);
    assert.equal(existsSync(path.join(ws.dir, 'missing.npz')), false);
  });
});
