/**
 * The model checker (src/onnx/format/check.ts): each generated invalid model is refused by `readModel` with the reason
 * `<what>, at <node or tensor>`, every valid fixture still reads, and the refusal comes before detection
 * (`inspectModel`) could print nonsense such as a head size of −4 or a scale of NaN.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel, decodeModel } from '../../src/onnx/format/read';
import { OnnxReadError } from '../../src/onnx/format/errors';
import { inspectModel } from '../../src/onnx/detect/inspect';
import { FIXTURES, GraphBuilder, modelBytes } from './build';
import { invalidModels } from './invalidModels';
import { msAttention, msGqa, msMha, onnxAttention3d, onnxAttention4d, theoryClassModel, foldedSplitModel } from './models';

const tmp = mkdtempSync(join(tmpdir(), 'onnx-check-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

for (const m of invalidModels()) {
  test(`refused: ${m.name}`, () => {
    const p = join(tmp, `${m.name}.onnx`);
    writeFileSync(p, m.bytes);
    for (const read of [() => readModel(p), () => inspectModel(p)]) {
      assert.throws(read, (e: unknown) => {
        assert.ok(e instanceof OnnxReadError, `expected OnnxReadError, got ${e instanceof Error ? e.stack : String(e)}`);
        assert.equal(e.kind, 'invalid');
        assert.ok(e.message.startsWith(`${p}: invalid model: `), e.message);
        assert.match(e.reason, m.reason);
        assert.doesNotMatch(e.message, /\n/);
        return true;
      });
    }
  });
}

test('every ONNX fixture of the project passes the checker', () => {
  const files = execSync(`find ${JSON.stringify(FIXTURES)} -name '*.onnx'`, { encoding: 'utf8' })
    .trim()
    .split('\n');
  assert.ok(files.length >= 15, `found ${files.length} fixtures`);
  for (const f of files) assert.doesNotThrow(() => readModel(f), f);
});

test('the synthetic models of the detector tests pass the checker', () => {
  const models = [
    msAttention(),
    msAttention({ mask: true }),
    msGqa(),
    msGqa({ packed: true }),
    msMha(),
    onnxAttention3d(),
    onnxAttention3d({ H: 4, kvH: 2 }),
    onnxAttention4d(),
    onnxAttention4d({ H: 4, kvH: 2 }),
    theoryClassModel(),
    foldedSplitModel(),
  ];
  for (const [i, b] of models.entries()) assert.doesNotThrow(() => decodeModel(b, `synthetic-${i}`), `synthetic model ${i}`);
});

test('optional inputs written as empty names, outer-scope names in subgraphs, and empty tensors are accepted', () => {
  const body = new GraphBuilder();
  body.one('Add', ['x', 'x'], {}, { out: 'then_out' });
  body.output('then_out', [2]);
  const other = new GraphBuilder();
  other.one('Neg', ['x'], {}, { out: 'else_out' });
  other.output('else_out', [2]);
  const g = new GraphBuilder();
  g.input('x', [2]);
  g.input('c', [], 9);
  g.inits.push({ name: 'empty', dims: [0, 3], dataType: 1 });
  g.one('If', ['c'], { then_branch: { g: body.graph('then') }, else_branch: { g: other.graph('else') } }, { out: 'y', name: 'branch' });
  g.one('Clip', ['y', '', 'x'], {}, { out: 'z', name: 'clip' });
  g.output('z', [2]);
  assert.doesNotThrow(() => decodeModel(modelBytes(g.graph()), 'if-model'));
});

test('a subgraph reading a name its enclosing graph only defines after the If is refused', () => {
  const body = new GraphBuilder();
  body.one('Add', ['x', 'later'], {}, { out: 'then_out' });
  body.output('then_out', [2]);
  const g = new GraphBuilder();
  g.input('x', [2]);
  g.input('c', [], 9);
  g.one('If', ['c'], { then_branch: { g: body.graph('then') }, else_branch: { g: body.graph('else') } }, { out: 'y', name: 'branch' });
  g.one('Neg', ['x'], {}, { out: 'later' });
  g.output('y', [2]);
  assert.throws(
    () => decodeModel(modelBytes(g.graph()), 'scope'),
    /reads 'later', which no initializer, graph input or node provides.*, at node 'Add_0' \(Add\) in subgraph branch\/then_branch/,
  );
});

test('without the checker (validateGraph: false) tensor data are still checked', () => {
  const bad = invalidModels().find((m) => m.name === 'raw-data-short')!;
  const cyc = invalidModels().find((m) => m.name === 'cycle')!;
  assert.throws(() => decodeModel(bad.bytes, 'short', null, { validateGraph: false }), /raw_data has 60 bytes/);
  assert.doesNotThrow(() => decodeModel(cyc.bytes, 'cycle', null, { validateGraph: false }));
});
