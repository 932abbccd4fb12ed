/**
 * Every refusal of the command line is one clean line on stderr: exit code 1 (2 for usage errors), no stack frame,
 * no `[object Object]`, no JavaScript engine message as the reason, no Node warning — and nothing is written when a
 * command fails. Covers each invalid-model class under `inspect`, `prune` and `analyze` (a model config), broken
 * YAML and JSON configs, hostile data files (an .npz member that inflates to 2 GiB, truncated .npy, malformed
 * JSON), and the real entry point bin/attention-paths.js (warnings silenced, one line).
 *
 * The many cases run in one child process (`main` of src/cli.ts, called once per case with its streams captured),
 * so the test costs one start-up, not one per case.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { constants, deflateRawSync } from 'node:zlib';
import { invalidModels } from '../onnx/invalidModels';
import { encodeNpy } from '../../src/data/npy';
import { crc32 } from '../../src/data/zip';

const ROOT = join(__dirname, '..', '..', '..');
const LOADER = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const MODEL_DATA = join(ROOT, 'test-fixtures', 'workspace', 'models', 'data.npz');
const GOLDEN = join(ROOT, 'test-fixtures', 'golden-npz', 'case1_L1_H2_first');

/** One CLI run: its arguments, the exit code and the stderr line it must give, and paths that must not exist after. */
interface Case {
  name: string;
  argv: string[];
  code: 1 | 2;
  line: RegExp;
  absent?: string[];
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Engine phrases and stack frames that must never reach the user. */
const FORBIDDEN =
  /^\s+at |\[object Object\]|Cannot read propert|is not a function|Invalid array length|Invalid typed array length|Unexpected token|is not valid JSON|Maximum call stack|RangeError|TypeError|SyntaxError|ReferenceError|Warning|internal error/m;

const dir = mkdtempSync(join(tmpdir(), 'ap-refusals-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const at = (...p: string[]) => join(dir, ...p);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function buildCases(): Case[] {
  const cases: Case[] = [];
  for (const m of invalidModels()) {
    const model = at(`${m.name}.onnx`);
    writeFileSync(model, m.bytes);
    const reason = m.reason.source.replace(/^\^/, '').replace(/\$$/, '');
    cases.push({
      name: `inspect ${m.name}`,
      argv: ['inspect', model, '--json', at(`${m.name}.inspect.json`)],
      code: 1,
      line: new RegExp(`^attention-paths: ${esc(model)}: invalid model: .*${reason}$`),
      absent: [at(`${m.name}.inspect.json`)],
    });
    const out = at(`${m.name}.pruned.onnx`);
    cases.push({
      name: `prune ${m.name}`,
      argv: ['prune', model, '--heads', '0:0', '--out', out, '--json', at(`${m.name}.prune.json`), '--quiet'],
      code: 1,
      line: new RegExp(`^attention-paths prune: ${esc(model)}: invalid model: .*${reason}$`),
      absent: [out, `${out}.data`, at(`${m.name}.prune.json`)],
    });
    const config = at(`${m.name}.attention.yaml`);
    writeFileSync(config, `data: ${JSON.stringify(MODEL_DATA)}\nattention:\n  kind: model\n  model: ${m.name}.onnx\n`);
    cases.push({
      name: `analyze ${m.name}`,
      argv: ['analyze', config, '--json', at(`${m.name}.report.json`), '--report', at(`${m.name}-report`), '--quiet'],
      code: 1,
      // placed at the config's attention.model entry (line 4, column 10)
      line: new RegExp(`^${esc(config)}:4:10: ${esc(model)}: invalid model: .*${reason}$`),
      absent: [at(`${m.name}.report.json`), at(`${m.name}-report`)],
    });
  }
  const config = (name: string, text: string) => {
    writeFileSync(at(name), text);
    return at(name);
  };
  const analyzeOne = (name: string, file: string, line: RegExp) =>
    cases.push({ name, argv: ['analyze', file, '--json', at(`${name}.json`), '--quiet'], code: 1, line, absent: [at(`${name}.json`)] });
  // Configs: one line with file:line:col, however many errors the parser finds after the first.
  const y1 = config('compact.attention.yaml', 'task: markov\n  P: 3\n widths: : 10\n');
  analyzeOne('yaml syntax', y1, new RegExp(`^${esc(y1)}:1:7: YAML syntax error: Nested mappings are not allowed in compact mappings$`));
  const y2 = config('tabs.attention.yaml', 'task: markov\n\tP: 3\n');
  analyzeOne('yaml tabs', y2, new RegExp(`^${esc(y2)}:2:1: YAML syntax error: Tabs are not allowed as indentation$`));
  const y3 = config('deep.attention.yaml', `task: markov\nP: ${'['.repeat(20000)}${']'.repeat(20000)}\n`);
  analyzeOne('yaml nested too deep', y3, new RegExp(`^${esc(y3)}:2:204: the values are nested more than 200 deep \\(a config nests a few levels\\)$`));
  const y5 = config('deepblock.attention.yaml', `task: markov\nx:\n${Array.from({ length: 3000 }, (_, i) => `${'  '.repeat(i + 1)}- \n`).join('')}`);
  analyzeOne('yaml block nesting too deep', y5, new RegExp(`^${esc(y5)}:\\d+:\\d+: the values are nested more than 200 deep`));
  const y4 = config(
    'aliases.attention.yaml',
    `a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ntask: markov\n`,
  );
  analyzeOne('yaml alias bomb', y4, new RegExp(`^${esc(y4)}:1:1: the YAML expands its aliases \\(\\*name\\) too many times`));
  const j1 = config('c.attention.json', '{"task": "markov", "P": }');
  analyzeOne('json missing value', j1, new RegExp(`^${esc(j1)}:1:25: JSON syntax error: expected a value, found '}'$`));
  const j2 = config('d.attention.json', '{"task": "markov",}');
  analyzeOne('json trailing comma', j2, new RegExp(`^${esc(j2)}:1:19: JSON syntax error: a trailing comma before '}' is not allowed in JSON$`));
  const j3 = config('e.attention.json', '{"task": "mar');
  analyzeOne('json unterminated string', j3, new RegExp(`^${esc(j3)}:1:10: JSON syntax error: the string opened here is never closed with "$`));
  // Data files: placed at the config's `data` entry (line 1, column 7), then the data file's own words.
  const npy = encodeNpy({ shape: [2], data: [1, 2] });
  const block = deflateRawSync(new Uint8Array(1 << 20), { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
  const bomb = Buffer.concat([deflateRawSync(npy, { finishFlush: constants.Z_SYNC_FLUSH }), ...new Array<Buffer>(2048).fill(block), Buffer.from([3, 0])]);
  writeFileSync(at('bomb.npz'), zipOne('X_train.npy', bomb, npy.length, crc32(npy)));
  const b1 = config('bomb.attention.yaml', 'data: bomb.npz\n');
  analyzeOne(
    'npz member inflating to 2 GiB',
    b1,
    new RegExp(`^${esc(b1)}:1:7: ${esc(at('bomb.npz'))}: member X_train\\.npy: inflates to more than the 144 bytes declared for it`),
  );
  mkdirSync(at('cut'));
  writeFileSync(at('cut', 'X_train.npy'), encodeNpy({ shape: [4, 3, 2], data: new Float64Array(24) }).subarray(0, 150));
  const c1 = config('cut.attention.yaml', 'data: cut/\n');
  analyzeOne(
    'truncated npy',
    c1,
    new RegExp(
      `^${esc(c1)}:1:7: ${esc(at('cut', 'X_train.npy'))}: shape \\[4, 3, 2\\] of dtype <f8 needs 192 data bytes, but 22 are present \\(truncated file\\)$`,
    ),
  );
  writeFileSync(at('bad.json'), '{"X_train": [[[1, 2]]] "y_train": [1]}');
  const d1 = config('badjson.attention.yaml', 'data: bad.json\n');
  analyzeOne(
    'malformed data JSON',
    d1,
    new RegExp(`^${esc(d1)}:1:7: ${esc(at('bad.json'))}:1:24: not valid JSON: expected ',' or '}' after a member, found '"'$`),
  );
  copyFileSync(join(GOLDEN, 'data.npz'), at('golden.npz'));
  writeFileSync(at('wrong.json'), JSON.stringify({ X_train: 'abc', y_train: {}, X_test: [[[1]]], y_test: [1] }));
  const d2 = config('wrongtypes.attention.yaml', 'data: wrong.json\n');
  analyzeOne('data of the wrong types', d2, new RegExp(`^${esc(d2)}:1:7: .*wrong\\.json: `));
  // Usage errors are one line too (exit 2).
  cases.push({
    name: 'train negative epochs',
    argv: ['train', '--epochs', '-1', '--out', at('tr')],
    code: 2,
    line: /^attention-paths train: --epochs: "-1" is not a positive integer; see attention-paths train --help$/,
    absent: [at('tr')],
  });
  cases.push({ name: 'unknown option', argv: ['analyze', '--frob'], code: 2, line: /^attention-paths: Unknown option '--frob'/ });
  return cases;
}

/** A one-member ZIP archive (deflate) declaring `usize` bytes and `crc`. */
function zipOne(name: string, deflated: Uint8Array, usize: number, crc: number): Uint8Array {
  const n = Buffer.from(name, 'latin1');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(crc >>> 0, 14);
  local.writeUInt32LE(deflated.length, 18);
  local.writeUInt32LE(usize, 22);
  local.writeUInt16LE(n.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(crc >>> 0, 16);
  central.writeUInt32LE(deflated.length, 20);
  central.writeUInt32LE(usize, 24);
  central.writeUInt16LE(n.length, 28);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(1, 8);
  eocd.writeUInt16LE(1, 10);
  eocd.writeUInt32LE(central.length + n.length, 12);
  eocd.writeUInt32LE(local.length + n.length + deflated.length, 16);
  return Buffer.concat([local, n, deflated, central, n, eocd]);
}

/** Runs every case through `main` in one child process; returns the results in order. */
function runAll(cases: Case[]): Result[] {
  const harness = at('harness.ts');
  writeFileSync(
    harness,
    `import { readFileSync, writeFileSync } from 'node:fs';
import { main } from ${JSON.stringify(join(ROOT, 'server', 'src', 'cli.ts'))};
const captured = { stdout: '', stderr: '' };
process.removeAllListeners('warning');
process.on('warning', (w) => { captured.stderr += w.name + ': ' + w.message + '\\n'; });
(async () => {
  const list: string[][] = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  const out: unknown[] = [];
  const so = process.stdout.write.bind(process.stdout);
  const se = process.stderr.write.bind(process.stderr);
  for (const argv of list) {
    captured.stdout = '';
    captured.stderr = '';
    process.stdout.write = ((t: string) => { captured.stdout += t; return true; }) as typeof process.stdout.write;
    process.stderr.write = ((t: string) => { captured.stderr += t; return true; }) as typeof process.stderr.write;
    let code: number;
    try { code = await main(argv); } catch (e) { code = -1; captured.stderr += 'ESCAPED: ' + String(e); }
    process.stdout.write = so;
    process.stderr.write = se;
    out.push({ code, stdout: captured.stdout, stderr: captured.stderr });
  }
  writeFileSync(process.argv[3], JSON.stringify(out));
  process.exit(0);
})();
`,
  );
  const list = at('cases.json');
  const results = at('results.json');
  writeFileSync(list, JSON.stringify(cases.map((c) => c.argv)));
  const r = spawnSync(process.execPath, ['--import', LOADER, harness, list, results], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '', ATTENTION_PATHS_DEBUG: '' },
    maxBuffer: 64 << 20,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(readFileSync(results, 'utf8')) as Result[];
}

describe('every CLI refusal is one clean line and writes nothing', () => {
  const cases = buildCases();
  let results: Result[] = [];
  before(() => {
    results = runAll(cases);
  });
  cases.forEach((c, i) => {
    it(c.name, () => {
      const r = results[i];
      assert.equal(r.code, c.code, `exit code; stderr: ${r.stderr}`);
      assert.ok(r.stderr.endsWith('\n'), JSON.stringify(r.stderr));
      const lines = r.stderr.slice(0, -1).split('\n');
      assert.equal(lines.length, 1, `exactly one line on stderr, got:\n${r.stderr}`);
      assert.match(lines[0], c.line);
      assert.doesNotMatch(r.stderr, FORBIDDEN);
      for (const p of c.absent ?? []) assert.ok(!existsSync(p), `${p} must not be written`);
    });
  });
});

describe('the real entry point bin/attention-paths.js', () => {
  const bin = join(ROOT, 'bin', 'attention-paths.js');
  // A warning emitted once the entry has run (as a dependency's ExperimentalWarning would be) must not reach stderr.
  // (A preloaded module's nextTick runs after the entry's synchronous start, before the command's promise settles.)
  const warner = join(dir, 'warner.cjs');
  writeFileSync(warner, "process.nextTick(() => process.emitWarning('a test warning', 'ExperimentalWarning'));\n");
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(process.execPath, ['--require', warner, bin, ...args], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '', ATTENTION_PATHS_DEBUG: '', ...env },
    });

  it('an invalid model: exit 1, one line, no warning', () => {
    const model = at('bin-cycle.onnx');
    writeFileSync(model, invalidModels().find((m) => m.name === 'cycle')!.bytes);
    const r = run(['inspect', model]);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(
      r.stderr,
      `attention-paths: ${model}: invalid model: the graph has a cycle: 'A' → 'B' → 'A' (each node reads the next one's output), at node 'A' (Add)\n`,
    );
    assert.equal(r.stdout, '');
  });

  it('warnings are printed only with ATTENTION_PATHS_DEBUG=1, and then so is the stack', () => {
    const quiet = run(['--version']);
    assert.equal(quiet.status, 0);
    assert.equal(quiet.stderr, '');
    const loud = run(['inspect', at('bin-cycle.onnx')], { ATTENTION_PATHS_DEBUG: '1' });
    assert.match(loud.stderr, /ExperimentalWarning: a test warning/);
    assert.match(loud.stderr, /^OnnxReadError: .*\n\s+at /m);
  });
});
