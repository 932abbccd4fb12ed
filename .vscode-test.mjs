// For contributors with internet access: the same in-editor tests as `npm run test:e2e`, in a desktop
// VS Code that @vscode/test-cli downloads (which cannot work offline, so CI uses scripts/e2e.mjs with
// code-server instead).
//   npm install --no-save @vscode/test-cli @vscode/test-electron mocha
//   node scripts/build.mjs --e2e && npx vscode-test
// The tests write into their workspace, so they get a fresh copy of test-fixtures/workspace each run.
import { defineConfig } from '@vscode/test-cli';
import { cpSync, rmSync } from 'node:fs';

const workspace = '.e2e/vscode-test/workspace';
rmSync(workspace, { recursive: true, force: true });
cpSync('test-fixtures/workspace', workspace, { recursive: true });

export default defineConfig({
  files: '.e2e/out/host/extension.test.js',
  version: '1.100.3',
  workspaceFolder: workspace,
  mocha: { ui: 'bdd', timeout: 120000 },
});
