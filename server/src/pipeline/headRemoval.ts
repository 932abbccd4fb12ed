/**
 * Measured effect of removing each head from a real model (`attention: { kind: model }`), next to the theory's
 * prediction (`head_silencing`, docs/theory.md §g). For every head alone, the model is edited so that the
 * head's slice of its block's output-projection input is multiplied by 0 — or, for a block that sums its heads
 * (the theory's own network, onnx/detect/headSum.ts), the head's term of the sum (onnx/edit/prune.ts `maskedModel` — the
 * reference that `attention-paths prune` checks a pruned model against, so the numbers equal those of the
 * pruned model), run in ONNX Runtime on the test split of the config's data (split as the analysis splits it,
 * pipeline/model/modelTask.ts `splitModelData`), and its first output measured against the labels (onnx/run/verify.ts
 * `measure`: accuracy of the sign for ±1 labels). The other heads keep their factor 1: like the theory's
 * silencing (paths zeroed in U₁, normalization kept) and unlike the paper's GD experiment, which rescales.
 *
 * Cost: (H_tot + 1) runs of the model over the test split.
 */
import type { AnalysisConfig } from '../config/types';
import { readInputArrays } from '../onnx/run/feeds';
import { splitModelData, type ModelTask } from './model/modelTask';
import { maskedModel, maskFactors, planRemoval } from '../onnx/edit/prune';
import { measure, runAll } from '../onnx/run/verify';
import { ModelEditor } from '../onnx/edit/edit';
import type { HeadRemovalMeasured, HeadScore } from '../../../shared/report';
import type { ProgressFn } from './prepare';
import { headName } from '../../../shared/format';

/**
 * Measures every single-head removal (see module doc).
 * @param m the model capture of the analysis (`Prepared.model`)
 * @param config the analysed config (its `data` and `attention.split`)
 * @param heads the heads to measure, in report order (`head_scores_ascending`)
 * @returns the measurements; a head whose block cannot be masked gets value null and the reason
 * @throws Error when the data cannot be read or split, the model cannot run, or its first output does not have
 *   one value per example (then nothing can be measured); the abort reason when `signal` fires
 */
export async function measureHeadRemoval(
  m: ModelTask,
  config: AnalysisConfig,
  heads: Pick<HeadScore, 'layer' | 'head'>[],
  opts: { onProgress?: ProgressFn; signal?: AbortSignal } = {},
): Promise<HeadRemovalMeasured> {
  if (!config.data) throw new Error('the config has no data to measure the model on');
  const model = m.model;
  const split = splitModelData(model, readInputArrays(config.data, model), config.data, config.attention?.split ?? 0.5);
  const output = model.graph.outputs[0]?.name;
  if (!output) throw new Error(`${m.model.file} has no graph output`);
  const run = async (bytes: Uint8Array, label: string) => {
    const out = await runAll(bytes, model, split.test, label, { outputs: [output], batchSize: config.attention?.batchSize });
    return measure(out.get(output)!, split.yTest);
  };
  opts.onProgress?.('heads', `measuring the full model on ${split.test.count} test examples`, 0);
  const full = await run(new ModelEditor(model, { inlineExternal: true }).bytes(), `${m.model.file}`);
  const rows: HeadRemovalMeasured['heads'] = [];
  for (const [i, h] of heads.entries()) {
    opts.signal?.throwIfAborted();
    opts.onProgress?.('heads', `measuring the model without ${headName(h.layer, h.head)} (${i + 1}/${heads.length})`, (i + 1) / (heads.length + 1));
    let bytes: Uint8Array;
    try {
      bytes = maskedModel(model, m.detection, maskFactors(planRemoval(m.detection, [h]))).bytes();
    } catch (e) {
      rows.push({ layer: h.layer, head: h.head, value: null, reason: e instanceof Error ? e.message.split('\n')[0] : String(e) });
      continue;
    }
    const r = await run(bytes, `${m.model.file} without ${headName(h.layer, h.head)}`);
    rows.push({ layer: h.layer, head: h.head, value: r.value });
  }
  return { metric: full.kind, count: full.count, output, full: full.value, heads: rows };
}
