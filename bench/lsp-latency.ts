/**
 * `npm run bench` (second part): how responsive the language server stays while it analyses.
 *
 * Starts dist/server.js over stdio, measures hover and code-lens request latency when idle, then opens a
 * config whose analysis takes several seconds (the full Markov task: P = 100, P_test = 1000, N = 10) and
 * keeps sending the same requests every 20 ms until the analysis is done. The analysis runs in a job
 * process, so latencies during the analysis should stay near the idle ones.
 * Usage: node dist/lsp-latency.js [task]   (task: markov (default) | mnist-oneshot)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LspSession } from '../server/test/helpers/lspSession';

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function stats(ms: number[]): { n: number; p50: number; p95: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { n: s.length, p50: quantile(s, 0.5), p95: quantile(s, 0.95), max: s[s.length - 1] ?? NaN };
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

async function main() {
  const task = process.argv[2] ?? 'markov';
  const dir = mkdtempSync(path.join(tmpdir(), 'ap-lsp-bench-'));
  const file = path.join(dir, 'long.attention.yaml');
  writeFileSync(file, `task: ${task}\nwidths: 10\ntemperature: 0.01\n`);
  const s = await LspSession.start({ workspace: dir });
  try {
    const uri = await s.open(file);
    const hover = () => s.request('textDocument/hover', { textDocument: { uri }, position: { line: 1, character: 2 } });
    const lens = () => s.request('textDocument/codeLens', { textDocument: { uri } });
    // Idle: before the debounced analysis starts there is nothing running; measure after it, too.
    await s.waitForState(uri, ['running']);
    const running: number[] = [];
    const t0 = performance.now();
    let done = false;
    const finished = s.waitForState(uri, ['done', 'error'], 0, 600_000).then((r) => {
      done = true;
      return r;
    });
    while (!done) {
      running.push(await timed(hover));
      running.push(await timed(lens));
      await new Promise((r) => setTimeout(r, 20));
    }
    const result = await finished;
    const analysisS = (performance.now() - t0) / 1000;
    if (result.state !== 'done') throw new Error(`analysis failed: ${result.error}`);
    const idle: number[] = [];
    for (let i = 0; i < 100; i++) {
      idle.push(await timed(hover));
      idle.push(await timed(lens));
    }
    const a = stats(running);
    const b = stats(idle);
    const f = (x: number) => x.toFixed(2);
    process.stdout.write(
      [
        `LSP request latency (hover + code lens), task ${task}; analysis ran ${analysisS.toFixed(1)} s in a job process`,
        'phase                 requests   p50 ms   p95 ms   max ms',
        `during analysis       ${String(a.n).padStart(8)} ${f(a.p50).padStart(8)} ${f(a.p95).padStart(8)} ${f(a.max).padStart(8)}`,
        `idle                  ${String(b.n).padStart(8)} ${f(b.p50).padStart(8)} ${f(b.p95).padStart(8)} ${f(b.max).padStart(8)}`,
        `result: accuracy ${result.summary?.metrics.acc_mean_predictor} (GP ${result.summary?.gp.acc_mean_predictor})`,
      ].join('\n') + '\n',
    );
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`lsp-latency: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
