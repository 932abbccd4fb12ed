/**
 * The CLI's confirmation before long work (analyze, sweep, and the theory that `prune` runs): above
 * CONFIRM_ABOVE_SECONDS of estimated time (pipeline/resources.ts, docs/theory.md §j), a y/N question on the
 * terminal, or a refusal naming --yes when there is no terminal to ask on.
 */
import { createInterface } from 'node:readline/promises';
import { CONFIRM_ABOVE_SECONDS, describeCost, type CostEstimate } from '../pipeline/resources';

/** A long run that was not confirmed (declined at the prompt, or no terminal to ask on and no --yes). */
export class NotConfirmed extends Error {}

/**
 * The confirmation before a run estimated above CONFIRM_ABOVE_SECONDS: a y/N question on the terminal, or a
 * refusal that names --yes when stdin or stderr is not a terminal. Undefined with --yes (nothing is asked).
 */
export function costConfirmation(yes: boolean): ((cost: CostEstimate) => Promise<void>) | undefined {
  if (yes) return undefined;
  return async (cost) => {
    if (cost.seconds <= CONFIRM_ABOVE_SECONDS) return;
    const what = `this run needs ${describeCost(cost)}`;
    if (!process.stdin.isTTY || !process.stderr.isTTY) throw new NotConfirmed(`${what}; not started without a terminal to confirm on: pass --yes to run it`);
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      // End of input (Ctrl-D, a closed terminal) counts as "no": the question must not leave the process idle.
      const answer = await new Promise<string>((resolve, reject) => {
        rl.once('close', () => reject(new NotConfirmed(`${what}; not started (no answer)`)));
        rl.question(`attention-paths: ${what}. Run it? [y/N] `).then(resolve, reject);
      });
      if (!/^y(es)?$/i.test(answer.trim())) throw new NotConfirmed(`${what}; not started (answer y, or pass --yes, to run it)`);
    } finally {
      rl.close();
    }
  };
}
