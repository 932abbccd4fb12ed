/**
 * Running a model (or an edited copy) over a data set and comparing outputs: the check that a pruned model
 * equals the original with the same heads masked, and the measured metric before and after pruning.
 */
import { concatAlong } from './capture';
import { sliceInputs, type ModelInputs } from './feeds';
import { ModelRunner, type HostArray } from './runtime';
import { DataType, type OnnxModel } from '../format/types';
import type { MeasuredMetric } from '../../../../shared/model';
export type { MeasuredMetric };

/**
 * Runs serialized model bytes over every example (batched as `inputs` allows) and returns its graph outputs,
 * concatenated along axis 0.
 * @param model the decoded source model (input element types; output names unless `outputs` is given).
 * @throws Error naming `label` when ONNX Runtime cannot load or run the bytes.
 */
export async function runAll(
  bytes: Uint8Array,
  model: OnnxModel,
  inputs: ModelInputs,
  label: string,
  opts: { batchSize?: number; outputs?: string[] } = {},
): Promise<Map<string, HostArray>> {
  const types = new Map(model.graph.inputs.map((i) => [i.name, i.elemType || DataType.FLOAT]));
  const runner = ModelRunner.create(bytes, types, label);
  const names = opts.outputs ?? model.graph.outputs.map((o) => o.name);
  const parts = new Map<string, HostArray[]>(names.map((n) => [n, []]));
  try {
    await runner.ready();
    const step = inputs.batched.size ? Math.max(1, opts.batchSize ?? 64) : inputs.count;
    for (let s = 0; s < inputs.count; s += step) {
      const got = await runner.run(sliceInputs(inputs, s, Math.min(inputs.count, s + step)), names);
      for (const n of names) parts.get(n)!.push(got.get(n)!);
    }
  } finally {
    await runner.release();
  }
  const out = new Map<string, HostArray>();
  for (const n of names) out.set(n, inputs.batched.size ? concatAlong(parts.get(n)!, 0, n) : parts.get(n)![0]);
  return out;
}

/** Largest absolute difference between two sets of outputs, and the largest magnitude (for a relative view). */
export function compareOutputs(a: Map<string, HostArray>, b: Map<string, HostArray>): { maxAbsDiff: number; maxAbs: number; worst: string } {
  let maxAbsDiff = 0;
  let maxAbs = 0;
  let worst = '';
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y) throw new Error(`output '${name}' is missing from the second model`);
    if (x.dims.join(',') !== y.dims.join(','))
      throw new Error(`output '${name}' has shape [${x.dims.join(', ')}] in one model and [${y.dims.join(', ')}] in the other`);
    for (let i = 0; i < x.data.length; i++) {
      const d = Math.abs(x.data[i] - y.data[i]);
      if (!(d <= maxAbsDiff)) {
        maxAbsDiff = Number.isNaN(d) ? Infinity : d;
        worst = name;
      }
      maxAbs = Math.max(maxAbs, Math.abs(x.data[i]));
    }
  }
  return { maxAbsDiff, maxAbs, worst };
}

/**
 * Accuracy of sign(output) against ±1 labels, or the mean squared error for other labels.
 * @param y labels, one per example; the output must have one value per example ([P] or [P, 1]).
 * @throws Error when the output does not have one value per label.
 */
export function measure(output: HostArray, y: Float64Array): MeasuredMetric {
  const P = y.length;
  if (output.data.length !== P)
    throw new Error(
      `the model output has ${output.data.length} values (shape [${output.dims.join(', ')}]) for ${P} labels; a metric needs one value per example`,
    );
  const pm1 = Array.from(y).every((v) => v === 1 || v === -1);
  if (pm1) {
    let ok = 0;
    for (let i = 0; i < P; i++) if ((output.data[i] >= 0 ? 1 : -1) === y[i]) ok++;
    return { kind: 'accuracy', value: ok / P, count: P };
  }
  let s = 0;
  for (let i = 0; i < P; i++) s += (output.data[i] - y[i]) ** 2;
  return { kind: 'mse', value: s / P, count: P };
}
