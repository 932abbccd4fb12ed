/**
 * Generated invalid models, one per class the model checker (`src/onnx/format/check.ts`) refuses: broken graph order,
 * tensor data that do not match their dims, dims that are negative or overflow, and attention attributes outside
 * their operator's domain. Each is a small valid model with one thing broken, so that the refusal can only come from
 * that one thing. Shared by the checker's unit tests and the CLI tests.
 */
import { onnx } from 'onnx-proto';
import { GraphBuilder, floatTensor, modelBytes } from './build';
import { msAttention, msGqa, msMha, onnxAttention3d } from './models';

/** One invalid model: what is broken, its bytes, and the reason the checker must give. */
export interface InvalidModel {
  name: string;
  bytes: Uint8Array;
  /** Matches the reason (the part after `invalid model: `). */
  reason: RegExp;
}

const T = onnx.AttributeProto.AttributeType;

/** The model with `edit` applied to the node named `node` (decode, edit, encode). */
function editNode(bytes: Uint8Array, node: string, edit: (n: onnx.INodeProto) => void): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  const n = m.graph!.node!.find((x) => x.name === node);
  if (!n) throw new Error(`no node ${node}`);
  edit(n);
  return onnx.ModelProto.encode(m).finish();
}

/** Sets (or replaces) attribute `name` of node `node`. */
function setAttr(bytes: Uint8Array, node: string, a: onnx.IAttributeProto): Uint8Array {
  return editNode(bytes, node, (n) => {
    n.attribute = [...(n.attribute ?? []).filter((x) => x.name !== a.name), a];
  });
}

const int = (name: string, i: number): onnx.IAttributeProto => ({ name, type: T.INT, i });

/** x [1, 4] → MatMul W [4, 4] → y, with W given by `w`. */
function withWeight(w: onnx.ITensorProto): Uint8Array {
  const g = new GraphBuilder();
  g.input('x', [1, 4]);
  g.inits.push(w);
  g.one('MatMul', ['x', w.name!], {}, { out: 'y', name: 'proj' });
  g.output('y', [1, 4]);
  return modelBytes(g.graph());
}

function floats(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => i / 10);
}

