/** Limits the language server puts on work, from its settings (`attentionPaths.*`). */
import { statSync } from 'node:fs';
import { pathCount } from '../theory/paths';
import { builtinSize } from '../pipeline/prepare';
import { estimateMemoryBytes, memoryBudget } from '../pipeline/resources';
import type { JobSpec } from './jobTypes';

/**
 * Refuses work on configs with more attention paths H_1···H_L than the setting `attentionPaths.maxPaths`: the
 * solve scales with (paths)², so a typo in `heads` would otherwise tie up the machine.
 * @param heads heads per layer; action: what was asked ('analyse', 'sweep', 'prune'), for the message
 * @throws Error "this config has N attention paths (heads […]), more than the setting attentionPaths.maxPaths = M; …"
 */
export function checkPathLimit(heads: number[], maxPaths: number, action: 'analyse' | 'sweep' | 'prune'): void {
  const paths = pathCount(heads);
  if (paths <= maxPaths) return;
  const what = { analyse: 'analyse it', sweep: 'sweep its width', prune: 'prune its model (the pruner analyses it first)' }[action];
  throw new Error(
    `this config has ${paths} attention paths (heads [${heads.join(', ')}]), more than the setting attentionPaths.maxPaths = ${maxPaths}; raise the setting to ${what}`,
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
