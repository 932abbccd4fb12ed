/** The agreement of the theory with measured head removal lives in the shared contract, shared/agreement.ts; re-exported for the language server's features. */
export * from '../../../shared/agreement';
