/**
 * After a restart of the language server (issue 7: a crash, or the Restart Server command) it restores what the
 * user saw: the diagnostics of the configs that were analysed (from the reports it kept in the storage folder,
 * without analysing again when nothing changed), the `.onnx` model view's relevance, and the reports that charts
 * panels re-request; a config changed while the server was down is analysed again. The job processes of a killed
 * server do not outlive it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { copyWorkspace } from './fixture';
import { LspSession } from '../helpers/lspSession';
import { descendantsOf } from '../helpers/procs';
import { AnalyzeRequest, InspectModelRequest, ReportRequest, type InspectModelResult, type ReportResult } from '../../../shared/protocol';

/** Whether `pid` runs (a zombie waiting to be reaped by init has ended). */
function running(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

interface ProgressNote {
  value: { kind: string; title?: string };
}

describe('restoring after a restart', () => {
  let ws: ReturnType<typeof copyWorkspace>;
  let storage = '';
  before(() => {
    ws = copyWorkspace();
    storage = mkdtempSync(path.join(tmpdir(), 'ap-store-'));
  });
  after(() => {
    ws.cleanup();
    rmSync(storage, { recursive: true, force: true });
  });

  test("a killed server's successor restores diagnostics, relevance and reports, and re-analyses what changed", async () => {
    const markov = path.join(ws.dir, 'markov.attention.yaml');
    const model = path.join(ws.dir, 'model.attention.yaml');
    const small = path.join(ws.dir, 'small.attention.yaml');
    writeFileSync(small, 'task: markov\nP: 20\nP_test: 40\nwidths: 10\n');
    const uris = [markov, model, small].map((p) => pathToFileURL(p).href);
    const onnx = pathToFileURL(path.join(ws.dir, 'models', 'model.onnx')).href;

    // First server: one config analysed while open, two by request (closed), then the model view's relevance.
    const first = await LspSession.start({ workspace: ws.dir, storageDir: storage });
    let before: { diagnostics: unknown[]; reports: ReportResult[]; model: InspectModelResult };
    try {
      const uri = await first.open(markov);
      const r = await first.waitForState(uri, ['done', 'error'], 0, 180_000);
      assert.equal(r.state, 'done', r.error);
      for (const u of uris.slice(1)) await first.request(AnalyzeRequest, { uri: u });
      const model = await first.request(InspectModelRequest, { uri: onnx });
      assert.ok(
        model.heads.some((h) => h.score !== undefined),
        'the model view has relevance',
      );
      before = {
        diagnostics: uris.map((u) => first.diagnostics.get(u)),
        reports: await Promise.all(uris.map((u) => first.request(ReportRequest, { uri: u }))),
        model,
      };
      assert.ok(before.reports.every((x) => x.state === 'done'));
      assert.ok((before.diagnostics[0] as unknown[]).length > 0, 'the markov config has head diagnostics');
      const jobs = descendantsOf(first.pid);
      await first.kill();
      // The job processes (the spare included) leave with their server (their IPC channel closes): none is orphaned.
      let alive = jobs;
      for (let t = 0; t < 100 && alive.length; t++) {
        await new Promise((r) => setTimeout(r, 50));
        alive = alive.filter(running);
      }
      assert.deepEqual(alive, [], 'job processes outlived the killed server');
    } catch (e) {
      await first.kill();
      throw e;
    }

    // While it is down, one config changes on disk.
    writeFileSync(small, 'task: markov\nP: 20\nP_test: 40\nwidths: 12\n');

    const second = await LspSession.start({ workspace: ws.dir, storageDir: storage });
    try {
      const states = await Promise.all(uris.map((u) => second.waitForState(u, ['done', 'error'], 0, 180_000)));
      assert.deepEqual(
        states.map((s) => s.state),
        ['done', 'done', 'done'],
        states.map((s) => s.error).join(' | '),
      );
      // Unchanged configs come back from the stored reports: same diagnostics and reports, no new analysis.
      assert.deepEqual(second.diagnostics.get(uris[0]), before.diagnostics[0]);
      assert.deepEqual(second.diagnostics.get(uris[1]), before.diagnostics[1]);
      const reports = await Promise.all(uris.map((u) => second.request(ReportRequest, { uri: u })));
      assert.deepEqual(reports[0].report, before.reports[0].report);
      assert.deepEqual(reports[1].report, before.reports[1].report);
      const titles = (second.progress as ProgressNote[]).filter((p) => p.value.kind === 'begin').map((p) => p.value.title ?? '');
      assert.deepEqual(titles, ['Attention Paths: Analyzing small.attention.yaml'], 'only the changed config is analysed again');
      // The changed config is analysed anew, with its new width.
      assert.deepEqual(reports[2].report?.settings.widths, [12, 12, 12]);
      // The model view gets its relevance back.
      const model = await second.request(InspectModelRequest, { uri: onnx });
      assert.deepEqual(model.heads, before.model.heads);
      assert.equal(model.analysisConfig, before.model.analysisConfig);
    } finally {
      await second.stop();
    }
  });
});
