#!/usr/bin/env node
// Entry point of the `attention-paths` command: runs the esbuild bundle built by `npm run build`
// (run automatically by `npm ci` / `npm install` through the `prepare` script).
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const bundle = join(__dirname, '..', 'dist', 'cli.js');
if (!existsSync(bundle)) {
  process.stderr.write('attention-paths: dist/cli.js is missing; run `npm run build` in the package folder first\n');
  process.exit(1);
}
require(bundle).main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`attention-paths: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
