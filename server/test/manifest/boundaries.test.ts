/**
 * The folder boundaries of the contract (shared/): the client and the webview import only shared/ and their own
 * code, never server/src; shared/ imports nothing of the server or the client, nothing of Node and not `vscode`
 * (the webview bundles it for the browser); the server does not import the client. A file that crosses a boundary
 * fails here with its import, not later in a bundle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every module specifier a file imports, re-exports, `require`s or `import()`s. */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(
    /(?:^|[\s;])(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|\b(?:require|import)\(\s*['"]([^'"]+)['"]\s*\)/gm,
  )) {
    out.push(m[1] ?? m[2] ?? m[3]);
  }
  return out;
}

/** The repository folder (first path segment, `client`, `server`, `shared`, …) a relative import lands in. */
function landsIn(file: string, spec: string): string {
  return relative(ROOT, resolve(dirname(file), spec))
    .split(sep)
    .slice(0, 2)
    .join('/');
}

const NODE = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
const isNode = (spec: string) => spec.startsWith('node:') || NODE.has(spec.split('/')[0]);

test('the import scanner sees every form of import', () => {
  const sample = join(ROOT, 'server', 'test', 'manifest', 'boundaries.test.ts');
  const found = specifiers(sample);
  for (const s of ['node:test', 'node:assert/strict', 'node:module', 'node:fs', 'node:path']) assert.ok(found.includes(s), s);
});

test('shared/ imports only shared/ and the LSP protocol package: no Node, no vscode, no server or client code', () => {
  const files = tsFiles(join(ROOT, 'shared'));
  assert.ok(files.some((f) => f.endsWith('protocol.ts')));
  const bad: string[] = [];
  for (const f of files) {
    for (const spec of specifiers(f)) {
      const where = `${relative(ROOT, f)}: ${spec}`;
      if (spec.startsWith('.')) {
        if (!landsIn(f, spec).startsWith('shared')) bad.push(where);
      } else if (spec !== 'vscode-languageserver-protocol') bad.push(where); // Node modules and vscode included
    }
  }
  assert.deepEqual(bad, []);
});

test('the client and the webview import shared/ and their own code, never server/', () => {
  const files = [...tsFiles(join(ROOT, 'client', 'src')), ...tsFiles(join(ROOT, 'client', 'test'))];
  assert.ok(files.length > 10);
  const bad: string[] = [];
  for (const f of files) {
    for (const spec of specifiers(f)) {
      if (!spec.startsWith('.')) continue;
      const to = landsIn(f, spec);
      if (!to.startsWith('client') && !to.startsWith('shared')) bad.push(`${relative(ROOT, f)}: ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the webview imports no Node module and no vscode (it runs in the browser)', () => {
  const bad: string[] = [];
  for (const f of tsFiles(join(ROOT, 'client', 'src', 'webview'))) {
    for (const spec of specifiers(f))
      if (isNode(spec) || spec === 'vscode' || spec.startsWith('vscode-languageclient')) bad.push(`${relative(ROOT, f)}: ${spec}`);
  }
  assert.deepEqual(bad, []);
});

test('the server and the CLI import no client code and not vscode', () => {
  const bad: string[] = [];
  for (const f of tsFiles(join(ROOT, 'server', 'src'))) {
    for (const spec of specifiers(f)) {
      if (spec === 'vscode' || (spec.startsWith('.') && landsIn(f, spec).startsWith('client'))) bad.push(`${relative(ROOT, f)}: ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});
