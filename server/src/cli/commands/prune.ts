/**
 * `attention-paths prune MODEL.onnx (--heads L:H,... | --drop-lowest K) [--data FILE] [--config CONFIG]
 *  --out OUT.onnx [--num-heads N,...] [--predict] [--analyze] [--rescale] [--force] [--json [FILE]] [--quiet]`
 *
 * Removes attention heads from an ONNX model (see `pipeline/pruneModel.ts`), checks that the result equals the
 * original with those heads masked, prints what was removed with the measured (and, when run, predicted) effect
 * and the original-versus-pruned comparison, and writes the pruned model; `--analyze` then analyses it with a config
 * written beside it. Exit code 0 on success, 1 with a one-line reason on failure (nothing written), 2 for usage errors.
 */
import { resolve } from 'node:path';
import { loadConfig } from '../../config/load';
import { parseHeadList } from '../../onnx/edit/prune';
import { CHEAP_THEORY_PATHS, CHEAP_THEORY_SECONDS, runPruneJob, type PruneSummary } from '../../pipeline/pruneModel';
import { CONFIRM_ABOVE_SECONDS } from '../../pipeline/resources';
import { costConfirmation } from '../confirm';
import { writeFileSafely } from '../../io/atomic';
import { checkOutputFile, checkOutputsDistinct, inputFiles, samePath, type LabelledPath } from '../../io/paths';
import { UsageError, type CliIO, type Command, type OptionSpec, type ParsedArgs, type RunContext } from '../command';
import { JSON_OPTION } from '../options';

const options: Record<string, OptionSpec> = {
  heads: { type: 'string', value: 'L:H,...', help: 'heads to remove, 0-based layer:head (ranges L:H1-H2 allowed), e.g. --heads 0:1,1:0-1' },
  'drop-lowest': {
    type: 'string',
    value: 'K',
    help: 'remove the K prunable heads the theory predicts least harmful to silence (lowest predicted\nε_g increase, comparable across layer windows), keeping one head per layer (needs --config\nor labelled --data)',
  },
  data: {
    type: 'string',
    value: 'FILE',
    help: 'inputs keyed by ONNX input name (.npz/.json, a .npy for one-input models, or a\ntest_data_set_<n> folder); with labels y (or <input>_train/_test and y_train/y_test) the\nmeasured metric before/after is printed',
  },
  config: { type: 'string', value: 'CONFIG', help: 'analysis config whose attention is this model (attention: { kind: model, model: ... })' },
  out: { type: 'string', value: 'OUT.onnx', help: 'where to write the pruned model (never the input; external data goes to OUT.onnx.data)' },
  'num-heads': { type: 'string', value: 'N,...', help: "head count per attention block (or one for all) where the model's shapes do not tell it" },
  predict: {
    type: 'boolean',
    help: `run the theory's prediction next to the measurement even when it is not cheap (it runs\nby itself when estimated under ${CHEAP_THEORY_SECONDS} s with at most ${CHEAP_THEORY_PATHS} attention paths)`,
  },
  analyze: {
    type: 'boolean',
    help: "then write OUT.attention.yaml beside the pruned model (the original's data and settings;\nnever over an existing file), analyse the pruned model with it, and time both models",
  },
  rescale: { type: 'boolean', help: 'multiply the remaining heads of each pruned layer by sqrt(H / (H - removed))' },
  force: { type: 'boolean', help: 'replace an existing OUT.onnx' },
  yes: {
    type: 'boolean',
    short: 'y',
    help: `run the theory without asking when its estimate exceeds ${CONFIRM_ABOVE_SECONDS} s (otherwise asked on a\nterminal, refused without one), as analyze does`,
  },
  json: { ...JSON_OPTION, help: 'write the summary as JSON to FILE (or stdout with a bare --json)' },
  quiet: { type: 'boolean', help: 'no progress on stderr' },
};

function fmtMetric(m: { kind: string; value: number }): string {
  return m.kind === 'accuracy' ? `accuracy ${(100 * m.value).toFixed(1)}%` : `MSE ${m.value.toPrecision(4)}`;
}

