import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, loadConfig } from '../../src/config/load';
import { defaultConfig, CONFIG_DEFAULTS } from '../../src/config/defaults';
import { ConfigError, type ConfigIssue } from '../../src/config/types';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ap-config-'));
  writeFileSync(join(dir, 'train.npz'), 'x');
  mkdirSync(join(dir, 'params'));
  writeFileSync(join(dir, 'params', 'qk.json'), '{}');
  writeFileSync(join(dir, 'model.onnx'), 'x');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const cfgPath = () => join(dir, 'run.yaml');

/** Parses `text` and returns its only issue (fails when there is not exactly one). */
function onlyIssue(text: string, file = cfgPath()): ConfigIssue {
  const r = parseConfig(text, file);
  assert.equal(r.issues.length, 1, `expected one issue, got: ${JSON.stringify(r.issues, null, 1)}`);
  assert.equal(r.config, undefined);
  return r.issues[0];
}

/** [line, column, endLine, endColumn] of an issue. */
const span = (i: ConfigIssue) => [i.line, i.column, i.endLine, i.endColumn];

describe('parseConfig: good files', () => {
  test('YAML with every key parses to the expected config (paths absolute, relative to the config folder)', () => {
    const text = [
      'data: train.npz',
      'attention:',
      '  kind: qk',
      '  params: params/qk.json',
      'heads: [2, 2]',
      'widths: [10, 20, 30]',
      'variances: [1, 1, 0.5, 2]',
      'temperature: 0.05',
      'readout: mean',
      'solver:',
      '  tolerance: 1e-7',
      '  maxIterations: 50',
      'seed: 7',
      '',
    ].join('\n');
    const r = parseConfig(text, cfgPath());
    assert.deepEqual(r.issues, []);
    assert.deepEqual(r.config, {
      source: cfgPath(),
      data: join(dir, 'train.npz'),
      attention: { kind: 'qk', params: join(dir, 'params', 'qk.json') },
      heads: [2, 2],
      widths: [10, 20, 30],
      variances: [1, 1, 0.5, 2],
      temperature: 0.05,
      readout: 'mean',
      solver: { tolerance: 1e-7, maxIterations: 50 },
      seed: 7,
    });
  });

  test('defaults are applied: widths 10, variances 1, T_B 0.01, tolerance 1e-9, 500 iterations, seed 0', () => {
    const r = parseConfig('task: markov-2paths\nP: 40\nP_test: 200\n', cfgPath());
    assert.deepEqual(r.issues, []);
    assert.deepEqual(r.config, {
      source: cfgPath(),
      task: 'markov-2paths',
      P: 40,
      P_test: 200,
      widths: 10,
      variances: 1,
      temperature: 0.01,
      solver: { tolerance: 1e-9, maxIterations: 500 },
      seed: 0,
    });
  });

  test('a partial solver block keeps the other default', () => {
    const r = parseConfig('task: markov\nsolver:\n  maxIterations: 20\n', cfgPath());
    assert.deepEqual(r.config?.solver, { tolerance: 1e-9, maxIterations: 20 });
  });

  test('JSON config parses to the same config as the YAML one', () => {
    const json = '{\n  "task": "mnist-oneshot",\n  "heads": 4,\n  "widths": 50,\n  "temperature": 0.25,\n  "attention": { "kind": "random-qk", "G": 16 }\n}\n';
    const yaml = 'task: mnist-oneshot\nheads: 4\nwidths: 50\ntemperature: 0.25\nattention:\n  kind: random-qk\n  G: 16\n';
    const a = parseConfig(json, join(dir, 'run.json'));
    const b = parseConfig(yaml, cfgPath());
    assert.deepEqual(a.issues, []);
    assert.deepEqual(b.issues, []);
    assert.deepEqual({ ...a.config, source: undefined }, { ...b.config, source: undefined });
    assert.deepEqual(a.config?.attention, { kind: 'random-qk', G: 16 });
    assert.equal(a.config?.temperature, 0.25);
  });

  test('kind model with an existing .onnx file', () => {
    const r = parseConfig('task: markov\nattention: {kind: model, model: model.onnx}\n', cfgPath());
    assert.deepEqual(r.issues, []);
    assert.deepEqual(r.config?.attention, { kind: 'model', model: join(dir, 'model.onnx') });
  });

  test('layer windows of a model config: attention.layers [first, last] or attention.windows (a size or auto)', () => {
    const a = parseConfig('data: train.npz\nattention: {kind: model, model: model.onnx, layers: [3, 4]}\n', cfgPath());
    assert.deepEqual(a.issues, []);
    assert.deepEqual(a.config?.attention, { kind: 'model', model: join(dir, 'model.onnx'), layers: [3, 4] });
    const b = parseConfig('data: train.npz\nattention: {kind: model, model: model.onnx, windows: auto}\n', cfgPath());
    assert.deepEqual(b.config?.attention?.windows, 'auto');
    assert.equal(parseConfig('data: train.npz\nattention: {kind: model, model: model.onnx, windows: 2}\n', cfgPath()).config?.attention?.windows, 2);
    const both = onlyIssue('data: train.npz\nattention:\n  kind: model\n  model: model.onnx\n  layers: [0, 1]\n  windows: 2\n');
    assert.equal(both.message, 'give either attention.layers (one window) or attention.windows (windows over every block), not both');
    assert.equal(both.pointer, '/attention/windows');
    const back = onlyIssue('data: train.npz\nattention: {kind: model, model: model.onnx, layers: [4, 3]}\n');
    assert.match(back.message, /^attention\.layers \[4, 3\] runs backwards; write \[first, last\] with first ≤ last/);
    assert.equal(onlyIssue('data: train.npz\nattention: {kind: model, model: model.onnx, windows: 0}\n').pointer, '/attention/windows');
    const ignored = parseConfig('data: train.npz\nattention: {kind: random-qk, windows: 2}\n', cfgPath());
    assert.deepEqual(
      ignored.issues.map((i) => [i.severity, i.message]),
      [['warning', 'attention.windows is ignored when kind is "random-qk"']],
    );
  });

  test('defaultConfig() is the embedded default and a fresh object', () => {
    assert.deepEqual(defaultConfig(), {
      task: 'markov',
      widths: 10,
      variances: 1,
      temperature: 0.01,
      readout: 'last',
      solver: { tolerance: 1e-9, maxIterations: 500 },
      seed: 0,
    });
    const a = defaultConfig();
    a.solver.tolerance = 1;
    assert.equal(defaultConfig().solver.tolerance, CONFIG_DEFAULTS.tolerance);
  });
});

