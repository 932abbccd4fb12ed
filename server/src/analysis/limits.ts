/** Limits the language server puts on work, from its settings (`attentionPaths.*`). */
import { pathCount } from '../theory/paths';

/**
 * Refuses work on configs with more attention paths H_1···H_L than the setting `attentionPaths.maxPaths`: the
 * solve scales with (paths)², so a typo in `heads` would otherwise tie up the machine.
 * @param heads heads per layer; action: what was asked ('analyse', 'sweep', 'prune'), for the message
 * @throws Error "this config has N attention paths (heads […]), more than the setting attentionPaths.maxPaths = M; …"
 */
export function checkPathLimit(heads: number[], maxPaths: number, action: 'analyse' | 'sweep' | 'prune'): void {
  const paths = pathCount(heads);
  if (paths <= maxPaths) return;
  const what = { analyse: 'analyse it', sweep: 'sweep its width', prune: 'prune its model (the pruner analyses it first)' }[action];
  throw new Error(
    `this config has ${paths} attention paths (heads [${heads.join(', ')}]), more than the setting attentionPaths.maxPaths = ${maxPaths}; raise the setting to ${what}`,
  );
}
