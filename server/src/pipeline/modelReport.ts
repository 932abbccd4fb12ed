/**
 * The `model` section of an analysis report (see `ModelReport` in shared/report.ts): facts from the model capture,
 * and, for models in the theory's class, U₁ from the model's own value weights (docs/theory.md §f) compared
 * with the theory's U₁ as patterns (section f: only the pattern of a trained network's U is comparable).
 */
import { basename } from 'node:path';
import { toRows, type Matrix } from '../linalg/matrix';
import type { ModelTask } from './model/modelTask';
import type { ModelReport } from '../../../shared/report';
import { headScores } from '../theory/relevance';
import { pruneBlockers } from '../onnx/edit/prune';
import { readHeadOrigins, renames } from '../onnx/edit/headOrigins';
import { orderParametersFromWeights } from '../theory/weights';
import { patternSimilarity } from '../util/stats';
import { spearman } from '../../../shared/stats';

/**
 * Builds the report's `model` section.
 * @param U1 the theory's U₁ at the solution [H_tot, H_tot]; heads [H_1, …, H_L].
 */
export function modelReport(m: ModelTask, U1: Matrix, heads: number[]): ModelReport {
  const blockers = pruneBlockers(m.model, m.detection);
  const origins = readHeadOrigins(m.model, m.detection).origins;
  const r: ModelReport = {
    file: basename(m.model.file),
    input: { tensor: m.input.tensor, layout: m.input.layout, N0: m.input.N0, T: m.input.T, embedding: m.input.embedding?.weight.node ?? null },
    blocks: m.blocks.map((b, i) => ({
      layer: b.layer,
      form: b.form,
      heads: b.heads,
      kv_heads: b.kvHeads,
      source: b.source,
      ...(b.checkMaxAbsError !== undefined ? { check_max_abs_error: b.checkMaxAbsError } : {}),
      masked_queries: b.maskedQueries,
      ...(blockers[i] ? { prune_blocker: blockers[i]! } : {}),
    })),
    split: m.split,
    model_readout: m.modelReadout,
    in_theory_class: m.theoryClass.inClass,
    class_reasons: m.theoryClass.reasons,
    ...(origins && renames(origins) ? { head_origins: { source: origins.source, original_heads: origins.originalHeads, layers: origins.layers } } : {}),
  };
  if (m.tokenMask) r.token_mask = { input: m.tokenMask.input, padding_tokens: m.tokenMask.padding, tokens: m.tokenMask.tokens };
  if (m.valueWeights) {
    const Uw = orderParametersFromWeights(m.valueWeights).Us[0];
    if (Uw.rows !== U1.rows) throw new Error(`U from the model's weights is ${Uw.rows}×${Uw.rows}, the theory's ${U1.rows}×${U1.rows}`);
    const sw = headScores(Uw, heads);
    const st = headScores(U1, heads);
    const key = (s: { layer: number; head: number }) => `${s.layer}:${s.head}`;
    const order = st.map(key);
    const byKey = new Map(sw.map((s) => [key(s), s.score]));
    const similar = patternSimilarity(Uw.data, U1.data, U1.rows);
    r.weights_U = {
      U: toRows(Uw),
      pearson: similar.pearson,
      cosine: similar.cosine,
      head_score_spearman: spearman(
        order.map((k) => byKey.get(k)!),
        st.map((s) => s.score),
      ),
    };
  }
  return r;
}