describe('parseConfig: errors with message and position', () => {
  test('unknown key: suggestion, span on the key', () => {
    const i = onlyIssue('task: markov\ntemprature: 0.1\n');
    assert.equal(i.message, 'unknown key "temprature"; did you mean "temperature"?');
    assert.deepEqual(span(i), [2, 1, 2, 11]);
    assert.equal(i.pointer, '/temprature');
    assert.equal(i.severity, 'error');
    assert.equal(i.file, cfgPath());
  });

  test('unknown nested key: alias suggestion; far-off key lists the allowed keys', () => {
    const r = parseConfig('task: markov\nsolver:\n  tol: 1e-3\n  color: red\n', cfgPath());
    assert.equal(r.config, undefined);
    assert.deepEqual(
      r.issues.map((i) => [i.message, ...span(i), i.pointer]),
      [
        ['unknown key "tol" in solver; did you mean "tolerance"?', 3, 3, 3, 6, '/solver/tol'],
        ['unknown key "color" in solver; allowed keys: tolerance, maxIterations, space, method', 4, 3, 4, 8, '/solver/color'],
      ],
    );
  });

  test('T_B as a key suggests temperature', () => {
    assert.equal(onlyIssue('task: markov\nT_B: 0.1\n').message, 'unknown key "T_B"; did you mean "temperature"?');
  });

  test('wrong type: span on the value', () => {
    const i = onlyIssue('task: markov\ntemperature: "hot"\n');
    assert.equal(i.message, 'temperature (T_B) must be a number > 0 (got "hot")');
    assert.deepEqual(span(i), [2, 14, 2, 19]);
    assert.equal(i.pointer, '/temperature');
  });

  test('negative temperature', () => {
    const i = onlyIssue('task: markov\ntemperature: -0.5   # T_B\n');
    assert.equal(i.message, 'temperature (T_B) must be a number > 0 (got -0.5)');
    assert.deepEqual(span(i), [2, 14, 2, 18]);
  });

  test('a non-integer head count names both accepted forms', () => {
    const i = onlyIssue('task: markov\nheads: 2.5\n');
    assert.equal(i.message, 'heads (H) must be an integer ≥ 1 or an array of integers ≥ 1 (got 2.5)');
    assert.deepEqual(span(i), [2, 8, 2, 11]);
  });

  test('a negative odd P is one problem, not two (out of range; its parity is not named as well)', () => {
    const i = onlyIssue('task: markov\nP: -5\n');
    assert.match(i.message, /^P .*must be an integer ≥ 2/);
    assert.equal(i.pointer, '/P');
    // an odd P in range still gets the parity message
    assert.match(onlyIssue('task: markov\nP: 5\n').message, /^P must be a multiple of 2/);
  });

  test('a bad array entry points at that entry', () => {
    const i = onlyIssue('task: markov\nheads: [2, -1]\n');
    assert.equal(i.message, 'heads[1] must be an integer ≥ 1 (got -1)');
    assert.equal(i.pointer, '/heads/1');
    assert.deepEqual(span(i), [2, 12, 2, 14]);
  });

  test('bad enum value with suggestion', () => {
    const i = onlyIssue('task: markvo\n');
    assert.equal(i.message, 'task must be one of "markov", "markov-2paths", "mnist-oneshot" (got "markvo"); did you mean "markov"?');
    assert.deepEqual(span(i), [1, 7, 1, 13]);
  });

  test('wrong widths length for heads [2, 2]', () => {
    const i = onlyIssue('task: markov\nheads: [2, 2]\nwidths: [10, 10]\n');
    assert.equal(i.message, 'widths has 2 entries; with heads [2, 2] (L = 2) expected 3: [N_1, N_2, N_a]');
    assert.deepEqual(span(i), [3, 9, 3, 17]);
    assert.equal(i.pointer, '/widths');
  });

  test('wrong variances length for heads [2, 2] (block sequence spans its lines)', () => {
    const i = onlyIssue('task: markov\nheads: [2, 2]\nvariances:\n  - 1\n  - 1\n  - 1\n');
    assert.equal(i.message, 'variances has 3 entries; with heads [2, 2] (L = 2) expected 4: [σ0², σ1², σ2², σa²]');
    assert.deepEqual(span(i), [4, 3, 6, 6]);
  });

  test('widths and variances arrays that disagree (heads not given)', () => {
    const i = onlyIssue('task: markov\nwidths: [1, 2, 3]\nvariances: [1, 1, 1]\n');
    assert.equal(
      i.message,
      'variances has 3 entries and widths has 3; variances [σ0², σ1², …, σL², σa²] needs one more entry than widths [N_1, …, N_L, N_a] (expected 4)',
    );
    assert.deepEqual(span(i), [3, 12, 3, 21]);
  });

  test('missing data file: message names the resolved path', () => {
    const i = onlyIssue('data: sub/missing.npz\n');
    assert.equal(i.message, `data file not found: ${join(dir, 'sub', 'missing.npz')} ("sub/missing.npz" resolved against the config's folder ${dir})`);
    assert.deepEqual(span(i), [1, 7, 1, 22]);
    assert.equal(i.pointer, '/data');
  });

  test('attention.params that is a directory', () => {
    const i = onlyIssue('task: markov\nattention:\n  kind: w\n  params: params.json\n');
    assert.match(i.message, /^attention\.params file not found: /);
    const j = onlyIssue('task: markov\nattention:\n  kind: w\n  params: params\n');
    assert.equal(j.message, 'attention.params must be a path to a .npz or .json file, or a folder of .npy files ending in / (got "params")');
    assert.deepEqual(span(j), [4, 11, 4, 17]);
  });

  test('missing params for kind qk: span on the attention key', () => {
    const i = onlyIssue('task: markov\nattention:\n  kind: qk\n');
    assert.equal(i.message, 'missing required key "params" in attention (required when kind is "qk")');
    assert.deepEqual(span(i), [2, 1, 2, 10]);
    assert.equal(i.pointer, '/attention/params');
  });

  test('YAML syntax error maps to its position', () => {
    const i = onlyIssue('task: markov\nwidths: 10\n  seed: 1\n');
    assert.match(i.message, /^YAML syntax error: /);
    assert.equal(i.line, 2);
  });

  test('an unclosed flow bracket is placed at the bracket, not where the parser gave up (the next line)', () => {
    // (A newcomer found line 3 column 1 here: the parser's place, not the mistake's.)
    let i = onlyIssue('task: markov\nwidths: [10, 20\nseed: 1\n');
    assert.equal(i.message, 'YAML syntax error: the [ opened here is never closed with ]');
    assert.deepEqual(span(i), [2, 9, 2, 10]);
    i = onlyIssue('task: markov\nsolver: {tolerance: 1e-9\nseed: 1\n');
    assert.equal(i.message, 'YAML syntax error: the { opened here is never closed with }');
    assert.deepEqual(span(i), [2, 9, 2, 10]);
    // brackets in comments and quotes do not count; the innermost open one is named
    i = onlyIssue('task: markov # [\nlabel: "[" \nwidths: [10, [10, 2]\n');
    assert.deepEqual(span(i), [3, 9, 3, 10]);
  });

  test('duplicate key is a syntax error at the second key', () => {
    const i = onlyIssue('task: markov\nseed: 1\nseed: 2\n');
    assert.equal(i.message, 'YAML syntax error: Map keys must be unique');
    assert.equal(i.line, 3);
    assert.equal(i.column, 1);
  });

  test('JSON syntax (trailing comma) is checked strictly for .json files', () => {
    const i = onlyIssue('{\n  "task": "markov",\n  "seed": 2,\n}\n', join(dir, 'run.json'));
    assert.match(i.message, /^JSON syntax error: /);
    assert.deepEqual([i.line, i.column], [4, 1]);
  });

  test('both task and data: one error spanning the second entry', () => {
    const i = onlyIssue('task: markov\ndata: train.npz\n');
    assert.equal(i.message, 'give either task or data, not both (task "markov" is a built-in task; data "train.npz" is a data file)');
    assert.deepEqual(span(i), [2, 1, 2, 16]);
    assert.equal(i.pointer, '/data');
  });

  test('neither task nor data: first content line', () => {
    const i = onlyIssue('# my run\nseed: 3\n');
    assert.equal(
      i.message,
      'missing task or data: give a built-in `task` (markov, markov-2paths, mnist-oneshot) or a `data` file (.npz/.json with X_train, y_train, X_test, y_test)',
    );
    assert.deepEqual(span(i), [2, 1, 2, 8]);
    assert.equal(i.pointer, '');
  });

  test('empty file and non-mapping root', () => {
    const e = onlyIssue('');
    assert.match(e.message, /^the config is empty/);
    assert.deepEqual(span(e), [1, 1, 1, 1]);
    const s = onlyIssue('42\n');
    assert.equal(s.message, 'the config must be a mapping (got 42)');
  });

  test('too-short widths array', () => {
    const i = onlyIssue('task: markov\nwidths: [3]\n');
    assert.equal(i.message, 'widths (N) must have at least 2 entries, [N_1, …, N_L, N_a] with L ≥ 1 (got 1)');
  });

  test('several errors are all reported, in file order', () => {
    const r = parseConfig('seed: 1.5\ntask: markov\ntemperature: 0\nwidth: 3\n', cfgPath());
    assert.deepEqual(
      r.issues.map((i) => [i.line, i.message]),
      [
        [1, 'seed must be an integer (got 1.5)'],
        [3, 'temperature (T_B) must be a number > 0 (got 0)'],
        [4, 'unknown key "width"; did you mean "widths"?'],
      ],
    );
  });
});

