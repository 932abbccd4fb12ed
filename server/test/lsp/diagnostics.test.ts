/**
 * The language server over stdio (dist/server.js), without VS Code: config errors become diagnostics
 * with exact ranges, before and after a file is opened, and nothing is analysed while a config has errors
 * or the workspace is not trusted.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CodeAction, CodeLens, Diagnostic } from 'vscode-languageserver';
import { serverOnFixture } from './fixture';
import { AnalyzeRequest } from '../../../shared/protocol';

const range = (d: Diagnostic) => [d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character];

describe('config diagnostics', () => {
  const f = serverOnFixture();

  test('a broken config in the workspace gets its diagnostics without being opened', async () => {
    const uri = pathToFileURL(path.join(f.dir, 'broken.attention.yaml')).href;
    const diags = await f.s.waitFor('diagnostics of broken.attention.yaml', () => f.s.diagnostics.get(uri));
    assert.deepEqual(
      diags.map((d) => [d.severity, d.source, ...range(d), d.message]),
      [
        // line 3 `temperature: -0.5`: the value -0.5 (0-based line 2, characters 13–17)
        [1, 'attention-paths', 2, 13, 2, 17, 'temperature (T_B) must be a number > 0 (got -0.5)'],
        // line 4 `widht: 10`: the key
        [1, 'attention-paths', 3, 0, 3, 5, 'unknown key "widht"; did you mean "widths"?'],
      ],
    );
  });

  test('quick fixes: the misspelt key renamed, the temperature clamped to its default, a missing file to the one beside it', async () => {
    const uri = pathToFileURL(path.join(f.dir, 'broken.attention.yaml')).href;
    const diags = await f.s.waitFor('diagnostics of broken.attention.yaml', () => f.s.diagnostics.get(uri));
    const actions = await f.s.request<CodeAction[]>('textDocument/codeAction', {
      textDocument: { uri },
      range: { start: { line: 0, character: 0 }, end: { line: 5, character: 0 } },
      context: { diagnostics: diags },
    });
    assert.deepEqual(
      actions.map((a) => [a.title, a.kind, a.edit?.changes?.[uri].map((e) => [...range({ range: e.range } as Diagnostic), e.newText])]),
      [
        ['Change -0.5 to 0.01 (the default)', 'quickfix', [[2, 13, 2, 17, '0.01']]],
        ['Rename "widht" to "widths"', 'quickfix', [[3, 0, 3, 5, 'widths']]],
      ],
    );
    // A model config whose data file is misspelt: the file beside it, the labelled data beside the model, or a new
    // config made from the model.
    const file = path.join(f.dir, 'typo.attention.yaml');
    const text = 'data: models/dat.npz\nattention:\n  kind: model\n  model: models/model.onnx\n';
    const typo = await f.s.open(file, 'yaml', text);
    const d = await f.s.waitFor('the missing data file', () => f.s.diagnostics.get(typo)?.find((x) => /data file not found/.test(x.message)));
    const fixes = await f.s.request<CodeAction[]>('textDocument/codeAction', { textDocument: { uri: typo }, range: d.range, context: { diagnostics: [d] } });
    assert.deepEqual(
      fixes.map((a) => a.title),
      ['Change to "models/data.npz" (the file beside it)', 'Create a config from model.onnx and data.npz'],
    );
    assert.deepEqual(
      fixes[0].edit?.changes?.[typo].map((e) => e.newText),
      ['"models/data.npz"'],
    );
    assert.deepEqual(fixes[1].command?.arguments, [pathToFileURL(path.join(f.dir, 'models', 'model.onnx')).href]);
  });

  test('editing fixes and breaks the config, with the ranges following the text', async () => {
    const file = path.join(f.dir, 'broken.attention.yaml');
    const uri = await f.s.open(file);
    const fixed = 'task: markov\nP: 20\nP_test: 20\nwidths: 10\n';
    await f.s.change(uri, 2, fixed);
    await f.s.waitFor('no diagnostics', () => (f.s.diagnostics.get(uri)?.length === 0 ? true : undefined));
    const broken = 'task: markov\nP: 20\nP_test: 20\nheads: [2, 2]\nwidths: [10, 10]\n';
    await f.s.change(uri, 3, broken);
    const d = await f.s.waitFor('the widths error', () => f.s.diagnostics.get(uri)?.find((x) => /widths/.test(x.message)));
    assert.deepEqual(range(d), [4, 8, 4, 16]);
    assert.match(d.message, /widths has 2 entries/);
    const lenses = await f.s.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri } });
    assert.deepEqual(
      lenses.map((l) => l.command?.title),
      ['Attention Paths: fix 1 config error to analyse'],
    );
  });

  test('a config with errors is not analysed: the analyze request names the first error', async () => {
    const uri = pathToFileURL(path.join(f.dir, 'broken.attention.yaml')).href;
    await assert.rejects(f.s.request(AnalyzeRequest, { uri }), (e: Error) => /has 1 error\(s\); fix them first \(5:9: widths has 2 entries/.test(e.message));
  });
});

describe('restricted mode', () => {
  const f = serverOnFixture({ trusted: false });

  test('nothing runs in an untrusted workspace, and the code lens says why', async () => {
    const file = path.join(f.dir, 'markov.attention.yaml');
    const uri = await f.s.open(file, 'yaml', readFileSync(file, 'utf8'));
    await f.s.waitForState(uri, ['restricted']);
    const lenses = await f.s.request<CodeLens[]>('textDocument/codeLens', { textDocument: { uri } });
    assert.deepEqual(
      lenses.map((l) => l.command?.title),
      ['Attention Paths: no analysis in Restricted Mode (trust this workspace to run it)'],
    );
    await assert.rejects(f.s.request(AnalyzeRequest, { uri }), /Restricted Mode/);
    assert.equal(f.s.results.filter((r) => r.uri === uri && (r.state === 'running' || r.state === 'done')).length, 0);
  });
});
