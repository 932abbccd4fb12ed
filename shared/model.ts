/**
 * What the model and array views show, as the server sends it (`attentionPaths/inspectModel`,
 * `attentionPaths/inspectArrays`, the comparison in a prune result) and as `attention-paths inspect --json` prints
 * it: plain JSON, no Node or editor import (shared/ contract).
 *
 * The ONNX detector (server/src/onnx) uses these types as its own: its modules import and re-export them, so the
 * detector's results and the contract cannot drift apart. Each section names the module that produces it.
 */
import type { Metrics } from './report';

// ---------------------------------------------------------------------------------------------------
// Attention detection (produced by server/src/onnx/detect/)

/** A dimension in reports: a number, a symbolic expression such as `batch` or `4*batch`, or null (unknown). */
export type JsonDim = number | string | null;

/** Which operator (or unfused pattern) implements the block. */
export type AttentionForm =
  'ai.onnx.Attention' | 'com.microsoft.Attention' | 'com.microsoft.MultiHeadAttention' | 'com.microsoft.GroupQueryAttention' | 'unfused';

/** A tensor the block reads, with where it comes from. */
export interface TensorRef {
  name: string;
  /** `initializer`, `constant` (a Constant node), `graph-input`, `activation` (computed), or `outer-scope`. */
  kind: 'initializer' | 'constant' | 'graph-input' | 'activation' | 'outer-scope';
  shape: JsonDim[] | null;
}

/** A projection weight as stored in the model. */
export interface WeightRef extends TensorRef {
  /** `in,out`: x @ W (MatMul weight, Gemm transB=0); `out,in`: x @ Wᵀ (Gemm transB=1, or a Transpose before MatMul). */
  layout: 'in,out' | 'out,in';
  /** Readable layout, e.g. `[in, out] MatMul weight` or `[out, in] Gemm transB`. */
  layoutText: string;
  /** Axis of the stored weight along which heads are laid out (out-features for Q/K/V, in-features for output). */
  headAxis: number;
  /** Sub-range along `headAxis` that belongs to this role (packed QKV weights), or null for the whole axis. */
  range: [number, number] | null;
  /** The MatMul/Gemm (or fused operator) that applies the weight. */
  node: string;
}

/** A projection bias (1-D), possibly a slice of a packed QKV bias. */
export interface BiasRef extends TensorRef {
  /** Sub-range of a packed bias, or null for all of it. */
  range: [number, number] | null;
  /** The Add/Gemm/fused node that applies it. */
  node: string;
}

/** A linear projection: weight, optional bias, and the activation it reads. */
export interface ProjectionRef {
  weight: WeightRef;
  bias: BiasRef | null;
  /** Activation tensor the projection reads (tells self- from cross-attention). */
  input: string;
}

/** A mask or bias applied to the attention scores. */
export interface MaskRef extends TensorRef {
  /** `additive` (added to scores), `where` (selects scores), `multiplicative`, `bool` (ai.onnx boolean attn_mask),
   *  `key-padding` / `index` (com.microsoft mask_index, key_padding_mask), `bias` (com.microsoft attention_bias). */
  role: 'additive' | 'where' | 'multiplicative' | 'bool' | 'key-padding' | 'index' | 'bias';
  /** Node that applies it (Add/Where/… or the fused operator). */
  node: string;
  /** Graph inputs it is computed from (empty for constants). */
  sources: string[];
  /** True when it holds a separate slice per head (an axis aligned with the head axis that is not 1). */
  carriesHeadAxis: boolean | null;
  /** That axis of this tensor, when it carries one. */
  headAxis: number | null;
  /** True when computed from constants only (e.g. the zero bias of an expanded ai.onnx Attention). */
  constant: boolean;
}

/** KV-cache tensors of a block (graph input/output names), when it has a cache. */
export interface KvCacheRef {
  pastKey: string | null;
  pastValue: string | null;
  presentKey: string | null;
  presentValue: string | null;
}

