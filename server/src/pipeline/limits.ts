/**
 * Limits on work. The path limit (the editor's `attentionPaths.maxPaths`, the CLI's `--max-paths`, both 256 by
 * default): the solve grows with the number of attention paths H_1···H_L — which multiplies across layers — so a deep
 * model or a typo in `heads` would otherwise tie up the machine for hours; the refusal names the cause and, for ONNX
 * model configs, offers layer windows (docs/windows.md). The heap limit of job processes is the language server's
 * (lsp/jobs/heapLimit.ts).
 */
import { ConfigValueError } from '../config/types';
import { pathCount } from '../theory/paths';
import { autoWindowSize, pathCountText, tileWindows, windowLabel, type LayerWindow } from './windowPlan';

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
 * @throws ConfigValueError (at the model for a model config, else at `heads`) naming the path count, that the paths
 *   multiply across layers (so P is not the cause), and — for model
 *   configs — the `attention.windows` value that stays within the limit; otherwise how to reduce the heads or raise
 *   the limit.
 */
export function checkPathLimit(heads: number[], maxPaths: number, action: 'analyse' | 'sweep' | 'prune', opts: { windows?: boolean } = {}): void {
  const paths = pathCount(heads);
  if (paths <= maxPaths) return;
  const what = { analyse: 'analyse it whole', sweep: 'sweep its width', prune: 'prune it (the pruner analyses it first)' }[action];
  const head = `this config has ${pathCountText(heads)} attention paths (heads [${heads.join(', ')}]; paths multiply across layers), more than the path limit ${maxPaths} (${LIMIT_SETTING})`;
  const advice = opts.windows && action !== 'sweep' ? windowsAdvice(heads, maxPaths) : null;
  // placed where the paths come from: a model config's model, else the heads (a config without them gets no place)
  const pointer = opts.windows ? '/attention/model' : '/heads';
  if (advice) {
    throw new ConfigValueError(
      pointer,
      `${head}; reducing P would not help. Analyse the model in layer windows: ${advice} — see docs/windows.md — or raise the limit to ${what}`,
    );
  }
  throw new ConfigValueError(pointer, `${head}; use fewer heads or layers, or raise the limit to ${what}`);
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
