/**
 * The model view's drawing of each attention block (src/onnx/detect/blockGraph.ts) on the workspace fixture's exported
 * model (two nn.MultiheadAttention blocks): the roles of the drawn nodes, edges between drawn nodes only, and
 * input boxes that also carry the tensors they are a re-layout of — so that the tensor the detector's reason names
 * (block 1's queries "computed from '/layers.0/ln2/LayerNormalization_output_0'", before PyTorch's batch-first
 * Transpose) links to block 1's input box.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readModel } from '../../src/onnx/format/read';
import { detectAttention } from '../../src/onnx/detect/detect';
import { blockGraphs } from '../../src/onnx/detect/blockGraph';

const MODEL = join(__dirname, '..', '..', '..', 'test-fixtures', 'workspace', 'models', 'model.onnx');

test('two blocks of 19 nodes each, with projections, scale, scores, softmax, context, merge and output', () => {
  const graphs = blockGraphs(readModel(MODEL), detectAttention(readModel(MODEL)));
  assert.deepEqual(
    graphs.map((g) => [g.layer, g.nodes.length, g.truncated]),
    [
      [0, 19, false],
      [1, 19, false],
    ],
  );
  for (const g of graphs) {
    const roles = new Set(g.nodes.map((n) => n.role));
    for (const r of ['input', 'qkv', 'scale', 'scores', 'softmax', 'context', 'merge', 'output'] as const)
      assert.ok(roles.has(r), `block ${g.layer} lacks ${r}`);
    const ids = new Set(g.nodes.map((n) => n.id));
    assert.ok(g.edges.every((e) => ids.has(e.from) && ids.has(e.to)));
  }
});

test("an input box lists the tensors it is a re-layout of: the tensor the detector's reason names is found in block 1", () => {
  const model = readModel(MODEL);
  const graphs = blockGraphs(model, detectAttention(model));
  const input1 = graphs[1].nodes.filter((n) => n.role === 'input');
  assert.deepEqual(
    input1.map((n) => n.outputs),
    [['/layers.1/attn/Transpose_output_0', '/layers.0/ln2/LayerNormalization_output_0']],
  );
  const input0 = graphs[0].nodes.filter((n) => n.role === 'input');
  assert.deepEqual(
    input0.map((n) => n.outputs),
    [['/layers.0/attn/Transpose_output_0', '/inp/Add_output_0']],
  );
});
