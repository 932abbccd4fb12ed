/** `attention-paths sweep [CONFIG] --widths …`: finite-width versus GP accuracy and ε_g against the width N. */
import { resolve } from 'node:path';
import { sweep as runSweep } from '../../pipeline/analyze';
import { formatSweep } from '../../report/summary';
import { SWEEP_REPORT_FILES, writeSweepReportDir } from '../../report/write';
import { writeFileSafely } from '../../io/atomic';
import { costConfirmation } from '../confirm';
import type { Command } from '../command';
import { CONFIG_NOTE, configInputs, noExtra, parseMaxPaths, parseWidths, planOutputs, progressPrinter, readConfig, RUN_OPTIONS } from '../options';

/** The parsed options of analyze and sweep. */
export type RunValues = { json?: string; report?: string; 'max-paths'?: string; widths?: string; force: boolean; quiet: boolean; yes: boolean };

export const sweep: Command = {
  name: 'sweep',
  synopsis: '[CONFIG] --widths 10,30,100,300,1000 [--json FILE] [--report DIR] [--max-paths N] [--force] [--quiet] [--yes]',
  summary: 'Finite-width versus GP accuracy and generalization error against the width N.',
  details: CONFIG_NOTE,
  options: {
    widths: { type: 'string', value: 'N,...', help: 'the widths N to solve at, in this order: numbers from 1 to 1e15 (every layer and the readout)' },
    ...RUN_OPTIONS,
  },
  async run({ values, positionals: rest }, io, ctx) {
    const o = values as RunValues;
    noExtra('sweep', rest, 'CONFIG file');
    const widths = parseWidths(o.widths);
    const config = readConfig(rest[0], io.stderr);
    // as typed, as the schema errors name it (config.source is absolute)
    ctx.configSource = rest[0];
    planOutputs(o, SWEEP_REPORT_FILES, configInputs(config));
    const progress = progressPrinter(o.quiet, io.stderr);
    // with the JSON on stdout (--json -), what was written goes to stderr: stdout stays one JSON document
    const notice = o.json === '-' ? io.stderr : io.stdout;
    try {
      const report = await runSweep(config, widths, {
        onProgress: progress.onProgress,
        confirmCost: progress.confirming(costConfirmation(o.yes)),
        maxPaths: parseMaxPaths(o['max-paths']),
      });
      if (o.json === '-') io.stdout(JSON.stringify(report, null, 2) + '\n');
      else io.stdout(formatSweep(report) + '\n');
      if (o.json && o.json !== '-') {
        writeFileSafely(resolve(o.json), JSON.stringify(report, null, 2), o.force);
        notice(`Sweep written to ${o.json}\n`);
      }
      if (o.report) {
        const files = await writeSweepReportDir(resolve(o.report), report, o.force);
        notice(`Sweep table and chart written: ${files.join(', ')}\n`);
      }
      return 0;
    } finally {
      progress.stop();
    }
  },
};
