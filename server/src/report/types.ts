/**
 * The report types live in the shared contract, shared/report.ts (CLI, server, client and webview read the same
 * report). This re-export keeps the imports of server/src/theory and of the language server's analysis and
 * features unchanged; new code imports shared/report directly.
 */
export type * from '../../../shared/report';
