/**
 * JSON Schema (draft-07) of the analysis config file (YAML, or JSON by extension).
 *
 * One definition serves three readers:
 * - `config/load.ts` validates every file with it (through Ajv) before the cross-field checks;
 * - `schemas/attention-paths.schema.json` is this object written out by `scripts/genSchema.mjs`
 *   (a test checks that the committed file equals `configSchemaJson()`), for editors;
 * - the language server shows each `description` as hover text.
 *
 * Besides standard draft-07 keywords the schema uses `patternErrorMessage` (a VS Code JSON/YAML
 * extension keyword; Ajv is told about it in `load.ts`).
 * Symbols in descriptions follow docs/theory.md: widths N_1..N_L, N_a; variances σ0²..σL², σa²; heads H_l;
 * Bayesian temperature T_B.
 */
import { MAX_WIDTH, MIN_WIDTH } from '../../../shared/width';

/** A JSON Schema node, as far as this project uses it (plain JSON, no functions). */
export type JsonSchema = { [keyword: string]: unknown };

/** Built-in tasks (docs/theory.md §i). */
export const BUILTIN_TASKS = ['markov', 'markov-2paths', 'mnist-oneshot'] as const;
/** Attention parametrizations (docs/theory.md §a). */
export const ATTENTION_KINDS = ['qk', 'w', 'random-qk', 'model'] as const;
/** Readouts of the last layer (docs/theory.md §a). */
export const READOUTS = ['first', 'last', 'mean'] as const;

const positiveInt = (description: string, defaultValue?: number): JsonSchema =>
  defaultValue === undefined ? { type: 'integer', minimum: 1, description } : { type: 'integer', minimum: 1, default: defaultValue, description };

// Built-in tasks are class-balanced, so their sizes are even.
const evenCount = (description: string): JsonSchema => ({ type: 'integer', minimum: 2, multipleOf: 2, description });

