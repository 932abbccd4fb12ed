/**
 * Finds the multi-head attention blocks of an ONNX model, in graph order: fused operators (ai.onnx `Attention`,
 * com.microsoft `Attention` / `MultiHeadAttention` / `GroupQueryAttention`) and unfused Softmax-rooted subgraphs.
 * Subgraphs (If/Loop/Scan bodies) are searched after their parent graph's own nodes. See `blocks.ts` for what is
 * reported and `detectFused.ts` / `detectUnfused.ts` for the forms and their spec sources.
 */
import { GraphIndex, label } from '../format/graph';
import { inferShapes, type ShapeMap } from '../shapes/shapes';
import type { OnnxGraph, OnnxModel } from '../format/types';
import type { AttentionBlock, CandidateFailure, DetectionResult, DetectOptions } from './blocks';
import { matchFused, OTHER_FUSED } from './detectFused';
import { matchSoftmax } from './detectUnfused';
import { type Ctx, inputSources, isConstant } from './trace';

export type { DetectionResult, DetectOptions } from './blocks';

interface Found {
  order: number[];
  block?: AttentionBlock;
  failure?: CandidateFailure;
}

function walk(model: OnnxModel, graph: OnnxGraph, parent: GraphIndex | null, outer: ShapeMap | undefined, prefix: number[], found: Found[]): void {
  const index = new GraphIndex(graph, parent);
  const shapes = inferShapes(graph, model.opsets, outer);
  const ctx: Ctx = { model, graph, index, shapes, opset: model.opsets['ai.onnx'] ?? 1 };
  for (const n of graph.nodes) {
    const order = [...prefix, n.index];
    try {
      const fused = matchFused(ctx, n);
      if (fused) {
        found.push({ order, block: fused });
        continue;
      }
      if (n.domain === 'com.microsoft' && OTHER_FUSED.has(n.opType)) {
        found.push({
          order,
          failure: {
            anchor: label(n),
            anchorOp: n.opType,
            graph: graph.path,
            brokeAt: label(n),
            brokeAtOp: n.opType,
            reason: `com.microsoft ${n.opType} is an attention operator this project does not analyze yet`,
            stage: 3,
          },
        });
        continue;
      }
      if (n.opType === 'Softmax' && n.domain === 'ai.onnx') {
        const r = matchSoftmax(ctx, n);
        found.push('block' in r ? { order, block: r.block } : { order, failure: r.failure });
      }
    } catch (e) {
      // A detector bug on one node must not hide the other blocks; report it as a failed candidate.
      found.push({
        order,
        failure: {
          anchor: label(n),
          anchorOp: n.opType,
          graph: graph.path,
          brokeAt: null,
          brokeAtOp: null,
          reason: `internal error while matching: ${e instanceof Error ? e.message : String(e)}`,
          stage: 0,
        },
      });
    }
  }
  let k = 0;
  for (const n of graph.nodes) {
    for (const a of Object.values(n.attributes)) {
      const subs = a.type === 'GRAPH' ? [a.value] : a.type === 'GRAPHS' ? a.value : [];
      for (const s of subs) walk(model, s, index, shapes, [...prefix, n.index, k++], found);
    }
  }
}

function cmp(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function pick(v: number | number[] | undefined, i: number): number | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v[i] : v;
}

/** Applies head-count overrides to blocks whose count the model does not determine. */
function applyOverrides(blocks: AttentionBlock[], opts: DetectOptions): void {
  blocks.forEach((b, i) => {
    const h = pick(opts.heads, i);
    const kv = pick(opts.kvHeads, i) ?? h;
    if (h !== undefined && (!Number.isInteger(h) || h <= 0)) throw new Error(`heads override for block ${i} must be a positive integer, got ${h}`);
    if (h === undefined) return;
    if (b.queryHeads === null) {
      b.queryHeads = h;
      b.headsFrom = 'override';
      b.notes = b.notes.filter((x) => !x.startsWith('the head count cannot be inferred'));
      b.notes.push(`query heads ${h} taken from the override`);
      if (b.kvHeads === null && kv !== undefined) b.kvHeads = kv;
      // Widths known without the head count give the head sizes.
      const widthOf = (w: typeof b.weights.query) =>
        w ? (w.weight.range ? w.weight.range[1] - w.weight.range[0] : (w.weight.shape?.[w.weight.headAxis] ?? null)) : null;
      const width = widthOf(b.weights.query);
      const vWidth = widthOf(b.weights.value);
      const kvCount = kv ?? h;
      if (b.headSizeQK === null && typeof width === 'number' && width % h === 0) b.headSizeQK = width / h;
      if (b.headSizeV === null && typeof vWidth === 'number' && vWidth % kvCount === 0) b.headSizeV = vWidth / kvCount;
      if (b.headSizeQK !== null) b.hiddenSize = h * b.headSizeQK;
      if (b.headSizeV !== null) b.vHiddenSize = h * b.headSizeV;
      if (b.kvHeads) b.groupSize = h / b.kvHeads;
      b.confidence = 'medium';
    } else if (b.queryHeads !== h) {
      b.notes.push(`override of ${h} heads ignored: the model determines ${b.queryHeads}`);
    }
  });
}

