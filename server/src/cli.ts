/**
 * The `attention-paths` command line: the same pipeline as the language server, without LSP.
 *
 *   attention-paths analyze [CONFIG] [--json FILE] [--report DIR] [--max-paths N] [--force] [--quiet] [--yes]
 *   attention-paths sweep [CONFIG] --widths 10,30,100,300,1000 [--json FILE] [--report DIR] [--max-paths N] [--force] [--yes]
 *   attention-paths inspect MODEL.onnx [--json] [--heads N]
 *   attention-paths prune MODEL.onnx (--heads L:H,… | --drop-lowest K) --out OUT.onnx [options]
 *   attention-paths train [CONFIG] --out DIR [options]
 *
 * Progress goes to stderr once work has run for a second; results to stdout. Exit code 0 on success,
 * 1 with a one-line reason per problem otherwise, 2 for usage errors.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { loadConfig } from './config/load';
import { defaultConfig } from './config/defaults';
import type { AnalysisConfig } from './config/types';
import { analyze, sweep } from './pipeline/analyze';
import { formatAnalysis, formatSweep } from './report/summary';
import {
  ANALYSIS_REPORT_FILES,
  SWEEP_REPORT_FILES,
  checkOutputDir,
  checkOutputFile,
  checkOutputsDistinct,
  inputFiles,
  samePath,
  type LabelledPath,
  writeAnalysisReportDir,
  writeFileSafely,
  reportJson,
  writeSweepReportDir,
} from './report/write';
import { VERSION } from './version';
import { gemmBackendFromEnv, setGemmBackend } from './linalg/gemm';
import { DEFAULT_SETTINGS } from '../../shared/protocol';
import { formatInspect, inspectModel } from './onnx/inspect';
import { runPrune } from './commands/prune';
import { runTrain } from './commands/train';
import { CONFIRM_ABOVE_SECONDS } from './pipeline/resources';
import { costConfirmation } from './commands/confirm';
import { printFailure, quietRuntimeWarnings } from './commands/failure';

/** The path limit of `analyze` and `sweep` without --max-paths (the editor's attentionPaths.maxPaths default). */
const DEFAULT_MAX_PATHS = DEFAULT_SETTINGS.maxPaths;

const USAGE = `attention-paths ${VERSION} — attention-path theory of transformers (head relevance, finite width vs GP limit)

Usage:
  attention-paths analyze [CONFIG] [--json FILE] [--report DIR] [--max-paths N] [--force] [--quiet] [--yes]
      Minimize the action, predict at finite width and in the GP limit, score heads.
      Without CONFIG: the embedded default (hidden-Markov-chain task, N = 10, T_B = 0.01).
  attention-paths sweep [CONFIG] --widths 10,30,100,300,1000 [--json FILE] [--report DIR] [--max-paths N] [--force] [--yes]
      Finite-width versus GP accuracy and generalization error against the width N.
  attention-paths inspect MODEL.onnx [--json] [--heads N]
      List the model's attention blocks: form, query and key/value heads, head sizes, the tensors
      holding the Q/K/V/output weights. --heads gives the head count where the shapes cannot tell it.
  attention-paths prune MODEL.onnx (--heads L:H,... | --drop-lowest K) --out OUT.onnx [--data FILE] [--config FILE] [--rescale] [--force]
      Remove attention heads and write a smaller, verified model (attention-paths prune --help).
  attention-paths train [CONFIG] --out DIR [--task markov|markov-2paths|mnist-oneshot] [--data FILE] [--heads 2,2] [...]
      Train the theory's network by gradient descent (TensorFlow.js), export it to ONNX, and compare
      the theory's head scores with the measured effect of removing each head (attention-paths train --help).
  attention-paths --help | --version

Options:
  --json FILE    write the full report (or the inspect summary) as JSON (field names as in the
                 golden files); a bare --json (or --json -) prints the JSON on stdout instead
  --report DIR   write report JSON, SVG charts and their Vega-Lite specs into DIR (analyze: U₁
                 heatmap, head scores, kernel-PC overlap with the labels, accuracy with each head
                 removed; sweep: accuracy and ε_g against N)
  --max-paths N  refuse configs with more than N attention paths H_1···H_L (per layer window with
                 attention.windows), before any work, with advice (default ${DEFAULT_MAX_PATHS})
  --force        replace existing output files (never done without it)
  --quiet        no progress on stderr
  --yes          run without asking when the estimate exceeds ${CONFIRM_ABOVE_SECONDS} s (otherwise asked on a
                 terminal, refused when not on one)
CONFIG is a YAML or JSON file (schema: schemas/attention-paths.schema.json).`;