/** One multi-head attention block; numbers the model does not determine are null (see `notes`). */
export interface AttentionBlock {
  /** 0-based position among the blocks, in graph order (the layer index). */
  index: number;
  form: AttentionForm;
  /** `''` for the main graph, else the subgraph path (e.g. `Loop_3/body`). */
  graph: string;
  nodes: {
    /** Fused operator node (fused forms). */
    fused: string | null;
    softmax: string | null;
    scoreMatMul: string | null;
    contextMatMul: string | null;
    outputProjection: string | null;
    /** Head split/merge and layout nodes passed on the Q/K/V/output paths. */
    layout: string[];
  };
  /** Tensors at the attention core: Q and K entering the score MatMul (or op), V entering the context MatMul. */
  q: TensorRef | null;
  k: TensorRef | null;
  v: TensorRef | null;
  /** Attention probabilities [.., q_len, k_len] (Softmax output), for unfused blocks. */
  probs: TensorRef | null;
  /** Context (per-head outputs, before the output projection). */
  context: TensorRef | null;
  queryHeads: number | null;
  kvHeads: number | null;
  /** queryHeads / kvHeads (1 for ordinary multi-head attention, > 1 for grouped-query). */
  groupSize: number | null;
  headSizeQK: number | null;
  headSizeV: number | null;
  /** queryHeads × headSizeQK. */
  hiddenSize: number | null;
  /** queryHeads × headSizeV (width entering the output projection). */
  vHiddenSize: number | null;
  /** Feature width of the tensor entering the Q projection, when one is found (d_model). */
  inputSize: number | null;
  /** How the head count was obtained. */
  headsFrom: 'attribute' | 'shape' | 'reshape' | 'single-head' | 'override' | null;
  /** Where heads live in the score tensor (see module doc); `fused` for operators. */
  headLayout: 'bnsh' | 'folded' | 'fused' | 'single';
  /** True for cross-attention (K/V computed from another tensor than Q), null when it cannot be told. */
  cross: boolean | null;
  causal: boolean;
  /** Overall factor applied to Q·Kᵀ (product of constant scales), when known. */
  scale: number | null;
  /** Where that scale is applied. */
  scalePlacement: 'scores' | 'query' | 'key' | 'query+key' | 'attribute' | 'default' | 'none' | 'mixed';
  weights: {
    query: ProjectionRef | null;
    key: ProjectionRef | null;
    value: ProjectionRef | null;
    output: ProjectionRef | null;
  };
  masks: MaskRef[];
  /**
   * Present when the block has no output projection and adds its heads instead (the theory's own network,
   * docs/theory.md §a): a ReduceSum over the head axis, or a Split along it joined by Add/Sum (headSum.ts).
   */
  headSum?: HeadSumRef;
  kvCache: KvCacheRef | null;
  confidence: 'high' | 'medium' | 'low';
  notes: string[];
}

/** A Softmax (or fused operator) that looked like attention but did not match. */
export interface CandidateFailure {
  /** The node the match started from. */
  anchor: string;
  anchorOp: string;
  graph: string;
  /** The node where the pattern broke (null when it broke at the anchor itself). */
  brokeAt: string | null;
  brokeAtOp: string | null;
  reason: string;
  /** How far it got (higher is closer): 0 broke at the Softmax itself (axis), 1 no P·V MatMul after it, 2 no
   *  Q·Kᵀ MatMul before it, 3 both MatMuls found but inconsistent (or a fused operator not analyzed). */
  stage: number;
}

/** Everything `detectAttention` found. */
export interface DetectionResult {
  blocks: AttentionBlock[];
  /** Candidates that did not match, in graph order. */
  rejected: CandidateFailure[];
  /** The rejected candidate that got furthest, when no block was found (else null). */
  closest: CandidateFailure | null;
  /** One line: `2 attention blocks found` or `no attention blocks found: …`. */
  summary: string;
}

/** A head-sum merge (server/src/onnx/detect/headSum.ts): heads summed instead of concatenated before the output. */
export interface HeadSumRef {
  form: 'ReduceSum' | 'Split+Add';
  /** The ReduceSum or Split node. */
  node: string;
  /** The tensor it reads: heads on `axis`, one element each. */
  input: string;
  axis: number;
  /** The summed tensor: the ReduceSum output, or the root of the Add tree (or the Sum output). */
  output: string;
  /** Product of the constant scalar scales between the context and the sum (1 when there are none). */
  scale: number;
  /** Split+Add: for each head, the tensor that enters the join (after the part's layout ops). */
  parts: string[];
  /** Split+Add: the Add/Sum nodes that join the parts. */
  joins: string[];
}

// ---------------------------------------------------------------------------------------------------
// Head map of a pruned model (server/src/onnx/edit/headOrigins.ts)

/** A head map (see module doc). */
export interface HeadOrigins {
  /** The model the heads were first numbered in (file name). */
  source: string;
  /** Heads per layer of that model. */
  originalHeads: number[];
  /** Per current block: its original layer and the original number of each of its heads. */
  layers: { layer: number; heads: number[] }[];
}

/** A head's current and original position. */
export interface HeadName {
  layer: number;
  head: number;
}

// ---------------------------------------------------------------------------------------------------
// `inspect` summary (server/src/onnx/detect/inspect.ts)

/** A graph input or output as `inspect` lists it. */
export interface InspectIO {
  name: string;
  /** Element type name in lower case (`float`, `int64`, …; `?` when not declared). */
  type: string;
  shape: JsonDim[] | null;
}

