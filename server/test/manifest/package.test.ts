/**
 * The extension manifest (package.json `contributes`, `activationEvents`, entry points) agrees with the contract
 * the code uses (shared/protocol.ts): command ids, settings and their defaults, config-file globs and the
 * `.onnx` selector. A command, setting or glob added on one side only fails here, not in the editor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENT_ID, CONFIG_GLOBS, Commands, DEFAULT_SETTINGS, isConfigFileName, isModelFileName, type ServerSettings } from '../../../shared/protocol';

const ROOT = join(__dirname, '..', '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const contributes = pkg.contributes;

// "**/*.attention.{yaml,yml,json}" → three globs (one brace group, as in VS Code's glob syntax).
function expandBraces(glob: string): string[] {
  const m = /^(.*)\{([^}]*)\}(.*)$/.exec(glob);
  return m ? m[2].split(',').map((alt) => `${m[1]}${alt}${m[3]}`) : [glob];
}

/** File names on both sides of the config-file rule (matching and not), to compare two predicates on. */
const SAMPLE_NAMES = [
  'a.attention.yaml',
  'a.attention.yml',
  'a.attention.json',
  'my-model.attention.yaml',
  'attention-paths.yaml',
  'attention-paths.yml',
  'attention-paths.json',
  'a.yaml',
  'attention.yaml',
  'a.attention.yaml.bak',
  'a.attention.txt',
  'xattention-paths.yaml',
  'attention-paths.yaml.orig',
  'attention-paths-2.yaml',
  'model.onnx',
  'data.npz',
];

test('contributed commands are exactly the Commands of protocol.ts, each titled and in the Attention Paths category', () => {
  const ids = contributes.commands.map((c: { command: string }) => c.command).sort();
  assert.deepEqual(ids, Object.values(Commands).sort());
  for (const c of contributes.commands) {
    assert.equal(c.category, 'Attention Paths', c.command);
    assert.ok(typeof c.title === 'string' && c.title.length > 0, `${c.command} has a title`);
  }
});

test('every menu entry names a contributed command', () => {
  const ids = new Set(Object.values(Commands) as string[]);
  const entries = Object.values(contributes.menus as Record<string, { command: string }[]>).flat();
  assert.ok(entries.length > 0);
  for (const e of entries) assert.ok(ids.has(e.command), `menu entry ${e.command} is a contributed command`);
});

test('settings in package.json are the server settings (same defaults) plus the client trace setting', () => {
  const props = contributes.configuration.properties as Record<string, { default: unknown; enum?: string[] }>;
  // ServerSettings field → setting key under attentionPaths.* (nested keys are dotted).
  const keyOf: Record<keyof ServerSettings, string> = {
    temperature: 'temperature',
    prunableScoreThreshold: 'prunableScoreThreshold',
    maxPaths: 'maxPaths',
    computeBackend: 'computeBackend',
    codeLensEnabled: 'codeLens.enabled',
    confirmAboveSeconds: 'confirmAboveSeconds',
  };
  assert.deepEqual(Object.keys(keyOf).sort(), Object.keys(DEFAULT_SETTINGS).sort(), 'every server setting has a key here');
  const expected = [...Object.values(keyOf), 'trace.server'].map((k) => `${CLIENT_ID}.${k}`).sort();
  assert.deepEqual(Object.keys(props).sort(), expected);
  for (const [field, key] of Object.entries(keyOf)) {
    assert.deepEqual(props[`${CLIENT_ID}.${key}`].default, DEFAULT_SETTINGS[field as keyof ServerSettings], `default of ${CLIENT_ID}.${key}`);
  }
  assert.deepEqual(props[`${CLIENT_ID}.computeBackend`].enum, ['auto', 'js']);
  assert.deepEqual(props[`${CLIENT_ID}.trace.server`].enum, ['off', 'messages', 'verbose']);
});

test('config-file globs agree: protocol.ts, activation events, JSON/YAML validation and language associations', () => {
  const globs = [...CONFIG_GLOBS].sort();
  const names = globs.map((g) => g.replace(/^\*\*\//, ''));
  const activation = (pkg.activationEvents as string[])
    .filter((e) => e.startsWith('workspaceContains:'))
    .flatMap((e) => expandBraces(e.slice('workspaceContains:'.length)));
  assert.deepEqual(activation.filter((g) => g !== '**/*.onnx').sort(), globs);
  assert.ok(activation.includes('**/*.onnx'), 'a workspace with a model activates the extension');
  const validated = [...contributes.jsonValidation, ...contributes.yamlValidation].flatMap((v: { fileMatch: string[] }) => v.fileMatch).sort();
  assert.deepEqual(validated, [...names].sort());
  const associated = contributes.languages.flatMap((l: { filenamePatterns: string[] }) => l.filenamePatterns).sort();
  assert.deepEqual(associated, [...names].sort());
  for (const v of [...contributes.jsonValidation, ...contributes.yamlValidation]) assert.ok(existsSync(join(ROOT, v.url)), `${v.url} exists`);
});

test('the menus’ config-file condition accepts exactly the names isConfigFileName accepts', () => {
  const whens = Object.values(contributes.menus as Record<string, { when: string }[]>)
    .flat()
    .map((e) => e.when)
    .filter((w) => w.startsWith('resourceFilename =~'));
  assert.ok(whens.length > 0);
  for (const when of whens) {
    const m = /^resourceFilename =~ \/(.*)\/$/.exec(when);
    assert.ok(m, when);
    const re = new RegExp(m[1]);
    for (const name of SAMPLE_NAMES) assert.equal(re.test(name), isConfigFileName(name), `${when} on ${name}`);
  }
});

test('the .onnx editor and the .onnx menu entries select what isModelFileName accepts', () => {
  const editor = contributes.customEditors.find((e: { viewType: string }) => e.viewType === `${CLIENT_ID}.onnxModel`);
  assert.ok(editor);
  assert.deepEqual(editor.selector, [{ filenamePattern: '*.onnx' }]);
  const onnxMenus = Object.values(contributes.menus as Record<string, { command: string; when: string }[]>)
    .flat()
    .filter((e) => e.when === 'resourceExtname == .onnx');
  assert.deepEqual(onnxMenus.map((e) => e.command).sort(), [Commands.analyze, Commands.createModelConfig].sort());
  for (const name of SAMPLE_NAMES) assert.equal(isModelFileName(name), name.endsWith('.onnx'), name);
});

test('entry points: the extension bundle is built from client/src/extension.ts and the CLI has its bin script', () => {
  assert.equal(pkg.main, './dist/extension.js');
  const build = readFileSync(join(ROOT, 'scripts', 'build.mjs'), 'utf8');
  assert.match(build, /entryPoints: \['client\/src\/extension\.ts'\], outfile: 'dist\/extension\.js'/);
  assert.ok(existsSync(join(ROOT, pkg.bin['attention-paths'])));
});