class UsageError extends Error {}

function parseMaxPaths(text: string | undefined): number {
  if (text === undefined) return DEFAULT_MAX_PATHS;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--max-paths: "${text}" is not a number of paths (a whole number ≥ 1)`);
  return n;
}

/**
 * Progress lines on stderr, once the current stage has run for a second: a stage that ends sooner
 * prints nothing. A timer (not holding the process open) prints the stage that is still running.
 */
function progressPrinter(quiet: boolean): { onProgress: (stage: string, message: string) => void; stop: () => void } {
  const start = Date.now();
  let current: { stage: string; message: string; since: number; printed: boolean } | null = null;
  let lastPrint = 0;
  const print = () => {
    if (!current || current.printed) return;
    const now = Date.now();
    if (now - current.since < 1000 || now - lastPrint < 250) return;
    current.printed = true;
    lastPrint = now;
    process.stderr.write(`[${((now - start) / 1000).toFixed(1)} s] ${current.stage}: ${current.message}\n`);
  };
  const timer = quiet ? null : setInterval(print, 200);
  timer?.unref();
  return {
    onProgress: (stage, message) => {
      if (quiet) return;
      const since = current && current.stage === stage ? current.since : Date.now();
      current = { stage, message, since, printed: false };
      print();
    },
    stop: () => {
      if (timer) clearInterval(timer);
    },
  };
}

function readConfig(path: string | undefined): AnalysisConfig {
  if (!path) return defaultConfig();
  return loadConfig(path, { onWarning: (w) => process.stderr.write(`${w.file}:${w.line}:${w.column}: warning: ${w.message}\n`) });
}

function parseWidths(text: string | undefined): number[] {
  if (!text) throw new UsageError('sweep needs --widths, e.g. --widths 10,30,100,300,1000');
  const parts = text.split(',');
  const widths = parts.map((s) => Number(s.trim()));
  const bad = widths.findIndex((n) => !Number.isFinite(n) || n < 1 || n > 1e15);
  if (bad >= 0) throw new UsageError(`--widths: "${parts[bad]}" is not a width N from 1 to 1e15`);
  return widths;
}

/** The files a config reads: the config itself, its data (file or folder), attention params and model. */
function configInputs(config: AnalysisConfig): LabelledPath[] {
  const inputs: LabelledPath[] = [];
  if (config.source) inputs.push({ label: `the config ${config.source}`, path: config.source });
  if (config.data) inputs.push(...inputFiles(`the config's data ${config.data}`, config.data));
  if (config.attention?.params) inputs.push({ label: `the config's attention params ${config.attention.params}`, path: config.attention.params });
  if (config.attention?.model) inputs.push({ label: `the config's model ${config.attention.model}`, path: config.attention.model });
  return inputs;
}

/**
 * Where each output goes, checked before any work so that a bad path costs nothing: writable, not existing
 * (without --force), not one of the command's `inputs`, not another output.
 */
function planOutputs(o: { json?: string; report?: string; force?: boolean }, reportFiles: string[], inputs: LabelledPath[]): void {
  const json = o.json && o.json !== '-' ? resolve(o.json) : undefined;
  const dir = o.report ? resolve(o.report) : undefined;
  if (json && dir && reportFiles.some((f) => samePath(resolve(dir, f), json))) {
    throw new UsageError(`--json ${o.json} is one of the files --report ${o.report} writes; choose another path`);
  }
  const outputs: LabelledPath[] = [];
  if (json) outputs.push({ label: `--json ${o.json}`, path: json });
  if (dir) for (const f of reportFiles) outputs.push({ label: `--report ${o.report} (its ${f})`, path: resolve(dir, f) });
  checkOutputsDistinct(outputs, inputs);
  if (json) checkOutputFile(json, !!o.force);
  if (dir) checkOutputDir(dir, reportFiles, !!o.force);
}

function noExtra(command: string, rest: string[], what: string): void {
  if (rest.length > 1) throw new UsageError(`${command} takes at most one ${what}, got ${rest.length}: ${rest.join(' ')}`);
}

