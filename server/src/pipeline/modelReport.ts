/**
 * The `model` section of an analysis report (see `ModelReport` in report/types.ts): facts from the model capture,
 * and, for models in the theory's class, U₁ from the model's own value weights (THEORY.md section f) compared
 * with the theory's U₁ as patterns (section f: only the pattern of a trained network's U is comparable).
 */
import { basename } from 'node:path';
import { toRows, type Matrix } from '../linalg/matrix';
import type { ModelTask } from '../onnx/modelTask';
import type { ModelReport } from '../report/types';
import { headScores } from '../theory/relevance';
import { orderParametersFromWeights } from '../theory/weights';

/** Pearson correlation of two equally long arrays (NaN when either is constant). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Ranks with ties averaged (1-based). */
function ranks(v: number[]): number[] {
  const idx = v.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
  const r = new Array<number>(v.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1][0] === idx[i][0]) j++;
    for (let k = i; k <= j; k++) r[idx[k][1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

/** Spearman rank correlation (Pearson correlation of the ranks). */
export function spearman(a: number[], b: number[]): number {
  return pearson(ranks(a), ranks(b));
}

/** Cosine similarity of two matrices flattened (Frobenius inner product over the norms). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/**
 * Builds the report's `model` section.
 * @param U1 the theory's U₁ at the solution [H_tot, H_tot]; heads [H_1, …, H_L].
 */
export function modelReport(m: ModelTask, U1: Matrix, heads: number[]): ModelReport {
  const r: ModelReport = {
    file: basename(m.model.file),
    input: { tensor: m.input.tensor, layout: m.input.layout, N0: m.input.N0, T: m.input.T, embedding: m.input.embedding?.weight.node ?? null },
    blocks: m.blocks.map((b) => ({
      layer: b.layer,
      form: b.form,
      heads: b.heads,
      kv_heads: b.kvHeads,
      source: b.source,
      ...(b.checkMaxAbsError !== undefined ? { check_max_abs_error: b.checkMaxAbsError } : {}),
      masked_queries: b.maskedQueries,
    })),
    split: m.split,
    model_readout: m.modelReadout,
    in_theory_class: m.theoryClass.inClass,
    class_reasons: m.theoryClass.reasons,
  };
  if (m.valueWeights) {
    const Uw = orderParametersFromWeights(m.valueWeights).Us[0];
    if (Uw.rows !== U1.rows) throw new Error(`U from the model's weights is ${Uw.rows}×${Uw.rows}, the theory's ${U1.rows}×${U1.rows}`);
    const sw = headScores(Uw, heads);
    const st = headScores(U1, heads);
    const key = (s: { layer: number; head: number }) => `${s.layer}:${s.head}`;
    const order = st.map(key);
    const byKey = new Map(sw.map((s) => [key(s), s.score]));
    r.weights_U = {
      U: toRows(Uw),
      pearson: pearson(Uw.data, U1.data),
      cosine: cosine(Uw.data, U1.data),
      head_score_spearman: spearman(order.map((k) => byKey.get(k)!), st.map((s) => s.score)),
    };
  }
  return r;
}