/** Every invalid class of issue 7, built fresh. */
export function invalidModels(): InvalidModel[] {
  const list: InvalidModel[] = [];
  // Graph order.
  {
    const g = new GraphBuilder();
    g.input('x', [2]);
    g.one('Add', ['x', 'b_out'], {}, { out: 'a_out', name: 'A' });
    g.one('Relu', ['a_out'], {}, { out: 'b_out', name: 'B' });
    g.output('b_out', [2]);
    list.push({ name: 'cycle', bytes: modelBytes(g.graph()), reason: /the graph has a cycle: 'A' → 'B' → 'A'.*, at node 'A' \(Add\)$/ });
  }
  {
    const g = new GraphBuilder();
    g.input('x', [2]);
    g.one('Add', ['x', 'y'], {}, { out: 'y', name: 'self' });
    g.output('y', [2]);
    list.push({ name: 'reads-own-output', bytes: modelBytes(g.graph()), reason: /the node reads its own output 'y', at node 'self' \(Add\)$/ });
  }
  {
    const g = new GraphBuilder();
    g.input('x', [2]);
    g.one('Relu', ['t'], {}, { out: 'y', name: 'late_reader' });
    g.one('Neg', ['x'], {}, { out: 't', name: 'producer' });
    g.output('y', [2]);
    list.push({
      name: 'unsorted',
      bytes: modelBytes(g.graph()),
      reason: /not topologically sorted: 't' is read before node 'producer' produces it, at node 'late_reader' \(Relu\)$/,
    });
  }
  {
    const g = new GraphBuilder();
    g.input('x', [2]);
    g.one('Relu', ['x'], {}, { out: 'y', name: 'first' });
    g.one('Neg', ['x'], {}, { out: 'y', name: 'second' });
    g.output('y', [2]);
    list.push({
      name: 'assigned-twice',
      bytes: modelBytes(g.graph()),
      reason: /tensor 'y' is produced twice \(also by node 'first'\).*, at node 'second' \(Neg\)$/,
    });
  }
  // Tensor data and dims.
  {
    const t = floatTensor('W', [4, 4], floats(15));
    list.push({
      name: 'raw-data-short',
      bytes: withWeight(t),
      reason: /raw_data has 60 bytes, but dims \[4, 4\] of FLOAT need 64 \(too short\), at initializer 'W'$/,
    });
  }
  {
    const t = floatTensor('W', [4, 4], floats(17));
    list.push({
      name: 'raw-data-long',
      bytes: withWeight(t),
      reason: /raw_data has 68 bytes, but dims \[4, 4\] of FLOAT need 64 \(too long\), at initializer 'W'$/,
    });
  }
  {
    const t: onnx.ITensorProto = { name: 'W', dims: [4, 4], dataType: 1, floatData: Array.from(floats(12)) };
    list.push({
      name: 'float-data-short',
      bytes: withWeight(t),
      reason: /float_data holds 12 values, but dims \[4, 4\] of FLOAT need 16, at initializer 'W'$/,
    });
  }
  {
    const t: onnx.ITensorProto = { name: 'W', dims: [-4, 4], dataType: 1, rawData: new Uint8Array(64) };
    list.push({ name: 'negative-dims', bytes: withWeight(t), reason: /dims \[-4, 4\] hold the negative dimension -4, at initializer 'W'$/ });
  }
  {
    const t: onnx.ITensorProto = { name: 'W', dims: [2 ** 40, 2 ** 40], dataType: 1, rawData: new Uint8Array(64) };
    list.push({
      name: 'dims-overflow',
      bytes: withWeight(t),
      reason: /dims \[1099511627776, 1099511627776\] multiply to 1208925819614629174706176 elements, which overflows int64, at initializer 'W'$/,
    });
  }
  {
    const t: onnx.ITensorProto = { name: 'W', dims: [2 ** 21, 2 ** 21], dataType: 1, rawData: new Uint8Array(64) };
    list.push({
      name: 'dims-over-cap',
      bytes: withWeight(t),
      reason: /declare 4398046511104 elements, more than the 1099511627776 a tensor may have, at initializer 'W'$/,
    });
  }
  {
    const t: onnx.ITensorProto = {
      name: 'W',
      dims: [4, 4],
      dataType: 1,
      dataLocation: 1,
      externalData: [
        { key: 'location', value: 'w.bin' },
        { key: 'length', value: '60' },
      ],
    };
    list.push({
      name: 'external-length',
      bytes: withWeight(t),
      reason: /external data length 60 bytes, but dims \[4, 4\] of FLOAT need 64, at initializer 'W'$/,
    });
  }
  {
    const g = new GraphBuilder();
    g.input('x', [4]);
    const c = g.one('Constant', [], { value: { t: { dims: [4], dataType: 1, rawData: new Uint8Array(12) } } }, { name: 'const' });
    g.one('Add', ['x', c], {}, { out: 'y' });
    g.output('y', [4]);
    list.push({
      name: 'constant-short',
      bytes: modelBytes(g.graph()),
      reason: /raw_data has 12 bytes, but dims \[4\] of FLOAT need 16 \(too short\), at node 'const' attribute 'value'$/,
    });
  }
  {
    const g = new GraphBuilder();
    g.input('x', ['batch', -3, 4]);
    g.one('Relu', ['x'], {}, { out: 'y', name: 'act' });
    g.output('y', ['batch', 3, 4]);
    list.push({
      name: 'negative-input-dim',
      bytes: modelBytes(g.graph()),
      reason: /the declared shape \[batch, -3, 4\] holds the negative dimension -3, at graph input 'x'$/,
    });
  }
  // Fused attention attributes (com.microsoft Attention: hidden size 16, weights [16, 48]).
  const at = (r: string) => new RegExp(`${r}, at node 'attn' \\(com\\.microsoft::Attention\\)$`);
  list.push({
    name: 'num-heads-zero',
    bytes: setAttr(msAttention(), 'attn', int('num_heads', 0)),
    reason: at('num_heads is 0; a head count must be an integer ≥ 1'),
  });
  list.push({
    name: 'num-heads-negative',
    bytes: setAttr(msAttention(), 'attn', int('num_heads', -4)),
    reason: at('num_heads is -4; a head count must be an integer ≥ 1'),
  });
  list.push({
    name: 'num-heads-float',
    bytes: setAttr(msAttention(), 'attn', { name: 'num_heads', type: T.FLOAT, f: 2.5 }),
    reason: at('num_heads must be an integer \\(INT attribute\\), got FLOAT 2.5'),
  });
  list.push({
    name: 'num-heads-too-large',
    bytes: setAttr(msAttention(), 'attn', int('num_heads', 64)),
    reason: at('num_heads 64 is larger than the hidden size 16 \\(head size would be 0\\)'),
  });
  list.push({
    name: 'num-heads-not-dividing',
    bytes: setAttr(msAttention(), 'attn', int('num_heads', 5)),
    reason: at('num_heads 5 does not divide the hidden size 16'),
  });
  list.push({
    name: 'qkv-hidden-sizes-sum',
    bytes: setAttr(msAttention(), 'attn', { name: 'qkv_hidden_sizes', type: T.INTS, ints: [16, 16, 8] }),
    reason: at("qkv_hidden_sizes \\[16, 16, 8\\] add up to 40, but the weights 'Wqkv' have 48 columns"),
  });
  list.push({
    name: 'scale-nan',
    bytes: setAttr(msAttention(), 'attn', { name: 'scale', type: T.FLOAT, f: NaN }),
    reason: at('scale is NaN; it must be a finite number'),
  });
  // ai.onnx Attention (opset 23) on 3-D inputs, hidden size 32.
  list.push({
    name: 'q-num-heads-zero',
    bytes: setAttr(onnxAttention3d(), 'attn', int('q_num_heads', 0)),
    reason: /q_num_heads is 0; a head count must be an integer ≥ 1, at node 'attn' \(Attention\)$/,
  });
  list.push({
    name: 'gqa-ratio',
    bytes: setAttr(setAttr(onnxAttention3d({ H: 4, kvH: 2 }), 'attn', int('q_num_heads', 4)), 'attn', int('kv_num_heads', 3)),
    reason: /q_num_heads 4 is not a multiple of kv_num_heads 3 \(the grouped-query ratio must be an integer\), at node 'attn' \(Attention\)$/,
  });
  // com.microsoft MultiHeadAttention and GroupQueryAttention.
  list.push({
    name: 'mha-not-dividing',
    bytes: setAttr(msMha(), 'mha', int('num_heads', 3)),
    reason: /num_heads 3 does not divide the query's hidden size 32, at node 'mha' \(com\.microsoft::MultiHeadAttention\)$/,
  });
  list.push({
    name: 'gqa-kv-zero',
    bytes: setAttr(msGqa(), 'gqa', int('kv_num_heads', 0)),
    reason: /kv_num_heads is 0; a head count must be an integer ≥ 1, at node 'gqa' \(com\.microsoft::GroupQueryAttention\)$/,
  });
  // Split sizes.
  {
    const g = new GraphBuilder();
    g.input('x', [2, 32]);
    g.node('Split', ['x', g.ints('sizes', [10, 10, 10])], { axis: 1 }, { outs: ['a', 'b', 'c'], name: 'split' });
    g.one('Concat', ['a', 'b', 'c'], { axis: 1 }, { out: 'y' });
    g.output('y', [2, 30]);
    list.push({
      name: 'split-sum',
      bytes: modelBytes(g.graph()),
      reason: /split sizes \[10, 10, 10\] add up to 30, but axis 1 of 'x' has 32 entries, at node 'split' \(Split\)$/,
    });
  }
  return list;
}
