/**
 * Entry of the in-editor tests (`extensionTestsPath`): VS Code's extension host calls `run()` and reports
 * its outcome to the page (code-server calls `codeAutomationExit` with 0 or 1). Mocha's output does not
 * reach the browser, so every result is also written as JSON to $ATTENTION_PATHS_E2E_REPORT.
 * Mocha comes from the e2e tools folder ($ATTENTION_PATHS_E2E_MOCHA), not from the extension's dependencies.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

interface MochaRunner {
  on(event: 'pass' | 'fail', fn: (test: { fullTitle(): string; duration?: number }, err?: Error) => void): MochaRunner;
}
interface MochaInstance {
  addFile(file: string): void;
  run(done: (failures: number) => void): MochaRunner;
}
type MochaCtor = new (opts: { ui: string; timeout: number; color: boolean; reporter: string }) => MochaInstance;

export function run(): Promise<void> {
  const mochaPath = process.env.ATTENTION_PATHS_E2E_MOCHA;
  const reportPath = process.env.ATTENTION_PATHS_E2E_REPORT;
  if (!mochaPath || !reportPath)
    return Promise.reject(new Error('ATTENTION_PATHS_E2E_MOCHA and ATTENTION_PATHS_E2E_REPORT must be set (scripts/e2e.mjs sets them)'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(mochaPath) as MochaCtor | { Mocha: MochaCtor };
  const Mocha = typeof mod === 'function' ? mod : mod.Mocha;
  const mocha = new Mocha({ ui: 'bdd', timeout: 120_000, color: false, reporter: 'spec' });
  mocha.addFile(path.join(__dirname, 'extension.test.js'));
  const results: Array<{ title: string; state: 'passed' | 'failed'; ms?: number; error?: string }> = [];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    mocha
      .run((failures) => {
        writeFileSync(reportPath, JSON.stringify({ failures, ms: Date.now() - started, results }, null, 2));
        if (failures) reject(new Error(`${failures} in-editor test(s) failed`));
        else resolve();
      })
      .on('pass', (t) => results.push({ title: t.fullTitle(), state: 'passed', ms: t.duration }))
      .on('fail', (t, err) => results.push({ title: t.fullTitle(), state: 'failed', error: err ? `${err.message}\n${err.stack ?? ''}` : undefined }));
  });
}
