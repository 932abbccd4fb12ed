/**
 * Worker-thread entry point (bundled as dist/worker.js): runs one job of `jobTypes.ts` with the shared
 * pipeline and posts progress and the result to the main thread, then exits. The main thread stops
 * stale work by terminating the worker, because the solver's inner loops do not yield often enough for
 * a cooperative abort to be prompt.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { analyzePrepared, sweepPrepared } from '../pipeline/analyze';
import { detectAttention } from '../onnx/detect';
import { readModel } from '../onnx/read';
import { checkPathLimit } from './limits';
import { prepare, type ProgressFn } from '../pipeline/prepare';
import { predictWithHeadsRemoved } from '../pipeline/silence';
import { inspectModel } from '../onnx/inspect';
import { blockGraphs } from '../onnx/blockGraph';
import { summarizeArraysFile } from '../data/summary';
import { runPruneJob } from '../pipeline/pruneModel';
import type { JobSpec, WorkerInput, WorkerMessage } from './jobTypes';

const port = parentPort;
if (!port) throw new Error('worker.js must run in a worker thread');
const post = (m: WorkerMessage) => port.postMessage(m);
const onProgress: ProgressFn = (stage, message, fraction) => post({ type: 'progress', stage, message, fraction });

async function run(spec: JobSpec): Promise<unknown> {
  switch (spec.kind) {
    case 'analyze': {
      // The stage cache: a width, temperature or variance edit re-runs the solve only.
      const p = await prepare(spec.config, onProgress, { cache: {} });
      checkPathLimit(p.settings.heads, spec.maxPaths, 'analyse');
      return analyzePrepared(p, spec.config, { onProgress, measureHeadRemoval: true, cache: {} });
    }
    case 'sweep': {
      const p = await prepare(spec.config, onProgress, { cache: {} });
      checkPathLimit(p.settings.heads, spec.maxPaths, 'sweep');
      return sweepPrepared(p, spec.config, spec.widths, { onProgress });
    }
    case 'silence': {
      const p = await prepare(spec.config, onProgress, { cache: {} });
      onProgress('predict', `predictor with ${spec.removed.length} head(s) silenced`);
      return predictWithHeadsRemoved(p, spec.U1, spec.removed);
    }
    case 'inspect':
      return inspectModel(spec.path);
    case 'blockGraphs': {
      const model = readModel(spec.path);
      return blockGraphs(model, detectAttention(model));
    }
    case 'arrays':
      return summarizeArraysFile(spec.path);
    case 'pruneModel': {
      // Before the pruner's own analysis of the model: the heads the model's graph declares give the path count.
      const detection = detectAttention(readModel(spec.job.model), spec.job.config?.heads !== undefined ? { heads: spec.job.config.heads } : {});
      const heads = detection.blocks.map((b) => b.queryHeads);
      if (heads.length && heads.every((h): h is number => h !== null)) checkPathLimit(heads, spec.maxPaths, 'prune');
      return runPruneJob({ ...spec.job, onProgress });
    }
  }
}

const { spec } = workerData as WorkerInput;
run(spec).then(
  (result) => post({ type: 'done', result }),
  (e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    post({ type: 'failed', name: err.name, message: err.message, stack: err.stack });
  },
);
