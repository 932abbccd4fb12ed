/**
 * `npm run bench` (part): end-to-end analyses of real exports — a deep model in layer windows and a token-input
 * model — with stage timings, solver iterations and peak memory, each in its own child process.
 *
 * Cases (configs in test-fixtures/, or any config given on the command line):
 *  - `encoder6-w2`: the 6-layer × 4-head PyTorch encoder (trimmed fixture, P = 80, P_test = 160), windows of 2 blocks;
 *  - `encoder6-auto`: the same with `windows: auto` (2 windows of 3 blocks, 64 paths each);
 *  - `text`: the text classifier fed by input_ids / attention_mask (P = 160, P_test = 160, 16 paths).
 * Each analysis measures every head's removal on the model, as `attention-paths analyze` does.
 * Usage: node dist/bench-windows.js [case | CONFIG.yaml ...]
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadConfig } from '../server/src/config/load';
import type { AnalysisConfig } from '../server/src/config/types';
import { analyze } from '../server/src/pipeline/analyze';

const FIXTURES = join(__dirname, '..', 'test-fixtures');

function caseConfig(name: string): AnalysisConfig {
  if (name === 'encoder6-w2') return loadConfig(join(FIXTURES, 'onnx-real', 'encoder6', 'encoder6.attention.yaml'));
  if (name === 'encoder6-auto') {
    const c = loadConfig(join(FIXTURES, 'onnx-real', 'encoder6', 'encoder6.attention.yaml'));
    return { ...c, attention: { ...c.attention!, windows: 'auto' } };
  }
  if (name === 'text') return loadConfig(join(FIXTURES, 'text-classifier', 'text.attention.yaml'));
  if (/\.(ya?ml|json)$/.test(name)) return loadConfig(name);
  throw new Error(`unknown bench case ${name} (cases: encoder6-w2, encoder6-auto, text, or a config file)`);
}

async function child(name: string): Promise<void> {
  const t0 = performance.now();
  const r = await analyze(caseConfig(name), { measureHeadRemoval: true, maxPaths: 256 });
  const s = (k: string) => ((r.timings_ms[k] ?? 0) / 1000).toFixed(1);
  const windows = r.windows ? r.windows.map((w) => `${w.layers[0]}–${w.layers[1]}:${w.paths}`).join(' ') : `${r.paths.length} paths`;
  const rc = r.rank_correlations;
  process.stdout.write(
    JSON.stringify({
      case: name,
      P: `${r.task.P}/${r.task.P_test}`,
      windows,
      'capture s': s('data'),
      'features s': (((r.timings_ms.attention ?? 0) + (r.timings_ms.features ?? 0)) / 1000).toFixed(1),
      'solve s': s('solve'),
      iterations: r.solver.iterations,
      converged: r.solver.converged,
      'predict+silence s': (((r.timings_ms.predict ?? 0) + (r.timings_ms.relevance ?? 0)) / 1000).toFixed(1),
      'head removal s': s('head_removal'),
      'total s': ((performance.now() - t0) / 1000).toFixed(1),
      'ρ score / predicted': rc ? `${rc.score_vs_measured_drop?.toFixed(2) ?? '-'} / ${rc.predicted_vs_measured_drop?.toFixed(2) ?? '-'}` : '-',
      'peak RSS MB': Math.round(process.resourceUsage().maxRSS / 1024),
    }) + '\n',
  );
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args[1]);
  const cases = args.length ? args : ['encoder6-w2', 'encoder6-auto', 'text'];
  const rows: Record<string, unknown>[] = [];
  for (const c of cases) {
    process.stderr.write(`bench-windows: ${c}\n`);
    const r = spawnSync(process.execPath, [__filename, '--child', c], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bench case ${c} failed (exit ${r.status})`);
    rows.push(JSON.parse(r.stdout.trim().split('\n').pop()!));
  }
  const cols = Object.keys(rows[0]);
  const cells = [cols, ...rows.map((r) => cols.map((c) => String(r[c])))];
  const widths = cols.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  process.stdout.write(cells.map((r) => r.map((c, i) => c.padStart(widths[i])).join('  ')).join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench-windows: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
