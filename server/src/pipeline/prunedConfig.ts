/**
 * The config that analyses a pruned model the way its original was analysed: the original's data, split, batch
 * size and theory settings (widths, variances, T_B, readout, solver, seed), with `attention.model` naming the pruned
 * model. It is written beside the pruned model as `<pruned>.attention.yaml` (or `<pruned>-2.attention.yaml`, … —
 * an existing file is never replaced), with paths relative to it, so `attention-paths analyze` and the editor
 * read it as any other config (README "Analyzing a real model").
 */
import { writeFileSync } from 'node:fs';
import { basename, dirname, relative, sep } from 'node:path';
import { stringify } from 'yaml';
import type { AnalysisConfig } from '../config/types';
import { freeConfigPath } from './model/modelConfig';

/** A path relative to `dir`, with forward slashes (`./` omitted); absolute when it is on another drive. */
function rel(dir: string, p: string): string {
  const r = relative(dir, p);
  return r.split(sep).join('/') || '.';
}

/**
 * The YAML text of the pruned model's config.
 * @param original the original model's analysis config (absolute paths, as `loadConfig` returns them).
 * @param pruned absolute path of the pruned model; `configPath` where the config will be written.
 * @param heads the pruned model's heads per layer, written only when the original config gave `heads` (a model
 *   whose shapes do not tell its head counts).
 * @throws Error when the original config has no data (there is nothing to analyse the pruned model on).
 */
export function prunedConfigText(original: AnalysisConfig, pruned: string, configPath: string, heads?: number[]): string {
  if (!original.data) throw new Error('the original analysis has no data file to analyse the pruned model on');
  const dir = dirname(configPath);
  const { kind: _kind, model: from, params: _params, G: _G, ...attention } = original.attention ?? { kind: 'model' };
  const doc: Record<string, unknown> = {
    data: rel(dir, original.data),
    attention: { kind: 'model', model: rel(dir, pruned), ...attention },
  };
  if (original.heads !== undefined && heads) doc.heads = heads;
  doc.widths = original.widths;
  doc.variances = original.variances;
  doc.temperature = original.temperature;
  if (original.readout) doc.readout = original.readout;
  doc.solver = { tolerance: original.solver.tolerance, maxIterations: original.solver.maxIterations };
  doc.seed = original.seed;
  const head = [
    `# Created by Attention Paths for ${basename(pruned)}, pruned from ${from ? basename(from) : 'its original model'}:`,
    `# the same data, split and theory settings as ${original.source ? basename(original.source) : 'the original analysis'}.`,
  ];
  return `${head.join('\n')}\n${stringify(doc)}`;
}

/**
 * Writes the pruned model's config beside it under the first free name (see module doc), exclusively.
 * @returns the config's path and text.
 * @throws Error when the folder is not writable or no free name is found.
 */
export function writePrunedConfig(original: AnalysisConfig, pruned: string, heads?: number[]): { config: string; text: string } {
  for (let attempt = 0; attempt < 20; attempt++) {
    const config = freeConfigPath(pruned);
    const text = prunedConfigText(original, pruned, config, heads);
    try {
      writeFileSync(config, text, { flag: 'wx' }); // never replaces a file
      return { config, text };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot write ${config}: ${(e as Error).message}`, { cause: e });
    }
  }
  throw new Error(`cannot find a free config name beside ${pruned}`);
}
