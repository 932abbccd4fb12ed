/**
 * TensorFlow.js backend for training, in order of preference:
 *  1. `tensorflow`: `@tensorflow/tfjs-node-gpu` (libtensorflow; CUDA when a GPU and its libraries are present),
 *     when it is installed with its native binding;
 *  2. `wasm`: `@tensorflow/tfjs-backend-wasm` (XNNPACK, SIMD, single-threaded under Node), which installs from the
 *     npm registry alone and is 10–30× faster than the JavaScript CPU backend on this network's matrix products;
 *  3. `cpu`: the pure-JavaScript backend of `@tensorflow/tfjs` (always available).
 *
 * `@tensorflow/tfjs-node-gpu` is an optional dependency whose install script is denied in package.json
 * (`allowScripts`): that script downloads libtensorflow from outside the npm registry, which fails offline. The
 * package then installs without `lib/napi-v8/tfjs_binding.node`, and requiring it throws; this module catches
 * that (and a missing package) and falls back, saying why. To use the GPU on a machine that can download the
 * binding: `npm install-scripts approve @tensorflow/tfjs-node-gpu && npm rebuild @tensorflow/tfjs-node-gpu`.
 *
 * `@tensorflow/tfjs` (not `tfjs-core` alone) is imported because its Node build is the one that registers the
 * gradient functions that training needs.
 *
 * Determinism: the wasm and cpu backends are deterministic (same seed → bit-identical weights and losses on the
 * same backend; the two differ from each other by float32 rounding). libtensorflow's GPU kernels are not
 * guaranteed to be (reductions may run in any order).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

/**
 * `auto`: tfjs-node-gpu when usable, else wasm, else cpu; `gpu`: tfjs-node-gpu or an error; `wasm`: the WebAssembly
 * backend or an error; `cpu`: the JavaScript CPU backend.
 */
export type BackendPreference = 'auto' | 'gpu' | 'wasm' | 'cpu';

/** Every accepted `BackendPreference`. */
export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'gpu', 'wasm', 'cpu'];

/** The backend a training run used, as reported in train-report.json. */
export interface BackendInfo {
  /** tfjs backend name: `tensorflow` (tfjs-node-gpu), `wasm` or `cpu`. */
  name: 'tensorflow' | 'wasm' | 'cpu';
  /** What was asked for. */
  requested: BackendPreference;
  /** Human-readable description, e.g. "wasm (@tensorflow/tfjs-backend-wasm 4.22.0, XNNPACK + SIMD, float32)". */
  detail: string;
  /** True when results are reproducible bit for bit from the seed (wasm and cpu). */
  deterministic: boolean;
  /** Why faster backends were not used, one entry per backend passed over (empty when the first choice worked). */
  fallbacks: string[];
}

/** Loads `@tensorflow/tfjs-node-gpu` (which registers the `tensorflow` backend on load); throws when it cannot. */
export type NodeGpuLoader = () => unknown;

/** The real loader: a plain require, resolved from this file (the package name is not a literal, so bundlers leave it alone). */
export const loadNodeGpu: NodeGpuLoader = () => {
  const name = '@tensorflow/tfjs-node-gpu';
  return createRequire(__filename)(name);
};

/** Why `loadNodeGpu` failed, in one line: package missing, native binding missing, or anything else. */
export function describeLoadFailure(e: unknown): string {
  const err = e as { code?: string; message?: string } | null;
  const msg = String(err?.message ?? e).split('\n')[0];
  if (err?.code === 'MODULE_NOT_FOUND' && /tfjs-node-gpu/.test(msg) && !/tfjs_binding/.test(msg)) {
    return '@tensorflow/tfjs-node-gpu is not installed (optional dependency)';
  }
  if (/tfjs_binding|native addon/.test(msg) || err?.code === 'ERR_DLOPEN_FAILED') {
    const where = /at path: (\S+?)\.?\s*$/.exec(msg.trim())?.[1];
    return `@tensorflow/tfjs-node-gpu is installed without a usable native binding${where ? ` (${where})` : ''}: its install script, which downloads libtensorflow, was not run or failed`;
  }
  return `@tensorflow/tfjs-node-gpu failed to load: ${msg}`;
}

let quiet = false;
let wasmPathsSet = false;

/** Makes `name` the current backend; false when it cannot initialize. */
async function activate(name: string): Promise<boolean> {
  if (!quiet) {
    // PROD mode turns off tfjs's console warnings (the "install the node backend" banner) and debug-only checks;
    // numerics are unchanged.
    tf.enableProdMode();
    quiet = true;
  }
  try {
    if (!(await tf.setBackend(name))) return false;
    await tf.ready();
    return tf.getBackend() === name;
  } catch {
    return false;
  }
}

