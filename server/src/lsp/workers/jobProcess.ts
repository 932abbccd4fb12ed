/**
 * Job process entry point (bundled as dist/job.js, started by lsp/jobs/jobs.ts with child_process.fork): waits
 * for one job of `jobTypes.ts` on the IPC channel, runs it with the shared pipeline, sends progress, its cost
 * and the result, and is then killed by the server. The server stops stale work by killing this process
 * (SIGKILL), which is safe whatever it is doing — also inside ONNX Runtime's native code, where ending a
 * worker thread aborts the whole process. For the same reason the process leaves when the server does (the
 * IPC channel closes), so no job outlives its server.
 */
import { sweep } from '../../pipeline/analyze';
import { analyzePrepared, sweepPrepared } from '../../pipeline/analyzePrepared';
import { analyzeWindows, isWindowed } from '../../pipeline/windows';
import { planWindows } from '../../pipeline/windowPlan';
import { detectAttention } from '../../onnx/detect/detect';
import { readModel } from '../../onnx/format/read';
import { checkPathLimit, checkWindowPathLimit } from '../../pipeline/limits';
import { prepare, type ProgressFn, type ShapeGate } from '../../pipeline/prepare';
import { estimateCost, type CostEstimate, type WorkKind } from '../../pipeline/resources';
import { predictWithHeadsRemoved } from '../../pipeline/silence';
import { inspectModel } from '../../onnx/detect/inspect';
import { blockGraphs } from '../../onnx/detect/blockGraph';
import { summarizeArraysFile } from '../../data/summary';
import { runPruneJob } from '../../pipeline/pruneModel';
import { ConfigValueError } from '../../config/types';
import type { StageCacheOptions } from '../../pipeline/stageCache';
import type { ChildMessage, JobSpec, ParentMessage } from '../jobs/jobTypes';
import { gemmBackendFromEnv, setGemmBackend } from '../../linalg/gemm';

if (!process.send) {
  process.stderr.write('job.js is started by the language server (child_process.fork), not by hand\n');
  process.exit(2);
}
// The backend the server chose (attentionPaths.computeBackend), handed over in the environment at fork (linalg/gemm.ts).
setGemmBackend(gemmBackendFromEnv());
const send = (m: ChildMessage) => process.send!(m);
const onProgress: ProgressFn = (stage, message, fraction) => send({ type: 'progress', stage, message, fraction });

/**
 * The stage cache of every job (pipeline/stageCache.ts): the default folder ($ATTENTION_PATHS_CACHE_DIR, which
 * the process inherits from the server, else the OS temp folder), shared by all jobs and servers.
 */
const cacheOptions: StageCacheOptions = {};

let go: (() => void) | undefined;
let started = false;

/** The cost goes to the server, which answers `go` (or kills this process). */
function ask(cost: CostEstimate): Promise<void> {
  send({ type: 'cost', cost });
  return new Promise<void>((resolve) => (go = resolve));
}

/** The gate before the large work: path limit (with layer-window advice for model configs), then the cost question. */
function gate(work: WorkKind, maxPaths: number, action: 'analyse' | 'sweep'): ShapeGate {
  return (shape) => {
    checkPathLimit(shape.heads, maxPaths, action, { windows: shape.source === 'model' });
    return ask(estimateCost(shape, work));
  };
}

async function run(spec: JobSpec): Promise<unknown> {
  switch (spec.kind) {
    case 'analyze': {
      // Layer windows: the path limit per window before the model runs, then the summed cost question.
      if (isWindowed(spec.config)) return analyzeWindows(spec.config, { onProgress, measureHeadRemoval: true, maxPaths: spec.maxPaths, confirmCost: ask });
      // The stage cache: a width, temperature or variance edit re-runs the solve only.
      const p = await prepare(spec.config, onProgress, gate({ kind: 'analyze', measureHeadRemoval: true }, spec.maxPaths, 'analyse'), {
        maxPaths: spec.maxPaths,
        cache: cacheOptions,
      });
      return analyzePrepared(p, spec.config, { onProgress, measureHeadRemoval: true, cache: cacheOptions });
    }
    case 'sweep': {
      if (isWindowed(spec.config)) return sweep(spec.config, spec.widths); // refused: sweeps do not run windows
      const p = await prepare(spec.config, onProgress, gate({ kind: 'sweep', widths: spec.widths.length }, spec.maxPaths, 'sweep'), {
        maxPaths: spec.maxPaths,
        action: 'sweep',
        cache: cacheOptions,
      });
      return sweepPrepared(p, spec.config, spec.widths, { onProgress });
    }
    case 'silence': {
      const p = await prepare(spec.config, onProgress, undefined, { cache: cacheOptions });
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
      if (heads.length && heads.every((h): h is number => h !== null)) {
        const config = spec.job.config;
        const att = config?.attention;
        if (config && isWindowed(config))
          checkWindowPathLimit(heads, planWindows(heads, { layers: att?.layers, windows: att?.windows }, spec.maxPaths), spec.maxPaths);
        else checkPathLimit(heads, spec.maxPaths, 'prune', { windows: true });
      }
      return runPruneJob({ ...spec.job, onProgress });
    }
  }
}

function fail(e: unknown): void {
  const err = e instanceof Error ? e : new Error(String(e));
  send({ type: 'failed', name: err.name, message: err.message, stack: err.stack, ...(e instanceof ConfigValueError ? { pointer: e.pointer } : {}) });
}

process.on('message', (m: ParentMessage) => {
  if (m.type === 'go') {
    go?.();
    go = undefined;
  } else if (m.type === 'run' && !started) {
    started = true;
    run(m.spec).then((result) => send({ type: 'done', result }), fail);
  }
});
// A failure outside the job's promise chain still answers (then the server kills this process).
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
// The server went away (crash, restart, shutdown): nothing is waiting for this job any more.
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
