/**
 * What a model costs: its parameters, its size on disk, and its latency per batch in ONNX Runtime — the numbers a
 * pruned model is compared on with its original.
 *
 * Latency is the median wall-clock time of repeated runs of one batch (the first `batch` examples of the data) in
 * one ONNX Runtime CPU session with one intra-op thread, after warm-up runs; the runs stop at `runs` or when
 * `budgetMs` is spent, whichever comes first (at least 3 timed runs). Medians of the same machine are comparable
 * between the two models; they are not a benchmark of the machine.
 */
import { existsSync, statSync } from 'node:fs';
import { sliceInputs, type ModelInputs } from './feeds';
import { ModelRunner } from './runtime';
import { DataType, type OnnxModel } from '../format/types';
import type { LatencyMeasure } from '../../../../shared/model';
export type { LatencyMeasure };

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

/** Number of floating-point weight elements (initializers of float types; shape constants are not parameters). */
export function parameterCount(model: OnnxModel): number {
  let n = 0;
  for (const t of model.graph.initializers.values()) if (FLOAT_TYPES.has(t.dataType)) n += t.size;
  return n;
}

/** Bytes on disk of the model file and the external data files it reads. */
export function fileBytes(model: OnnxModel): number {
  let n = existsSync(model.file) ? statSync(model.file).size : 0;
  const files = new Set<string>();
  for (const t of model.graph.initializers.values()) if (t.external) files.add(t.external.path);
  for (const f of files) if (existsSync(f)) n += statSync(f).size;
  return n;
}

/**
 * Measures the median latency per batch (see module doc).
 * @param bytes the serialized model (external data inlined); `model` its decoded form (input types).
 * @throws Error when ONNX Runtime cannot load or run the model.
 */
export async function measureLatency(
  bytes: Uint8Array,
  model: OnnxModel,
  inputs: ModelInputs,
  label: string,
  opts: { batchSize?: number; runs?: number; warmup?: number; budgetMs?: number } = {},
): Promise<LatencyMeasure> {
  const batch = inputs.batched.size ? Math.min(inputs.count, Math.max(1, opts.batchSize ?? 64)) : inputs.count;
  const feeds = sliceInputs(inputs, 0, batch);
  const types = new Map(model.graph.inputs.map((i) => [i.name, i.elemType || DataType.FLOAT]));
  const runner = ModelRunner.create(bytes, types, label);
  const fetch = [model.graph.outputs[0].name];
  const times: number[] = [];
  try {
    await runner.ready();
    for (let i = 0; i < (opts.warmup ?? 2); i++) await runner.run(feeds, fetch);
    const budget = opts.budgetMs ?? 2000;
    const start = performance.now();
    const runs = opts.runs ?? 21;
    while (times.length < runs && (times.length < 3 || performance.now() - start < budget)) {
      const t0 = performance.now();
      await runner.run(feeds, fetch);
      times.push(performance.now() - t0);
    }
  } finally {
    await runner.release();
  }
  const sorted = [...times].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median_ms: median, min_ms: sorted[0], max_ms: sorted[sorted.length - 1], runs: sorted.length, batch };
}
