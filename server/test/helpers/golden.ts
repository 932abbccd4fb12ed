/** Loads a golden case (test-fixtures/golden/*.json, the project's reference cases) into the project's types. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AttentionLayer, Readout, SequenceBatch } from '../../src/data/types';
import type { TheorySettings } from '../../src/theory/orderParams';

export const GOLDEN_DIR = join(__dirname, '..', '..', '..', 'test-fixtures', 'golden');

export interface GoldenCase {
  name: string;
  settings: TheorySettings;
  readout: Readout;
  attention: AttentionLayer[];
  train: SequenceBatch;
  test: SequenceBatch;
  yTrain: Float64Array;
  yTest: Float64Array;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  expected: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  raw: any;
}

/**
 * The golden cases the repository ships. The golden tests check that each of them ran, so a missing, renamed
 * or empty folder fails instead of passing with zero cases.
 */
export const GOLDEN_CASES = ['case1_L1_H2_first.json', 'case2_L2_H2_last.json', 'case4_L1_H1_scalar_oracle.json'];

/**
 * The golden case files in GOLDEN_DIR, sorted.
 * @throws Error when the folder holds none (the tests generated from this list would otherwise pass empty).
 */
export function goldenFiles(): string[] {
  const files = readdirSync(GOLDEN_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no golden cases (*.json) in ${GOLDEN_DIR}`);
  return files;
}

function batch(x: number[][][]): SequenceBatch {
  const P = x.length;
  const N0 = x[0].length;
  const T = x[0][0].length;
  return { count: P, features: N0, tokens: T, data: Float64Array.from(x.flat(2)) };
}

export function loadGolden(file: string): GoldenCase {
  const raw = JSON.parse(readFileSync(join(GOLDEN_DIR, file), 'utf8'));
  const inp = raw.inputs;
  const attention: AttentionLayer[] = inp.attention_params.map((p: { Q?: number[][][]; K?: number[][][]; W?: number[][][] }, l: number) =>
    inp.attention_kind === 'qk'
      ? { kind: 'qk', heads: inp.heads[l], G: p.Q![0].length, Q: Float64Array.from(p.Q!.flat(2)), K: Float64Array.from(p.K!.flat(2)) }
      : { kind: 'w', heads: inp.heads[l], W: Float64Array.from(p.W!.flat(2)) },
  );
  return {
    name: raw.name,
    settings: { heads: inp.heads, widths: inp.widths, variances: inp.variances, temperature: inp.temperature },
    readout: inp.readout,
    attention,
    train: batch(inp.X_train),
    test: batch(inp.X_test),
    yTrain: Float64Array.from(inp.y_train),
    yTest: Float64Array.from(inp.y_test),
    expected: raw.expected,
    raw,
  };
}
