/**
 * A bad file that a config names is reported at the config entry naming it: a text file called .npz under `data`
 * and random bytes called .onnx under `attention.model` fail with a `ConfigValueError` whose pointer is the entry,
 * and the CLI's failure line starts with `config.yaml:line:col:` of that entry — not `attention-paths:`, not line 1.
 * (Found by a newcomer: both were reported without any place in the config.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load';
import { ConfigValueError } from '../../src/config/types';
import { analyze } from '../../src/pipeline/analyze';
import { failureLines } from '../../src/cli/failure';
import { placeFileError } from '../../src/pipeline/fileErrors';
import { defaultConfig } from '../../src/config/defaults';

function folderWith(files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ap-file-errors-'));
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  return dir;
}

async function failure(configPath: string): Promise<unknown> {
  try {
    await analyze(loadConfig(configPath));
  } catch (e) {
    return e;
  }
  assert.fail('the analysis should have been refused');
}

describe('errors about files a config names', () => {
  it('a text file given as data: placed at the data entry (line 2, column 7)', async () => {
    const dir = folderWith({ 'fake.npz': 'hello\n', 'a.yaml': 'widths: 10\ndata: fake.npz\n' });
    const cfg = join(dir, 'a.yaml');
    const e = await failure(cfg);
    assert.ok(e instanceof ConfigValueError, String(e));
    assert.equal(e.pointer, '/data');
    assert.match(e.message, /fake\.npz: not a ZIP\/\.npz archive/);
    assert.deepEqual(failureLines(e, 'attention-paths', cfg), [`${cfg}:2:7: ${e.message}`]);
  });

  it('random bytes given as attention.model: placed at the model entry (line 3, column 10)', async () => {
    const bytes = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 97 + 13) % 256));
    const dir = folderWith({ 'fake.npz': 'hello\n', 'bad.onnx': bytes, 'b.yaml': 'attention:\n  kind: model\n  model: bad.onnx\ndata: fake.npz\n' });
    const cfg = join(dir, 'b.yaml');
    const e = await failure(cfg);
    assert.ok(e instanceof ConfigValueError, String(e));
    assert.equal(e.pointer, '/attention/model');
    assert.match(e.message, /bad\.onnx: not an ONNX model/);
    assert.equal(failureLines(e, 'attention-paths', cfg)[0], `${cfg}:3:10: ${e.message}`);
  });

  it('bugs, aborts and errors about other files keep their own form', () => {
    const config = { ...defaultConfig(), data: '/d/x.npz' };
    const bug = new TypeError('/d/x.npz: Cannot read properties of undefined');
    assert.equal(placeFileError(config, bug), bug);
    const abort = Object.assign(new Error('/d/x.npz: aborted'), { name: 'AbortError' });
    assert.equal(placeFileError(config, abort), abort);
    const other = new Error('/d/y.npz: not a ZIP/.npz archive');
    assert.equal(placeFileError(config, other), other);
    // a path that only starts like the data's is not the data
    const longer = new Error('/d/x.npz.bak: not a ZIP/.npz archive');
    assert.equal(placeFileError(config, longer), longer);
  });
});