/** The JSON form of `attention-paths inspect --json`. */
export interface InspectSummary {
  file: string;
  irVersion: number;
  opsets: Record<string, number>;
  producer: string;
  producerVersion: string;
  inputs: InspectIO[];
  outputs: InspectIO[];
  nodeCount: number;
  /** Node count per op type (`domain::Op` for non-default domains), most frequent first. */
  opCounts: Record<string, number>;
  initializerCount: number;
  /** Bytes of initializer data (inline and external). */
  weightBytes: number;
  externalDataBytes: number;
  largeExternalData: boolean;
  subgraphs: number;
  /** `detectAttention` result (blocks in graph order, rejected candidates, summary line). */
  attention: DetectionResult;
  /** The head map of a pruned model (original layer/head of every head; headOrigins.ts), or null. */
  headMap: HeadOrigins | null;
  /** Why a head map in the metadata was ignored, when one was. */
  headMapNote?: string;
}

// ---------------------------------------------------------------------------------------------------
// Block subgraphs for the model view's drawing (server/src/onnx/detect/blockGraph.ts)

/** What a node does in its attention block. */
export type BlockNodeRole =
  'input' | 'qkv' | 'query' | 'key' | 'value' | 'scores' | 'scale' | 'mask' | 'softmax' | 'context' | 'merge' | 'output' | 'fused' | 'layout' | 'other';

export interface BlockGraphNode {
  /** Unique within the block: the node's name (or a generated one), or `input:<tensor>` for an input. */
  id: string;
  /** The op type (`MatMul`, `Softmax`, …) or, for inputs, the tensor name. */
  label: string;
  /** The node's name in the model ('' for inputs). */
  name: string;
  role: BlockNodeRole;
  /**
   * Output tensors (names), for finding a node from a tensor a message names. An input also lists the tensors it
   * is a re-layout of (back through Transpose, Reshape, … — the detector names the tensor a projection's input
   * comes from, e.g. a LayerNorm's output before PyTorch's batch-first Transpose).
   */
  outputs: string[];
}

export interface BlockGraph {
  /** The block's layer index (0-based). */
  layer: number;
  nodes: BlockGraphNode[];
  /** Edges along tensors: from the producing node to the reading node. */
  edges: Array<{ from: string; to: string; tensor: string }>;
  /** True when the block had more nodes than the server draws (server/src/onnx/detect/blockGraph.ts `MAX_BLOCK_NODES`) and only the ones nearest its end are drawn. */
  truncated: boolean;
}

// ---------------------------------------------------------------------------------------------------
// Original versus pruned model (server/src/pipeline/pruneModel.ts; measurements of server/src/onnx/run/verify.ts and
// footprint.ts)

/** A metric measured on labelled data in ONNX Runtime. */
export interface MeasuredMetric {
  /** `accuracy` (sign of the output against ±1 labels) or `mse`. */
  kind: 'accuracy' | 'mse';
  value: number;
  /** Examples it was measured on. */
  count: number;
}

/** Latency per batch in ONNX Runtime. */
export interface LatencyMeasure {
  /** Median of the timed runs, milliseconds. */
  median_ms: number;
  min_ms: number;
  max_ms: number;
  /** Timed runs (after warm-up). */
  runs: number;
  /** Examples per run. */
  batch: number;
}

/** One side of the original-versus-pruned comparison. */
export interface ModelSide {
  heads: number[];
  /** Floating-point weight elements. */
  parameters: number;
  /** Bytes of the .onnx file and its external data. */
  file_bytes: number;
  /** The metric on the labelled test split (with labels). */
  measured?: MeasuredMetric;
  /** Median latency per batch in ONNX Runtime (with `latency`). */
  latency?: LatencyMeasure;
  /** The theory's test metrics (finite width): the original with all heads, the pruned with its own analysis. */
  predicted?: Metrics;
}

/** Original versus pruned model (`attention-paths prune`'s comparison). */
export interface PruneComparison {
  original: ModelSide;
  pruned: ModelSide;
}

// ---------------------------------------------------------------------------------------------------
// Array files (server/src/data/summary.ts)

export interface ArraySummary {
  name: string;
  /** The stored NumPy dtype (`<f8`, `|u1`, …). */
  dtype: string;
  shape: number[];
  count: number;
  /** Over the finite values; absent when there are none. */
  min?: number;
  max?: number;
  mean?: number;
  /** NaN and ±∞ entries. */
  nonFinite: number;
  /** Label-like arrays: each distinct value and how often it occurs, most frequent first. */
  labels?: Array<{ value: number; count: number }>;
  /** The first rows × columns ([] for an empty array); a scalar is one row of one value. */
  preview: number[][];
  /** Why the array could not be read (then the statistics are absent). */
  error?: string;
}

export interface ArraysSummary {
  file: string;
  kind: 'npz' | 'npy';
  bytes: number;
  arrays: ArraySummary[];
  /** Why the file could not be read at all. */
  error?: string;
}
