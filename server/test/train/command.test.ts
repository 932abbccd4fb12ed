/**
 * `attention-paths train` (cli/commands/train.ts, through runTrain of cli.ts), run in-process on tiny tasks: the four output files and
 * their contents, the exported model against the report, refusing to overwrite, usage errors (exit 2) and bad
 * input (exit 1) that write nothing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAttentionParams, loadTaskFile } from '../../src/data/load';
import { markovTask } from '../../src/data/markov';
import { readNpz, writeNpz } from '../../src/data/npz';
import { readModel } from '../../src/onnx/format/read';
import { detectAttention } from '../../src/onnx/detect/detect';
import { runTrain } from '../../src/cli';
import { formatTrainReport, runOnnx, type TrainReport } from '../../src/train/run';
import { loadConfig } from '../../src/config/load';
import { analyze } from '../../src/pipeline/analyze';
import { smallMarkov } from './helpers';

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runTrain(args, { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const tiny = [
  '--P',
  '80',
  '--P-test',
  '40',
  '--markov-visible',
  '6',
  '--markov-steps',
  '4',
  '--theory-P',
  '40',
  '--epochs',
  '3',
  '--width',
  '4',
  '--G',
  '3',
  '--batch',
  '40',
  '--quiet',
];
const FILES = ['attention.npz', 'data.npz', 'model.attention.yaml', 'model.onnx', 'train-report.json', 'weights.npz'];

describe('attention-paths train on the Markov task', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'ap-train-cmd-')), 'out');

  it('writes model.onnx, attention.npz, weights.npz, data.npz, model.attention.yaml and train-report.json, and prints a summary', async () => {
    const r = await run(['--task', 'markov', '--heads', '2,2', '--out', dir, ...tiny]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(dir).sort(), FILES);
    assert.match(r.stdout, /Gradient-descent training — markov-4paths/);
    assert.match(r.stdout, /Spearman rank correlation, theory score vs accuracy drop: /);
    assert.match(r.stdout, /ONNX Runtime matches the network to /);

    const rep = JSON.parse(readFileSync(join(dir, 'train-report.json'), 'utf8'));
    assert.equal(rep.command, 'train');
    assert.deepEqual([rep.task.P, rep.task.P_test, rep.task.N0, rep.task.T, rep.task.theory_P], [80, 40, 11, 5, 40]);
    assert.deepEqual([rep.network.heads, rep.network.G, rep.network.widths, rep.network.readout], [[2, 2], 3, [4, 4, 4], 'last']);
    assert.equal(rep.training.loss_curve.length, 4);
    assert.equal(rep.training.steps, 6);
    assert.ok(['wasm', 'cpu', 'tensorflow'].includes(rep.backend.name));
    assert.ok(rep.export.max_abs_diff <= 1e-5 && rep.export.tolerance === 1e-5);
    assert.deepEqual(
      rep.export.detected_blocks.map((b: { query_heads: number }) => b.query_heads),
      [2, 2],
    );
    assert.equal(rep.head_removal.removals.length, 4);
    assert.equal(rep.theory.head_scores_ascending.length, 4);
    assert.equal(rep.comparison.heads.length, 4);
    for (const rho of [rep.comparison.spearman_score_vs_drop, rep.comparison.spearman_predicted_vs_drop]) assert.ok(rho === null || (rho >= -1 && rho <= 1));
    assert.ok('spearman_predicted_vs_drop' in rep.comparison);
    assert.equal(rep.comparison.U_GD.length, 4);
    for (const h of rep.comparison.heads) {
      const m = rep.head_removal.removals.find((x: { layer: number; head: number }) => x.layer === h.layer && x.head === h.head);
      assert.equal(h.drop, m.drop);
    }

    // The ONNX file reproduces the reported test accuracy and is detected with the trained heads.
    const small = markovTask({ variant: '4paths', seed: 0, P: 80, P_test: 40, N0: 6, T: 4 }); // as train drew it
    const f = await runOnnx(readFileSync(join(dir, 'model.onnx')), small.test);
    let ok = 0;
    f.forEach((v, i) => (ok += Math.sign(v) === small.yTest[i] ? 1 : 0));
    assert.equal(ok / f.length, rep.accuracy.test);
    const det = detectAttention(readModel(join(dir, 'model.onnx')));
    assert.deepEqual(
      det.blocks.map((b) => b.queryHeads),
      [2, 2],
    );

    // attention.npz is the project's Q/K format; weights.npz holds the value path and U_GD.
    const layers = loadAttentionParams(join(dir, 'attention.npz'), 'qk', { N0: 11 });
    assert.deepEqual(
      layers.map((l) => l.heads),
      [2, 2],
    );
    const w = readNpz(join(dir, 'weights.npz'));
    assert.deepEqual(w.get('V0')!.shape, [4, 11]);
    assert.deepEqual(w.get('V_1')!.shape, [2, 4, 4]);
    assert.deepEqual(w.get('a')!.shape, [4]);
    assert.deepEqual(Array.from(w.get('heads')!.data), [2, 2]);
    assert.deepEqual(w.get('U_GD')!.shape, [4, 4]);
    assert.deepEqual(Array.from(w.get('U_GD')!.data), rep.comparison.U_GD.flat());

    // data.npz: the theory's training subset and the test set, keyed after the model input x.
    const d = readNpz(join(dir, 'data.npz'));
    assert.deepEqual([...d.keys()].sort(), ['x_test', 'x_train', 'y_test', 'y_train']);
    assert.deepEqual(d.get('x_train')!.shape, [40, 11, 5]);
    assert.deepEqual(d.get('x_test')!.shape, [40, 11, 5]);
    assert.deepEqual(Array.from(d.get('y_test')!.data), Array.from(small.yTest));
    assert.deepEqual(Array.from(d.get('x_test')!.data), Array.from(small.test.data));
    const yTr = Array.from(d.get('y_train')!.data);
    assert.equal(yTr.filter((v) => v === 1).length, 20, 'class-balanced theory subset');
  });

  it("model.attention.yaml analyses the trained model right away, reproducing the train report's theory", async () => {
    const yaml = readFileSync(join(dir, 'model.attention.yaml'), 'utf8');
    assert.match(yaml, /^data: data\.npz$/m);
    assert.match(yaml, /kind: model/);
    assert.match(yaml, /model: model\.onnx/);
    const config = loadConfig(join(dir, 'model.attention.yaml'));
    assert.equal(config.data, join(dir, 'data.npz'));
    assert.equal(config.attention?.model, join(dir, 'model.onnx'));
    const rep = JSON.parse(readFileSync(join(dir, 'train-report.json'), 'utf8'));
    const r = await analyze(config);
    assert.deepEqual([r.task.P, r.task.P_test, r.task.N0, r.task.T], [40, 40, 11, 5]);
    assert.deepEqual(r.settings.heads, [2, 2]);
    assert.deepEqual(r.settings.widths, rep.theory.settings.widths);
    assert.equal(r.settings.temperature, rep.theory.settings.temperature);
    assert.equal(r.settings.readout, 'last');
    assert.equal(r.model!.in_theory_class, true, r.model!.class_reasons.join('; '));
    assert.equal(r.head_scores_ascending.length, 4);
    // The captured attention is the trained Q/K's (float32 in ONNX Runtime): the same theory accuracy.
    assert.ok(
      Math.abs(r.metrics.acc_mean_predictor - rep.theory.accuracy_finite_width) <= 1 / 40 + 1e-12,
      `${r.metrics.acc_mean_predictor} vs ${rep.theory.accuracy_finite_width}`,
    );
    assert.ok(!r.warnings.some((w) => /single class/.test(w)), r.warnings.join('\n'));
  });

  it('is deterministic: the same seed gives the same report numbers', async () => {
    const other = join(mkdtempSync(join(tmpdir(), 'ap-train-cmd-')), 'out');
    const r = await run(['--task', 'markov', '--heads', '2,2', '--out', other, ...tiny]);
    assert.equal(r.code, 0, r.stderr);
    const a = JSON.parse(readFileSync(join(dir, 'train-report.json'), 'utf8'));
    const b = JSON.parse(readFileSync(join(other, 'train-report.json'), 'utf8'));
    if (a.backend.deterministic) {
      assert.deepEqual(b.training.loss_curve, a.training.loss_curve);
      assert.deepEqual(b.head_removal, a.head_removal);
      assert.deepEqual(b.theory.U_1, a.theory.U_1);
    }
  });

  it('refuses to overwrite without --force (exit 1, files untouched), replaces with --force', async () => {
    const before = FILES.map((n) => statSync(join(dir, n)).mtimeMs);
    const bytes = readFileSync(join(dir, 'model.onnx'));
    const r = await run(['--task', 'markov', '--out', dir, ...tiny, '--seed', '5']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already exists; not overwriting it \(pass --force/);
    assert.deepEqual(
      FILES.map((n) => statSync(join(dir, n)).mtimeMs),
      before,
    );
    assert.deepEqual(readFileSync(join(dir, 'model.onnx')), bytes);
    const f = await run(['--task', 'markov', '--out', dir, ...tiny, '--seed', '5', '--force']);
    assert.equal(f.code, 0, f.stderr);
    assert.notDeepEqual(readFileSync(join(dir, 'model.onnx')), bytes);
    assert.deepEqual(readdirSync(dir).sort(), FILES, 'no temporary files left');
  });
});

describe('attention-paths train on a data file, and bad input', () => {
  const root = mkdtempSync(join(tmpdir(), 'ap-train-cmd-'));
  const task = smallMarkov(30, 20, 4);
  const data = join(root, 'task.npz');
  writeNpz(data, {
    X_train: { shape: [30, task.train.features, task.train.tokens], data: task.train.data },
    y_train: { shape: [30], data: task.yTrain },
    X_test: { shape: [20, task.test.features, task.test.tokens], data: task.test.data },
    y_test: { shape: [20], data: task.yTest },
  });

  it('trains on --data with a YAML config that sets the theory (widths, temperature, readout)', async () => {
    const cfg = join(root, 'theory.yaml');
    writeFileSync(cfg, `data: task.npz\nwidths: 20\ntemperature: 0.05\nreadout: mean\nseed: 3\n`);
    const out = join(root, 'from-data');
    const r = await run([cfg, '--out', out, '--heads', '3', '--width', '4', '--G', '3', '--epochs', '2', '--theory-P', '100000', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /note: --theory-P 100000 is more than the 30 training sequences; the theory uses all 30/);
    const rep = JSON.parse(readFileSync(join(out, 'train-report.json'), 'utf8'));
    assert.equal(rep.task.name, 'task.npz');
    assert.deepEqual([rep.task.P, rep.task.theory_P], [30, 30]);
    assert.equal(rep.network.readout, 'mean');
    assert.deepEqual(rep.theory.settings.widths, [20, 20]);
    assert.equal(rep.theory.settings.temperature, 0.05);
    assert.equal(rep.training.seed, 3);
    assert.equal(loadTaskFile(data).train.count, 30);
  });

  it('usage errors exit 2 and write nothing', async () => {
    const out = join(root, 'never');
    for (const [args, msg] of [
      [['--task', 'markov'], /needs --out DIR/],
      [['--task', 'cifar', '--out', out], /"cifar" is not a built-in task/],
      [['--task', 'markov', '--data', data, '--out', out], /either --task or --data/],
      [['--heads', '2,0', '--out', out], /--heads: "2,0"/],
      [['--lr=-1', '--out', out], /--lr: "-1" is not a number > 0/],
      [['--backend', 'tpu', '--out', out], /--backend: "tpu"/],
      [['--task', 'mnist-oneshot', '--markov-steps', '5', '--out', out], /Markov task only/],
      [['--bogus', '--out', out], /Unknown option '--bogus'/],
      [['a.yaml', 'b.yaml', '--out', out], /at most one CONFIG/],
      [
        ['--P', '3', '--out', out],
        /^attention-paths train: --P: 3 is odd; the built-in tasks need an even number of sequences \(half per class\); see attention-paths train --help$/m,
      ],
      [['--P-test', '5', '--task', 'mnist-oneshot', '--out', out], /--P-test: 5 is odd/],
      [
        ['--markov-visible', '5', '--out', out],
        /^attention-paths train: --markov-visible: 5; the Markov task needs an even number ≥ 4 of visible features; see attention-paths train --help$/m,
      ],
      [['--markov-steps', '1', '--out', out], /--markov-steps: 1; the Markov task needs at least 2 steps/],
    ] as [string[], RegExp][]) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /markovTask|mnist one-shot:/, 'no internal function names');
    }
    assert.equal(existsSync(out), false);
  });

  it('bad data exits 1 with a one-line reason and writes nothing', async () => {
    const out = join(root, 'bad');
    const missing = await run(['--data', join(root, 'nope.npz'), '--out', out, '--quiet']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.npz/);
    const junk = join(root, 'junk.npz');
    writeFileSync(junk, 'not a zip');
    const bad = await run(['--data', junk, '--out', out, '--quiet']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    const oneClass = join(root, 'one-class.npz');
    writeNpz(oneClass, {
      X_train: { shape: [30, task.train.features, task.train.tokens], data: task.train.data },
      y_train: { shape: [30], data: new Float64Array(30).fill(1) },
      X_test: { shape: [20, task.test.features, task.test.tokens], data: task.test.data },
      y_test: { shape: [20], data: task.yTest },
    });
    const r = await run(['--data', oneClass, '--out', out, '--theory-P', '10', '--quiet']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /label −1/);
    assert.equal(existsSync(out), false);
  });
});

describe('attention-paths train: interrupt and summary formatting', () => {
  it('Ctrl-C (SIGINT) exits 130 with a one-line reason and writes nothing', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ap-train-int-')), 'out');
    const pending = run(['--task', 'markov', '--out', out, ...tiny, '--epochs', '500']);
    setImmediate(() => process.emit('SIGINT'));
    const r = await pending;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /^attention-paths train: interrupted \(Ctrl-C\); nothing written$/m);
    assert.equal(existsSync(out), false);
  });

  it('the summary uses one minus sign (−) throughout and "1 epoch"', () => {
    const head = (layer: number, head: number, drop: number, mseIncrease: number) => ({ layer, head, score: 0.5, accuracy: 0.7, drop, mseIncrease });
    const r = {
      task: { name: 't', description: 'd', P: 10, P_test: 10, N0: 4, T: 3, theory_P: 10 },
      network: { heads: [2], G: 2, widths: [4, 4], readout: 'last', parameters: 10, N0: 4, T: 3 },
      backend: { detail: 'cpu', fallbacks: [] },
      training: { learning_rate: 0.01, epochs: 1, batch_size: 10, steps: 1, ms: 10, initial_loss: 1, final_loss: 0.9, loss_curve: [1, 0.9] },
      accuracy: { train: 0.8, test: 0.65 },
      mse: { test: 0.9 },
      export: { opset: 17, max_abs_diff: 1e-7, examples_checked: 10, detected_blocks: [] },
      theory: { settings: { widths: [10, 10], temperature: 0.01 }, accuracy_finite_width: 0.6, accuracy_gp: 0.6, solver: { converged: true } },
      head_removal: { full_accuracy: 0.65, skipped_layers: [] },
      comparison: {
        heads: [head(1, 0, -0.05, -0.0123), head(1, 1, 0.1, 0.02)],
        spearman_score_vs_drop: -1,
        spearman_score_vs_mse_increase: -0.4,
        spearman_predicted_vs_drop: 0.5,
        U_pattern: { pearson: -0.25, cosine: 0.5 },
      },
      files: { 'model.onnx': 'm', 'attention.npz': 'a', 'weights.npz': 'w', 'data.npz': 'd', 'model.attention.yaml': 'y', 'train-report.json': 'r' },
    } as unknown as TrainReport;
    const s = formatTrainReport(r);
    assert.match(s, /1 epoch × batch 10 \(1 step,/);
    assert.match(s, /−5\.0 {2}−0\.0123/);
    assert.match(s, /\+10\.0 {2}\+0\.0200/);
    assert.match(s, /accuracy drop: −1\.000; vs MSE increase: −0\.400; predicted silencing effect \(ε_g increase\) vs accuracy drop: 0\.500/);
    assert.match(s, /pattern correlation −0\.250/);
    assert.doesNotMatch(s.replace(/lr 0\.01/, ''), /(^|[\s(:])-\d/m, 'no ASCII hyphen-minus before a number');
  });
});
