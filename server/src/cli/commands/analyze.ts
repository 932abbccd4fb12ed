/** `attention-paths analyze [CONFIG]`: minimize the action, predict at finite width and in the GP limit, score heads. */
import { resolve } from 'node:path';
import { analyze as runAnalysis } from '../../pipeline/analyze';
import { formatAnalysis } from '../../report/summary';
import { ANALYSIS_REPORT_FILES, reportJson, writeAnalysisReportDir } from '../../report/write';
import { writeFileSafely } from '../../io/atomic';
import { costConfirmation } from '../confirm';
import type { Command } from '../command';
import { CONFIG_NOTE, configInputs, noExtra, parseMaxPaths, planOutputs, progressPrinter, readConfig, RUN_OPTIONS } from '../options';
import type { RunValues } from './sweep';

export const analyze: Command = {
  name: 'analyze',
  synopsis: '[CONFIG] [--json FILE] [--report DIR] [--max-paths N] [--force] [--quiet] [--yes]',
  summary:
    'Minimize the action, predict at finite width and in the GP limit, score heads.\nWithout CONFIG: the embedded default (hidden-Markov-chain task, N = 10, T_B = 0.01).',
  details: CONFIG_NOTE,
  options: RUN_OPTIONS,
  async run({ values, positionals: rest }, io, ctx) {
    const o = values as RunValues;
    noExtra('analyze', rest, 'CONFIG file');
    const config = readConfig(rest[0], io.stderr);
    // as typed, as the schema errors name it (config.source is absolute)
    ctx.configSource = rest[0];
    planOutputs(o, ANALYSIS_REPORT_FILES, configInputs(config));
    const progress = progressPrinter(o.quiet, io.stderr);
    // with the JSON on stdout (--json -), what was written goes to stderr: stdout stays one JSON document
    const notice = o.json === '-' ? io.stderr : io.stdout;
    try {
      const report = await runAnalysis(config, {
        onProgress: progress.onProgress,
        measureHeadRemoval: true,
        confirmCost: progress.confirming(costConfirmation(o.yes)),
        maxPaths: parseMaxPaths(o['max-paths']),
      });
      if (o.json === '-') io.stdout(reportJson(report) + '\n');
      else io.stdout(formatAnalysis(report) + '\n');
      if (o.json && o.json !== '-') {
        writeFileSafely(resolve(o.json), reportJson(report), o.force);
        notice(`Report written to ${o.json}\n`);
      }
      if (o.report) {
        const files = await writeAnalysisReportDir(resolve(o.report), report, o.force);
        notice(`Report and charts written: ${files.join(', ')}\n`);
      }
      return 0;
    } finally {
      progress.stop();
    }
  },
};
