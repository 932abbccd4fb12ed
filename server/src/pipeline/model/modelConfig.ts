/**
 * A config for an ONNX model that has none yet (the `.onnx` view's "Create … and analyze" button): when labelled
 * data sits beside the model (`<model>.npz`, else `data.npz`), a config file next to it that analyses the model's
 * captured attention on that data (`attention: { kind: model }`, README "Analyzing a real model"). Existing files
 * are never replaced: the config gets the first free name of `<model>.attention.yaml`, `<model>-2.attention.yaml`, …
 * and is created exclusively (it fails rather than overwrite a file that appeared in between).
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';

/** The data file an analysis of `model` would use: `<stem>.npz` beside it, else `data.npz` beside it; undefined when neither is a file. */
export function dataBesideModel(model: string): string | undefined {
  const dir = dirname(model);
  const stem = basename(model, extname(model));
  for (const name of [`${stem}.npz`, 'data.npz']) {
    const p = join(dir, name);
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  return undefined;
}

/** The first config path beside `model` that does not exist: `<stem>.attention.yaml`, then `<stem>-2.attention.yaml`, … */
export function freeConfigPath(model: string): string {
  const dir = dirname(model);
  const stem = basename(model, extname(model));
  for (let i = 1; ; i++) {
    const p = join(dir, i === 1 ? `${stem}.attention.yaml` : `${stem}-${i}.attention.yaml`);
    if (!existsSync(p)) return p;
  }
}

/** The YAML of the config (paths relative to the config, which sits beside the model). */
export function modelConfigText(model: string, data: string): string {
  return [
    `# Created by Attention Paths for ${basename(model)}: the attention-path theory applied to the model's attention,`,
    `# captured by running the model on ${basename(data)} (its inputs keyed by input name, labels y = ±1). Keys`,
    '# <input>_train / <input>_test (and y_train / y_test) give the split; without them the first half of the examples',
    '# trains the theory and the rest tests it (attention.split changes that).',
    `data: ${JSON.stringify(basename(data))}`,
    'attention:',
    '  kind: model',
    `  model: ${JSON.stringify(basename(model))}`,
    '',
  ].join('\n');
}

/**
 * Writes a new config for `model` beside it (see module doc).
 * @param model absolute path of the `.onnx` file
 * @returns the config's path and the data file it names
 * @throws Error when no data file sits beside the model, or the folder is not writable
 */
export function createModelConfig(model: string): { config: string; data: string; text: string } {
  const data = dataBesideModel(model);
  if (!data) {
    const stem = basename(model, extname(model));
    throw new Error(
      `no labelled data beside ${basename(model)}: put ${stem}.npz or data.npz (the model's inputs keyed by input name, labels y) in ${dirname(model)}`,
    );
  }
  const text = modelConfigText(model, data);
  for (let attempt = 0; attempt < 20; attempt++) {
    const config = freeConfigPath(model);
    try {
      writeFileSync(config, text, { flag: 'wx' }); // exclusive: never replaces a file
      return { config, data, text };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot write ${config}: ${(e as Error).message}`, { cause: e });
    }
  }
  throw new Error(`cannot find a free config name beside ${model}`);
}
