// The pieces of a real-VS-Code test run, as README.md (Testing the extension) describes it: code-server 4.100.3 (VS Code
// 1.100.3) in its own process group on a free loopback port, and Debian's chromium driven by
// playwright-core. Everything a run writes (user data, extensions, browser profile) lives in one folder.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync, createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { createRequire } from 'node:module';

/** A free TCP port on 127.0.0.1 (listen on port 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Polls `probe` (async, returns a truthy value when ready) every 250 ms; throws after `timeoutMs`. */
export async function until(what, probe, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** User settings of the test profile: no welcome page, no tips, inlay hints always on. */
const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'editor.inlayHints.enabled': 'on',
  'security.workspace.trust.enabled': false,
  'chat.commandCenter.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'files.simpleDialog.enable': true,
  // The run folders live inside this repository: keep git out of them.
  'git.enabled': false,
  'git.openRepositoryInParentFolders': 'never',
};

/**
 * Starts code-server.
 * @param {{ tools: string, dir: string, workspace: string, extensionsDir: string, env?: Record<string,string>, log: string }} o
 *   tools: folder whose node_modules holds code-server; dir: this run's folder; log: file for its output
 * @returns {Promise<{ port: number, origin: string, stop: () => Promise<void> }>}
 */
export async function startCodeServer(o) {
  const port = await freePort();
  const ud = path.join(o.dir, 'user-data');
  mkdirSync(path.join(ud, 'User'), { recursive: true });
  writeFileSync(path.join(ud, 'User', 'settings.json'), JSON.stringify(USER_SETTINGS, null, 2));
  const cfg = path.join(o.dir, 'config.yaml');
  writeFileSync(cfg, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const bin = path.join(o.tools, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  const out = createWriteStream(o.log);
  const args = [
    bin,
    '--config',
    cfg,
    '--user-data-dir',
    ud,
    '--extensions-dir',
    o.extensionsDir,
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    o.workspace,
  ];
  // detached: its own process group, so stopping it also stops its file watchers and extension hosts.
  const proc = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...o.env } });
  proc.stdout.pipe(out);
  proc.stderr.pipe(out);
  let exited = false;
  proc.once('exit', () => (exited = true));
  const origin = `http://127.0.0.1:${port}`;
  await until(
    'code-server to answer /healthz',
    async () => {
      if (exited) throw new Error(`code-server exited early; see ${o.log}`);
      const r = await fetch(`${origin}/healthz`);
      return r.ok;
    },
    60_000,
  );
  const stop = async () => {
    if (exited) return;
    try {
      process.kill(-proc.pid, 'SIGTERM');
    } catch {
      return;
    }
    await until('code-server to stop', () => exited, 10_000).catch(() => {
      try {
        process.kill(-proc.pid, 'SIGKILL');
      } catch {
        // gone
      }
    });
  };
  return { port, origin, stop };
}

/** Installs a VSIX into an extensions folder with code-server's own CLI (works offline). */
export function installVsix(tools, vsix, extensionsDir, dir) {
  const bin = path.join(tools, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  const cfg = path.join(dir, 'install-config.yaml');
  writeFileSync(cfg, 'auth: none\n');
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      [bin, '--config', cfg, '--user-data-dir', path.join(dir, 'user-data'), '--extensions-dir', extensionsDir, '--install-extension', vsix],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('exit', (code) =>
      code === 0 && /successfully installed/i.test(out) ? resolve(out) : reject(new Error(`installing ${vsix} failed (exit ${code}):\n${out}`)),
    );
  });
}

/** Launches headless Debian chromium through playwright-core from the tools folder. */
export async function launchBrowser(tools, profileDir) {
  const require = createRequire(path.join(tools, 'package.json'));
  const { chromium } = require('playwright-core');
  mkdirSync(profileDir, { recursive: true });
  return chromium.launchPersistentContext(profileDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1600, height: 1000 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Waits until the workbench is drawn and the explorer lists the workspace. */
export async function waitForWorkbench(page) {
  await page.waitForSelector('.monaco-workbench', { timeout: 90_000 });
  await page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: 90_000 });
}
