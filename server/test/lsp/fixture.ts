/** A fresh copy of test-fixtures/workspace for one test file (tests write plans and edit files there). */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before } from 'node:test';
import { LspSession, type SessionOptions } from '../helpers/lspSession';

export const FIXTURE_WORKSPACE = path.resolve(__dirname, '../../../test-fixtures/workspace');

/** Copies the fixture workspace into a temporary folder; returns it and a cleanup function. */
export function copyWorkspace(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'ap-lsp-'));
  cpSync(FIXTURE_WORKSPACE, dir, { recursive: true });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Registers before/after hooks of the enclosing `describe`: a fresh copy of the fixture workspace and a
 * language server on it, stopped and removed afterwards. Read `s` and `dir` inside the tests.
 */
export function serverOnFixture(opts: Omit<SessionOptions, 'workspace'> = {}): { s: LspSession; dir: string } {
  const ctx = {} as { s: LspSession; dir: string; cleanup: () => void };
  before(async () => {
    const ws = copyWorkspace();
    Object.assign(ctx, ws);
    ctx.s = await LspSession.start({ ...opts, workspace: ws.dir });
  });
  after(async () => {
    await ctx.s?.stop();
    ctx.cleanup?.();
  });
  return ctx;
}
