/** The warning headline rule lives in the shared contract, shared/format.ts; re-exported for the language server's features. */
export { splitWarning } from '../../../shared/format';
