/**
 * The data module: array file formats (`.npy`, `.npz`, JSON), task and attention loading with validation,
 * and the two built-in tasks (hidden Markov chain, one-shot MNIST). Pure Node; no `vscode` import.
 */
export * from './types';
export * from './npy';
export * from './npz';
export * from './zip';
export * from './source';
export * from './load';
export * from './seeds';
export * from './markov';
export * from './mnist';
