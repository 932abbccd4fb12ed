/**
 * The failure rule of src/util/errors.ts and src/cli/failure.ts: refusals are shown as their one-line message;
 * engine errors, Node internal errors and thrown non-Errors become `internal error: … (please report)`; stacks
 * only with ATTENTION_PATHS_DEBUG=1; config problems keep their file:line:col.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isExpectedRefusal, userMessage, internalErrorLine } from '../../src/util/errors';
import { failureLines } from '../../src/cli/failure';
import { OnnxReadError } from '../../src/onnx/format/errors';
import { ConfigError } from '../../src/config/types';
import { JobError } from '../../src/lsp/jobs/jobs';

function engineError(): unknown {
  try {
    const o = undefined as unknown as { x: { y: number } };
    return o.x.y;
  } catch (e) {
    return e;
  }
}

test('refusals are shown as their message, on one line', () => {
  const e = new OnnxReadError('m.onnx', 'invalid', "num_heads is 0; a head count must be an integer ≥ 1, at node 'attn' (com.microsoft::Attention)");
  assert.equal(isExpectedRefusal(e), true);
  assert.equal(userMessage(e), "m.onnx: invalid model: num_heads is 0; a head count must be an integer ≥ 1, at node 'attn' (com.microsoft::Attention)");
  assert.equal(userMessage(new Error('first line\n  second line')), 'first line');
  const sys = Object.assign(new Error("ENOENT: no such file or directory, open 'x.npz'"), { code: 'ENOENT', syscall: 'open' });
  assert.equal(isExpectedRefusal(sys), true);
  // A refusal that crossed a worker boundary keeps its class name in JobError.jobName.
  assert.equal(isExpectedRefusal(new JobError('x.onnx: invalid model: …', 'OnnxReadError')), true);
});

test('engine errors, Node internal errors and non-Errors are internal errors, never shown as the reason', () => {
  const te = engineError();
  assert.equal(isExpectedRefusal(te), false);
  assert.match(userMessage(te), /^internal error: TypeError: Cannot read properties of undefined \(reading 'x'\) \(please report\)$/);
  assert.equal(userMessage(new RangeError('Invalid array length')), 'internal error: RangeError: Invalid array length (please report)');
  assert.equal(isExpectedRefusal(new JobError('Invalid typed array length: -4', 'RangeError')), false);
  // A plain Error that merely wraps an engine message is not a refusal either.
  assert.equal(isExpectedRefusal(new Error('deflate failed (offset is out of bounds)')), false);
  const nodeErr = Object.assign(new TypeError('The "path" argument must be of type string'), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.equal(isExpectedRefusal(nodeErr), false);
  assert.equal(userMessage({ reason: 'x' }), 'internal error: a non-Error value was thrown ({"reason":"x"}) (please report)');
  assert.equal(userMessage({}), 'internal error: a non-Error value was thrown (please report)');
  assert.equal(userMessage(undefined), 'internal error: undefined was thrown (please report)');
  assert.equal(userMessage(42), 'internal error: the value 42 was thrown (please report)');
  for (const x of [te, {}, { toString: () => '[object Object]' }, null]) assert.doesNotMatch(userMessage(x), /\[object Object\]|\n/);
  assert.equal(internalErrorLine(new Error('')), 'internal error: Error without a message was thrown (please report)');
});

test('failureLines: prefix, config places, stacks only in debug mode', () => {
  const saved = process.env.ATTENTION_PATHS_DEBUG;
  try {
    delete process.env.ATTENTION_PATHS_DEBUG;
    assert.deepEqual(failureLines(new Error('d.npz: truncated'), 'attention-paths prune'), ['attention-paths prune: d.npz: truncated']);
    const te = engineError();
    const lines = failureLines(te, 'attention-paths');
    assert.equal(lines.length, 1);
    assert.match(lines[0], /^attention-paths: internal error: TypeError: Cannot read properties of undefined/);
    const ce = new ConfigError([
      {
        message: 'YAML syntax error: Tabs are not allowed as indentation',
        file: 'c.yaml',
        line: 2,
        column: 1,
        endLine: 2,
        endColumn: 2,
        pointer: '',
        severity: 'error',
      },
    ]);
    assert.deepEqual(failureLines(ce, 'attention-paths'), ['c.yaml:2:1: YAML syntax error: Tabs are not allowed as indentation']);
    process.env.ATTENTION_PATHS_DEBUG = '1';
    const dbg = failureLines(te, 'attention-paths');
    assert.ok(dbg.length === 2 && /^TypeError: Cannot read properties/.test(dbg[1]) && /\n\s+at /.test(dbg[1]), dbg.join('\n'));
  } finally {
    if (saved === undefined) delete process.env.ATTENTION_PATHS_DEBUG;
    else process.env.ATTENTION_PATHS_DEBUG = saved;
  }
});