function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 ** 2).toFixed(2)} MB`;
}

function metricText(m: { kind: string; value: number } | undefined): string {
  if (!m) return '—';
  return m.kind === 'accuracy' ? `${(100 * m.value).toFixed(1)}%` : m.value.toPrecision(4);
}

function headName(h: { layer: number; head: number; original: { layer: number; head: number } }): string {
  return h.original.layer === h.layer && h.original.head === h.head
    ? `${h.layer}:${h.head}`
    : `${h.layer}:${h.head} (was ${h.original.layer}:${h.original.head})`;
}

/** The original-versus-pruned table. */
export function formatComparison(c: PruneSummary['comparison']): string[] {
  const o = c.original;
  const p = c.pruned;
  const sum = (h: number[]) => `${h.reduce((a, b) => a + b, 0)} [${h.join(', ')}]`;
  const rows: [string, string, string][] = [
    ['', 'original', 'pruned'],
    ['heads', sum(o.heads), sum(p.heads)],
    ['parameters', o.parameters.toLocaleString('en-US'), p.parameters.toLocaleString('en-US')],
    ['file size', bytesText(o.file_bytes), bytesText(p.file_bytes)],
  ];
  if (o.measured || p.measured) rows.push([`measured ${o.measured?.kind ?? p.measured?.kind}`, metricText(o.measured), metricText(p.measured)]);
  if (o.latency && p.latency) rows.push(['latency per batch', `${o.latency.median_ms.toFixed(2)} ms`, `${p.latency.median_ms.toFixed(2)} ms`]);
  if (o.predicted || p.predicted) {
    const f = (m?: { acc_mean_predictor: number }) => (m ? `${(100 * m.acc_mean_predictor).toFixed(1)}%` : '—');
    rows.push(['predicted accuracy', f(o.predicted), f(p.predicted)]);
  }
  const w = [0, 1, 2].map((k) => Math.max(...rows.map((r) => r[k].length)));
  const out = rows.map((r) => `    ${r[0].padEnd(w[0])}  ${r[1].padStart(w[1])}  ${r[2].padStart(w[2])}`.trimEnd());
  if (o.latency && p.latency)
    out.push(`    (latency: median of ${o.latency.runs} and ${p.latency.runs} runs of ${o.latency.batch} examples, ONNX Runtime CPU, 1 thread)`);
  if (o.predicted || p.predicted) out.push("    (predicted: the theory's test accuracy at finite width, each model with its own analysis)");
  return out;
}

/** A warning under `prefix`, its detail lines indented to the warning's text (they began at column 0). */
function warningLines(prefix: string, w: string): string {
  return prefix + w.split('\n').join('\n' + ' '.repeat(prefix.length));
}

/** The text summary printed on stdout. */
export function formatPruneSummary(s: PruneSummary): string {
  const lines: string[] = [];
  lines.push(`Pruned ${s.model} → ${s.out}`);
  lines.push(
    `  heads per layer: [${s.headsBefore.join(', ')}] → [${s.headsAfter.join(', ')}]${s.rescale ? ' (remaining heads rescaled by √(H/(H−removed)))' : ''}`,
  );
  lines.push(`  removed: ${s.removed.map((h) => `${headName(h)}${h.score !== undefined ? ` (score ${h.score.toFixed(3)})` : ''}`).join(', ')}`);
  if ('skipped' in s.verification) lines.push(`  not verified: ${s.verification.skipped}`);
  else {
    const v = s.verification;
    lines.push(
      `  verified on ${v.examples} examples of ${v.data}: max |pruned − masked original| = ${v.maxAbsDiff.toExponential(2)} (allowed ${v.tolerance.toExponential(1)})`,
    );
  }
  if (s.measured) lines.push(`  measured (test split): ${fmtMetric(s.measured.before)} → ${fmtMetric(s.measured.after)}`);
  if (s.predicted) {
    const p = s.predicted;
    lines.push(
      `  theory (head silencing, finite width): accuracy ${(100 * p.before.acc_mean_predictor).toFixed(1)}% → ${(100 * p.after.acc_mean_predictor).toFixed(1)}%, ` +
        `ε_g ${p.before.eg_total.toPrecision(4)} → ${p.after.eg_total.toPrecision(4)}`,
    );
  } else if (!s.theory.ran && s.theory.reason !== 'no labelled data') lines.push(`  theory: ${s.theory.reason}`);
  for (const w of s.warnings) lines.push(warningLines('  warning: ', w));
  lines.push('  original versus pruned:');
  lines.push(...formatComparison(s.comparison));
  const a = s.analysis;
  if (a) {
    lines.push(`  analysis of the pruned model (${a.config}):`);
    lines.push(
      `    predicted accuracy ${(100 * a.metrics.acc_mean_predictor).toFixed(1)}% (GP limit ${(100 * a.gp_metrics.acc_mean_predictor).toFixed(1)}%), ` +
        `ε_g ${a.metrics.eg_total.toPrecision(4)}; solver ${a.solver.converged ? 'converged' : 'NOT converged'} after ${a.solver.iterations} iterations`,
    );
    const low = a.head_scores_ascending.slice(0, 5).map((h) => `${headName(h)} ${h.score.toFixed(3)}`);
    lines.push(`    lowest head scores: ${low.join(', ')}${a.head_scores_ascending.length > 5 ? ', …' : ''}`);
    for (const w of a.warnings) lines.push(warningLines('    warning: ', w));
  }
  for (const n of s.notes) lines.push(`  note: ${n}`);
  lines.push(`  written: ${s.files.join(', ')}`);
  return lines.join('\n');
}

/** `attention-paths prune`. */
export const prune: Command = {
  name: 'prune',
  ownPrefix: true,
  synopsis:
    'MODEL.onnx (--heads L:H,... | --drop-lowest K) --out OUT.onnx [--data FILE] [--config CONFIG] [--num-heads N,...] [--predict] [--analyze] [--rescale] [--force] [--yes] [--json [FILE]] [--quiet]',
  summary: 'Remove attention heads and write a smaller, verified model.',
  details: `Removes attention heads from an ONNX model: slices the query/key/value and output projections (or, for summed
heads, removes the head's term of the sum), rewrites head counts in Reshape/Expand/Slice constants and operator
attributes, slices per-head masks. The pruned model must reproduce the original with the same heads masked to
zero (to 1e-5) before it is written; its metadata keeps the original layer:head of every remaining head.`,
  options,
  run: runPruneArgs,
};

async function runPruneArgs(args: ParsedArgs, io: CliIO, ctx: RunContext): Promise<number> {
  const o = args.values as { [k in 'heads' | 'drop-lowest' | 'data' | 'config' | 'out' | 'num-heads' | 'json']?: string } & {
    [k in 'predict' | 'analyze' | 'rescale' | 'force' | 'yes' | 'quiet']: boolean;
  };
  const positionals = args.positionals;
  ctx.configSource = o.config;
  if (positionals.length !== 1) throw new UsageError(`prune takes one MODEL.onnx, got ${positionals.length ? positionals.join(' ') : 'none'}`);
  if (!o.out) throw new UsageError('prune needs --out OUT.onnx');
  if ((o.heads === undefined) === (o['drop-lowest'] === undefined)) throw new UsageError('give exactly one of --heads L:H,... and --drop-lowest K');
  let heads;
  if (o.heads !== undefined) {
    try {
      heads = parseHeadList(o.heads);
    } catch (e) {
      throw new UsageError(`--heads: ${(e as Error).message}`);
    }
  }
  let dropLowest: number | undefined;
  if (o['drop-lowest'] !== undefined) {
    dropLowest = Number(o['drop-lowest']);
    if (!Number.isInteger(dropLowest) || dropLowest < 1) throw new UsageError(`--drop-lowest: "${o['drop-lowest']}" is not a positive integer`);
  }
  let headCounts: number[] | undefined;
  if (o['num-heads'] !== undefined) {
    headCounts = o['num-heads'].split(',').map((x) => Number(x.trim()));
    if (!headCounts.length || headCounts.some((h) => !Number.isInteger(h) || h < 1))
      throw new UsageError(`--num-heads: "${o['num-heads']}" is not a positive integer or a comma-separated list of them`);
  }
  const config = o.config ? loadConfig(o.config, { onWarning: (w) => io.stderr(`${w.file}:${w.line}:${w.column}: warning: ${w.message}\n`) }) : undefined;
  // Every output is checked before any work: writable, not existing (without --force), not an input, not another output.
  const out = resolve(o.out);
  const json = o.json && o.json !== '-' ? resolve(o.json) : undefined;
  const inputs: LabelledPath[] = [{ label: `the input model ${positionals[0]}`, path: positionals[0] }];
  if (o.data) inputs.push(...inputFiles(`the data ${o.data}`, o.data));
  if (o.config) inputs.push({ label: `the config ${o.config}`, path: o.config });
  if (config?.data) inputs.push(...inputFiles(`the config's data ${config.data}`, config.data));
  if (config?.attention?.params) inputs.push({ label: `the config's attention params ${config.attention.params}`, path: config.attention.params });
  if (config?.attention?.model) inputs.push({ label: `the config's model ${config.attention.model}`, path: config.attention.model });
  const outputs: LabelledPath[] = [
    { label: `--out ${o.out}`, path: out },
    { label: `the external data file of --out ${o.out}`, path: `${out}.data` },
  ];
  if (json) outputs.push({ label: `--json ${o.json}`, path: json });
  if (samePath(out, positionals[0])) throw new Error(`the output ${o.out} is the input model; write the pruned model to a new file`);
  checkOutputsDistinct(outputs, inputs);
  checkOutputFile(out, o.force);
  if (json) checkOutputFile(json, o.force);
  const start = Date.now();
  let last = 0;
  const summary = await runPruneJob({
    model: positionals[0],
    out: o.out,
    heads,
    dropLowest,
    data: o.data,
    config,
    rescale: o.rescale,
    force: o.force,
    ...(headCounts ? { headCounts: headCounts.length === 1 ? headCounts[0] : headCounts } : {}),
    predict: o.predict,
    analyze: o.analyze,
    confirmCost: costConfirmation(!!o.yes),
    onProgress: (stage, message) => {
      const now = Date.now();
      if (o.quiet || now - start < 1000 || now - last < 250) return;
      last = now;
      io.stderr(`[${((now - start) / 1000).toFixed(1)} s] ${stage}: ${message}\n`);
    },
  });
  if (o.json === '-') io.stdout(JSON.stringify(summary, null, 2) + '\n');
  else io.stdout(formatPruneSummary(summary) + '\n');
  if (o.json && o.json !== '-') {
    writeFileSafely(resolve(o.json), JSON.stringify(summary, null, 2) + '\n', o.force);
    io.stdout(`Summary written to ${o.json}\n`);
  }
  return 0;
}
