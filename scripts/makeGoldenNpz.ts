/**
 * Writes the golden cases (test-fixtures/golden/*.json) as the user-facing file formats: a data file
 * `<case>/data.npz` (X_train, y_train, X_test, y_test), an attention file `<case>/attention.npz`
 * (Q_1, K_1, … or W_1, …) and a config `<case>/config.yaml` that points at both. The CLI test runs
 * `attention-paths analyze <case>/config.yaml --json` and compares with the golden numbers.
 * Run: node --import tsx scripts/makeGoldenNpz.ts
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeNpz } from '../server/src/data/npz';

const root = join(__dirname, '..', 'test-fixtures');
const shapeOf = (x: unknown): number[] => (Array.isArray(x) ? [x.length, ...shapeOf(x[0])] : []);
const arr = (x: unknown) => ({ shape: shapeOf(x), data: (x as unknown[]).flat(Infinity) as number[] });

for (const file of readdirSync(join(root, 'golden')).filter((f) => f.endsWith('.json'))) {
  const g = JSON.parse(readFileSync(join(root, 'golden', file), 'utf8'));
  const inp = g.inputs;
  const dir = join(root, 'golden-npz', g.name);
  mkdirSync(dir, { recursive: true });
  writeNpz(join(dir, 'data.npz'), { X_train: arr(inp.X_train), y_train: arr(inp.y_train), X_test: arr(inp.X_test), y_test: arr(inp.y_test) });
  const params: Record<string, { shape: number[]; data: number[] }> = {};
  inp.attention_params.forEach((p: Record<string, unknown>, l: number) => {
    for (const [k, v] of Object.entries(p)) params[`${k}_${l + 1}`] = arr(v);
  });
  writeNpz(join(dir, 'attention.npz'), params);
  const yaml = [
    `# Golden case ${g.name} (test-fixtures/golden), as a user would write it.`,
    'data: data.npz',
    'attention:',
    `  kind: ${inp.attention_kind}`,
    '  params: attention.npz',
    `heads: [${inp.heads.join(', ')}]`,
    `widths: [${inp.widths.join(', ')}]`,
    `variances: [${inp.variances.join(', ')}]`,
    `temperature: ${inp.temperature}`,
    `readout: ${inp.readout}`,
    'solver:',
    '  tolerance: 1.0e-9',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'config.yaml'), yaml);
  console.log(`wrote ${dir}`);
}
