/**
 * The `attention-paths` command line, run as a subprocess: golden numbers through `analyze --json`
 * on a config with `.npz` data, the summary of the embedded default, sweep, report files, refusing to
 * overwrite, and one-line errors with exit codes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertClose, flat } from '../helpers/close';
import { GOLDEN_DIR } from '../helpers/golden';
import { ANALYSIS_REPORT_FILES } from '../../src/report/write';

const ROOT = join(__dirname, '..', '..', '..');
const CLI = join(ROOT, 'server', 'src', 'cli.ts');

function run(args: string[], cwd = ROOT) {
  // tsx by its file, so that a run in a temporary folder (cwd) finds it too.
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href, CLI, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('attention-paths analyze on golden cases given as .npz + YAML', () => {
  for (const name of ['case1_L1_H2_first', 'case2_L2_H2_last', 'case4_L1_H1_scalar_oracle']) {
    it(`${name}: --json reproduces the golden numbers`, () => {
      const out = join(mkdtempSync(join(tmpdir(), 'ap-cli-')), 'report.json');
      const r = run(['analyze', join(ROOT, 'test-fixtures', 'golden-npz', name, 'config.yaml'), '--json', out, '--quiet']);
      assert.equal(r.code, 0, r.stderr);
      const rep = JSON.parse(readFileSync(out, 'utf8'));
      const e = JSON.parse(readFileSync(join(GOLDEN_DIR, `${name}.json`), 'utf8')).expected;
      const [rt, at] = [1e-5, 1e-7];
      assert.ok(rep.solver.converged && rep.solver.max_abs_grad_normalized < 1e-9);
      assertClose(flat(rep.U), flat(e.U_opt), rt, at, 'U');
      assertClose(rep.U_a, e.U_a_opt, rt, at, 'U_a');
      assertClose(rep.action.normalized, e.action_opt_normalized, rt, at, 'S/maxN');
      assertClose([rep.action.raw, rep.action.entropy_raw, rep.action.energy_raw], [e.action_opt_raw, e.entropy_opt_raw, e.energy_opt_raw], rt, at, 'S parts');
      assertClose(rep.predictor_mean_test, e.predictor_mean_test, rt, at, 'mean');
      assertClose(rep.predictor_var_test, e.predictor_var_test, rt, at, 'var');
      for (const k of ['eg_bias', 'eg_variance', 'eg_total']) assertClose(rep.metrics[k], e.metrics[k], rt, at, k);
      assert.equal(rep.metrics.acc_mean_predictor, e.metrics.acc_mean_predictor);
      for (const k of Object.keys(e.metrics_gp)) assertClose(rep.gp.metrics[k], e.metrics_gp[k], 1e-9, 1e-12, `gp ${k}`);
      assertClose(rep.gp.predictor_mean_test, e.predictor_mean_test_gp, 1e-9, 1e-12, 'gp mean');
      assert.deepEqual(
        rep.head_scores_ascending.map((h: { layer: number; head: number }) => [h.layer, h.head]),
        e.head_scores_ascending.map((h: { layer: number; head: number }) => [h.layer, h.head]),
      );
      assertClose(
        rep.head_scores_ascending.map((h: { score: number }) => h.score),
        e.head_scores_ascending.map((h: { score: number }) => h.score),
        rt,
        at,
        'scores',
      );
      assertClose(
        rep.head_silencing.map((h: { eg_total: number }) => h.eg_total),
        e.head_silencing.map((h: { eg_total: number }) => h.eg_total),
        rt,
        at,
        'silencing',
      );
      assert.deepEqual(
        rep.head_silencing.map((h: { acc_mean_predictor: number }) => h.acc_mean_predictor),
        e.head_silencing.map((h: { acc_mean_predictor: number }) => h.acc_mean_predictor),
      );
    });
  }
});

describe('attention-paths analyze on the embedded default', () => {
  it('prints the Markov result: U_1 with path names, ranked heads, finite width above the GP limit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    const r = run(['analyze', '--report', dir, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /markov-4paths/);
    assert.match(r.stdout, /^g \(0,0\)\s+[\d.]+/m);
    assert.match(r.stdout, /converged after \d+ iterations/);
    const acc = (label: RegExp) => Number(r.stdout.match(label)![1]);
    const fw = acc(/finite width \(N = 10\)\s+([\d.]+)/);
    const gp = acc(/GP limit \(N → ∞\)\s+([\d.]+)/);
    // docs/theory.md §i: task-relevant kernel combination makes N = 10 beat the GP limit on this task.
    assert.ok(fw > gp + 0.05, `finite width ${fw} vs GP ${gp}`);
    const rep = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    // The good path g is up-weighted and anti-correlated with the denoising path d; adversarial paths are suppressed.
    const U = rep.U[0];
    assert.ok(U[0][0] > 5 && U[2][2] > 2 && U[0][2] < -1, JSON.stringify(U));
    assert.ok(U[1][1] < 1 && U[3][3] < 1);
    for (const f of ['u1-heatmap.svg', 'head-scores.svg', 'pc-overlap.svg', 'head-removal.svg']) {
      const svg = readFileSync(join(dir, f), 'utf8');
      assert.match(svg, /^<svg/);
      assert.ok((svg.match(/<path/g) ?? []).length >= 4, `${f} has marks`);
    }
    assert.match(readFileSync(join(dir, 'u1-heatmap.svg'), 'utf8'), />a1</);
    assert.deepEqual(readdirSync(dir).sort(), [...ANALYSIS_REPORT_FILES].sort());
    // Kernel PCs: two curves of 30 points (k = min(30, P = 100)), the spec's data is the report's.
    const pcs = readFileSync(join(dir, 'pc-overlap.svg'), 'utf8');
    assert.equal(pcs.split('<g class="mark-line role-mark').length - 1, 2);
    const spec = JSON.parse(readFileSync(join(dir, 'pc-overlap.vl.json'), 'utf8'));
    assert.deepEqual(
      spec.data.values.filter((v: { series: string }) => v.series === 'GP limit').map((v: { cumulative: number }) => v.cumulative),
      rep.kernel_pc_overlap.gp.cumulative,
    );
    // Head removal of a config without a model: the predicted accuracies only, one point per head.
    const removal = JSON.parse(readFileSync(join(dir, 'head-removal.vl.json'), 'utf8'));
    assert.deepEqual(
      removal.layer[1].data.values.map((v: { value: number }) => v.value).sort(),
      rep.head_silencing.map((h: { acc_mean_predictor: number }) => h.acc_mean_predictor).sort(),
    );
    assert.match(r.stdout, /Kernel PCs \(Fig\. 2c\): the first 30 of 100 principal components/);
  });
});

describe('attention-paths analyze on a model config', () => {
  it("measures each head's removal on the model and charts it next to the prediction", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    const r = run(['analyze', join(ROOT, 'test-fixtures', 'workspace', 'model.attention.yaml'), '--report', dir, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    const m = rep.head_removal_measured;
    assert.equal(m.heads.length, 8);
    assert.match(r.stdout, new RegExp(`measured accuracy of the model without it \\(full model ${m.full.toFixed(3)}, ${m.count} test examples\\)`));
    const spec = JSON.parse(readFileSync(join(dir, 'head-removal.vl.json'), 'utf8'));
    const measured = spec.layer[1].data.values.filter((v: { series: string }) => v.series.startsWith('measured'));
    assert.deepEqual(
      measured.map((v: { layer: number; head: number; value: number }) => [v.layer, v.head, v.value]).sort(),
      m.heads.map((h: { layer: number; head: number; value: number }) => [h.layer, h.head, h.value]).sort(),
    );
    const svg = readFileSync(join(dir, 'head-removal.svg'), 'utf8');
    assert.equal((svg.split('<g class="mark-symbol role-mark')[1].split('</g>')[0].match(/<path/g) ?? []).length, 16);
  });
});

describe('attention-paths sweep', () => {
  it('tabulates finite width against the GP limit and draws the chart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    const cfg = join(dir, 'small.yaml');
    writeFileSync(cfg, 'task: markov\nP: 40\nP_test: 200\n');
    const r = run(['sweep', cfg, '--widths', '10,1000000', '--report', join(dir, 'out'), '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(readFileSync(join(dir, 'out', 'sweep.json'), 'utf8'));
    assert.deepEqual(
      rep.rows.map((x: { N: number }) => x.N),
      [10, 1000000],
    );
    // At N = 10⁶ (α = 4e-5) the theory is at its GP limit.
    assertClose(rep.rows[1].metrics.eg_total, rep.gp.eg_total, 1e-3, 0, 'eg at large N');
    assert.match(r.stdout, /^\s+GP\s+0\s+[\d.]+/m);
    // the columns stay aligned for large widths (N = 10⁶ printed as 1e+6 within its column; 10¹⁵ pushed them out)
    const header = r.stdout.split('\n').find((l) => l.includes('α = P/N'))!;
    const row = r.stdout.split('\n').find((l) => l.trimStart().startsWith('1e+6'))!;
    assert.ok(row, r.stdout);
    const tokenEnds = (l: string) => [...l.matchAll(/\S+/g)].map((m) => m.index! + m[0].length);
    assert.equal(tokenEnds(row)[0], header.indexOf('N') + 1, 'N right-aligned under its header');
    assert.equal(tokenEnds(row)[1], header.indexOf('α = P/N') + 'α = P/N'.length, 'α right-aligned under its header');
    assert.match(readFileSync(join(dir, 'out', 'sweep.svg'), 'utf8'), /<svg/);
  });
});

describe('--json - with --report', () => {
  // Found by a newcomer's run: the "written" line followed the JSON on stdout, which then did not parse.
  for (const cmd of ['analyze', 'sweep']) {
    it(`${cmd}: stdout is exactly one JSON document; the files written are named on stderr`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
      const cfg = join(dir, 'small.yaml');
      writeFileSync(cfg, 'task: markov\nP: 40\nP_test: 200\n');
      const extra = cmd === 'sweep' ? ['--widths', '10,100'] : [];
      const r = run([cmd, cfg, ...extra, '--json', '-', '--report', join(dir, 'out'), '--quiet']);
      assert.equal(r.code, 0, r.stderr);
      const parsed = JSON.parse(r.stdout);
      assert.equal(typeof parsed, 'object');
      assert.match(r.stderr, /written: .*out/);
      assert.doesNotMatch(r.stdout, /written/);
    });
  }
});

describe('attention-paths errors', () => {
  it('a config error names file, line and column, exit code 1, nothing written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(cfg, 'task: markov\ntemperature: -0.5\n');
    const r = run(['analyze', cfg, '--json', join(dir, 'out.json')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.yaml:2:14: .*temperature/);
    assert.equal(existsSync(join(dir, 'out.json')), false);
  });
  it('refuses to overwrite an existing output file without --force', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    const out = join(dir, 'mine.json');
    writeFileSync(out, 'precious');
    const cfg = join(ROOT, 'test-fixtures', 'golden-npz', 'case4_L1_H1_scalar_oracle', 'config.yaml');
    const r = run(['analyze', cfg, '--json', out, '--quiet']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already exists; not overwriting/);
    assert.equal(readFileSync(out, 'utf8'), 'precious');
    const r2 = run(['analyze', cfg, '--json', out, '--quiet', '--force']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(JSON.parse(readFileSync(out, 'utf8')).U);
  });
  it('a data file with a wrong shape gives a one-line reason naming the array', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    writeFileSync(join(dir, 'd.json'), JSON.stringify({ X_train: [[[1, 2]], [[3, 4]]], y_train: [1, -1], X_test: [[[1, 2, 3]]], y_test: [1] }));
    writeFileSync(join(dir, 'c.yaml'), 'data: d.json\n');
    const r = run(['analyze', join(dir, 'c.yaml')]);
    assert.equal(r.code, 1);
    // placed at the config's data entry (line 1, column 7), the data file named
    assert.match(r.stderr, /^.*c\.yaml:1:7: .*d\.json: .*X_test has shape \[1, 1, 3\]; expected \[P_test, N0=1, T=2\]/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.deepEqual(readdirSync(dir).sort(), ['c.yaml', 'd.json']);
  });
  it('analyze --json - into a pipe prints the whole report, also beyond one 64 KiB pipe buffer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    writeFileSync(join(dir, 'c.yaml'), 'task: markov\nP: 20\nP_test: 40\nwidths: 10\n');
    // The installed command (the bundle, which the test runner builds first) into a shell pipe, as `| jq` would: the
    // first write fills the pipe buffer and the rest waits for the reader.
    const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const cmd = [process.execPath, join(ROOT, 'bin', 'attention-paths.js'), 'analyze', join(dir, 'c.yaml'), '--json', '-', '--quiet'].map(q).join(' ');
    const p = spawnSync('bash', ['-c', `set -o pipefail; ${cmd} | cat`], {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
      maxBuffer: 64 * 2 ** 20,
    });
    const r = { code: p.status, stdout: p.stdout, stderr: p.stderr };
    assert.equal(r.code, 0, r.stderr);
    // The attention maps make this report about 110 KB; an exit before stdout drained cut it at 65536 bytes.
    assert.ok(r.stdout.length > 65536, `${r.stdout.length} characters`);
    const rep = JSON.parse(r.stdout);
    assert.equal(rep.task.P, 20);
    assert.ok(rep.attention_maps, 'the report has its attention maps');
  });
  // Found by a newcomer's run: schema errors named the config as typed (`neg.yaml:2:4:`), errors of values found later
  // (cross-field, data, memory) by its absolute path.
  it('an error found after the schema names the config as typed, as the schema errors do', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    writeFileSync(join(dir, 'w.yaml'), 'task: markov\nP: 40\nP_test: 200\nwidths: [10, 10, 10, 10, 10]\n');
    const rel = run(['analyze', 'w.yaml', '--quiet'], dir);
    assert.equal(rel.code, 1);
    assert.match(rel.stderr, /^w\.yaml:4:9: widths has 5 entries/);
    const abs = run(['analyze', join(dir, 'w.yaml'), '--quiet'], dir);
    assert.ok(abs.stderr.startsWith(`${join(dir, 'w.yaml')}:4:9: widths has 5 entries`), abs.stderr);
  });

  it('usage errors exit with 2', () => {
    assert.equal(run(['frobnicate']).code, 2);
    assert.equal(run(['sweep']).code, 2);
    // a width listed twice would be solved twice for the same row (found by a newcomer's run)
    const twice = run(['sweep', '--widths', '10,30,10']);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /--widths: 10 is listed twice/);
    assert.equal(run(['--version']).stdout.trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });
});

describe('attention-paths inspect', () => {
  it('lists the attention blocks of a PyTorch export', () => {
    const r = run(['inspect', join(ROOT, 'test-fixtures', 'onnx-torch', 'A_mha_opset17', 'model.onnx')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /2 attention blocks found/);
    assert.match(r.stdout, /^\s+0\s+unfused\s+4\/4\s+8\/8\s+32/m);
  });
  it('--json prints the summary as JSON with heads and GQA ratio', () => {
    const r = run(['inspect', join(ROOT, 'test-fixtures', 'onnx', 'onnx-node-tests', 'test_attention_3d_gqa', 'model.onnx'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.attention.blocks.length, 1);
    assert.equal(s.attention.blocks[0].queryHeads, 9);
    assert.equal(s.attention.blocks[0].kvHeads, 3);
  });
  it('a file that is not a model is refused with a one-line reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    writeFileSync(join(dir, 'x.onnx'), '');
    const r = run(['inspect', join(dir, 'x.onnx')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /x\.onnx: not an ONNX model/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});

describe('outputs are checked before any work, and failures leave nothing behind', () => {
  it('an existing --json file is refused at once, before the analysis runs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    const out = join(dir, 'mine.json');
    writeFileSync(out, 'precious');
    const r = run(['analyze', '--json', out]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '', 'no summary printed: the run never started');
    assert.match(r.stderr, /already exists; not overwriting/);
    assert.equal(readFileSync(out, 'utf8'), 'precious');
  });
  it('--json naming a folder, even with --force, says so and leaves no temporary file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    const cfg = join(ROOT, 'test-fixtures', 'golden-npz', 'case4_L1_H1_scalar_oracle', 'config.yaml');
    const r = run(['analyze', cfg, '--json', dir, '--force', '--quiet']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot write .*: it is a folder/);
    assert.deepEqual(readdirSync(dir), []);
  });
  it('an unwritable place is reported with the user path, not a temporary name', () => {
    const r = run(['analyze', '--json', '/proc/ap-out.json']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot write \/proc\/ap-out\.json/);
    assert.doesNotMatch(r.stderr, /tmp-/);
  });
  it('--json and --report aiming at the same file is a usage error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    const r = run(['analyze', '--json', join(dir, 'rep', 'report.json'), '--report', join(dir, 'rep')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is one of the files --report .* writes/);
  });
  it('a width list that does not fit the attention is placed in the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    const cfg = join(dir, 'w.yaml');
    writeFileSync(cfg, 'task: markov\nP: 20\nP_test: 20\nwidths: [10, 10]\n');
    const r = run(['analyze', cfg, '--quiet']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /w\.yaml:4:9: widths has 2 entries; with heads \[2, 2\] \(L = 2\) expected 3/);
  });
  it('a run too large for the machine stops at once with the memory it would need', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    const cfg = join(dir, 'big.yaml');
    writeFileSync(cfg, 'task: markov\nP: 1000000\n');
    const r = run(['analyze', cfg]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /big\.yaml:2:4: task markov needs about \d+ GB of memory \(P = 1000000.*reduce P \(training examples\)$/m);
  });
  it('a deep model is refused at once by the path limit (--max-paths, default 256), naming the paths and the windows to use', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    const cfg = join(dir, 'deep.yaml');
    const enc = join(ROOT, 'test-fixtures', 'onnx-real', 'encoder6');
    writeFileSync(cfg, `data: ${join(enc, 'data.npz')}\nattention:\n  kind: model\n  model: ${join(enc, 'model.onnx')}\n`);
    const t0 = Date.now();
    const r = run(['analyze', cfg, '--quiet']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(
      r.stderr,
      /this config has 4⁶ = 4096 attention paths .*more than the path limit 256 .*reducing P would not help\. Analyse the model in layer windows: `attention\.windows: 3` \(2 windows of 3 blocks, 64 paths each/,
    );
    // placed at the model that brings the paths (it had no file:line:col: found by a newcomer's run)
    assert.ok(r.stderr.startsWith(`${cfg}:4:10: this config has 4⁶`), r.stderr);
    // Refused before the model runs on the data (generous bound: tsx start-up on a busy machine).
    assert.ok(Date.now() - t0 < 60_000);
    assert.match(run(['analyze', cfg, '--max-paths', '100']).stderr, /more than the path limit 100 .*`attention\.windows: 3`/);
    const u = run(['analyze', cfg, '--max-paths', '0']);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /--max-paths: "0" is not a number of paths/);
    assert.match(run(['inspect', join(enc, 'model.onnx'), '--max-paths', '9']).stderr, /--max-paths belongs to analyze and sweep/);
  });
  it('a negative width is refused as a width, not as an ambiguous option (--widths -5)', () => {
    for (const widths of ['-5', '-0.5', '10,-5']) {
      const r = run(['sweep', '--widths', widths]);
      assert.equal(r.code, 2, widths);
      assert.match(r.stderr, /^attention-paths: --widths: "-5|-0\.5" is not a width N from 1 to 1e15 \(a width must be positive\)$/m, widths);
      assert.doesNotMatch(r.stderr, /ambiguous/);
    }
  });
  it('options of other commands are refused', () => {
    assert.match(run(['analyze', '--heads', '7']).stderr, /--heads belongs to inspect/);
    assert.match(run(['sweep', '--widths', '0.5']).stderr, /"0\.5" is not a width N from 1 to 1e15/);
    const r = run(['inspect', 'a.onnx', 'b.onnx']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /inspect takes one MODEL\.onnx file, got 2/);
    const u = run(['analyze', '--jsn', 'x']);
    assert.equal(u.code, 2);
    assert.equal(u.stderr.trim().split('\n').length, 1);
  });
});

describe('an output may never replace an input or another output, even with --force', () => {
  /** A folder with a copy of a model, its data and a config naming both (relative paths). */
  function workspace() {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    const src = join(ROOT, 'test-fixtures', 'onnx-torch', 'B_bert_div');
    writeFileSync(join(dir, 'm.onnx'), readFileSync(join(src, 'model.onnx')));
    writeFileSync(join(dir, 'data.npz'), readFileSync(join(src, 'data.npz')));
    writeFileSync(join(dir, 'am.yaml'), 'data: data.npz\nattention:\n  kind: model\n  model: m.onnx\n');
    const snapshot = () =>
      Object.fromEntries(
        readdirSync(dir)
          .sort()
          .map((f) => [f, readFileSync(join(dir, f)).toString('base64')]),
      );
    return { dir, snapshot };
  }
  for (const [target, what] of [
    ['m.onnx', "the config's model"],
    ['am.yaml', 'the config'],
    ['data.npz', "the config's data"],
  ] as const) {
    it(`analyze am.yaml --json ${target} --force is refused and changes nothing`, () => {
      const { dir, snapshot } = workspace();
      const before = snapshot();
      const r = run(['analyze', 'am.yaml', '--json', target, '--force', '--quiet'], dir);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.equal(
        r.stderr,
        `attention-paths: --json ${target} would replace ${what} ${join(dir, target)}, which this command reads; choose another output path\n`,
      );
      assert.deepEqual(snapshot(), before);
    });
  }
  it('a hard link to the config counts as the config', () => {
    const { dir, snapshot } = workspace();
    linkSync(join(dir, 'am.yaml'), join(dir, 'link.json'));
    const before = snapshot();
    const r = run(['analyze', 'am.yaml', '--json', 'link.json', '--force', '--quiet'], dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^attention-paths: --json link\.json would replace the config .*am\.yaml \(.*am\.yaml\), which this command reads/);
    assert.deepEqual(snapshot(), before);
  });
  it('analyze --report /proc/foo fails at once instead of spinning', () => {
    const r = run(['analyze', '--report', '/proc/ap-foo', '--quiet']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'attention-paths: cannot write /proc/ap-foo: /proc is on the virtual file system proc\n');
  });
  it('train --out /proc/foo fails at once instead of spinning', () => {
    const r = run(['train', '--out', '/proc/ap-foo', '--quiet']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'attention-paths train: cannot write /proc/ap-foo: /proc is on the virtual file system proc\n');
  });
  it('train --data weights.npz --out . --force would replace its data: refused', () => {
    const { dir, snapshot } = workspace();
    writeFileSync(join(dir, 'weights.npz'), readFileSync(join(dir, 'data.npz')));
    const before = snapshot();
    const r = run(['train', '--data', 'weights.npz', '--out', '.', '--force', '--quiet'], dir);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `attention-paths train: --out ${dir} (its weights.npz) would replace the data ${join(dir, 'weights.npz')}, which this command reads; choose another output path\n`,
    );
    assert.deepEqual(snapshot(), before);
  });
});

describe('config files as editors write them', () => {
  it('a UTF-8 byte-order mark is accepted; binary data is refused in one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    writeFileSync(join(dir, 'bom.json'), '\ufeff{"task": "markov", "P": 20, "P_test": 20}');
    const ok = run(['analyze', join(dir, 'bom.json'), '--quiet']);
    assert.equal(ok.code, 0, ok.stderr);
    writeFileSync(join(dir, 'bin.yaml'), Buffer.from([0x1e, 0x9c, 0x3d, 0x05, 0x26, 0xff, 0xd9, 0xbd, 0x00, 0x81, 0xfe]));
    const bad = run(['analyze', join(dir, 'bin.yaml')]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim(), `${join(dir, 'bin.yaml')}:1:1: not a text file (binary data); a config is YAML or JSON text`);
  });
  it('an odd P for a class-balanced built-in task is a config error at its place', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-cli-'));
    writeFileSync(join(dir, 'odd.yaml'), 'task: markov\nP: 3\n');
    const r = run(['analyze', join(dir, 'odd.yaml')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /odd\.yaml:2:4: P must be a multiple of 2 \(the built-in tasks put half of the examples in each class\)/);
  });
});
