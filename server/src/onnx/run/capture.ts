/**
 * Capturing each head's attention probabilities by running a model in ONNX Runtime on the user's data.
 *
 * - Unfused blocks: a copy of the model declares each block's Softmax output as an extra graph output; the
 *   probabilities come back as [B, H, T_q, T_k] (`bnsh`), [B·H, T_q, T_k] with row b·H + h (`folded`, PyTorch
 *   `nn.MultiheadAttention`), or [B, T_q, T_k] (single head) and are returned as [B, H, T_q, T_k].
 * - Fused operators (ai.onnx `Attention`, com.microsoft `Attention` / `MultiHeadAttention` /
 *   `GroupQueryAttention`): the copy exposes the operator's computed inputs and its output; the probabilities
 *   are recomputed in float64 from the operator's definition (`reference.ts`), and checked by recomputing the
 *   operator's output from them and comparing with ONNX Runtime's. A block whose recomputed output differs by more
 *   than the tolerance is an error (its probabilities would be wrong), never a silent result.
 * Runs are batched along axis 0 of the batched inputs (`feeds.ts`) and reuse one session. The ONNX layout
 * [query, key] is kept here (rows sum to 1); `pipeline/prepare.ts` transposes to the theory's keys × queries.
 */
import type { AttentionBlock, DetectionResult } from '../detect/blocks';
import { detectAttention } from '../detect/detect';
import { ModelEditor } from '../edit/edit';
import { sliceInputs, type ModelInputs } from './feeds';
import { inferShapes, type ShapeMap } from '../shapes/shapes';
import { fusedReference } from './reference';
import { ModelRunner, type HostArray } from './runtime';
import { toFloat64 } from '../format/tensor';
import { DataType, type OnnxModel, type OnnxNode } from '../format/types';
import { label } from '../format/graph';

/** Result of checking a fused operator's recomputed output against ONNX Runtime's. */
export interface FusedCheck {
  /** The operator's output tensor that was compared. */
  output: string;
  /** max |recomputed − ONNX Runtime| over every batch. */
  maxAbsError: number;
  /** max |ONNX Runtime output| (scale of the error). */
  maxAbs: number;
  /** Both outputs, concatenated over batches (only with `keepOperatorOutputs`). */
  recomputed?: HostArray;
  runtime?: HostArray;
}

/** One block's captured attention. */
export interface BlockCapture {
  /** Block (layer) index, as `detectAttention` numbers them. */
  index: number;
  form: AttentionBlock['form'];
  /** `softmax`: read from the model's Softmax; `recomputed`: from the fused operator's definition. */
  source: 'softmax' | 'recomputed';
  heads: number;
  kvHeads: number;
  /** Query length T_q and key length T_k. */
  queries: number;
  keys: number;
  /** Examples (batch entries). */
  count: number;
  /** [count, H, T_q, T_k] row-major; row (query) t sums to 1 over keys, or is all zero when every key is masked. */
  probs: Float64Array;
  /** Queries whose every key was masked (all-zero rows). */
  maskedRows: number;
  check?: FusedCheck;
}

/** A tensor to fetch besides the attention, with the axis that holds the batch (default 0). */
export interface TensorRequest {
  name: string;
  batchAxis?: number;
}

/** Options of `captureAttention`. */
export interface CaptureOptions {
  /** A detection of this model to reuse (else `detectAttention(model)`). */
  detection?: DetectionResult;
  /** Blocks to capture (default: all). */
  blocks?: number[];
  /** Examples per run (default 64). */
  batchSize?: number;
  /** Intermediate tensors to fetch as well, concatenated over batches along their batch axis. */
  tensors?: TensorRequest[];
  /** Also fetch the model's own graph outputs (concatenated along axis 0). */
  outputs?: boolean;
  /** Keep fused operators' recomputed and runtime outputs in `check`. */
  keepOperatorOutputs?: boolean;
  /** Allowed max |recomputed − runtime| relative to max(1, max |runtime|); default 1e-4. */
  tolerance?: number;
  /** Called after each batch. */
  onProgress?: (done: number, total: number) => void;
}

