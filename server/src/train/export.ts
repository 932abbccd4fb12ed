/**
 * ONNX export of a trained network of the theory's class (model.ts), built directly as an `onnx.ModelProto` with
 * `onnx-proto`, in the unfused multi-head attention form that `onnx/detect/detect.ts` recognizes (BERT-style head split and
 * merge), float32, opset 17, IR version 8.
 *
 * Graph (B = batch, symbolic; tokens as rows after the first Transpose):
 *   x [B, N0, T] ─Transpose(0,2,1)→ tokens [B, T, N0]
 *   z0 = tokens · embed.weight                                   embed.weight = V⁰ᵀ/√N0, [N0, N_1]
 *   layer l = 1..L (prefix `layer{l}.`):
 *     q = tokens · query.weight [N0, H·G] → Reshape [0,0,H,G] → Transpose(0,2,1,3)      [B, H, T, G]
 *     k = tokens · key.weight   [N0, H·G] → Reshape [0,0,H,G] → Transpose(0,2,3,1)      [B, H, G, T]
 *     probs = Softmax(MatMul(q, k) · 1/√G, axis −1)                                     [B, H, T_q, T_k]
 *     v = z_{l−1} · value.weight [N_l, H·N_{l+1}] → Reshape [0,0,H,N_{l+1}] → Transpose(0,2,1,3)
 *     ctx = probs · v → Transpose(0,2,1,3) → Reshape [0,0,H·N_{l+1}]
 *     z_l = ctx · output.weight                                  output.weight = [I; …; I]/√(H N_l), [H·N_{l+1}, N_{l+1}]
 *   readout: Gather(z_L, 0 or T−1, axis 1) (first/last) or ReduceMean over axis 1 (mean)   [B, N_a]
 *   f = readout · readout.weight                                  readout.weight = a/√N_a, [N_a, 1]
 *   output f [B, 1]
 *
 * Every layer's Q and K read the raw input tokens (attention from the input, docs/theory.md §a); only the values
 * flow through the layers. The head sum of the theory is the head merge followed by `output.weight`, a stack of
 * identity blocks scaled by 1/√(H_l N_l): an output projection in form, so pruning tools that slice heads out of
 * Q/K/V and the output projection work unchanged, and removing head h is slicing its rows out of that stack.
 * The probabilities are stored the PyTorch way, probs[b,h,t,s] = A^l_h[s,t] (query t, key s; each row sums to 1).
 *
 * Model metadata `attention_paths.network` (JSON) records the class, sizes, readout and input layout, so tools can
 * tell the model belongs to the theory's class (attention from the input, linear value path).
 */
import { onnx } from 'onnx-proto';
import { checkParams, checkShape, headsToColumns, type NetworkParams } from './model';
import { VERSION } from '../version';

/** Names of the graph's input and output. */
export const ONNX_INPUT = 'x';
export const ONNX_OUTPUT = 'f';
/** Opset and IR version of exported models. */
export const EXPORT_OPSET = 17;
export const EXPORT_IR_VERSION = 8;

/** Initializer names of layer l (1-based), as they appear in the exported graph. */
export function layerWeightNames(l: number): { query: string; key: string; value: string; output: string } {
  return { query: `layer${l}.query.weight`, key: `layer${l}.key.weight`, value: `layer${l}.value.weight`, output: `layer${l}.output.weight` };
}

function floatTensor(name: string, dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  const f = Float32Array.from(values);
  for (let i = 0; i < f.length; i++)
    if (!Number.isFinite(f[i])) throw new Error(`ONNX export: ${name} holds ${f[i]} at flat index ${i} after rounding to float32`);
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) };
}

function int64Tensor(name: string, dims: number[], values: number[]): onnx.ITensorProto {
  return { name, dims, dataType: onnx.TensorProto.DataType.INT64, int64Data: values };
}

function valueInfo(name: string, shape: (number | string)[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } },
    },
  };
}

/**
 * The ONNX model of a network (graph in the module comment).
 * @returns the serialized ModelProto.
 * @throws Error when the parameters do not fit their shape or hold values that are not finite in float32.
 */