describe('parseConfig: warnings', () => {
  test('keys the setting ignores give warnings, and the config still loads', () => {
    const r = parseConfig('data: train.npz\nP: 10\nattention:\n  kind: random-qk\n  params: x.npz\n', cfgPath());
    assert.ok(r.config);
    assert.deepEqual(
      r.issues.map((i) => [i.severity, i.message, ...span(i)]),
      [
        ['warning', 'P is ignored when data is given (the data file fixes the number of examples)', 2, 1, 2, 6],
        ['warning', 'attention.params is ignored when kind is "random-qk"', 5, 3, 5, 16],
      ],
    );
  });
});

describe('loadConfig', () => {
  test('reads YAML and JSON files by extension', () => {
    const y = join(dir, 'a.yaml');
    writeFileSync(y, 'task: markov\nwidths: 30\n');
    const { readout: _defaultReadout, ...rest } = defaultConfig();
    assert.deepEqual(loadConfig(y), { ...rest, source: y, widths: 30 });
    const j = join(dir, 'a.json');
    writeFileSync(j, '{"task": "markov", "widths": 30}');
    assert.deepEqual(loadConfig(j), { ...rest, source: j, widths: 30 });
  });

  test('throws ConfigError with file:line:col lines and every issue', () => {
    const y = join(dir, 'bad.yaml');
    writeFileSync(y, 'task: markov\ntemperature: -1\nwidht: 3\n');
    assert.throws(
      () => loadConfig(y),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.message, `${y}:2:14: temperature (T_B) must be a number > 0 (got -1)\n${y}:3:1: unknown key "widht"; did you mean "widths"?`);
        assert.equal(err.issues.length, 2);
        return true;
      },
    );
  });

  test('an unreadable file is a ConfigError that keeps the system message', () => {
    const missing = join(dir, 'nope.yaml');
    assert.throws(
      () => loadConfig(missing),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1:1: cannot read config file: no such file$`));
        return true;
      },
    );
  });

  test('warnings go to onWarning', () => {
    const y = join(dir, 'warn.yaml');
    writeFileSync(y, 'task: markov\nattention: {kind: qk, params: params/qk.json, G: 8}\n');
    const seen: string[] = [];
    const c = loadConfig(y, { onWarning: (w) => seen.push(`${w.line}:${w.column} ${w.message}`) });
    assert.equal(c.attention?.kind, 'qk');
    assert.deepEqual(seen, ['2:47 attention.G is ignored when kind is "qk"']);
  });
});

describe('parseConfig: edge cases', () => {
  test('non-finite numbers (.inf, .nan) are rejected', () => {
    assert.equal(onlyIssue('task: markov\nwidths: .inf\n').message, 'widths (N) must be a number ≥ 1 and ≤ 1e15 (got Infinity)');
    assert.equal(onlyIssue('task: markov\ntemperature: .nan\n').message, 'temperature (T_B) must be a number > 0 (got NaN)');
  });

  test('empty heads array; attention without kind', () => {
    assert.equal(onlyIssue('task: markov\nheads: []\n').message, 'heads (H) must have at least 1 entry (got 0)');
    const i = onlyIssue('task: markov\nattention: {}\n');
    assert.equal(i.message, 'missing required key "kind" in attention');
    assert.deepEqual(span(i), [2, 1, 2, 10]);
  });

  test('CRLF line endings keep positions; a sequence root spans without its trailing newline', () => {
    assert.deepEqual(span(onlyIssue('task: markov\r\ntemprature: 2\r\n')), [2, 1, 2, 11]);
    const r = onlyIssue('- a\n- b\n');
    assert.equal(r.message, 'the config must be a mapping (got ["a", "b"])');
    assert.deepEqual(span(r), [1, 1, 2, 4]);
  });
});
