/**
 * The edits of the language-server soak (server/test/lsp/soak.test.ts, bench/lspSoak.ts): valid and invalid
 * config text in turn, changing P, P_test, widths and heads, on a built-in task or a small data file.
 */
import { writeNpz } from '../../src/data/npz';
import { Random } from '../../src/util/random';

/** The text of edit `i` (even: valid; odd: invalid), on a built-in task or a small data file with random Q/K heads. */
export function soakText(i: number, rnd: () => number): string {
  if (i % 2 === 1) {
    const broken = [
      'task: markov\nP: [\n',
      'task: markov\nwidths: -3\n',
      'task: markov\nP: 40\ntemperature: zero\n',
      'task: markov\nheads: [2, 1]\nP: 20\nP_test: 20\n',
      ': : :\n',
    ];
    return broken[Math.floor(rnd() * broken.length)];
  }
  const widths = 5 + Math.floor(rnd() * 40);
  if (rnd() < 0.5) return `task: markov\nP: ${20 + 2 * Math.floor(rnd() * 20)}\nP_test: ${40 + 2 * Math.floor(rnd() * 30)}\nwidths: ${widths}\n`;
  const heads = [1 + Math.floor(rnd() * 3), 1 + Math.floor(rnd() * 3)];
  return `data: soak.npz\nheads: [${heads.join(', ')}]\nwidths: ${widths}\ntemperature: 0.02\n`;
}

/** A small labelled task file (P = 40, P_test = 40, N0 = 6, T = 5) for the random-Q/K configs of the soak. */
export function writeSoakData(file: string): void {
  const rng = new Random(3);
  const x = (n: number) => ({ shape: [n, 6, 5], data: Float64Array.from({ length: n * 30 }, () => rng.normal()) });
  const y = (n: number) => ({ shape: [n], data: Float64Array.from({ length: n }, (_, i) => (i % 2 ? 1 : -1)) });
  writeNpz(file, { X_train: x(40), y_train: y(40), X_test: x(40), y_test: y(40) });
}