/**
 * Tries tfjs-node-gpu. @returns null when its backend is now current, else why not.
 */
async function tryNodeGpu(loader: NodeGpuLoader): Promise<string | null> {
  try {
    loader();
  } catch (e) {
    return describeLoadFailure(e);
  }
  // The package registers its backend on the global tfjs engine, which every copy of tfjs-core shares.
  if (!tf.findBackendFactory('tensorflow')) return '@tensorflow/tfjs-node-gpu loaded but registered no "tensorflow" backend';
  if (!(await activate('tensorflow'))) return 'the "tensorflow" backend of @tensorflow/tfjs-node-gpu failed to initialize';
  return null;
}

/** Tries the WebAssembly backend, loading its .wasm files from the installed package. @returns null or why not. */
async function tryWasm(): Promise<string | null> {
  try {
    if (!wasmPathsSet) {
      const pkg = createRequire(__filename).resolve('@tensorflow/tfjs-backend-wasm/package.json');
      setWasmPaths(join(dirname(pkg), 'dist') + '/');
      wasmPathsSet = true;
    }
  } catch (e) {
    return `@tensorflow/tfjs-backend-wasm could not be located: ${(e as Error).message.split('\n')[0]}`;
  }
  // The Emscripten runtime installs process-wide 'uncaughtException' / 'unhandledRejection' handlers that rethrow,
  // which turns any later crash into a dump of its minified source; take back the handlers it added.
  const emitter = process as NodeJS.EventEmitter;
  const events = ['uncaughtException', 'unhandledRejection'];
  const before = events.map((ev) => emitter.listeners(ev));
  const ok = await activate('wasm');
  events.forEach((ev, i) => {
    for (const l of emitter.listeners(ev)) if (!before[i].includes(l)) emitter.removeListener(ev, l as (...a: unknown[]) => void);
  });
  if (!ok) return 'the WebAssembly backend (@tensorflow/tfjs-backend-wasm) failed to initialize';
  return null;
}

/**
 * Chooses the tfjs backend for training and makes it current (see the module comment for the order).
 * @param prefer `auto` (default), `gpu`, `wasm` or `cpu`.
 * @param loader how to load tfjs-node-gpu (injectable for tests).
 * @returns what was chosen and, for each faster backend passed over, why.
 * @throws Error when `gpu` or `wasm` is requested and cannot be used (the message says why and what to do), or the
 *   preference is unknown.
 */
export async function selectBackend(prefer: BackendPreference = 'auto', loader: NodeGpuLoader = loadNodeGpu): Promise<BackendInfo> {
  if (!BACKEND_PREFERENCES.includes(prefer)) throw new Error(`backend must be one of ${BACKEND_PREFERENCES.join(', ')} (got ${String(prefer)})`);
  const fallbacks: string[] = [];
  if (prefer === 'auto' || prefer === 'gpu') {
    const why = await tryNodeGpu(loader);
    if (why === null) {
      return {
        name: 'tensorflow',
        requested: prefer,
        detail: `tensorflow (@tensorflow/tfjs-node-gpu ${tf.version_core}, libtensorflow; CUDA when a GPU and its libraries are present), float32`,
        deterministic: false,
        fallbacks,
      };
    }
    if (prefer === 'gpu') {
      throw new Error(
        `backend gpu: ${why}. Install it where its binary can be downloaded ` +
          '(npm install-scripts approve @tensorflow/tfjs-node-gpu && npm rebuild @tensorflow/tfjs-node-gpu), or use --backend auto',
      );
    }
    fallbacks.push(why);
  }
  if (prefer === 'auto' || prefer === 'wasm') {
    const why = await tryWasm();
    if (why === null) {
      return {
        name: 'wasm',
        requested: prefer,
        detail: `wasm (@tensorflow/tfjs-backend-wasm ${tf.version_core}, XNNPACK, SIMD ${(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) ? 'on' : 'off'}, single thread, float32)`,
        deterministic: true,
        fallbacks,
      };
    }
    if (prefer === 'wasm') throw new Error(`backend wasm: ${why}; use --backend cpu`);
    fallbacks.push(why);
  }
  if (!(await activate('cpu'))) throw new Error('the TensorFlow.js CPU backend failed to initialize');
  return {
    name: 'cpu',
    requested: prefer,
    detail: `cpu (@tensorflow/tfjs-backend-cpu ${tf.version_core}, pure JavaScript, float32)`,
    deterministic: true,
    fallbacks,
  };
}
