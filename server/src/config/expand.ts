/**
 * Expansion of the array-or-number settings of a config once the number of layers L is known.
 */
import { ConfigValueError, type AnalysisConfig } from './types';
import { widthProblem } from '../../../shared/width';
import { lengthMessage, showValue } from './messages';

/**
 * Expands `config.widths` to [N_1, …, N_L, N_a] (L + 1 entries) and `config.variances` to
 * [σ0², σ1², …, σL², σa²] (L + 2 entries) (docs/theory.md §a). A single number is repeated; an array
 * must already have the right length.
 *
 * @param config the validated config (only `widths` and `variances` are read)
 * @param L number of attention layers (≥ 1)
 * @param heads heads per layer [H_1, …, H_L] (length L); used in messages, as they are what fixes L
 * @returns fresh arrays (never the config's own)
 * @throws ConfigValueError (pointer /widths or /variances) when an array has the wrong length, a width is < 1
 *   or a variance is ≤ 0; Error when L is not a positive integer or heads.length ≠ L. Messages like
 *   (e.g. "widths has 2 entries; with heads [2, 2] (L = 2) expected 3: [N_1, N_2, N_a]"),
 *   a width is < 1 or a variance is ≤ 0 or not finite
 */
export function expandSettings(config: Pick<AnalysisConfig, 'widths' | 'variances'>, L: number, heads: number[]): { widths: number[]; variances: number[] } {
  if (!Number.isInteger(L) || L < 1) throw new Error(`expandSettings: L (number of layers) must be an integer ≥ 1, got ${L}`);
  if (heads.length !== L) {
    throw new Error(`expandSettings: heads ${showValue(heads)} has ${heads.length} entries but L = ${L} (one head count per layer)`);
  }
  const widths = expand('widths', config.widths, L + 1, heads);
  const variances = expand('variances', config.variances, L + 2, heads);
  widths.forEach((n, i) => {
    const problem = widthProblem(n);
    if (problem) throw new ConfigValueError('/widths', `widths[${i}] ${problem} (got ${n}); widths are [N_1, …, N_L, N_a]`);
  });
  variances.forEach((v, i) => {
    if (!Number.isFinite(v) || v <= 0)
      throw new ConfigValueError('/variances', `variances[${i}] must be a number > 0 (got ${v}); variances are [σ0², σ1², …, σL², σa²]`);
  });
  return { widths, variances };
}

function expand(key: 'widths' | 'variances', value: number[] | number, length: number, heads: number[]): number[] {
  if (typeof value === 'number') return new Array<number>(length).fill(value);
  if (value.length !== length) throw new ConfigValueError(`/${key}`, lengthMessage(key, value.length, heads));
  return [...value];
}
