/**
 * Predicted effect of removing several heads at once (docs/theory.md §g, the theory-side alternative
 * to pruning a trained network): zero every row and column of U₁ through each removed head, keep the
 * 1/H_tot normalization, and recompute the predictor on the test set. No re-optimization of U.
 */
import { fromRows, type Matrix } from '../linalg/matrix';
import { predict, testMetrics } from '../theory/predictor';
import { silenceHead } from '../theory/relevance';
import type { Metrics } from '../../../shared/report';
import { headName } from '../../../shared/format';
import type { Prepared } from './prepare';

/** A head, 0-based layer and head. */
export interface HeadIndex {
  layer: number;
  head: number;
}

/**
 * Test metrics of the mean predictor with `removed` heads silenced together.
 * @param p prepared inputs of the config the report came from (same task, attention and settings)
 * @param U1rows U₁ of that report, [H_tot, H_tot] as nested rows (`report.U[0]`)
 * @param removed heads to silence; each must exist in `p.settings.heads`
 * @throws Error when U₁ does not match the path count or a head does not exist
 */
export async function predictWithHeadsRemoved(p: Prepared, U1rows: number[][], removed: HeadIndex[]): Promise<Metrics> {
  const heads = p.settings.heads;
  const Q = p.train.paths;
  if (U1rows.length !== Q || U1rows.some((r) => r.length !== Q)) {
    throw new Error(
      `U_1 is ${U1rows.length}×${U1rows[0]?.length ?? 0}, but this config has ${Q} attention paths (heads [${heads.join(', ')}]); analyse it again`,
    );
  }
  let U: Matrix = fromRows(U1rows);
  for (const { layer, head } of removed) {
    if (!(layer >= 0 && layer < heads.length && head >= 0 && head < heads[layer])) {
      throw new Error(`${headName(layer, head)} does not exist (heads per layer [${heads.join(', ')}], 0-based)`);
    }
    U = silenceHead(U, heads, layer, head);
  }
  const pred = await predict(p.train, p.test, p.task.yTrain, U, p.settings.temperature);
  return testMetrics(pred, p.task.yTest);
}
