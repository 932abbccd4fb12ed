/**
 * Unfused attention: `MatMul(Q, Kᵀ) → scale (Mul/Div; or on Q/K before the MatMul) → optional mask (Add/Where) →
 * Softmax(last axis) → MatMul(P, V)`, with the head split/merge Reshape/Transpose of BERT, ViT and PyTorch
 * `nn.MultiheadAttention` exports (heads on axis 1 of [B, H, T, d], or folded into the batch axis as [B·H, T, d]),
 * grouped-query repeats (Unsqueeze/Expand/Reshape) and cross-attention. Matching starts at each Softmax; a
 * candidate that does not fit reports the node where it broke and why.
 * Spec sources: ONNX Softmax (axis semantics changed at opset 13: before it, the input is coerced to 2-D at
 * `axis`, default 1), MatMul (numpy batching), Reshape (0 copies, -1 infers), and the ai.onnx Attention function
 * body (onnx/defs/nn/defs.cc), whose expansion is the reference unfused form.
 */
import { attrInt, label } from '../format/graph';
import { isNum } from '../shapes/dims';
import type { OnnxNode } from '../format/types';
import type { AttentionBlock, CandidateFailure, MaskRef } from './blocks';
import { causalMask, causalNote } from './causal';
import { findHeadSum, type HeadSumRef } from './headSum';
import {
  type Ctx,
  type Trace,
  constNumber,
  dimAt,
  findOutputProjection,
  foldsHeads,
  headsFromSplit,
  isConstant,
  maskRef,
  maskValues,
  numAt,
  scalarLike,
  shapeOf,
  tensorKind,
  tensorRef,
  traceOperand,
} from './trace';

type Fail = { node: OnnxNode | null; reason: string; stage: number };

/** Ops that pass attention probabilities through unchanged (or elementwise) on their way to P·V. */
function probsConsumer(ctx: Ctx, t: string, path: OnnxNode[]): { mm: OnnxNode | null; fail: Fail | null } {
  let cur = t;
  for (let step = 0; step < 8; step++) {
    const cons = ctx.index.consumers(cur);
    const mm = cons.find((c) => c.opType === 'MatMul' && c.inputs[0] === cur);
    if (mm) return { mm, fail: null };
    const right = cons.find((c) => c.opType === 'MatMul' && c.inputs[1] === cur);
    if (right) {
      return { mm: null, fail: { node: right, reason: 'the Softmax output is the right operand of this MatMul (expected probabilities @ V)', stage: 1 } };
    }
    const pass = cons.find(
      (c) =>
        ['Cast', 'Identity', 'Dropout'].includes(c.opType) ||
        (c.opType === 'Where' && (c.inputs[1] === cur || c.inputs[2] === cur)) ||
        (c.opType === 'Mul' && c.outputs.length === 1),
    );
    if (!pass) {
      if (cons.length === 0) {
        const why = ctx.index.isGraphOutput(cur) ? `the Softmax output '${cur}' is a graph output, not multiplied by values` : 'the Softmax output is not used';
        return { mm: null, fail: { node: null, reason: why, stage: 1 } };
      }
      const c = cons[0];
      return {
        mm: null,
        fail: { node: c, reason: `the Softmax output goes to ${c.opType}, not to a MatMul with the values (probabilities @ V)`, stage: 1 },
      };
    }
    path.push(pass);
    cur = pass.outputs[0];
  }
  return { mm: null, fail: { node: null, reason: 'no MatMul within 8 elementwise ops of the Softmax', stage: 1 } };
}

interface Chain {
  mm: OnnxNode;
  path: OnnxNode[];
  scale: number | null;
  scaleNodes: string[];
  /** Masks on the scores; `branch`: for Where, the input index (1 or 2) that carries the scores. */
  masks: { t: string; node: OnnxNode; role: MaskRef['role']; branch?: number }[];
  softcap: boolean;
}

