/**
 * `npm run bench` (third part): cancellation latency and a long soak of the language server (issue 7).
 *
 * 1. Cancellation latency, `repeats` times each: an automatic analysis of the Markov task (P = 600, P_test = 300)
 *    is cancelled through its work-done progress (the editor's Cancel) once it is at work; measured: from the
 *    cancel notification to the job process being gone from the server's children (reaped), and to the
 *    `cancelled` state notification. The same for an edit that supersedes the running analysis.
 * 2. Soak: `edits` rapid edits of one config (server/test/helpers/soak.ts: valid and invalid in turn, changing P,
 *    widths and heads, a pause past the typing debounce every 20th edit so analyses start and are superseded);
 *    resident memory of the server alone and with its job processes (start, peak, end), crashes (the server is
 *    restarted after one and the count goes on), analyses begun, and job processes seen.
 * Usage: node dist/lspSoak.js [edits=1000] [repeats=10]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LspSession } from '../server/test/helpers/lspSession';
import { busiestDescendant, descendantsOf, rssBytes, treeRssBytes, waitGone } from '../server/test/helpers/procs';
import { soakText, writeSoakData } from '../server/test/helpers/soak';
import { Random } from '../server/src/util/random';

const MB = 2 ** 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Note {
  token: string | number;
  value: { kind: string; title?: string; message?: string };
}

function summary(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)].toFixed(0)} ms, max ${s[s.length - 1].toFixed(0)} ms (n = ${s.length})`;
}

/** Opens a long analysis and waits until it reports real work; returns its progress token and job process id. */
async function startLong(s: LspSession, dir: string, seed: number): Promise<{ uri: string; token: string | number; pid: number }> {
  const file = path.join(dir, `long-${seed}.attention.yaml`);
  writeFileSync(file, `task: markov\nP: 600\nP_test: 300\nwidths: 10\nseed: ${seed}\n`);
  const since = s.progress.length;
  const uri = await s.open(file);
  const token = await s.waitFor(
    'the analysis at work',
    () => {
      const notes = s.progress.slice(since) as Note[];
      const begin = notes.find((n) => n.value.kind === 'begin' && n.value.title?.includes(path.basename(file)));
      return begin && notes.some((n) => n.token === begin.token && /^(computing attention|computing path features|solving)\b/.test(n.value.message ?? ''))
        ? begin.token
        : undefined;
    },
    600_000,
  );
  await sleep(200);
  const pid = busiestDescendant(s.pid);
  if (!pid) throw new Error('no job process');
  return { uri, token, pid };
}

async function cancellation(repeats: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ap-cancel-bench-'));
  const s = await LspSession.start({ workspace: dir, settings: { confirmAboveSeconds: 1e9 } });
  const viaProgress: number[] = [];
  const toState: number[] = [];
  const viaEdit: number[] = [];
  try {
    for (let i = 0; i < repeats; i++) {
      const a = await startLong(s, dir, 100 + i);
      const results = s.results.length;
      const t0 = performance.now();
      await s.conn.sendNotification('window/workDoneProgress/cancel', { token: a.token });
      const stateSeen = s.waitForState(a.uri, ['cancelled'], results, 10_000).then(() => performance.now() - t0);
      viaProgress.push(await waitGone(s.pid, a.pid, 10_000, true));
      toState.push(await stateSeen);
      const b = await startLong(s, dir, 200 + i);
      await s.change(b.uri, 2, 'task: markov\nP: 20\nP_test: 20\n');
      viaEdit.push(await waitGone(s.pid, b.pid, 10_000, true));
    }
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('\nCancellation latency (automatic analysis, Markov P = 600, cancelled at work)\n');
  console.log('| request | until | figures |');
  console.log('|---|---|---|');
  console.log(`| Cancel on the progress | job process gone | ${summary(viaProgress)} |`);
  console.log(`| Cancel on the progress | \`cancelled\` state notified | ${summary(toState)} |`);
  console.log(`| an edit changing the config | stale job process gone | ${summary(viaEdit)} |`);
}

async function soak(edits: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ap-soak-bench-'));
  writeSoakData(path.join(dir, 'soak.npz'));
  const file = path.join(dir, 'soak.attention.yaml');
  writeFileSync(
    file,
    soakText(0, () => 0.3),
  );
  const rng = new Random(11);
  const rnd = () => rng.uniform();
  let s = await LspSession.start({ workspace: dir, settings: { confirmAboveSeconds: 1e9 } });
  let uri = await s.open(file);
  let crashes = 0;
  const start = { server: rssBytes(s.pid), tree: treeRssBytes(s.pid) };
  const peak = { ...start };
  const sample = () => {
    peak.server = Math.max(peak.server, rssBytes(s.pid));
    peak.tree = Math.max(peak.tree, treeRssBytes(s.pid));
  };
  const sampler = setInterval(sample, 100);
  const jobs = new Set<number>();
  let begun = 0;
  const t0 = performance.now();
  try {
    let version = 1;
    for (let i = 1; i <= edits; i++) {
      if (!s.alive) {
        crashes++;
        begun += new Set((s.progress as Note[]).filter((n) => n.value.kind === 'begin').map((n) => n.token)).size;
        s = await LspSession.start({ workspace: dir, settings: { confirmAboveSeconds: 1e9 } });
        uri = await s.open(file);
        version = 1;
      }
      await s.change(uri, ++version, soakText(i, rnd)).catch(() => undefined);
      for (const d of descendantsOf(s.pid)) jobs.add(d);
      await sleep(i % 20 === 0 ? 350 + rnd() * 900 : 5 + rnd() * 20);
    }
    const since = s.results.length;
    await s.change(uri, ++version, 'task: markov\nP: 30\nP_test: 50\nwidths: 17\n');
    await s.waitForState(uri, ['done', 'error'], since, 600_000);
    await sleep(1000);
    sample();
  } finally {
    clearInterval(sampler);
  }
  const end = { server: rssBytes(s.pid), tree: treeRssBytes(s.pid) };
  begun += new Set((s.progress as Note[]).filter((n) => n.value.kind === 'begin').map((n) => n.token)).size;
  const seconds = (performance.now() - t0) / 1000;
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
  const mb = (b: number) => `${(b / MB).toFixed(0)} MB`;
  console.log(`\nSoak: ${edits} edits in ${seconds.toFixed(0)} s, ${begun} analyses begun, ${jobs.size} job processes, ${crashes} server crash(es)\n`);
  console.log('| resident memory | start | peak | end |');
  console.log('|---|---|---|---|');
  console.log(`| server | ${mb(start.server)} | ${mb(peak.server)} | ${mb(end.server)} |`);
  console.log(`| server + job processes | ${mb(start.tree)} | ${mb(peak.tree)} | ${mb(end.tree)} |`);
}

async function main() {
  const edits = Number(process.argv[2] ?? 1000);
  const repeats = Number(process.argv[3] ?? 10);
  await cancellation(repeats);
  await soak(edits);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
