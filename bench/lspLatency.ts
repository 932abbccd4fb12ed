/**
 * `npm run bench` (second part): how responsive the language server stays while it analyses.
 *
 * Starts dist/server.js over stdio, measures hover, code-lens and inlay-hint request latency when idle, then opens a
 * config whose analysis takes several seconds (the full Markov task: P = 100, P_test = 1000, N = 10) and
 * keeps sending the same requests every 20 ms until the analysis is done. The analysis runs in a job
 * process, so latencies during the analysis should stay near the idle ones.
 * Usage: node dist/lspLatency.js [task]   (task: markov (default) | mnist-oneshot | large | p20000; the last two
 * write a data file of the bench's synthetic shapes — P 2000, N0 200, T 32, heads [4, 4] (sample space) and
 * P 20,000, N0 50, T 8, heads [2, 2] (feature space) — and analyse it with random Q/K)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LspSession } from '../server/test/helpers/lspSession';
import { writeNpz } from '../server/src/data/npz';
import { Random } from '../server/src/util/random';

/** The bench's synthetic shapes (bench/bench.ts), for analyses that run long in the language server. */
const SYNTHETIC: Record<string, { P: number; Pt: number; N0: number; T: number; heads: number[] }> = {
  large: { P: 2000, Pt: 1000, N0: 200, T: 32, heads: [4, 4] },
  p20000: { P: 20000, Pt: 2000, N0: 50, T: 8, heads: [2, 2] },
};

function writeSyntheticConfig(dir: string, file: string, name: string): void {
  const { P, Pt, N0, T, heads } = SYNTHETIC[name];
  const rng = new Random(5);
  const X = (n: number) => ({ shape: [n, N0, T], data: rng.normals(n * N0 * T) });
  // labels from the first feature of the mean token: learnable without learned attention
  const y = (x: { data: Float64Array }, n: number) => ({
    shape: [n],
    data: Float64Array.from({ length: n }, (_, m) => {
      let s = 0;
      for (let t = 0; t < T; t++) s += x.data[m * N0 * T + t];
      return s >= 0 ? 1 : -1;
    }),
  });
  const Xtr = X(P);
  const Xte = X(Pt);
  writeNpz(path.join(dir, 'data.npz'), { X_train: Xtr, X_test: Xte, y_train: y(Xtr, P), y_test: y(Xte, Pt) });
  writeFileSync(file, `data: data.npz\nattention: { kind: random-qk }\nheads: [${heads.join(', ')}]\nwidths: 100\nreadout: mean\ntemperature: 0.01\n`);
}

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function stats(ms: number[]): { n: number; p50: number; p95: number; p99: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { n: s.length, p50: quantile(s, 0.5), p95: quantile(s, 0.95), p99: quantile(s, 0.99), max: s[s.length - 1] ?? NaN };
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
  if (SYNTHETIC[task]) writeSyntheticConfig(dir, file, task);
  else writeFileSync(file, `task: ${task}\nwidths: 10\ntemperature: 0.01\n`);
  const s = await LspSession.start({ workspace: dir });
  try {
    const uri = await s.open(file);
    const hover = () => s.request('textDocument/hover', { textDocument: { uri }, position: { line: 1, character: 2 } });
    const lens = () => s.request('textDocument/codeLens', { textDocument: { uri } });
    const hints = () =>
      s.request('textDocument/inlayHint', { textDocument: { uri }, range: { start: { line: 0, character: 0 }, end: { line: 20, character: 0 } } });
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
      running.push(await timed(hints));
      await new Promise((r) => setTimeout(r, 20));
    }
    const result = await finished;
    const analysisS = (performance.now() - t0) / 1000;
    if (result.state !== 'done') throw new Error(`analysis failed: ${result.error}`);
    const idle: number[] = [];
    for (let i = 0; i < 100; i++) {
      idle.push(await timed(hover));
      idle.push(await timed(lens));
      idle.push(await timed(hints));
    }
    const a = stats(running);
    const b = stats(idle);
    const f = (x: number) => x.toFixed(2);
    process.stdout.write(
      [
        `LSP request latency (hover, code lens, inlay hints), task ${task}; analysis ran ${analysisS.toFixed(1)} s in a job process`,
        'phase                 requests   p50 ms   p95 ms   p99 ms   max ms',
        `during analysis       ${String(a.n).padStart(8)} ${f(a.p50).padStart(8)} ${f(a.p95).padStart(8)} ${f(a.p99).padStart(8)} ${f(a.max).padStart(8)}`,
        `idle                  ${String(b.n).padStart(8)} ${f(b.p50).padStart(8)} ${f(b.p95).padStart(8)} ${f(b.p99).padStart(8)} ${f(b.max).padStart(8)}`,
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
