/**
 * Limits on work. The path limit (the editor's `attentionPaths.maxPaths`, the CLI's `--max-paths`, both 256 by
 * default): the solve grows with the number of attention paths H_1···H_L — which multiplies across layers — so a deep
 * model or a typo in `heads` would otherwise tie up the machine for hours; the refusal names the cause and, for ONNX
 * model configs, offers layer windows (docs/windows.md). And the heap limit of job processes.
 */
import { statSync } from 'node:fs';
import { pathCount } from '../theory/paths';
import { builtinSize } from '../pipeline/prepare';
import { estimateMemoryBytes, memoryBudget } from '../pipeline/resources';
import { autoWindowSize, pathCountText, tileWindows, windowLabel, type LayerWindow } from '../pipeline/windowPlan';
import type { JobSpec } from './jobTypes';

/** Where the limit is set, for messages. */
const LIMIT_SETTING = '--max-paths on the command line, attentionPaths.maxPaths in the editor';

/**
 * Advice for running a model in layer windows within `maxPaths`: the `attention.windows` value and what it gives.
 * @returns e.g. "`attention.windows: 3` (2 windows of 64 paths each)", or null when one block alone exceeds the limit.
 */
export function windowsAdvice(heads: number[], maxPaths: number): string | null {
  const size = autoWindowSize(heads, maxPaths);
  if (size === null) return null;
  const ws = tileWindows(heads, size);
  const paths = [...new Set(ws.map((w) => w.paths))];
  const each = paths.length === 1 ? `${paths[0]} paths each` : `${ws.map((w) => w.paths).join(', ')} paths`;
  return `\`attention.windows: ${size}\` (${ws.length} window${ws.length > 1 ? 's' : ''} of ${size} block${size > 1 ? 's' : ''}, ${each}; \`attention.windows: auto\` picks the same)`;
}

/**
 * Refuses work on configs with more attention paths H_1···H_L than `maxPaths`.
 * @param heads heads per layer; action: what was asked ('analyse', 'sweep', 'prune'), for the message.
 * @param opts.windows true when the config can use layer windows (an ONNX model config, `attention.kind: model`).
 * @throws Error naming the path count, that the paths multiply across layers (so P is not the cause), and — for model
 *   configs — the `attention.windows` value that stays within the limit; otherwise how to reduce the heads or raise
 *   the limit.
 */
export function checkPathLimit(heads: number[], maxPaths: number, action: 'analyse' | 'sweep' | 'prune', opts: { windows?: boolean } = {}): void {
  const paths = pathCount(heads);
  if (paths <= maxPaths) return;
  const what = { analyse: 'analyse it whole', sweep: 'sweep its width', prune: 'prune it (the pruner analyses it first)' }[action];
  const head = `this config has ${pathCountText(heads)} attention paths (heads [${heads.join(', ')}]; paths multiply across layers), more than the path limit ${maxPaths} (${LIMIT_SETTING})`;
  const advice = opts.windows && action !== 'sweep' ? windowsAdvice(heads, maxPaths) : null;
  if (advice) {
    throw new Error(`${head}; reducing P would not help. Analyse the model in layer windows: ${advice} — see docs/windows.md — or raise the limit to ${what}`);
  }
  throw new Error(`${head}; use fewer heads or layers, or raise the limit to ${what}`);
}

/**
 * Refuses a windowed config one of whose windows has more than `maxPaths` paths.
 * @throws Error naming the window, its paths, and the `attention.windows` value that fits.
 */
export function checkWindowPathLimit(heads: number[], windows: LayerWindow[], maxPaths: number): void {
  const big = windows.find((w) => w.paths > maxPaths);
  if (!big) return;
  const advice = windowsAdvice(heads, maxPaths);
  throw new Error(
    `window ${big.index} (${windowLabel(big)}, heads [${big.heads.join(', ')}]) has ${pathCountText(big.heads)} attention paths, more than the path limit ${maxPaths} (${LIMIT_SETTING}); ` +
      (advice ? `use smaller windows: ${advice}` : `a single block has more heads than the limit; raise it`),
  );
}

/** V8 heap limit (MB) of job processes for small jobs; also the warm spare process's, so those jobs can take it. */
export const DEFAULT_JOB_HEAP_MB = 2048;

function fileBytes(p: string | undefined): number {
  if (!p) return 0;
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
}

/**
 * The V8 heap limit (`--max-old-space-size`, MB) of the process that runs `spec`, from the job's memory estimate
 * (pipeline/resources.ts): the shapes of a built-in task, else four times the bytes of the files it reads. The
 * large float64 arrays live outside V8's heap (ArrayBuffers); the heap holds the reports and the pipeline's
 * objects, which grow with the same shapes. At least DEFAULT_JOB_HEAP_MB, at most 80% of the memory this server
 * may still use (`memoryBudget`), so a runaway job hits its own limit — and dies alone — long before the machine
 * runs out.
 */
export function jobHeapLimitMb(spec: JobSpec): number {
  let estimate: number;
  if (spec.kind === 'analyze' || spec.kind === 'sweep' || spec.kind === 'silence') {
    const size = spec.config.attention?.kind === 'model' ? undefined : builtinSize(spec.config);
    estimate = size
      ? estimateMemoryBytes(size)
      : 4 * (fileBytes(spec.config.data) + fileBytes(spec.config.attention?.params) + fileBytes(spec.config.attention?.model));
  } else if (spec.kind === 'pruneModel') estimate = 4 * (fileBytes(spec.job.model) + fileBytes(spec.job.data));
  else estimate = 4 * fileBytes(spec.path);
  const cap = Math.max(256, (0.8 * memoryBudget().bytes) / 2 ** 20);
  return Math.floor(Math.min(cap, Math.max(DEFAULT_JOB_HEAP_MB, estimate / 2 ** 20)));
}
