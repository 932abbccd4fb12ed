/**
 * `npm run bench` (dist/bench-many.js): the solver at many attention paths, end to end through
 * `analyzePrepared` (issue 8's targets). Gaussian tokens (N0 = 32, T = 16), random Q/K (G = 16, scaled ×3 so
 * attention is not uniform), labels from a linear teacher on the token mean, widths 10, T_B = 0.01, mean
 * readout, P_test = 500: many-64 (heads [4, 4, 4]), many-144 ([12, 12]), many-256 ([4, 4, 4, 4]) at P = 200,
 * and many-256-p500 at P = 500.
 * Each case runs in its own child process so that its peak resident memory is its own.
 * Usage: node dist/bench-many.js [case ...]   (default: all four)
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import type { AnalysisConfig } from '../server/src/config/types';
import { defaultConfig } from '../server/src/config/defaults';
import { randomQKAttention } from '../server/src/data/mnist';
import { Random } from '../server/src/util/random';
import type { SequenceBatch, TaskData } from '../server/src/data/types';
import { prepareWithAttention } from '../server/src/pipeline/prepare';
import { analyzePrepared } from '../server/src/pipeline/analyzePrepared';
import { estimateMemoryBytes } from '../server/src/pipeline/resources';

/** The many-path cases: name → heads and P. */
const MANY_PATH_CASES: Record<string, { heads: number[]; P: number }> = {
  'many-64': { heads: [4, 4, 4], P: 200 },
  'many-144': { heads: [12, 12], P: 200 },
  'many-256': { heads: [4, 4, 4, 4], P: 200 },
  'many-256-p500': { heads: [4, 4, 4, 4], P: 500 },
};

interface ManyRow {
  case: string;
  paths: number;
  P: number;
  estimated_mb: number;
  attention_features_s: number;
  solve_s: number;
  newton_steps: number;
  cg_iterations: number;
  evaluations: number;
  max_grad: number;
  converged: boolean;
  end_to_end_s: number;
  cpu_s: number;
  load_before: number;
  peak_rss_mb: number;
}

/** One many-path case end to end: synthetic task → prepareWithAttention → analyzePrepared. */
async function runManyPath(name: string): Promise<ManyRow> {
  const { heads, P } = MANY_PATH_CASES[name];
  const load = loadavg()[0];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const rng = new Random(88);
  const N0 = 32;
  const T = 16;
  const Pt = 500;
  const teacher = rng.normals(N0);
  const batch = (n: number): SequenceBatch => ({ count: n, features: N0, tokens: T, data: rng.normals(n * N0 * T) });
  const labels = (X: SequenceBatch) =>
    Float64Array.from({ length: X.count }, (_, m) => {
      let s = 0;
      for (let i = 0; i < N0; i++) for (let t = 0; t < T; t++) s += teacher[i] * X.data[(m * N0 + i) * T + t];
      return s / T + 0.05 * rng.normal() >= 0 ? 1 : -1;
    });
  const train = batch(P);
  const test = batch(Pt);
  const task: TaskData = { name, description: 'bench: many attention paths', train, test, yTrain: labels(train), yTest: labels(test) };
  const layers = randomQKAttention(rng, heads, 16, N0).map((l) => ({ ...l, Q: l.Q.map((v) => 3 * v), K: l.K.map((v) => 3 * v) }));
  const config: AnalysisConfig = { ...defaultConfig(), readout: 'mean', widths: 10, temperature: 0.01 };
  const estimate = estimateMemoryBytes({ P, P_test: Pt, N0, T, heads });
  const p = await prepareWithAttention(config, task, layers, 'random-qk');
  const report = await analyzePrepared(p, config, {
    onProgress: (stage, m) => stage === 'solve' && process.stderr.write(`  ${name} ${m} at ${((performance.now() - t0) / 1000).toFixed(1)} s\n`),
  });
  const cpu = process.cpuUsage(cpu0);
  const sv = report.solver as typeof report.solver & { newton_steps?: number; cg_iterations?: number };
  return {
    case: name,
    paths: p.train.paths,
    P,
    estimated_mb: estimate / 2 ** 20,
    attention_features_s: (p.timings.attention + p.timings.features) / 1000,
    solve_s: report.timings_ms.solve / 1000,
    newton_steps: sv.newton_steps ?? 0,
    cg_iterations: sv.cg_iterations ?? 0,
    evaluations: sv.evaluations,
    max_grad: sv.max_abs_grad_normalized,
    converged: sv.converged,
    end_to_end_s: (performance.now() - t0) / 1000,
    cpu_s: (cpu.user + cpu.system) / 1e6,
    load_before: load,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  };
}

function table<R extends object>(rows: R[], cols: [keyof R, string][]): string {
  const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : Math.abs(v) < 1e-3 ? v.toExponential(1) : v.toFixed(3)) : String(v));
  const cells = [cols.map((c) => c[1]), ...rows.map((r) => cols.map((c) => fmt(r[c[0]])))];
  const widths = cols.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells.map((r) => r.map((c, i) => c.padStart(widths[i])).join('  ')).join('\n');
}

const MANY_COLUMNS: [keyof ManyRow, string][] = [
  ['case', 'case'],
  ['paths', 'paths'],
  ['P', 'P'],
  ['estimated_mb', 'estimate MB'],
  ['attention_features_s', 'attn+features s'],
  ['solve_s', 'solve s'],
  ['newton_steps', 'Newton'],
  ['cg_iterations', 'CG'],
  ['evaluations', 'evals'],
  ['max_grad', 'max|grad|'],
  ['converged', 'converged'],
  ['end_to_end_s', 'end to end s'],
  ['cpu_s', 'CPU s'],
  ['load_before', 'load avg'],
  ['peak_rss_mb', 'peak RSS MB'],
];

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    process.stdout.write(JSON.stringify(await runManyPath(args[1])) + '\n');
    return;
  }
  const cases = args.length ? args : Object.keys(MANY_PATH_CASES);
  const unknown = cases.filter((c) => !(c in MANY_PATH_CASES));
  if (unknown.length) throw new Error(`unknown case(s) ${unknown.join(', ')}; cases: ${Object.keys(MANY_PATH_CASES).join(', ')}`);
  const many: ManyRow[] = [];
  let failed = 0;
  for (const c of cases) {
    process.stderr.write(`bench: ${c}\n`);
    const r = spawnSync(process.execPath, [__filename, '--child', c], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
    if (r.status !== 0) {
      // one failed case (a crash, or killed) must not lose the others' rows
      process.stderr.write(`bench: case ${c} failed (exit ${r.status}${r.signal ? `, signal ${r.signal}` : ''})\n`);
      failed++;
      continue;
    }
    many.push(JSON.parse(r.stdout.trim().split('\n').pop()!));
  }
  if (many.length) process.stdout.write(table(many, MANY_COLUMNS) + '\n');
  if (failed) process.exitCode = 1;
}

main().catch((e) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
