/**
 * The subgraph of each attention block, for the model view's drawing: the nodes from the block's Q/K/V projections
 * through the scale, mask, Softmax and context product to the head merge and output projection, with the tensors
 * between them as edges and each node's role in the block. Layout is left to the view (dagre).
 *
 * Unfused blocks: every node on a path from the projections' input activations to the output projection (or the
 * context MatMul when there is none), walked backwards from its end; the walk stops at the projections' inputs,
 * graph inputs, initializers and constants, and at `MAX_BLOCK_NODES` nodes. Fused blocks: the operator node and its
 * inputs.
 */
import type { AttentionBlock, DetectionResult } from './blocks';
import { GraphIndex, label } from '../format/graph';
import type { OnnxGraph, OnnxModel, OnnxNode } from '../format/types';
import type { BlockNodeRole, BlockGraph } from '../../../../shared/model';
export type { BlockGraph };

/** Nodes drawn per block at most (a block larger than this is cut, and says so). */
export const MAX_BLOCK_NODES = 80;

/** Ops that only move or reshape values: an input reached through them is the same values in another layout. */
const LAYOUT_OPS = new Set(['Transpose', 'Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity']);

function graphOf(model: OnnxModel, path: string): OnnxGraph {
  if (!path) return model.graph;
  const find = (g: OnnxGraph): OnnxGraph | undefined => (g.path === path ? g : g.subgraphs.map(find).find(Boolean));
  return find(model.graph) ?? model.graph;
}

/** The role of `n` in block `b`, from what the detector recorded. */
function roleOf(n: OnnxNode, b: AttentionBlock, afterContext: boolean): BlockNodeRole {
  const name = label(n);
  const nodes = b.nodes;
  if (name === nodes.fused) return 'fused';
  if (name === nodes.softmax) return 'softmax';
  if (name === nodes.scoreMatMul) return 'scores';
  if (name === nodes.contextMatMul) return 'context';
  if (name === nodes.outputProjection) return 'output';
  if (b.masks.some((m) => m.node === name)) return 'mask';
  const reads = (t: string | undefined) => !!t && n.inputs.includes(t);
  const w = b.weights;
  const packed = !!w.query && w.query.weight.name === w.key?.weight.name;
  if (packed && (reads(w.query?.weight.name) || reads(w.query?.bias?.name))) return 'qkv';
  if (reads(w.query?.weight.name) || reads(w.query?.bias?.name)) return 'query';
  if (reads(w.key?.weight.name) || reads(w.key?.bias?.name)) return 'key';
  if (reads(w.value?.weight.name) || reads(w.value?.bias?.name)) return 'value';
  if (reads(w.output?.bias?.name)) return 'output';
  if (afterContext) return ['Reshape', 'Transpose', 'Concat'].includes(n.opType) ? 'merge' : 'other';
  if (['Div', 'Mul', 'Sqrt'].includes(n.opType)) return 'scale';
  if (['Add', 'Where'].includes(n.opType)) return 'mask';
  if (['Reshape', 'Transpose', 'Split', 'Squeeze', 'Unsqueeze', 'Slice', 'Gather', 'Concat'].includes(n.opType)) return 'layout';
  return 'other';
}

/** The drawing of one block (see module doc). */
export function blockGraph(model: OnnxModel, b: AttentionBlock): BlockGraph {
  const g = graphOf(model, b.graph);
  const index = new GraphIndex(g);
  const byLabel = new Map(g.nodes.map((n) => [label(n), n]));
  const end = byLabel.get(b.nodes.fused ?? b.nodes.outputProjection ?? b.nodes.contextMatMul ?? b.nodes.softmax ?? '');
  const out: BlockGraph = { layer: b.index, nodes: [], edges: [], truncated: false };
  if (!end) return out;
  const stops = new Set([b.weights.query?.input, b.weights.key?.input, b.weights.value?.input].filter((t): t is string => !!t));
  const ids = new Map<OnnxNode, string>();
  const inputs = new Set<string>();
  const queue: OnnxNode[] = [end];
  ids.set(end, label(end));
  const isConstant = (t: string) => !!index.initializer(t) || index.producer(t)?.opType === 'Constant';
  // Tensors computed from shapes and constants only (Shape → Gather → Concat → a Reshape's target shape, the
  // √d of a scale): not part of the drawing.
  const shapeOnly = new Map<string, boolean>();
  const isShapeComputation = (t: string, depth = 0): boolean => {
    if (isConstant(t)) return true;
    const known = shapeOnly.get(t);
    if (known !== undefined) return known;
    const p = index.producer(t);
    const r =
      !!p &&
      depth < 64 &&
      (p.opType === 'Shape' || p.opType === 'Size' || (p.inputs.length > 0 && p.inputs.every((i) => !i || isShapeComputation(i, depth + 1))));
    shapeOnly.set(t, r);
    return r;
  };
  while (queue.length) {
    const n = queue.shift()!;
    for (const t of n.inputs) {
      if (!t || isShapeComputation(t)) continue;
      const p = index.producer(t);
      if (b.form !== 'unfused' || stops.has(t) || !p) {
        inputs.add(t);
        out.edges.push({ from: `input:${t}`, to: ids.get(n)!, tensor: t });
        continue;
      }
      if (!ids.has(p)) {
        if (ids.size >= MAX_BLOCK_NODES) {
          out.truncated = true;
          inputs.add(t);
          out.edges.push({ from: `input:${t}`, to: ids.get(n)!, tensor: t });
          continue;
        }
        ids.set(p, label(p));
        queue.push(p);
      }
      out.edges.push({ from: ids.get(p)!, to: ids.get(n)!, tensor: t });
    }
  }
  const nodes = [...ids.keys()].sort((x, y) => x.index - y.index);
  // Nodes after the context product (head merge, output projection): reached from it along the drawn edges.
  const after = new Set<string>();
  const context = nodes.find((n) => label(n) === b.nodes.contextMatMul);
  if (context) {
    const stack = [ids.get(context)!];
    while (stack.length) {
      const id = stack.pop()!;
      for (const e of out.edges)
        if (e.from === id && !after.has(e.to)) {
          after.add(e.to);
          stack.push(e.to);
        }
    }
  }
  // An input's own tensor, then the tensors it is a re-layout of (single data input, pure layout ops).
  const layoutSources = (t: string): string[] => {
    const chain = [t];
    for (let p = index.producer(t); p && LAYOUT_OPS.has(p.opType) && chain.length <= 8;) {
      const data = p.inputs.filter((i) => !!i && !isShapeComputation(i));
      if (data.length !== 1) break;
      chain.push(data[0]);
      p = index.producer(data[0]);
    }
    return chain;
  };
  out.nodes = [
    ...[...inputs].map((t) => ({ id: `input:${t}`, label: t, name: '', role: 'input' as const, outputs: layoutSources(t) })),
    ...nodes.map((n) => ({ id: ids.get(n)!, label: n.opType, name: n.name, role: roleOf(n, b, after.has(ids.get(n)!)), outputs: n.outputs.filter(Boolean) })),
  ];
  return out;
}

/** The drawings of every detected block, in block order. */
export function blockGraphs(model: OnnxModel, detection: DetectionResult): BlockGraph[] {
  return detection.blocks.map((b) => blockGraph(model, b));
}
