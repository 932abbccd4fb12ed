import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { configSchema, configSchemaJson, type JsonSchema } from '../../src/config/schema';
import { CONFIG_DEFAULTS } from '../../src/config/defaults';
import { suggest, editDistance, describeSchema } from '../../src/config/messages';

const repoRoot = join(__dirname, '..', '..', '..');

test('schemas/attention-paths.schema.json equals the generated schema (run: node scripts/genSchema.mjs)', () => {
  const committed = readFileSync(join(repoRoot, 'schemas', 'attention-paths.schema.json'), 'utf8');
  assert.equal(committed, configSchemaJson());
  assert.deepEqual(JSON.parse(committed), configSchema);
});

test('the schema is a valid draft-07 schema', () => {
  const ajv = new Ajv({ strict: false });
  assert.equal(ajv.validateSchema(configSchema), true, JSON.stringify(ajv.errors));
});

test('every property has a description; the theory symbols are named', () => {
  const props = configSchema.properties as Record<string, JsonSchema>;
  const missing: string[] = [];
  const walk = (p: Record<string, JsonSchema>, prefix: string) => {
    for (const [k, v] of Object.entries(p)) {
      if (typeof v.description !== 'string' || v.description.length < 20) missing.push(prefix + k);
      if (v.properties) walk(v.properties as Record<string, JsonSchema>, `${prefix}${k}.`);
    }
  };
  walk(props, '');
  assert.deepEqual(missing, []);
  assert.match(props.temperature.description as string, /T_B/);
  assert.match(props.temperature.description as string, /docs\/theory\.md §c/);
  assert.match(props.widths.description as string, /\[N_1, …, N_L, N_a\]/);
  assert.match(props.variances.description as string, /\[σ0², σ1², …, σL², σa²\]/);
});

test('schema defaults equal CONFIG_DEFAULTS', () => {
  const p = configSchema.properties as Record<string, JsonSchema>;
  const solver = p.solver.properties as Record<string, JsonSchema>;
  assert.deepEqual(
    {
      widths: p.widths.default,
      variances: p.variances.default,
      temperature: p.temperature.default,
      tolerance: solver.tolerance.default,
      maxIterations: solver.maxIterations.default,
      seed: p.seed.default,
    },
    { ...CONFIG_DEFAULTS },
  );
});

test('suggest: typos, transpositions, aliases; nothing for far-off words', () => {
  const keys = ['task', 'data', 'P', 'P_test', 'heads', 'widths', 'variances', 'temperature', 'seed'];
  assert.equal(suggest('temprature', keys), 'temperature');
  assert.equal(suggest('widht', keys), 'widths');
  assert.equal(suggest('Heads', keys), 'heads');
  assert.equal(suggest('p_test', keys), 'P_test');
  assert.equal(suggest('T_B', keys), 'temperature');
  assert.equal(suggest('colour', keys), undefined);
  assert.equal(suggest('x', keys), undefined);
  assert.equal(editDistance('widht', 'widths'), 2);
  assert.equal(editDistance('abc', 'abc'), 0);
});

test('describeSchema words what a node accepts', () => {
  const p = configSchema.properties as Record<string, JsonSchema>;
  assert.equal(describeSchema(p.heads), 'an integer ≥ 1 or an array of integers ≥ 1');
  assert.equal(describeSchema(p.variances), 'a number > 0 or an array of numbers > 0 (at least 3 entries)');
  assert.equal(describeSchema(p.readout), 'one of "first", "last", "mean"');
  assert.equal(describeSchema(configSchema), 'a mapping');
});
