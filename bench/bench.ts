/**
 * `npm run bench`: stage timings and peak memory of the theory pipeline.
 *
 * Cases: the Markov task at N = 10 and N = 1000, and a large synthetic case (P = 2000, P_test = 1000,
 * N0 = 200, T = 32, heads [4, 4], widths 100, mean readout, random Q/K with G = 32, teacher-path labels).
 * Many-path cases (the solver at many attention paths, end to end through `analyzePrepared`): Gaussian
 * tokens (N0 = 32, T = 16), random Q/K (G = 16, scaled ×3 so attention is not uniform), labels from a
 * linear teacher on the token mean, widths 10, T_B = 0.01, mean readout, P_test = 500:
 * many-64 (heads [4, 4, 4]), many-144 ([12, 12]), many-256 ([4, 4, 4, 4]) at P = 200, and
 * many-256-p500 at P = 500.
 * Each case runs in its own child process so that its peak resident memory is its own.
 * Usage: node dist/bench.js [case ...]   (cases: markov-10, markov-1000, large, many-64, many-144,
 * many-256, many-256-p500; default: all)
 */
import { spawnSync } from 'node:child_process';
import type { AnalysisConfig } from '../server/src/config/types';
import { defaultConfig } from '../server/src/config/defaults';
import { prepare, Prepared, pathInfo } from '../server/src/pipeline/prepare';
import { renormalizedKernel } from '../server/src/theory/kernels';
import { minimizeAction } from '../server/src/theory/solver';
import { predict, testMetrics } from '../server/src/theory/predictor';
import { kernelPcOverlap } from '../server/src/theory/pcOverlap';
import { allLayerAttention } from '../server/src/theory/attention';
import { pathCount, pathFeatures, pathTokenWeights } from '../server/src/theory/paths';
import { randomQKAttention } from '../server/src/data/mnist';
import { Random } from '../server/src/util/random';
import type { SequenceBatch, TaskData } from '../server/src/data/types';
import { prepareWithAttention } from '../server/src/pipeline/prepare';
import { analyzePrepared } from '../server/src/pipeline/analyze';
import { estimateMemoryBytes } from '../server/src/pipeline/resources';
import { loadavg } from 'node:os';

interface Row {
  case: string;
  P: number;
  P_test: number;
  paths: number;
  attention_features_s: number;
  kernel_s: number;
  solve_s: number;
  iterations: number;
  evaluations: number;
  max_grad: number;
  predict_s: number;
  /** Overlap of the top min(30, P) kernel PCs with y at the solution (theory/pcOverlap.ts), one kernel. */
  kernel_pcs_s: number;
  /** How those eigenpairs were computed, and the Krylov dimension reached. */
  pc_method: string;
  accuracy: number;
  peak_rss_mb: number;
}

/** Large synthetic case: Gaussian tokens, random Q/K, labels from a teacher path (as in shared/golden). */
async function largeCase(): Promise<Prepared> {
  const rng = new Random(2024);
  const P = 2000;
  const Pt = 1000;
  const N0 = 200;
  const T = 32;
  const heads = [4, 4];
  const t0 = performance.now();
  const batch = (n: number): SequenceBatch => ({ count: n, features: N0, tokens: T, data: rng.normals(n * N0 * T) });
  const train = batch(P);
  const test = batch(Pt);
  const layers = randomQKAttention(rng, heads, 32, N0).map((l) => ({ ...l, Q: l.Q.map((v) => 3 * v), K: l.K.map((v) => 3 * v) }));
  const teacher = rng.normals(N0);
  const t1 = performance.now();
  const Q = pathCount(heads);
  const attTrain = await allLayerAttention(train, layers, 'train');
  const attTest = await allLayerAttention(test, layers, 'test');
  const cTrain = pathTokenWeights(attTrain, 'mean');
  const cTest = pathTokenWeights(attTest, 'mean');
  const fTrain = { count: P, features: N0, paths: Q, data: pathFeatures(train, cTrain, Q, 1) };
  const fTest = { count: Pt, features: N0, paths: Q, data: pathFeatures(test, cTest, Q, 1) };
  // Labels: sign of the teacher's read-out of path 0 plus noise.
  const label = (f: typeof fTrain) =>
    Float64Array.from({ length: f.count }, (_, m) => {
      let s = 0;
      for (let i = 0; i < N0; i++) s += f.data[(m * N0 + i) * Q] * teacher[i];
      return s + 0.05 * rng.normal() >= 0 ? 1 : -1;
    });
  const task: TaskData = { name: 'large-synthetic', description: 'bench', train, test, yTrain: label(fTrain), yTest: label(fTest) };
  const t2 = performance.now();
  return {
    task,
    layers,
    attentionKind: 'random-qk',
    settings: { heads, widths: [100, 100, 100], variances: [1, 1, 1, 1], temperature: 0.01 },
    readout: 'mean',
    paths: pathInfo(heads),
    train: fTrain,
    test: fTest,
    timings: { data: t1 - t0, attention: t2 - t1, features: 0 },
  };
}

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

