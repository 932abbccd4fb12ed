/**
 * Options several commands share (their declarations and the parsing of their values) and the checks of their
 * outputs before any work.
 */
import { resolve } from 'node:path';
import { loadConfig } from '../config/load';
import { defaultConfig } from '../config/defaults';
import type { AnalysisConfig } from '../config/types';
import { checkOutputDir, checkOutputFile, checkOutputsDistinct, inputFiles, samePath, type LabelledPath } from '../io/paths';
import { CONFIRM_ABOVE_SECONDS, type CostEstimate } from '../pipeline/resources';
import { DEFAULT_SETTINGS } from '../../../shared/protocol';
import { isWidth, WIDTH_RANGE } from '../../../shared/width';
import { UsageError, type OptionSpec } from './command';

/** The path limit of `analyze` and `sweep` without --max-paths (the editor's attentionPaths.maxPaths default). */
export const DEFAULT_MAX_PATHS = DEFAULT_SETTINGS.maxPaths;

/** `--json [FILE]`: a bare --json (or --json -) is stdout. */
export const JSON_OPTION: OptionSpec = {
  type: 'string',
  value: 'FILE',
  optionalValue: true,
  help: 'write the result as JSON to FILE (a bare --json, or --json -, prints it on stdout)',
};

/** Options of the theory's commands (analyze, sweep). */
export const RUN_OPTIONS: Record<string, OptionSpec> = {
  json: {
    ...JSON_OPTION,
    help: 'write the full report as JSON (field names as in the golden files); a bare --json\n(or --json -) prints the JSON on stdout instead',
  },
  report: {
    type: 'string',
    value: 'DIR',
    help: 'write report JSON, SVG charts and their Vega-Lite specs into DIR (analyze: U₁\nheatmap, head scores, kernel-PC overlap with the labels, accuracy with each head\nremoved; sweep: accuracy and ε_g against N)',
  },
  'max-paths': {
    type: 'string',
    value: 'N',
    help: `refuse configs with more than N attention paths H_1···H_L (per layer window with\nattention.windows), before any work, with advice (default ${DEFAULT_MAX_PATHS})`,
  },
  force: { type: 'boolean', help: 'replace existing output files (never done without it)' },
  quiet: { type: 'boolean', help: 'no progress on stderr' },
  yes: {
    type: 'boolean',
    short: 'y',
    help: `run without asking when the estimate exceeds ${CONFIRM_ABOVE_SECONDS} s (otherwise asked on a\nterminal, refused when not on one)`,
  },
};

/** What analyze and sweep say about CONFIG. */
export const CONFIG_NOTE = 'CONFIG is a YAML or JSON file (schema: schemas/attention-paths.schema.json).';

export function parseMaxPaths(text: string | undefined): number {
  if (text === undefined) return DEFAULT_MAX_PATHS;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--max-paths: "${text}" is not a number of paths (a whole number ≥ 1)`);
  return n;
}

/** `--widths 10,30,100`: widths N by the rule of shared/width.ts. */
export function parseWidths(text: string | undefined): number[] {
  if (!text) throw new UsageError('sweep needs --widths, e.g. --widths 10,30,100,300,1000');
  const parts = text.split(',');
  const widths = parts.map((s) => Number(s.trim()));
  const bad = widths.findIndex((n) => !isWidth(n));
  if (bad >= 0) {
    const n = widths[bad];
    throw new UsageError(`--widths: "${parts[bad]}" is not a width N ${WIDTH_RANGE}${n <= 0 ? ' (a width must be positive)' : ''}`);
  }
  // each width is one solve: a repeated one would be solved again for the same row
  const again = widths.findIndex((n, i) => widths.indexOf(n) !== i);
  if (again >= 0) throw new UsageError(`--widths: ${parts[again].trim()} is listed twice (each width is solved once)`);
  return widths;
}

/** The config file, or the embedded default without one; warnings to stderr. */
export function readConfig(path: string | undefined, stderr: (t: string) => void): AnalysisConfig {
  if (!path) return defaultConfig();
  return loadConfig(path, { onWarning: (w) => stderr(`${w.file}:${w.line}:${w.column}: warning: ${w.message}\n`) });
}

/** The files a config reads: the config itself, its data (file or folder), attention params and model. */
export function configInputs(config: AnalysisConfig): LabelledPath[] {
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
export function planOutputs(o: { json?: string; report?: string; force?: boolean }, reportFiles: string[], inputs: LabelledPath[]): void {
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

/** At most one CONFIG positional. */
export function noExtra(command: string, rest: string[], what: string): void {
  if (rest.length > 1) throw new UsageError(`${command} takes at most one ${what}, got ${rest.length}: ${rest.join(' ')}`);
}

/** The CLI's progress lines on stderr, and the confirmation question kept clear of them. */
export interface ProgressPrinter {
  onProgress: (stage: string, message: string) => void;
  stop: () => void;
  /** `confirm` with the progress lines held back while it asks (none is printed onto the y/N question). */
  confirming: (confirm: ((cost: CostEstimate) => Promise<void>) | undefined) => ((cost: CostEstimate) => Promise<void>) | undefined;
}

/**
 * Progress lines on stderr, once the current stage has run for a second: a stage that ends sooner
 * prints nothing. A timer (not holding the process open) prints the stage that is still running.
 */
export function progressPrinter(quiet: boolean, stderr: (t: string) => void): ProgressPrinter {
  const start = Date.now();
  let current: { stage: string; message: string; since: number; printed: boolean } | null = null;
  let lastPrint = 0;
  let paused = false;
  const print = () => {
    if (paused || !current || current.printed) return;
    const now = Date.now();
    if (now - current.since < 1000 || now - lastPrint < 250) return;
    current.printed = true;
    lastPrint = now;
    stderr(`[${((now - start) / 1000).toFixed(1)} s] ${current.stage}: ${current.message}\n`);
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
    confirming: (confirm) =>
      confirm &&
      (async (cost) => {
        // the stage begun before the question would be printed onto it (its second passes while the user reads)
        paused = true;
        try {
          await confirm(cost);
        } finally {
          paused = false;
          if (current) current.since = Date.now();
        }
      }),
  };
}