/** Walks back from the Softmax input to the Q·Kᵀ MatMul, collecting scales and masks. */
function scoreChain(ctx: Ctx, t: string, depth: number): Chain | Fail {
  const p = ctx.index.producer(t);
  if (!p) return { node: null, reason: `the Softmax input '${t}' is ${tensorKind(ctx, t)}, not computed by Q·Kᵀ`, stage: 2 };
  if (depth > 12) return { node: p, reason: 'no MatMul within 12 ops before the Softmax', stage: 2 };
  const recurse = (u: string) => scoreChain(ctx, u, depth + 1);
  const ok = (r: Chain | Fail): r is Chain => 'mm' in r;
  const op = p.opType;
  if (op === 'MatMul' || (op === 'FusedMatMul' && p.domain === 'com.microsoft')) {
    for (const i of [0, 1]) {
      if (isConstant(ctx, p.inputs[i])) {
        return {
          node: p,
          reason: `this MatMul multiplies by the constant '${p.inputs[i]}' (a projection or classifier), not Q by Kᵀ`,
          stage: 2,
        };
      }
    }
    return { mm: p, path: [], scale: 1, scaleNodes: [], masks: [], softcap: false };
  }
  if (['Cast', 'Identity', 'CastLike'].includes(op)) {
    const r = recurse(p.inputs[0]);
    if (ok(r)) r.path.push(p);
    return r;
  }
  if (op === 'Mul' || op === 'Div') {
    for (const mine of op === 'Mul' ? [0, 1] : [0]) {
      const other = p.inputs[1 - mine];
      if (scalarLike(ctx, other) || constNumber(ctx, other) !== null) {
        const r = recurse(p.inputs[mine]);
        if (ok(r)) {
          const c = constNumber(ctx, other);
          r.scale = c === null || r.scale === null ? null : r.scale * (op === 'Mul' ? c : 1 / c);
          r.scaleNodes.push(label(p));
          r.path.push(p);
        }
        return r;
      }
    }
    if (op === 'Mul') {
      for (const mine of [0, 1]) {
        const r = recurse(p.inputs[mine]);
        if (ok(r)) {
          r.masks.push({ t: p.inputs[1 - mine], node: p, role: 'multiplicative' });
          r.path.push(p);
          return r;
        }
      }
    }
    return { node: p, reason: `${op} by the non-constant '${p.inputs[op === 'Div' ? 1 : 0]}' before the Softmax`, stage: 2 };
  }
  if (op === 'Add' || op === 'Sub') {
    let first: Fail | null = null;
    for (const mine of op === 'Sub' ? [0] : [0, 1]) {
      const r = recurse(p.inputs[mine]);
      if (ok(r)) {
        r.masks.push({ t: p.inputs[1 - mine], node: p, role: 'additive' });
        r.path.push(p);
        return r;
      }
      first ??= r;
    }
    return first!;
  }
  if (op === 'Where') {
    let first: Fail | null = null;
    for (const mine of [1, 2]) {
      const r = recurse(p.inputs[mine]);
      if (ok(r)) {
        r.masks.push({ t: p.inputs[0], node: p, role: 'where', branch: mine });
        r.path.push(p);
        return r;
      }
      first ??= r;
    }
    return first!;
  }
  if (op === 'Tanh') {
    const r = recurse(p.inputs[0]);
    if (ok(r)) {
      r.softcap = true;
      r.path.push(p);
    }
    return r;
  }
  if (op === 'Einsum') {
    return { node: p, reason: 'the scores are computed by Einsum, which this detector does not analyze yet', stage: 2 };
  }
  return {
    node: p,
    reason: `${op} produces the Softmax input; expected MatMul(Q, Kᵀ) → scale (Mul/Div) → optional mask (Add/Where) → Softmax`,
    stage: 2,
  };
}

function fail(ctx: Ctx, sm: OnnxNode, f: Fail): CandidateFailure {
  return {
    anchor: label(sm),
    anchorOp: sm.opType,
    graph: ctx.graph.path,
    brokeAt: f.node ? label(f.node) : null,
    brokeAtOp: f.node ? f.node.opType : null,
    reason: f.reason,
    stage: f.stage,
  };
}

/**
 * Matches one Softmax as an unfused attention block.
 * @returns the block (numbers it could not infer are null, with notes), or why the candidate failed.
 */
