/** `attention-paths inspect MODEL.onnx`: the model's attention blocks as the detector finds them. */
import { resolve } from 'node:path';
import { formatInspect, inspectModel } from '../../onnx/detect/inspect';
import { writeFileSafely } from '../../io/atomic';
import { UsageError, type Command } from '../command';
import { JSON_OPTION, planOutputs } from '../options';

export const inspect: Command = {
  name: 'inspect',
  synopsis: 'MODEL.onnx [--json [FILE]] [--heads N] [--force]',
  summary:
    "List the model's attention blocks: form, query and key/value heads, head sizes, the tensors\nholding the Q/K/V/output weights. --heads gives the head count where the shapes cannot tell it.",
  options: {
    json: { ...JSON_OPTION, help: 'write the summary as JSON to FILE (a bare --json, or --json -, prints it on stdout)' },
    heads: { type: 'string', value: 'N', help: 'query heads per block where the shapes do not tell them (1 to 65536)' },
    force: { type: 'boolean', help: 'replace an existing FILE' },
    quiet: { type: 'boolean', help: 'no progress on stderr (inspect prints none; accepted as by the other commands)' },
  },
  async run({ values, positionals: rest }, io) {
    const o = values as { json?: string; heads?: string; force: boolean };
    if (rest.length !== 1) throw new UsageError(`inspect takes one MODEL.onnx file, got ${rest.length}${rest.length ? `: ${rest.join(' ')}` : ''}`);
    let heads: number | undefined;
    if (o.heads !== undefined) {
      heads = Number(o.heads);
      if (!Number.isInteger(heads) || heads < 1 || heads > 65536)
        throw new UsageError(`--heads: "${o.heads}" is not a head count (an integer from 1 to 65536)`);
    }
    planOutputs(o, [], [{ label: `the model ${rest[0]}`, path: rest[0] }]);
    const summary = inspectModel(rest[0], heads ? { heads } : {});
    if (o.json && o.json !== '-') {
      writeFileSafely(resolve(o.json), JSON.stringify(summary, null, 2), o.force);
      io.stdout(`${formatInspect(summary)}\nSummary written to ${o.json}\n`);
    } else io.stdout((o.json === '-' ? JSON.stringify(summary, null, 2) : formatInspect(summary)) + '\n');
    return 0;
  },
};
