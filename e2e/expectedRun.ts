/**
 * The UI checks' expectations (e2e/ui.mjs, through the bundle `.e2e/out/expected.cjs`): the pipeline's analysis of a
 * config, in the texts of expectedTexts.ts.
 */
import { analyze } from '../server/src/pipeline/analyze';
import { loadConfig } from '../server/src/config/load';
import { textsOf, type ExpectedTexts } from './expectedTexts';

/** Analyses the config at `configPath` (as the server does) and returns its texts. */
export async function expectedTexts(configPath: string): Promise<ExpectedTexts> {
  return textsOf(await analyze(loadConfig(configPath)));
}
