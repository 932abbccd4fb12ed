/**
 * What the attention detector reports: one `AttentionBlock` per multi-head attention block, plus the
 * Softmax-rooted candidates that did not match. All plain JSON (dims are numbers, symbolic strings such as
 * `4*batch`, or null), so `inspect --json` can print it as is.
 *
 * Head layouts, for later slicing (pruning, per-head capture):
 * - Q/K/V weights: head h owns the range `[h·d, (h+1)·d)` along `headAxis` of the stored weight (the output-feature
 *   axis), offset by `range[0]` when the weight is a packed QKV tensor.
 * - Output projection: head h owns `[h·dv, (h+1)·dv)` along `headAxis` (the input-feature axis).
 * - `bnsh` blocks hold heads on axis -3 of the score tensor [batch, heads, q_len, k_len]; `folded` blocks (PyTorch
 *   `nn.MultiheadAttention`) fold them into axis 0 as `batch·H + h` of [batch·heads, q_len, k_len].
 */
import type { HeadSumRef } from './headSum';

export type { HeadSumRef } from './headSum';

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

/** Overrides for models whose head counts are not in the graph (fully dynamic shapes). */
export interface DetectOptions {
  /** Query heads for blocks whose count cannot be read from the model: one number for all, or per block. */
  heads?: number | number[];
  /** Key/value heads, same form (defaults to `heads`). */
  kvHeads?: number | number[];
}
