/**
 * `attention-paths train` (commands/train.ts runTrain), run in-process on tiny tasks: the four output files and
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
import { readModel } from '../../src/onnx/read';
import { detectAttention } from '../../src/onnx/detect';
import { runTrain } from '../../src/commands/train';
import { runOnnx } from '../../src/train/run';
import { smallMarkov } from './helpers';

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runTrain(args, { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const tiny = ['--P', '80', '--P-test', '40', '--markov-visible', '6', '--markov-steps', '4', '--theory-P', '40', '--epochs', '3', '--width', '4', '--G', '3', '--batch', '40', '--quiet'];
const FILES = ['attention.npz', 'model.onnx', 'train-report.json', 'weights.npz'];

describe('attention-paths train on the Markov task', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'ap-train-cmd-')), 'out');

  it('writes model.onnx, attention.npz, weights.npz and train-report.json, and prints a summary', async () => {
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
    assert.deepEqual(rep.export.detected_blocks.map((b: { query_heads: number }) => b.query_heads), [2, 2]);
    assert.equal(rep.head_removal.removals.length, 4);
    assert.equal(rep.theory.head_scores_ascending.length, 4);
    assert.equal(rep.comparison.heads.length, 4);
    const rho = rep.comparison.spearman_score_vs_drop;
    assert.ok(rho === null || (rho >= -1 && rho <= 1));
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
    assert.deepEqual(det.blocks.map((b) => b.queryHeads), [2, 2]);

    // attention.npz is the project's Q/K format; weights.npz holds the value path and U_GD.
    const layers = loadAttentionParams(join(dir, 'attention.npz'), 'qk', { N0: 11 });
    assert.deepEqual(layers.map((l) => l.heads), [2, 2]);
    const w = readNpz(join(dir, 'weights.npz'));
    assert.deepEqual(w.get('V0')!.shape, [4, 11]);
    assert.deepEqual(w.get('V_1')!.shape, [2, 4, 4]);
    assert.deepEqual(w.get('a')!.shape, [4]);
    assert.deepEqual(Array.from(w.get('heads')!.data), [2, 2]);
    assert.deepEqual(w.get('U_GD')!.shape, [4, 4]);
    assert.deepEqual(Array.from(w.get('U_GD')!.data), rep.comparison.U_GD.flat());
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
    assert.deepEqual(FILES.map((n) => statSync(join(dir, n)).mtimeMs), before);
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
    const r = await run([cfg, '--out', out, '--heads', '3', '--width', '4', '--G', '3', '--epochs', '2', '--theory-P', '30', '--quiet']);
    assert.equal(r.code, 0, r.stderr);
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
    ] as [string[], RegExp][]) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
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