/** The config schema as a plain JSON object (draft-07). Do not mutate; `configSchemaJson()` serializes it. */
export const configSchema: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Attention Paths analysis config',
  description:
    'Settings of one attention-path analysis (Tiberi et al. 2024): the task or data, the fixed attention, ' +
    'the network sizes, the prior variances and the Bayesian temperature T_B. Give exactly one of `task` or `data`.',
  type: 'object',
  additionalProperties: false,
  oneOf: [{ required: ['task'] }, { required: ['data'] }],
  properties: {
    task: {
      type: 'string',
      enum: [...BUILTIN_TASKS],
      description:
        'A built-in task (docs/theory.md §i): `markov` = hidden Markov chain classification with 4 paths ' +
        '(heads [2, 2], W-form attention, last-token readout); `markov-2paths` = the 2-path variant (heads [2, 1], ' +
        'out-of-plane noise 5); `mnist-oneshot` = one-shot in-context image classification built from MNIST digits ' +
        '(support images + a query, Q/K attention, mean readout). Exclusive with `data`.',
    },
    data: {
      type: 'string',
      minLength: 1,
      pattern: '(\\.(npz|json)|/)$',
      patternErrorMessage: 'must be a path to a .npz or .json file, or a folder of .npy files ending in /',
      description:
        'Path of a `.npz` or `.json` data file (or a folder ending in `/` holding X_train.npy, …) with X_train [P, N0, T], y_train [P] (labels ±1), X_test, y_test, ' +
        'relative to this config file. Exclusive with `task`.',
    },
    P: evenCount('Number of training examples P of a built-in task, even: half per class (docs/theory.md §i; Markov default 100, one-shot 600).'),
    P_test: evenCount('Number of test examples of a built-in task, even: half per class; ε_g and the accuracies are averaged over them (docs/theory.md §e).'),
    attention: {
      type: 'object',
      additionalProperties: false,
      required: ['kind'],
      description:
        'The fixed attention A^l_h(x) of every layer (docs/theory.md §a: computed from the raw input only, never learned). ' +
        'Built-in tasks bring their own; give this to override it or for `data` files.',
      properties: {
        kind: {
          type: 'string',
          enum: [...ATTENTION_KINDS],
          description:
            '`qk`: score[s,t] = (K x_s)·(Q x_t)/√G from `params`; `w`: score[s,t] = x_sᵀ W x_t from `params`; ' +
            '`random-qk`: Q, K with iid N(0, 1/N0) entries drawn from `seed`; `model`: attention captured from an ONNX model.',
        },
        params: {
          type: 'string',
          minLength: 1,
          pattern: '(\\.(npz|json)|/)$',
          patternErrorMessage: 'must be a path to a .npz or .json file, or a folder of .npy files ending in /',
          description:
            'Path (relative to this config) of a `.npz`/`.json` file holding Q_1, K_1, Q_2, K_2, … (kind `qk`, each [H_l, G, N0]) ' +
            'or W_1, W_2, … (kind `w`, each [H_l, N0, N0]); layer numbers start at 1. Required for `qk` and `w`.',
        },
        model: {
          type: 'string',
          minLength: 1,
          pattern: '\\.onnx$',
          patternErrorMessage: 'must be a path to an .onnx file',
          description:
            'Path (relative to this config) of an ONNX model whose attention is captured. Required for kind `model`. ' +
            "The model runs on `data`, a .npz keyed by the model's input names (plus labels `y`), or by `<input>_train` / " +
            '`<input>_test` (plus `y_train`, `y_test`). The tokens entering the first attention block are the input x; ' +
            "each block's per-head attention is that layer's fixed attention.",
        },
        split: {
          type: 'number',
          exclusiveMinimum: 0,
          exclusiveMaximum: 1,
          default: 0.5,
          description:
            'Kind `model`: fraction of the examples used for training when the data file holds one set (keys named like the ' +
            'model inputs, labels `y`); the first round(split·P) examples in file order train, the rest test. Default 0.5.',
        },
        batchSize: positiveInt('Kind `model`: examples per ONNX Runtime run when capturing attention. Default 64.', 64),
        layers: {
          type: 'array',
          minItems: 2,
          maxItems: 2,
          items: { type: 'integer', minimum: 0 },
          description:
            'Kind `model`: analyse one window of consecutive attention blocks [first, last] (0-based, both included, in graph ' +
            "order; e.g. [3, 4] = the 4th and 5th blocks). The theory's input x is then the activation feeding the first " +
            "block's value projection (captured in ONNX Runtime), the blocks' captured attention is the fixed attention and " +
            "the readout is the model's. Exclusive with `windows` (docs/windows.md).",
        },
        windows: {
          description:
            'Kind `model`: analyse the model in consecutive windows of this many attention blocks (blocks 0..n−1, n..2n−1, …; ' +
            'the last window may be shorter), each solved on its own with its own x (the activation feeding its first block). ' +
            'Every head of the model is reported with its window. `auto`: the fewest windows, of near-equal size, whose ' +
            'paths (H_a···H_b) each stay within the path limit (CLI --max-paths, editor attentionPaths.maxPaths; 256). ' +
            'Exclusive with `layers` (docs/windows.md).',
          anyOf: [
            { type: 'integer', minimum: 1 },
            { type: 'string', enum: ['auto'] },
          ],
        },
        G: positiveInt('Query/key dimension G of kind `random-qk` (docs/theory.md §a).'),
      },
      allOf: [
        {
          if: { properties: { kind: { enum: ['qk', 'w'] } }, required: ['kind'] },
          then: { required: ['params'] },
        },
        {
          if: { properties: { kind: { const: 'model' } }, required: ['kind'] },
          then: { required: ['model'] },
        },
      ],
    },
    heads: {
      description:
        'Heads per layer [H_1, …, H_L] (L = number of attention layers), or one number H for every layer. ' +
        'There are H_tot = H_1···H_L attention paths (docs/theory.md §b). Defaults to what the attention gives.',
      anyOf: [
        { type: 'integer', minimum: 1 },
        { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1 } },
      ],
    },
    widths: {
      description:
        'Widths [N_1, …, N_L, N_a] of the value layers and the readout (L + 1 entries), or one N for all ' +
        '(docs/theory.md §a). The theory holds for N, P → ∞ at fixed α = P/N; N → ∞ is the GP limit. Default 10.',
      default: 10,
      // The width rule of shared/width.ts (also the CLI's --widths and the sweep request's).
      anyOf: [
        { type: 'number', minimum: MIN_WIDTH, maximum: MAX_WIDTH },
        { type: 'array', minItems: 2, items: { type: 'number', minimum: MIN_WIDTH, maximum: MAX_WIDTH } },
      ],
    },
    variances: {
      description:
        'Prior variances [σ0², σ1², …, σL², σa²] of the value weights V⁰, V^1..V^L and the readout a (L + 2 entries), ' +
        'or one number for all (docs/theory.md §a; variances, not standard deviations). Default 1.',
      default: 1,
      anyOf: [
        { type: 'number', exclusiveMinimum: 0 },
        { type: 'array', minItems: 3, items: { type: 'number', exclusiveMinimum: 0 } },
      ],
    },
    temperature: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 0.01,
      description:
        'Bayesian temperature T_B: the variance of the Gaussian likelihood, i.e. the weight of the MSE loss in the ' +
        'posterior (docs/theory.md §c). Enters only the train×train matrix K + T_B I. Default 0.01.',
    },
    readout: {
      type: 'string',
      enum: [...READOUTS],
      description:
        'Which query token(s) the last layer reads out (docs/theory.md §a): `first` = token 0, `last` = token T−1, ' +
        "`mean` = average pooling. Defaults to the task's own (Markov: last, one-shot: mean), else `last`.",
    },
    solver: {
      type: 'object',
      additionalProperties: false,
      description: 'Settings of the saddle-point solver that minimizes the action S(U) (docs/theory.md §d).',
      properties: {
        tolerance: {
          type: 'number',
          exclusiveMinimum: 0,
          default: 1e-9,
          description: 'Stop when max |∂(S/max N)/∂U_l| < tolerance, the normalized action gradient (docs/theory.md §d). Default 1e-9.',
        },
        maxIterations: positiveInt('Iteration cap of the quasi-Newton phase of the solver. Default 500.', 500),
        space: {
          type: 'string',
          enum: ['auto', 'sample', 'feature'],
          default: 'auto',
          description:
            'Where the energy ln det(K_U + T_B I) + yᵀ(K_U + T_B I)⁻¹y, the predictor and the kernel PCs are computed (docs/theory.md §d–e): ' +
            '`sample` with P × P matrices, `feature` with D × D matrices (D = N0·H_tot; Woodbury identity, for P ≫ D), ' +
            '`auto` the cheaper of the two that fits in memory. The results agree to rounding. Default auto.',
        },
        method: {
          type: 'string',
          enum: ['auto', 'lbfgs', 'newton-cg'],
          default: 'auto',
          description:
            'How the action is minimized (docs/theory.md §d and §n): `lbfgs` = L-BFGS on Cholesky factors with a dense Newton polish, ' +
            '`newton-cg` = trust-region Newton–CG with exact Hessian–vector products (second order at any number of attention paths), ' +
            '`auto` = Newton–CG when the dense Hessian is not cheap (over 400 order-parameter entries, or N0·H_tot > 4096). Default auto.',
        },
      },
    },
    seed: {
      type: 'integer',
      default: 0,
      description: 'Seed of every random draw of the run (task data, random heads). Default 0.',
    },
  },
};
/**
 * The schema as the text of `schemas/attention-paths.schema.json`: 2-space JSON with a final newline.
 * `scripts/genSchema.mjs` writes exactly this; `server/test/config/schema.test.ts` checks the file.
 */
export function configSchemaJson(): string {
  return JSON.stringify(configSchema, null, 2) + '\n';
}
