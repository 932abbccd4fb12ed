/**
 * Graph navigation helpers: attribute accessors with the operator spec's defaults, and a producer/consumer index.
 */
import type { OnnxGraph, OnnxNode, OnnxTensor } from './types';

/** An INT attribute, or `def` when absent. */
export function attrInt(n: OnnxNode, name: string, def: number): number;
export function attrInt(n: OnnxNode, name: string): number | undefined;
export function attrInt(n: OnnxNode, name: string, def?: number): number | undefined {
  const a = n.attributes[name];
  return a && a.type === 'INT' ? a.value : def;
}

/** A FLOAT attribute, or `def` when absent. */
export function attrFloat(n: OnnxNode, name: string, def: number): number;
export function attrFloat(n: OnnxNode, name: string): number | undefined;
export function attrFloat(n: OnnxNode, name: string, def?: number): number | undefined {
  const a = n.attributes[name];
  return a && a.type === 'FLOAT' ? a.value : def;
}

/** An INTS attribute, or undefined when absent. */
export function attrInts(n: OnnxNode, name: string): number[] | undefined {
  const a = n.attributes[name];
  return a && a.type === 'INTS' ? a.value : undefined;
}

/** A TENSOR (or SPARSE_TENSOR) attribute, or undefined when absent. */
export function attrTensor(n: OnnxNode, name: string): OnnxTensor | undefined {
  const a = n.attributes[name];
  return a && (a.type === 'TENSOR' || a.type === 'SPARSE_TENSOR') ? a.value : undefined;
}

/** Display name of a node: its name, or `OpType#index` when it has none. */
export function label(n: OnnxNode): string {
  return n.name || `${n.opType}#${n.index}`;
}

/** Who produces and who reads each tensor of one graph (outer-scope names resolve through `parent`). */
export class GraphIndex {
  readonly graph: OnnxGraph;
  readonly parent: GraphIndex | null;
  private readonly producers = new Map<string, OnnxNode>();
  private readonly readers = new Map<string, OnnxNode[]>();
  private readonly inputNames: Set<string>;
  private readonly outputNames: Set<string>;

  constructor(graph: OnnxGraph, parent: GraphIndex | null = null) {
    this.graph = graph;
    this.parent = parent;
    for (const n of graph.nodes) {
      for (const o of n.outputs) if (o) this.producers.set(o, n);
      for (const i of n.inputs) {
        if (!i) continue;
        const list = this.readers.get(i);
        if (list) {
          if (!list.includes(n)) list.push(n);
        } else this.readers.set(i, [n]);
      }
    }
    this.inputNames = new Set(graph.inputs.map((i) => i.name));
    this.outputNames = new Set(graph.outputs.map((o) => o.name));
  }

  /** The node (of this graph) that produces `t`, if any. */
  producer(t: string): OnnxNode | undefined {
    return this.producers.get(t);
  }

  /** Nodes of this graph that read `t`, in graph order. */
  consumers(t: string): OnnxNode[] {
    return this.readers.get(t) ?? [];
  }

  /** The initializer named `t` in this graph or an enclosing one. */
  initializer(t: string): OnnxTensor | undefined {
    return this.graph.initializers.get(t) ?? this.parent?.initializer(t);
  }

  /** True when `t` is an input of this graph (not an initializer). */
  isGraphInput(t: string): boolean {
    return this.inputNames.has(t);
  }

  /** True when `t` is an output of this graph. */
  isGraphOutput(t: string): boolean {
    return this.outputNames.has(t);
  }

  /** True when `t` comes from an enclosing graph (a subgraph reading outer-scope values). */
  isOuterScope(t: string): boolean {
    return !this.producers.has(t) && !this.inputNames.has(t) && !this.graph.initializers.has(t) && this.parent !== null;
  }
}
