/**
 * The folder boundaries of the contract (shared/): the client and the webview import only shared/ and their own
 * code, never server/src; shared/ imports nothing of the server or the client, nothing of Node and not `vscode`
 * (the webview bundles it for the browser); the server does not import the client. A file that crosses a boundary
 * fails here with its import, not later in a bundle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

/** The file a relative import resolves to (`x.ts` or `x/index.ts`), or undefined for a non-TypeScript target. */
function resolveImport(file: string, spec: string): string | undefined {
  const base = resolve(dirname(file), spec);
  for (const p of [`${base}.ts`, join(base, 'index.ts'), base]) {
    try {
      if (statSync(p).isFile() && p.endsWith('.ts')) return p;
    } catch {
      /* not this form */
    }
  }
  return undefined;
}

/** The import cycles among `files` (type-only imports included), each as its files in order; Tarjan's SCCs. */
function importCycles(files: string[]): string[][] {
  const edges = new Map(
    files.map((f) => [
      f,
      specifiers(f)
        .filter((s) => s.startsWith('.'))
        .map((s) => resolveImport(f, s))
        .filter((t): t is string => !!t),
    ]),
  );
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(relative(ROOT, w));
      } while (w !== v);
      if (scc.length > 1 || (edges.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return out;
}

test('the cycle finder finds a circle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ap-cycles-'));
  writeFileSync(join(dir, 'a.ts'), "import type { B } from './b';\nexport type A = B;\n");
  writeFileSync(join(dir, 'b.ts'), "import { a } from './a';\nexport type B = typeof a;\n");
  writeFileSync(join(dir, 'c.ts'), "import './a';\n");
  assert.deepEqual(
    importCycles(['a.ts', 'b.ts', 'c.ts'].map((f) => join(dir, f))).map((c) => c.map((f) => f.split(sep).pop())),
    [['a.ts', 'b.ts']],
  );
});

test('the house has no import circle (shared/, server/src, client/src; type-only imports count)', () => {
  const files = [...tsFiles(join(ROOT, 'shared')), ...tsFiles(join(ROOT, 'server', 'src')), ...tsFiles(join(ROOT, 'client', 'src'))];
  assert.ok(files.length > 100);
  assert.deepEqual(importCycles(files), []);
});

test('theory/ is pure: it imports linalg/, util/, data types and shared/ only (no pipeline, ONNX, report, LSP or CLI)', () => {
  const bad: string[] = [];
  for (const f of tsFiles(join(ROOT, 'server', 'src', 'theory'))) {
    for (const spec of specifiers(f)) {
      if (!spec.startsWith('.')) {
        if (!isNode(spec)) bad.push(`${relative(ROOT, f)}: ${spec}`);
        continue;
      }
      const to = relative(ROOT, resolve(dirname(f), spec));
      const ok = ['server/src/theory/', 'server/src/linalg/', 'server/src/util/', 'server/src/data/types', 'shared/'].some((p) => to.startsWith(p));
      if (!ok) bad.push(`${relative(ROOT, f)}: ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});