export function matchSoftmax(ctx: Ctx, sm: OnnxNode): { block: AttentionBlock } | { failure: CandidateFailure } {
  const notes: string[] = [];
  const inShape = shapeOf(ctx, sm.inputs[0]);
  const rank = inShape ? inShape.length : null;
  // Softmax axis: opset ≥ 13 defaults to -1; before that, the default is 1 and the input is coerced to 2-D there,
  // which equals a last-axis softmax only when axis = rank - 1.
  const axis = attrInt(sm, 'axis', ctx.opset >= 13 ? -1 : 1);
  if (rank !== null) {
    const a = axis < 0 ? axis + rank : axis;
    if (a !== rank - 1) {
      return {
        failure: fail(ctx, sm, { node: sm, reason: `Softmax normalizes over axis ${axis} of a rank-${rank} tensor, not the last (key) axis`, stage: 0 }),
      };
    }
  } else if (axis !== -1) notes.push(`Softmax axis ${axis} could not be checked against an unknown rank`);

  const probsPath: OnnxNode[] = [];
  const pc = probsConsumer(ctx, sm.outputs[0], probsPath);
  if (!pc.mm) return { failure: fail(ctx, sm, pc.fail!) };
  const ctxMM = pc.mm;

  const chain = scoreChain(ctx, sm.inputs[0], 0);
  if (!('mm' in chain)) return { failure: fail(ctx, sm, { ...chain, stage: 2 }) };
  const scoreMM = chain.mm;

  const qT = traceOperand(ctx, scoreMM.inputs[0]);
  const kT = traceOperand(ctx, scoreMM.inputs[1]);
  const vT = traceOperand(ctx, ctxMM.inputs[1]);

  const qShape = shapeOf(ctx, scoreMM.inputs[0]);
  const kShape = shapeOf(ctx, scoreMM.inputs[1]);
  const vShape = shapeOf(ctx, ctxMM.inputs[1]);
  const sShape = shapeOf(ctx, scoreMM.outputs[0]);
  const scoreRank = sShape?.length ?? qShape?.length ?? null;
  if (scoreRank !== null && scoreRank < 2) {
    return {
      failure: fail(ctx, sm, { node: scoreMM, reason: `the score MatMul output has rank ${scoreRank}; attention scores need [.., q_len, k_len]`, stage: 3 }),
    };
  }
  // Q·Kᵀ contracts the head dim: Q [.., Tq, d] @ K [.., d, Tk]; P [.., Tq, Tk] @ V [.., Tk, dv].
  const dQK = numAt(qShape, -1) ?? numAt(kShape, -2);
  const dV = numAt(vShape, -1);
  const tk = dimAt(sShape, -1);
  const tv = dimAt(vShape, -2);
  if (tk !== null && tv !== null && isNum(tk) && isNum(tv) && tk !== tv) {
    return {
      failure: fail(ctx, sm, {
        node: ctxMM,
        reason: `the probabilities have ${tk} keys but the values tensor has ${tv} rows, so this MatMul is not P·V`,
        stage: 3,
      }),
    };
  }

  // Query heads: from the score shape [B, H, Tq, Tk], and/or from the split Reshape width / head size.
  let qHeads: number | null = null;
  let headsFrom: AttentionBlock['headsFrom'] = null;
  const shapeHeads = scoreRank !== null && scoreRank >= 4 ? (numAt(qShape, -3) ?? numAt(sShape, -3)) : null;
  const splitHeads = headsFromSplit(qT, dQK);
  if (shapeHeads !== null) {
    qHeads = shapeHeads;
    headsFrom = 'shape';
    if (splitHeads !== null && splitHeads !== shapeHeads) notes.push(`the Q split Reshape suggests ${splitHeads} heads, the score shape ${shapeHeads}`);
  } else if (splitHeads !== null) {
    qHeads = splitHeads;
    headsFrom = 'reshape';
  } else if (scoreRank === 3 && !qT.split && !kT.split) {
    qHeads = 1;
    headsFrom = 'single-head';
    notes.push('no head split Reshape on the Q/K paths: treated as single-head attention');
  } else if (scoreRank === 2) {
    qHeads = 1;
    headsFrom = 'single-head';
  }
  let layout: AttentionBlock['headLayout'] = scoreRank !== null && scoreRank >= 4 ? 'bnsh' : scoreRank === 3 ? 'folded' : 'single';
  if (qHeads === 1 && scoreRank !== null && scoreRank <= 3) layout = 'single';
  if (layout === 'folded' && qHeads !== null && qHeads > 1 && !foldsHeads(qT, qHeads)) {
    notes.push('heads are folded into the batch axis (rank-3 scores); the fold could not be confirmed from the Reshape');
  }

  // Key/value heads: an explicit repeat (GQA) wins; else the K split width, else the K shape.
  let kvHeads: number | null;
  const rep = kT.repeat ?? vT.repeat;
  if (rep && isNum(rep.kvHeads)) {
    kvHeads = rep.kvHeads;
    if (isNum(rep.nRep) && qHeads !== null && rep.kvHeads * rep.nRep !== qHeads) {
      notes.push(`the key/value repeat gives ${rep.kvHeads}×${rep.nRep} heads but the query has ${qHeads}`);
    }
  } else {
    const kSplit = headsFromSplit(kT, dQK);
    const kShapeHeads = scoreRank !== null && scoreRank >= 4 ? numAt(kShape, -3) : null;
    kvHeads = kShapeHeads ?? kSplit ?? (headsFrom === 'single-head' ? 1 : qHeads);
  }
  if (vT.repeat && kT.repeat && isNum(vT.repeat.kvHeads) && isNum(kT.repeat.kvHeads) && vT.repeat.kvHeads !== kT.repeat.kvHeads) {
    notes.push(`keys and values repeat different head counts (${kT.repeat.kvHeads} vs ${vT.repeat.kvHeads})`);
  }

  if (qHeads === null) {
    notes.push('the head count cannot be inferred (dynamic shapes); pass it as an override (heads)');
  }

  // Scale: on the scores (after the MatMul) and/or on Q and K before it.
  const parts: string[] = [];
  let scale: number | null = 1;
  const mulScale = (s: number | null) => {
    scale = scale === null || s === null ? null : scale * s;
  };
  if (chain.scaleNodes.length) {
    parts.push('scores');
    mulScale(chain.scale);
  }
  if (qT.scaleNodes.length) {
    parts.push('query');
    mulScale(qT.scale);
  }
  if (kT.scaleNodes.length) {
    parts.push('key');
    mulScale(kT.scale);
  }
  const placement: AttentionBlock['scalePlacement'] =
    parts.length === 0 ? 'none' : parts.length === 1 ? (parts[0] as 'scores' | 'query' | 'key') : parts.join('+') === 'query+key' ? 'query+key' : 'mixed';
  if (parts.length === 0) notes.push('no scale found between Q·Kᵀ and the Softmax (scale 1)');
  if (vT.scaleNodes.length) notes.push(`the values are scaled by ${vT.scale ?? 'a non-constant factor'}`);

  const masks = chain.masks.map((m) => maskRef(ctx, m.t, m.node, m.role, scoreRank));
  let causal = false;
  masks.forEach((m, i) => {
    const use = chain.masks[i];
    const c = causalMask(ctx, m.name, { role: m.role, node: use.node, scoreBranch: use.branch });
    if (c) {
      causal = true;
      notes.push(causalNote(m.name, c, use.node));
      return;
    }
    if (!m.constant) return;
    const v = maskValues(ctx, m.name);
    if (v && v.every((x) => x === 0) && m.role === 'additive') notes.push(`the mask '${m.name}' is a constant zero bias (no masking)`);
    else notes.push(`the mask '${m.name}' is constant`);
  });
  if (chain.softcap) notes.push('the scores pass through Tanh (softcap)');

  // Output projection: after the head merge.
  const out = findOutputProjection(ctx, ctxMM.outputs[0]);
  // Without one, the heads may be summed (the theory's own network).
  let headSum: HeadSumRef | null = null;
  const ctxShape = shapeOf(ctx, ctxMM.outputs[0]);
  if (!out.proj && qHeads !== null && qHeads >= 1 && ctxShape && (layout === 'bnsh' || layout === 'folded')) {
    const axis = layout === 'bnsh' ? ctxShape.length - 3 : 0;
    headSum = findHeadSum(ctx, ctxMM.outputs[0], { axis, segments: [{ role: 'q', offset: 0, heads: qHeads, inner: 1 }], size: ctxShape[axis] }, qHeads);
  }
  if (headSum) {
    const by = headSum.scale !== 1 ? `, scaled by ${Number(headSum.scale.toPrecision(6))}` : '';
    notes.push(`the heads are summed by ${headSum.form} '${headSum.node}'${by} (no output projection)`);
  } else if (!out.proj) notes.push(`no output projection found: ${out.why}`);

  // Self vs cross: compare what the Q and K projections read.
  let cross: boolean | null = null;
  const qIn = qT.projection?.input ?? null;
  const kIn = kT.projection?.input ?? null;
  if (qIn && kIn) cross = qIn !== kIn;
  else if (qT.source === kT.source) cross = false;
  else {
    const tq = dimAt(sShape, -2);
    if (isNum(tq) && isNum(tk) && tq !== tk) cross = true;
  }
  if (kT.past) notes.push(`keys are concatenated with the cache '${kT.past.past}'`);

  for (const [name, tr] of [
    ['query', qT],
    ['key', kT],
    ['value', vT],
  ] as [string, Trace][]) {
    if (!tr.projection) notes.push(`no ${name} projection found: stopped at ${tr.stop || `'${tr.source}'`}`);
  }

  const hidden = qHeads !== null && dQK !== null ? qHeads * dQK : null;
  const vHidden = qHeads !== null && dV !== null ? qHeads * dV : null;
  const inW = qT.projection?.weight;
  const inputSize = inW && inW.shape ? (inW.shape[inW.layout === 'in,out' ? 0 : 1] as number | null) : null;
  if (inW?.range && hidden !== null && inW.range[1] - inW.range[0] !== hidden) {
    notes.push(`the Q weight slice has ${inW.range[1] - inW.range[0]} columns, expected heads × head size = ${hidden}`);
  }

  let confidence: AttentionBlock['confidence'] = 'high';
  if (qHeads === null || dQK === null) confidence = 'low';
  else if (headsFrom === 'single-head' || (shapeHeads !== null && splitHeads !== null && shapeHeads !== splitHeads)) confidence = 'medium';
  else if (!qT.projection && !kT.projection && headsFrom !== 'shape') confidence = 'medium';

  const layoutNodes = [...qT.path, ...kT.path, ...vT.path, ...out.path]
    .filter((n) => ['Reshape', 'Transpose', 'Expand', 'Unsqueeze', 'Slice', 'Split', 'Gather', 'Squeeze'].includes(n.opType))
    .map(label);

  const block: AttentionBlock = {
    index: 0,
    form: 'unfused',
    graph: ctx.graph.path,
    nodes: {
      fused: null,
      softmax: label(sm),
      scoreMatMul: label(scoreMM),
      contextMatMul: label(ctxMM),
      outputProjection: out.proj ? out.proj.weight.node : null,
      layout: [...new Set(layoutNodes)],
    },
    q: tensorRef(ctx, scoreMM.inputs[0]),
    k: tensorRef(ctx, scoreMM.inputs[1]),
    v: tensorRef(ctx, ctxMM.inputs[1]),
    probs: tensorRef(ctx, sm.outputs[0]),
    context: tensorRef(ctx, ctxMM.outputs[0]),
    queryHeads: qHeads,
    kvHeads,
    groupSize: qHeads !== null && kvHeads ? qHeads / kvHeads : null,
    headSizeQK: dQK,
    headSizeV: dV,
    hiddenSize: hidden,
    vHiddenSize: vHidden,
    inputSize: typeof inputSize === 'number' ? inputSize : null,
    headsFrom,
    headLayout: layout,
    cross,
    causal,
    scale,
    scalePlacement: placement,
    weights: { query: qT.projection, key: kT.projection, value: vT.projection, output: out.proj },
    masks,
    ...(headSum ? { headSum } : {}),
    kvCache: kT.past || vT.past ? { pastKey: kT.past?.past ?? null, pastValue: vT.past?.past ?? null, presentKey: null, presentValue: null } : null,
    confidence,
    notes,
  };
  return { block };
}