export function exportOnnx(p: NetworkParams, opts: { producerVersion?: string; docString?: string } = {}): Uint8Array {
  checkShape(p.shape);
  checkParams(p);
  const { N0, T, G, heads, widths, readout } = p.shape;
  const L = heads.length;
  const nodes: onnx.INodeProto[] = [];
  const inits: onnx.ITensorProto[] = [];
  const node = (op: string, name: string, inputs: string[], attrs: onnx.IAttributeProto[] = []): string => {
    const out = `${name}_out`;
    nodes.push({ name, opType: op, domain: '', input: inputs, output: [out], attribute: attrs });
    return out;
  };
  const ints = (name: string, v: number[]): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
  const int = (name: string, v: number): onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });

  const tokens = node('Transpose', 'tokens', [ONNX_INPUT], [ints('perm', [0, 2, 1])]);
  // embed.weight = V⁰ᵀ/√N0, [N0, N_1]
  const N1 = widths[0];
  const embed = new Float64Array(N0 * N1);
  for (let i = 0; i < N1; i++) for (let k = 0; k < N0; k++) embed[k * N1 + i] = p.V0[i * N0 + k] / Math.sqrt(N0);
  inits.push(floatTensor('embed.weight', [N0, N1], embed));
  let z = node('MatMul', 'embed', [tokens, 'embed.weight']);

  for (let l = 1; l <= L; l++) {
    const H = heads[l - 1];
    const nIn = widths[l - 1];
    const nOut = widths[l];
    const w = layerWeightNames(l);
    const pre = `layer${l}`;
    inits.push(floatTensor(w.query, [N0, H * G], headsToColumns(p.Q[l - 1], H, G, N0)));
    inits.push(floatTensor(w.key, [N0, H * G], headsToColumns(p.K[l - 1], H, G, N0)));
    inits.push(floatTensor(w.value, [nIn, H * nOut], headsToColumns(p.V[l - 1], H, nOut, nIn)));
    const out = new Float64Array(H * nOut * nOut);
    const c = 1 / Math.sqrt(H * nIn);
    for (let h = 0; h < H; h++) for (let o = 0; o < nOut; o++) out[(h * nOut + o) * nOut + o] = c;
    inits.push(floatTensor(w.output, [H * nOut, nOut], out));
    inits.push(int64Tensor(`${pre}.qk_heads_shape`, [4], [0, 0, H, G]));
    inits.push(int64Tensor(`${pre}.v_heads_shape`, [4], [0, 0, H, nOut]));
    inits.push(int64Tensor(`${pre}.merged_shape`, [3], [0, 0, H * nOut]));
    inits.push(floatTensor(`${pre}.scale`, [], [1 / Math.sqrt(G)]));

    const q = node(
      'Transpose',
      `${pre}.q_heads`,
      [node('Reshape', `${pre}.q_split`, [node('MatMul', `${pre}.query`, [tokens, w.query]), `${pre}.qk_heads_shape`])],
      [ints('perm', [0, 2, 1, 3])],
    );
    const k = node(
      'Transpose',
      `${pre}.k_heads`,
      [node('Reshape', `${pre}.k_split`, [node('MatMul', `${pre}.key`, [tokens, w.key]), `${pre}.qk_heads_shape`])],
      [ints('perm', [0, 2, 3, 1])],
    );
    const scores = node('Mul', `${pre}.scale_scores`, [node('MatMul', `${pre}.scores`, [q, k]), `${pre}.scale`]);
    const probs = node('Softmax', `${pre}.softmax`, [scores], [int('axis', -1)]);
    const v = node(
      'Transpose',
      `${pre}.v_heads`,
      [node('Reshape', `${pre}.v_split`, [node('MatMul', `${pre}.value`, [z, w.value]), `${pre}.v_heads_shape`])],
      [ints('perm', [0, 2, 1, 3])],
    );
    const ctx = node('MatMul', `${pre}.context`, [probs, v]);
    const merged = node('Reshape', `${pre}.merge`, [node('Transpose', `${pre}.context_tokens`, [ctx], [ints('perm', [0, 2, 1, 3])]), `${pre}.merged_shape`]);
    z = node('MatMul', `${pre}.output`, [merged, w.output]);
  }

  const Na = widths[L];
  let r: string;
  if (readout === 'mean') {
    r = node('ReduceMean', 'readout_tokens', [z], [ints('axes', [1]), int('keepdims', 0)]);
  } else {
    inits.push(int64Tensor('readout.token', [], [readout === 'first' ? 0 : T - 1]));
    r = node('Gather', 'readout_tokens', [z, 'readout.token'], [int('axis', 1)]);
  }
  inits.push(
    floatTensor(
      'readout.weight',
      [Na, 1],
      Array.from(p.a, (v) => v / Math.sqrt(Na)),
    ),
  );
  nodes.push({ name: 'readout', opType: 'MatMul', domain: '', input: [r, 'readout.weight'], output: [ONNX_OUTPUT], attribute: [] });

  const meta = {
    class: 'attention-paths theory network (docs/theory.md §a): attention from the input at every layer, linear value path, no residual/MLP/LayerNorm',
    N0,
    T,
    heads,
    G,
    widths,
    readout,
    input: `${ONNX_INPUT} [batch, N0, T] (column t = token t, as the project's data files)`,
    output: `${ONNX_OUTPUT} [batch, 1]`,
    normalization: 'z0 = V0 x/sqrt(N0); z_l = sum_h V_h z_{l-1} A_h / sqrt(H_l N_l); f = a.z_L/sqrt(N_a)',
  };
  const model = onnx.ModelProto.create({
    irVersion: EXPORT_IR_VERSION,
    producerName: 'attention-paths',
    producerVersion: opts.producerVersion ?? VERSION,
    docString: opts.docString ?? 'Network of the attention-path theory trained by gradient descent (attention-paths train)',
    opsetImport: [{ domain: '', version: EXPORT_OPSET }],
    metadataProps: [{ key: 'attention_paths.network', value: JSON.stringify(meta) }],
    graph: {
      name: 'attention_paths_network',
      node: nodes,
      initializer: inits,
      input: [valueInfo(ONNX_INPUT, ['batch', N0, T])],
      output: [valueInfo(ONNX_OUTPUT, ['batch', 1])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
