/**
 * The `attention-paths` command line: the same pipeline as the language server, without LSP.
 *
 *   attention-paths analyze [CONFIG] [--json FILE] [--report DIR] [--force] [--quiet]
 *   attention-paths sweep [CONFIG] --widths 10,30,100,300,1000 [--json FILE] [--report DIR] [--force]
 *   attention-paths inspect MODEL.onnx [--json] [--heads N]
 *   attention-paths prune MODEL.onnx (--heads L:H,… | --drop-lowest K) --out OUT.onnx [options]
 *
 * Progress goes to stderr once work has run for a second; results to stdout. Exit code 0 on success,
 * 1 with a one-line reason per problem otherwise, 2 for usage errors.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { loadConfig } from './config/load';
import { defaultConfig } from './config/defaults';
import { ConfigError, type AnalysisConfig } from './config/types';
import { analyze, sweep } from './pipeline/analyze';
import { formatAnalysis, formatSweep } from './report/summary';
import { writeAnalysisReportDir, writeFileSafely, writeSweepReportDir } from './report/write';
import { VERSION } from './version';
import { formatInspect, inspectModel } from './onnx/inspect';
import { runPrune } from './commands/prune';

const USAGE = `attention-paths ${VERSION} — attention-path theory of transformers (head relevance, finite width vs GP limit)

Usage:
  attention-paths analyze [CONFIG] [--json FILE] [--report DIR] [--force] [--quiet]
      Minimize the action, predict at finite width and in the GP limit, score heads.
      Without CONFIG: the embedded default (hidden-Markov-chain task, N = 10, T_B = 0.01).
  attention-paths sweep [CONFIG] --widths 10,30,100,300,1000 [--json FILE] [--report DIR] [--force]
      Finite-width versus GP accuracy and generalization error against the width N.
  attention-paths inspect MODEL.onnx [--json] [--heads N]
      List the model's attention blocks: form, query and key/value heads, head sizes, the tensors
      holding the Q/K/V/output weights. --heads gives the head count where the shapes cannot tell it.
  attention-paths prune MODEL.onnx (--heads L:H,... | --drop-lowest K) --out OUT.onnx [--data FILE] [--config FILE] [--rescale] [--force]
      Remove attention heads and write a smaller, verified model (attention-paths prune --help).
  attention-paths --help | --version

Options:
  --json FILE    write the full report as JSON (field names as in the golden files);
                 a bare --json (or --json -) prints the JSON on stdout instead of the summary
  --report DIR   write report JSON, SVG charts and their Vega-Lite specs into DIR
  --force        replace existing output files (never done without it)
  --quiet        no progress on stderr
CONFIG is a YAML or JSON file (schema: schemas/attention-paths.schema.json).`;

class UsageError extends Error {}

function progressPrinter(quiet: boolean) {
  const start = Date.now();
  let last = 0;
  return (stage: string, message: string) => {
    const now = Date.now();
    if (quiet || now - start < 1000 || now - last < 250) return;
    last = now;
    process.stderr.write(`[${((now - start) / 1000).toFixed(1)} s] ${stage}: ${message}\n`);
  };
}

function readConfig(path: string | undefined): AnalysisConfig {
  if (!path) return defaultConfig();
  return loadConfig(path, { onWarning: (w) => process.stderr.write(`${w.file}:${w.line}:${w.column}: warning: ${w.message}\n`) });
}

function parseWidths(text: string | undefined): number[] {
  if (!text) throw new UsageError('sweep needs --widths, e.g. --widths 10,30,100,300,1000');
  const widths = text.split(',').map((s) => Number(s.trim()));
  const bad = widths.findIndex((n) => !Number.isFinite(n) || n <= 0);
  if (bad >= 0) throw new UsageError(`--widths: "${text.split(',')[bad]}" is not a positive number`);
  return widths;
}

/** Runs the CLI with `argv` (without node and script). @returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  // prune has its own options (--out, --data, --drop-lowest, …) and help.
  if (argv[0] === 'prune') return runPrune(argv.slice(1));
  // A bare `--json` (last, or before another option) means JSON on stdout: `--json -`.
  argv = argv.map((a, i) => (a === '--json' && (i === argv.length - 1 || argv[i + 1].startsWith('--')) ? '--json=-' : a));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'string' },
        heads: { type: 'string' },
        report: { type: 'string' },
        widths: { type: 'string' },
        force: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    });
  } catch (e) {
    process.stderr.write(`attention-paths: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values: o, positionals } = parsed;
  if (o.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (o.help || !command || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return o.help || command === 'help' ? 0 : 2;
  }
  try {
    if (rest.length > 1) throw new UsageError(`${command} takes at most one CONFIG file, got ${rest.length}`);
    const onProgress = progressPrinter(!!o.quiet);
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort(new Error('interrupted')));
    if (command === 'analyze') {
      if (o.widths) throw new UsageError('--widths belongs to sweep');
      const config = readConfig(rest[0]);
      const report = await analyze(config, { onProgress, signal: controller.signal });
      if (o.json === '-') process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else process.stdout.write(formatAnalysis(report) + '\n');
      if (o.json && o.json !== '-') {
        writeFileSafely(resolve(o.json), JSON.stringify(report, null, 2), o.force);
        process.stdout.write(`Report written to ${o.json}\n`);
      }
      if (o.report) {
        const files = await writeAnalysisReportDir(resolve(o.report), report, o.force);
        process.stdout.write(`Report and charts written: ${files.join(', ')}\n`);
      }
      return 0;
    }
    if (command === 'sweep') {
      const widths = parseWidths(o.widths);
      const config = readConfig(rest[0]);
      const report = await sweep(config, widths, { onProgress, signal: controller.signal });
      if (o.json === '-') process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else process.stdout.write(formatSweep(report) + '\n');
      if (o.json && o.json !== '-') {
        writeFileSafely(resolve(o.json), JSON.stringify(report, null, 2), o.force);
        process.stdout.write(`Sweep written to ${o.json}\n`);
      }
      if (o.report) {
        const files = await writeSweepReportDir(resolve(o.report), report, o.force);
        process.stdout.write(`Sweep table and chart written: ${files.join(', ')}\n`);
      }
      return 0;
    }
    if (command === 'inspect') {
      if (rest.length !== 1) throw new UsageError('inspect takes one MODEL.onnx file');
      let heads: number | undefined;
      if (o.heads !== undefined) {
        heads = Number(o.heads);
        if (!Number.isInteger(heads) || heads < 1) throw new UsageError(`--heads: "${o.heads}" is not a positive integer`);
      }
      const summary = inspectModel(rest[0], heads ? { heads } : {});
      process.stdout.write((o.json !== undefined ? JSON.stringify(summary, null, 2) : formatInspect(summary)) + '\n');
      return 0;
    }
    throw new UsageError(`unknown command "${command}" (commands: analyze, sweep, inspect, prune)`);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`attention-paths: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(e.message + '\n');
      return 1;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`attention-paths: ${msg.split('\n')[0]}\n`);
    if (process.env.ATTENTION_PATHS_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`attention-paths: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