/** What `captureAttention` returns. */
export interface CaptureResult {
  /** Examples run. */
  count: number;
  blocks: BlockCapture[];
  /** Requested tensors and (with `outputs`) the model outputs, by name. */
  tensors: Map<string, HostArray>;
  detection: DetectionResult;
  /** Changes made to the run copy so ONNX Runtime accepts it (e.g. a required input the model omits). */
  repairs: string[];
}

interface FusedPlan {
  block: AttentionBlock;
  node: OnnxNode;
  /** Per operator input: where its value comes from. */
  inputs: (
    | { kind: 'feed' | 'fetch'; name: string }
    | { kind: 'const'; value: HostArray }
    | { kind: 'derived'; make: (feeds: Map<string, HostArray>) => HostArray }
    | null
  )[];
  output: string;
  maskIsBool: boolean;
}

function nodeByLabel(model: OnnxModel, name: string | null): OnnxNode {
  const n = model.graph.nodes.find((x) => label(x) === name);
  if (!n) throw new Error(`${model.file}: node '${name}' not found`);
  return n;
}

function elemTypeOf(shapes: ShapeMap, model: OnnxModel, t: string): number {
  return shapes.get(t)?.elemType || model.graph.valueInfo.get(t)?.elemType || DataType.FLOAT;
}

/**
 * The axis that really holds the batch in the fetched parts of one tensor: the hinted axis when its size equals each
 * run's example count, else the one axis that does (a [T, B, E] tensor fetched in runs of 64 and 8 examples joins
 * along axis 1), else the hint.
 * @param sizes examples per run, one per part.
 */
export function batchAxisOf(parts: HostArray[], sizes: number[], hint: number): number {
  if (parts.length === 0 || parts.length !== sizes.length) return hint;
  const r = parts[0].dims.length;
  const fits = (ax: number) => ax >= 0 && ax < r && parts.every((p, i) => p.dims.length === r && p.dims[ax] === sizes[i]);
  if (fits(hint)) return hint;
  const all = Array.from({ length: r }, (_, ax) => ax).filter(fits);
  return all.length === 1 ? all[0] : hint;
}

/** Concatenates arrays along `axis` (all other dims equal). */
export function concatAlong(parts: HostArray[], axis: number, what: string): HostArray {
  if (parts.length === 1) return parts[0];
  const d0 = parts[0].dims;
  const ax = axis < 0 ? axis + d0.length : axis;
  for (const p of parts) {
    if (p.dims.length !== d0.length || p.dims.some((d, i) => i !== ax && d !== d0[i])) {
      throw new Error(`${what}: batches have shapes [${d0.join(', ')}] and [${p.dims.join(', ')}], which do not join along axis ${ax}`);
    }
  }
  const outer = d0.slice(0, ax).reduce((a, b) => a * b, 1);
  const inner = d0.slice(ax + 1).reduce((a, b) => a * b, 1);
  const total = parts.reduce((a, p) => a + p.dims[ax], 0);
  const out = new Float64Array(outer * total * inner);
  for (let o = 0; o < outer; o++) {
    let at = 0;
    for (const p of parts) {
      const n = p.dims[ax] * inner;
      out.set(p.data.subarray(o * n, (o + 1) * n), (o * total + at) * inner);
      at += p.dims[ax];
    }
  }
  const dims = [...d0];
  dims[ax] = total;
  return { dims, data: out };
}

/** Probabilities of one unfused block from its Softmax output, as [B, H, T_q, T_k]. */
function unfusedProbs(b: AttentionBlock, a: HostArray, chunk: number): { probs: Float64Array; H: number; Tq: number; Tk: number; B: number } {
  const dims = a.dims;
  const r = dims.length;
  const where = `block ${b.index} (Softmax '${b.nodes.softmax}')`;
  if (r < 2) throw new Error(`${where}: the probabilities have rank ${r}`);
  const Tq = dims[r - 2];
  const Tk = dims[r - 1];
  const H = b.queryHeads ?? 1;
  let B: number;
  if (b.headLayout === 'folded') {
    if (r !== 3 || dims[0] % H !== 0) throw new Error(`${where}: expected [batch·${H}, T_q, T_k] probabilities, got [${dims.join(', ')}]`);
    B = dims[0] / H;
  } else if (b.headLayout === 'single' && r === 2) {
    B = 1;
  } else {
    const lead = dims.slice(0, r - 2);
    B = lead[0] ?? 1;
    const heads = lead.slice(1).reduce((x, y) => x * y, 1);
    if (heads !== H) throw new Error(`${where}: expected [batch, ${H} heads, T_q, T_k] probabilities, got [${dims.join(', ')}]`);
  }
  if (B !== chunk && chunk > 0 && b.headLayout !== 'single') {
    throw new Error(`${where}: the probabilities cover ${B} examples but the batch has ${chunk}`);
  }
  // Row-major [B, H, Tq, Tk] is the memory order of both layouts (folded rows are b·H + h).
  return { probs: Float64Array.from(a.data), H, Tq, Tk, B };
}