async function runCase(name: string): Promise<Row> {
  let p: Prepared;
  let config: AnalysisConfig = defaultConfig();
  if (name === 'markov-10' || name === 'markov-1000') {
    config = { ...config, widths: name === 'markov-10' ? 10 : 1000 };
    p = await prepare(config);
  } else if (name === 'large') {
    p = await largeCase();
  } else throw new Error(`unknown bench case ${name}`);
  const s = p.settings;
  let t = performance.now();
  await renormalizedKernel(p.train, p.train, { rows: p.train.paths, cols: p.train.paths, data: new Float64Array(p.train.paths ** 2).map((_, i) => (i % (p.train.paths + 1) === 0 ? 1 : 0)) });
  const kernel = performance.now() - t;
  t = performance.now();
  const sol = await minimizeAction(s, p.train, p.task.yTrain, {
    tolerance: config.solver.tolerance,
    maxIterations: config.solver.maxIterations,
    onProgress: (q) => process.stderr.write(`  ${name} ${q.phase} ${q.iteration}: max|grad| ${q.maxGradNormalized.toExponential(2)} at ${((performance.now() - t) / 1000).toFixed(1)} s\n`),
  });
  const solve = performance.now() - t;
  t = performance.now();
  const pred = await predict(p.train, p.test, p.task.yTrain, sol.Us[0], s.temperature);
  const predictS = performance.now() - t;
  t = performance.now();
  const pcs = await kernelPcOverlap(p.train, p.task.yTrain, sol.Us[0]);
  const pcS = performance.now() - t;
  return {
    case: name,
    P: p.task.train.count,
    P_test: p.task.test.count,
    paths: p.train.paths,
    attention_features_s: (p.timings.attention + p.timings.features) / 1000,
    kernel_s: kernel / 1000,
    solve_s: solve / 1000,
    iterations: sol.iterations,
    evaluations: sol.evaluations,
    max_grad: sol.maxGradNormalized,
    predict_s: predictS / 1000,
    kernel_pcs_s: pcS / 1000,
    pc_method: pcs.method,
    accuracy: testMetrics(pred, p.task.yTest).acc_mean_predictor,
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

const ROW_COLUMNS: [keyof Row, string][] = [
    ['case', 'case'],
    ['P', 'P'],
    ['P_test', 'P_test'],
    ['paths', 'paths'],
    ['attention_features_s', 'attn+features s'],
    ['kernel_s', 'one K_U s'],
    ['solve_s', 'solve s'],
    ['iterations', 'iters'],
    ['evaluations', 'evals'],
    ['max_grad', 'max|grad|'],
    ['predict_s', 'predict s'],
    ['kernel_pcs_s', 'kernel PCs s'],
    ['pc_method', 'PCs by'],
    ['accuracy', 'test acc'],
    ['peak_rss_mb', 'peak RSS MB'],
];

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    const row = args[1] in MANY_PATH_CASES ? await runManyPath(args[1]) : await runCase(args[1]);
    process.stdout.write(JSON.stringify(row) + '\n');
    return;
  }
  const cases = args.length ? args : ['markov-10', 'markov-1000', 'large', ...Object.keys(MANY_PATH_CASES)];
  const rows: Row[] = [];
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
    const row = JSON.parse(r.stdout.trim().split('\n').pop()!);
    if (c in MANY_PATH_CASES) many.push(row);
    else rows.push(row);
  }
  if (rows.length) process.stdout.write(table(rows, ROW_COLUMNS) + '\n');
  if (many.length) process.stdout.write(table(many, MANY_COLUMNS) + '\n');
  if (failed) process.exitCode = 1;
}

main().catch((e) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
