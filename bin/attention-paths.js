#!/usr/bin/env node
// Entry point of the `attention-paths` command: runs the esbuild bundle built by `npm run build`
// (run automatically by `npm ci` / `npm install` through the `prepare` script).
const { existsSync } = require('node:fs');
const { join } = require('node:path');
// stderr carries progress and one-line reasons only: Node's runtime warnings (ExperimentalWarning, deprecations in
// dependencies) are silenced before the bundle loads, unless ATTENTION_PATHS_DEBUG is set.
const debug = !!process.env.ATTENTION_PATHS_DEBUG && process.env.ATTENTION_PATHS_DEBUG !== '0';
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (debug) process.stderr.write(`${w.name}: ${w.message}\n`);
});
const bundle = join(__dirname, '..', 'dist', 'cli.js');
if (!existsSync(bundle)) {
  process.stderr.write('attention-paths: dist/cli.js is missing; run `npm run build` in the package folder first\n');
  process.exit(1);
}
let cli;
try {
  cli = require(bundle);
} catch (e) {
  process.stderr.write(
    `attention-paths: internal error: dist/cli.js cannot be loaded (${String(e && e.message ? e.message : e).split('\n')[0]}) (please report)\n`,
  );
  if (debug && e && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exit(1);
}
cli.run(process.argv.slice(2));