function countMaskedRows(p: Float64Array, Tk: number): number {
  let n = 0;
  for (let r = 0; r < p.length / Tk; r++) {
    let s = 0;
    for (let t = 0; t < Tk; t++) s += p[r * Tk + t];
    if (s === 0) n++;
  }
  return n;
}

/**
 * Runs the model on `inputs` and returns every (selected) block's per-head attention probabilities.
 * @param model a model from `readModel` (external data is inlined into the run copy).
 * @param inputs checked inputs (`feeds.ts`).
 * @throws Error when the model has no attention block, a block lies in a subgraph, ONNX Runtime fails, the
 *   probabilities have an unexpected shape, or a fused operator's recomputed output does not match.
 */
export async function captureAttention(model: OnnxModel, inputs: ModelInputs, opts: CaptureOptions = {}): Promise<CaptureResult> {
  const detection = opts.detection ?? detectAttention(model);
  if (detection.blocks.length === 0) throw new Error(`${model.file}: ${detection.summary}`);
  const wanted = opts.blocks ?? detection.blocks.map((b) => b.index);
  const blocks = wanted.map((i) => {
    const b = detection.blocks[i];
    if (!b) throw new Error(`${model.file}: there is no attention block ${i} (the model has ${detection.blocks.length})`);
    if (b.graph !== '') throw new Error(`${model.file}: block ${i} lies in the subgraph ${b.graph}, which capture does not reach`);
    if (b.queryHeads === null) throw new Error(`${model.file}: block ${i} has an unknown head count; give it (heads) to capture`);
    return b;
  });
  const shapes = inferShapes(model.graph, model.opsets);
  const ed = new ModelEditor(model, { inlineExternal: true });
  const graphInputs = new Set(model.graph.inputs.map((i) => i.name));
  const fetch = new Set<string>();
  const repairs: string[] = [];
  const fused: FusedPlan[] = [];
  const extraInputs = new Map<string, (feeds: Map<string, HostArray>) => HostArray>();
  const inputTypes = new Map(model.graph.inputs.map((i) => [i.name, i.elemType || DataType.FLOAT]));

  const expose = (t: string) => {
    if (graphInputs.has(t)) return;
    if (!model.graph.outputs.some((o) => o.name === t)) ed.addOutput(t, elemTypeOf(shapes, model, t));
    fetch.add(t);
  };

  for (const b of blocks) {
    if (b.form === 'unfused') {
      const sm = nodeByLabel(model, b.nodes.softmax);
      expose(sm.outputs[0]);
      continue;
    }
    const node = nodeByLabel(model, b.nodes.fused);
    const plan: FusedPlan = { block: b, node, inputs: [], output: node.outputs[0], maskIsBool: false };
    node.inputs.forEach((t) => {
      if (!t) {
        plan.inputs.push(null);
        return;
      }
      const init = model.graph.initializers.get(t);
      if (init) plan.inputs.push({ kind: 'const', value: { dims: init.dims, data: toFloat64(init) } });
      else if (graphInputs.has(t)) plan.inputs.push({ kind: 'feed', name: t });
      else {
        expose(t);
        plan.inputs.push({ kind: 'fetch', name: t });
      }
    });
    if (node.domain === 'ai.onnx' && node.inputs[3]) plan.maskIsBool = elemTypeOf(shapes, model, node.inputs[3]) === DataType.BOOL;
    if (node.domain === 'com.microsoft' && node.opType === 'GroupQueryAttention' && !node.inputs[6]) {
      // ONNX Runtime requires total_sequence_length; older exporters (and the OpenVINO test model) omit it.
      const seq = node.inputs[5];
      const qName = node.inputs[0];
      if (!seq || !graphInputs.has(seq) || !graphInputs.has(qName)) {
        throw new Error(
          `${model.file}: block ${b.index}: GroupQueryAttention '${label(node)}' lacks total_sequence_length and its query/seqlens_k are computed in the graph, so it cannot be supplied`,
        );
      }
      const name = ed.uniqueName(`${label(node)}_total_sequence_length`);
      ed.addInput(name, DataType.INT32, []);
      const proto = ed.node(node.index);
      const ins = [...(proto.input ?? [])];
      while (ins.length < 7) ins.push('');
      ins[6] = name;
      proto.input = ins;
      inputTypes.set(name, DataType.INT32);
      const make = (feeds: Map<string, HostArray>): HostArray => {
        const sl = feeds.get(seq);
        const total = sl && sl.data.length ? Math.max(...Array.from(sl.data, (x) => x + 1)) : (feeds.get(qName)?.dims[1] ?? 1);
        return { dims: [], data: Float64Array.of(total) };
      };
      extraInputs.set(name, make);
      while (plan.inputs.length < 7) plan.inputs.push(null);
      plan.inputs[6] = { kind: 'derived', make };
      repairs.push(
        `block ${b.index}: GroupQueryAttention '${label(node)}' has no total_sequence_length input, which ONNX Runtime requires; it is supplied as max(seqlens_k) + 1`,
      );
    }
    expose(plan.output);
    fused.push(plan);
  }
  for (const r of opts.tensors ?? []) {
    if (!graphInputs.has(r.name)) expose(r.name);
  }
  const modelOutputs = opts.outputs ? model.graph.outputs.map((o) => o.name) : [];
  for (const o of modelOutputs) fetch.add(o);

  const runner = ModelRunner.create(ed.bytes(), inputTypes, `${model.file} (capture copy)`);
  const tolerance = opts.tolerance ?? 1e-4;
  const total = inputs.count;
  const step = inputs.batched.size ? Math.max(1, opts.batchSize ?? 64) : total;
  const probParts: Float64Array[][] = blocks.map(() => []);
  const meta = blocks.map(() => ({ H: 0, kvH: 0, Tq: -1, Tk: -1, count: 0, masked: 0 }));
  const checks = new Map<number, { err: number; max: number; rec: HostArray[]; rt: HostArray[] }>();
  const tensorParts = new Map<string, HostArray[]>();
  const batchSizes: number[] = [];
  try {
    await runner.ready();
    for (let start = 0; start < total; start += step) {
      const end = Math.min(total, start + step);
      const feeds = sliceInputs(inputs, start, end);
      for (const [name, make] of extraInputs) feeds.set(name, make(feeds));
      const got = await runner.run(feeds, [...fetch]);
      const chunk = inputs.batched.size ? end - start : 0;
      batchSizes.push(end - start);
      for (const [bi, b] of blocks.entries()) {
        const m = meta[bi];
        let probs: Float64Array;
        let H: number, kvH: number, Tq: number, Tk: number, B: number, masked: number;
        if (b.form === 'unfused') {
          const sm = nodeByLabel(model, b.nodes.softmax);
          const u = unfusedProbs(b, got.get(sm.outputs[0])!, chunk);
          ({ probs, H, Tq, Tk, B } = u);
          kvH = b.kvHeads ?? H;
          masked = countMaskedRows(probs, Tk);
        } else {
          const plan = fused.find((f) => f.block === b)!;
          const ins = plan.inputs.map((x) => {
            if (!x) return null;
            if (x.kind === 'const') return x.value;
            if (x.kind === 'derived') return x.make(feeds);
            return (x.kind === 'feed' ? feeds.get(x.name) : got.get(x.name)) ?? null;
          });
          let r;
          try {
            r = fusedReference(plan.node, ins, { maskIsBool: plan.maskIsBool });
          } catch (e) {
            throw new Error(`${model.file}: block ${b.index} (${b.form} '${label(plan.node)}'): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
          }
          const rt = got.get(plan.output)!;
          if (rt.data.length !== r.output.data.length) {
            throw new Error(
              `${model.file}: block ${b.index}: the recomputed output has shape [${r.output.dims.join(', ')}] but ONNX Runtime's is [${rt.dims.join(', ')}]`,
            );
          }
          const c = checks.get(bi) ?? { err: 0, max: 0, rec: [], rt: [] };
          for (let i = 0; i < rt.data.length; i++) {
            c.err = Math.max(c.err, Math.abs(rt.data[i] - r.output.data[i]));
            c.max = Math.max(c.max, Math.abs(rt.data[i]));
          }
          if (opts.keepOperatorOutputs) {
            c.rec.push(r.output);
            c.rt.push(rt);
          }
          checks.set(bi, c);
          probs = r.probs;
          H = r.qHeads;
          kvH = r.kvHeads;
          Tq = r.queries;
          Tk = r.keys;
          B = r.batch;
          masked = r.maskedRows;
        }
        if (m.Tq >= 0 && (m.Tq !== Tq || m.Tk !== Tk || m.H !== H)) {
          throw new Error(
            `${model.file}: block ${b.index}: batches give attention of different shapes ([${m.H}, ${m.Tq}, ${m.Tk}] and [${H}, ${Tq}, ${Tk}]); use inputs of one length`,
          );
        }
        Object.assign(m, { H, kvH, Tq, Tk, count: m.count + B, masked: m.masked + masked });
        probParts[bi].push(probs);
      }
      for (const r of opts.tensors ?? []) {
        const a = graphInputs.has(r.name) ? feeds.get(r.name)! : got.get(r.name)!;
        tensorParts.set(r.name, [...(tensorParts.get(r.name) ?? []), a]);
      }
      for (const o of modelOutputs) tensorParts.set(o, [...(tensorParts.get(o) ?? []), got.get(o)!]);
      opts.onProgress?.(end, total);
    }
  } finally {
    await runner.release();
  }

  const result: BlockCapture[] = blocks.map((b, bi) => {
    const m = meta[bi];
    const parts = probParts[bi];
    const n = parts.reduce((a, p) => a + p.length, 0);
    const probs = new Float64Array(n);
    let at = 0;
    for (const p of parts) {
      probs.set(p, at);
      at += p.length;
    }
    const bc: BlockCapture = {
      index: b.index,
      form: b.form,
      source: b.form === 'unfused' ? 'softmax' : 'recomputed',
      heads: m.H,
      kvHeads: m.kvH,
      queries: m.Tq,
      keys: m.Tk,
      count: m.count,
      probs,
      maskedRows: m.masked,
    };
    const c = checks.get(bi);
    if (c) {
      const plan = fused.find((f) => f.block === b)!;
      bc.check = { output: plan.output, maxAbsError: c.err, maxAbs: c.max };
      if (opts.keepOperatorOutputs) {
        bc.check.recomputed = concatAlong(c.rec, 0, plan.output);
        bc.check.runtime = concatAlong(c.rt, 0, plan.output);
      }
      if (!Number.isFinite(c.err) || !Number.isFinite(c.max)) {
        // Numerical trouble is named, never shown as a number.
        throw new Error(
          `${model.file}: block ${b.index} (${b.form} '${label(plan.node)}'): the operator's output is not finite (NaN or Inf) ` +
            "on this data; check the model's weights and the data for non-finite or huge values",
        );
      }
      if (!(c.err <= tolerance * Math.max(1, c.max))) {
        throw new Error(
          `${model.file}: block ${b.index} (${b.form} '${label(plan.node)}'): the operator's output recomputed from the per-head probabilities ` +
            `differs from ONNX Runtime's by ${c.err.toExponential(2)} (max |output| ${c.max.toPrecision(3)}); the probabilities are not reliable and are not reported`,
        );
      }
    }
    return bc;
  });
  const tensors = new Map<string, HostArray>();
  for (const r of opts.tensors ?? []) {
    const parts = tensorParts.get(r.name) ?? [];
    tensors.set(r.name, concatAlong(parts, batchAxisOf(parts, batchSizes, r.batchAxis ?? 0), r.name));
  }
  for (const o of modelOutputs) tensors.set(o, concatAlong(tensorParts.get(o) ?? [], 0, o));
  return { count: total, blocks: result, tensors, detection, repairs };
}
