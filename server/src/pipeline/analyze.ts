/**
 * The main job on a config: prepare the inputs, then `analyzePrepared` (analyzePrepared.ts), or the layer windows
 * of a windowed model config (windows.ts); the width sweep on a config. The CLI and the language server both call
 * these; neither has analysis logic of its own.
 */
import { ConfigValueError, type AnalysisConfig } from '../config/types';
import type { AnalysisReport, SweepReport } from '../../../shared/report';
import { prepare } from './prepare';
import { estimateCost, type WorkKind } from './resources';
import { analyzeWindows, isWindowed } from './windows';
import { analyzePrepared, sweepPrepared, type RunOptions } from './analyzePrepared';

/** The `prepare` gate that hands `confirmCost` the cost of `work`. */
function costGate(opts: Pick<RunOptions, 'confirmCost'>, work: WorkKind) {
  const confirm = opts.confirmCost;
  return confirm && ((shape: Parameters<typeof estimateCost>[0]) => confirm(estimateCost(shape, work)));
}

/**
 * Runs the main job on a config: prepare inputs, then `analyzePrepared`.
 * @throws ConfigError-style Errors for bad inputs, NumericalError for numerical trouble, the abort
 *   reason when `signal` fires.
 */
export async function analyze(config: AnalysisConfig, opts: RunOptions = {}): Promise<AnalysisReport> {
  if (isWindowed(config)) return analyzeWindows(config, opts);
  const p = await prepare(config, opts.onProgress, costGate(opts, { kind: 'analyze', measureHeadRemoval: opts.measureHeadRemoval }), {
    maxPaths: opts.maxPaths,
  });
  return analyzePrepared(p, config, opts);
}

/**
 * Finite-width versus GP accuracy and ε_g against the width N (every layer and the readout at N),
 * the paper's Fig. 2a / 3b analogue. Each solve starts from the previous width's U (warm start).
 * @param widths list of N (> 0), solved in the given order.
 */
export async function sweep(config: AnalysisConfig, widths: number[], opts: RunOptions = {}): Promise<SweepReport> {
  if (isWindowed(config)) {
    throw new ConfigValueError(
      config.attention?.layers ? '/attention/layers' : '/attention/windows',
      'sweep solves one U per width and does not run layer windows; remove attention.layers / attention.windows, or analyse the windows with `analyze`',
    );
  }
  return sweepPrepared(
    await prepare(config, opts.onProgress, costGate(opts, { kind: 'sweep', widths: widths.length }), { maxPaths: opts.maxPaths, action: 'sweep' }),
    config,
    widths,
    opts,
  );
}