/** Runs the CLI with `argv` (without node and script). @returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  // ATTENTION_PATHS_NO_ORT=1: products in JS only, as the editor's computeBackend: js (linalg/gemm.ts).
  setGemmBackend(gemmBackendFromEnv());
  // prune has its own options (--out, --data, --drop-lowest, …) and help.
  if (argv[0] === 'prune') return runPrune(argv.slice(1));
  // so has train (--task, --epochs, --out, …).
  if (argv[0] === 'train') return runTrain(argv.slice(1));
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
        'max-paths': { type: 'string' },
        force: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        yes: { type: 'boolean', short: 'y', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    });
  } catch (e) {
    const first = (e as Error).message.split('\n')[0];
    process.stderr.write(`attention-paths: ${first} (attention-paths --help lists the options)\n`);
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
  const progress = progressPrinter(!!o.quiet);
  const onProgress = progress.onProgress;
  let config: AnalysisConfig | undefined;
  try {
    if (command !== 'inspect' && o.heads !== undefined) throw new UsageError('--heads belongs to inspect (set heads in the config)');
    if (command === 'analyze') {
      if (o.widths) throw new UsageError('--widths belongs to sweep');
      noExtra(command, rest, 'CONFIG file');
      config = readConfig(rest[0]);
      planOutputs(o, ANALYSIS_REPORT_FILES, configInputs(config));
      const report = await analyze(config, { onProgress, measureHeadRemoval: true, confirmCost: costConfirmation(!!o.yes), maxPaths: parseMaxPaths(o['max-paths']) });
      if (o.json === '-') process.stdout.write(reportJson(report) + '\n');
      else process.stdout.write(formatAnalysis(report) + '\n');
      if (o.json && o.json !== '-') {
        writeFileSafely(resolve(o.json), reportJson(report), o.force);
        process.stdout.write(`Report written to ${o.json}\n`);
      }
      if (o.report) {
        const files = await writeAnalysisReportDir(resolve(o.report), report, o.force);
        process.stdout.write(`Report and charts written: ${files.join(', ')}\n`);
      }
      return 0;
    }
    if (command === 'sweep') {
      noExtra(command, rest, 'CONFIG file');
      const widths = parseWidths(o.widths);
      config = readConfig(rest[0]);
      planOutputs(o, SWEEP_REPORT_FILES, configInputs(config));
      const report = await sweep(config, widths, { onProgress, confirmCost: costConfirmation(!!o.yes), maxPaths: parseMaxPaths(o['max-paths']) });
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
      if (rest.length !== 1) throw new UsageError(`inspect takes one MODEL.onnx file, got ${rest.length}${rest.length ? `: ${rest.join(' ')}` : ''}`);
      if (o['max-paths'] !== undefined) throw new UsageError('--max-paths belongs to analyze and sweep');
      if (o.report || o.widths) throw new UsageError(`${o.report ? '--report' : '--widths'} does not apply to inspect`);
      let heads: number | undefined;
      if (o.heads !== undefined) {
        heads = Number(o.heads);
        if (!Number.isInteger(heads) || heads < 1 || heads > 65536) throw new UsageError(`--heads: "${o.heads}" is not a head count (an integer from 1 to 65536)`);
      }
      planOutputs(o, [], [{ label: `the model ${rest[0]}`, path: rest[0] }]);
      const summary = inspectModel(rest[0], heads ? { heads } : {});
      if (o.json && o.json !== '-') {
        writeFileSafely(resolve(o.json), JSON.stringify(summary, null, 2), o.force);
        process.stdout.write(`${formatInspect(summary)}\nSummary written to ${o.json}\n`);
      } else process.stdout.write((o.json === '-' ? JSON.stringify(summary, null, 2) : formatInspect(summary)) + '\n');
      return 0;
    }
    throw new UsageError(`unknown command "${command}" (commands: analyze, sweep, inspect, prune, train)`);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`attention-paths: ${e.message}\n`);
      return 2;
    }
    printFailure(e, 'attention-paths', (t) => process.stderr.write(t), config?.source);
    return 1;
  } finally {
    progress.stop();
  }
}

/**
 * The process entry (bin/attention-paths.js and `node dist/cli.js`): runs `main` and exits with its code. Node's
 * runtime warnings are silenced and an error escaping `main` is printed as one line (stack only with
 * ATTENTION_PATHS_DEBUG=1).
 */
export function run(argv: string[]): void {
  quietRuntimeWarnings();
  main(argv).then(
    (code) => exitFlushed(code),
    (e) => {
      printFailure(e, 'attention-paths', (t) => process.stderr.write(t));
      exitFlushed(1);
    },
  );
}

/**
 * Exits once stdout and stderr have handed over what was written: into a pipe, writes are asynchronous, and an
 * immediate `process.exit` cut `analyze --json -` off after 64 KiB (one pipe buffer).
 */
function exitFlushed(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

if (require.main === module) run(process.argv.slice(2));
