// Writes schemas/attention-paths.schema.json from server/src/config/schema.ts (the one definition).
// Usage: node scripts/genSchema.mjs          (write)
//        node scripts/genSchema.mjs --check  (exit 1 when the committed file differs)
// server/test/config/schema.test.ts makes the same check.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'schemas', 'attention-paths.schema.json');
const mod = await tsImport('../server/src/config/schema.ts', import.meta.url);
const schemaJson = mod.configSchemaJson ?? mod.default?.configSchemaJson;
if (typeof schemaJson !== 'function') throw new Error('gen-schema: server/src/config/schema.ts exports no configSchemaJson');
const text = schemaJson();

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // missing file: differs
  }
  if (current !== text) {
    console.error(`${target} is out of date; run: node scripts/genSchema.mjs`);
    process.exit(1);
  }
  console.log(`${target} is up to date`);
} else {
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
