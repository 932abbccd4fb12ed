// Builds test-fixtures/text-classifier/: a small BERT-style text classifier fed by input_ids and attention_mask
// (int64), trained with TensorFlow.js on a synthetic tokenized sentiment task with negation and exported to ONNX by
// the project's own writer (server/src/train/textClassifier.ts), with its data and a ready config.
//
//   node --import tsx scripts/makeTextFixture.ts [OUT_DIR]
//
// Deterministic on one backend (wasm or cpu). Writes model.onnx, data.npz (input_ids_train/_test,
// attention_mask_train/_test, y_train/y_test ±1, all int64) and text.attention.yaml; prints the accuracies.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { selectBackend } from '../server/src/train/backend';
import { exportTextClassifier, forwardText, initTextParams, textTask, trainTextClassifier, TEXT_VOCAB } from '../server/src/train/textClassifier';
import { writeNpz } from '../server/src/data/npz';
import { decodeModel } from '../server/src/onnx/format/read';
import { checkInputs } from '../server/src/onnx/run/feeds';
import { runAll } from '../server/src/onnx/run/verify';

const T = 12;

/** The fixture's config: the README's text-classifier example. */
const CONFIG = `# A BERT-style text classifier fed by token ids (made by scripts/makeTextFixture.ts).
data: data.npz          # input_ids_train/_test, attention_mask_train/_test [P, T] int64, y_train/y_test ±1
attention:
  kind: model
  model: model.onnx     # inputs input_ids, attention_mask [batch, T] int64; output logits [batch, 1]
readout: mean           # the model pools the mean over real tokens; the mask's padding is skipped
widths: 10
temperature: 0.01
`;
const out = resolve(process.argv[2] ?? join(__dirname, '..', 'test-fixtures', 'text-classifier'));

async function main(): Promise<void> {
  const backend = await selectBackend('auto');
  process.stderr.write(`backend: ${backend.detail}\n`);
  const fit = textTask(1000, T, 1);
  const train = textTask(160, T, 2);
  const test = textTask(160, T, 3);
  const shape = { vocab: TEXT_VOCAB.length, T, d: 16, heads: [4, 4] };
  const { params, loss } = await trainTextClassifier(initTextParams(shape, 7), fit, {
    epochs: 25,
    batchSize: 64,
    learningRate: 0.01,
    seed: 11,
    onEpoch: (e, l) => {
      if (e % 10 === 0) process.stderr.write(`epoch ${e}: loss ${l.toFixed(4)}\n`);
    },
  });
  const acc = (f: Float64Array, y: Float64Array) => f.filter((v, i) => Math.sign(v) === y[i]).length / y.length;
  const bytes = exportTextClassifier(params);
  // ONNX Runtime must reproduce the trained network.
  const model = decodeModel(bytes, 'model.onnx');
  const arrays = (s: typeof test) =>
    new Map([
      ['input_ids', { dims: [s.count, T], data: Float64Array.from(s.ids) }],
      ['attention_mask', { dims: [s.count, T], data: Float64Array.from(s.mask) }],
    ]);
  const ort = (await runAll(bytes, model, checkInputs(model, arrays(test), 'test'), 'text classifier', { outputs: ['logits'] })).get('logits')!.data;
  const tfOut = forwardText(params, test);
  let diff = 0;
  for (let i = 0; i < tfOut.length; i++) diff = Math.max(diff, Math.abs(tfOut[i] - ort[i]));
  if (!(diff < 1e-4)) throw new Error(`ONNX Runtime differs from the trained network by ${diff}`);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'model.onnx'), bytes);
  const int = (a: Int32Array, n: number) => ({ shape: [n, T], data: a });
  // Token ids, masks and the ±1 labels are all integers: one int64 archive, as a tokenizer pipeline would write it.
  writeNpz(
    join(out, 'data.npz'),
    {
      input_ids_train: int(train.ids, train.count),
      attention_mask_train: int(train.mask, train.count),
      y_train: { shape: [train.count], data: train.y },
      input_ids_test: int(test.ids, test.count),
      attention_mask_test: int(test.mask, test.count),
      y_test: { shape: [test.count], data: test.y },
    },
    { dtype: '<i8' },
  );
  writeFileSync(join(out, 'text.attention.yaml'), CONFIG);
  process.stdout.write(
    `final training loss ${loss.toFixed(4)}; accuracy: fit set ${acc(forwardText(params, fit), fit.y).toFixed(3)}, ` +
      `theory train ${acc(forwardText(params, train), train.y).toFixed(3)}, test ${acc(tfOut, test.y).toFixed(3)}; ONNX Runtime vs tfjs max |Δ| ${diff.toExponential(1)}\n`,
  );
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