/**
 * Detects attention blocks.
 * @param model a model from `readModel`/`decodeModel`.
 * @param opts head-count overrides for fully dynamic models (used only where the model does not determine them).
 * @returns blocks in graph order (index = layer number), the rejected Softmax/fused candidates with the node and
 *   reason each broke, the closest candidate when no block matched, and a one-line summary.
 * @throws Error only for invalid overrides (non-positive heads); model problems are reported in the result.
 */
export function detectAttention(model: OnnxModel, opts: DetectOptions = {}): DetectionResult {
  const found: Found[] = [];
  walk(model, model.graph, null, undefined, [], found);
  found.sort((a, b) => cmp(a.order, b.order));
  const blocks = found.filter((f) => f.block).map((f) => f.block!);
  blocks.forEach((b, i) => (b.index = i));
  applyOverrides(blocks, opts);
  const rejected = found.filter((f) => f.failure).map((f) => f.failure!);
  let closest: CandidateFailure | null = null;
  let summary: string;
  if (blocks.length > 0) {
    const unknown = blocks.filter((b) => b.queryHeads === null).length;
    summary =
      `${blocks.length} attention block${blocks.length === 1 ? '' : 's'} found` + (unknown ? ` (${unknown} with an unknown head count: pass heads)` : '');
  } else {
    if (rejected.length) {
      closest = rejected.reduce((a, b) => (b.stage > a.stage ? b : a));
      const at = closest.brokeAt && closest.brokeAt !== closest.anchor ? ` at ${closest.brokeAtOp} '${closest.brokeAt}'` : '';
      summary = `no attention blocks found: closest candidate ${closest.anchorOp} '${closest.anchor}' failed${at}: ${closest.reason}`;
    } else {
      closest = closestMatMul(model);
      summary = closest
        ? `no attention blocks found: the model has no Softmax and no fused attention operator; closest candidate MatMul '${closest.anchor}': ${closest.reason}`
        : 'no attention blocks found: the model has no Softmax, no fused attention operator and no MatMul of two computed tensors';
    }
  }
  return { blocks, rejected, closest, summary };
}

/** Without any Softmax, the nearest thing to attention is a MatMul of two computed tensors (a score-like product). */
function closestMatMul(model: OnnxModel): CandidateFailure | null {
  const graph = model.graph;
  const index = new GraphIndex(graph);
  const shapes = inferShapes(graph, model.opsets);
  const ctx: Ctx = { model, graph, index, shapes, opset: model.opsets['ai.onnx'] ?? 1 };
  let weightMM: CandidateFailure | null = null;
  for (const n of graph.nodes) {
    if (n.opType !== 'MatMul' && n.opType !== 'Gemm') continue;
    const computed = n.inputs.slice(0, 2).filter((i) => i && !isConstant(ctx, i));
    const base = { anchor: label(n), anchorOp: n.opType, graph: '', brokeAt: label(n), brokeAtOp: n.opType };
    if (computed.length === 2) {
      return { ...base, reason: 'it multiplies two computed tensors like Q·Kᵀ, but no Softmax normalizes its result', stage: 1 };
    }
    weightMM ??= {
      ...base,
      reason: `it multiplies '${computed[0] ?? n.inputs[0]}' by constant weights (a projection), and no Softmax follows (sources: ${inputSources(ctx, n.inputs[0]).inputs.join(', ') || 'constants'})`,
      stage: 0,
    };
  }
  return weightMM;
}
