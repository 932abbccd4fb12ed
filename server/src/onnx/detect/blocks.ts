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
import type {
  JsonDim,
  AttentionForm,
  TensorRef,
  WeightRef,
  BiasRef,
  ProjectionRef,
  MaskRef,
  AttentionBlock,
  CandidateFailure,
  DetectionResult,
} from '../../../../shared/model';
export type { JsonDim, AttentionForm, TensorRef, WeightRef, BiasRef, ProjectionRef, MaskRef, AttentionBlock, CandidateFailure, DetectionResult };

export type { HeadSumRef } from '../../../../shared/model';

/** Overrides for models whose head counts are not in the graph (fully dynamic shapes). */
export interface DetectOptions {
  /** Query heads for blocks whose count cannot be read from the model: one number for all, or per block. */
  heads?: number | number[];
  /** Key/value heads, same form (defaults to `heads`). */
  kvHeads?: number | number[];
}
