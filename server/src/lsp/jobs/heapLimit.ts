/** The V8 heap limit of job processes (lsp/workers/jobProcess.ts), from the job's memory estimate. */
import { statSync } from 'node:fs';
import { builtinSize } from '../../pipeline/prepare';
import { estimateMemoryBytes, memoryBudget } from '../../pipeline/resources';
import type { JobSpec } from './jobTypes';

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
