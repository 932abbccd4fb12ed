/**
 * `solver.method` (issue 8, many attention paths): the config chooses L-BFGS (with its dense Newton polish) or
 * Newton–CG with exact Hessian–vector products; both reach the same saddle point (U to 1e-8) on the Markov task,
 * and the report names the method used. A bad value is refused with file, line and column.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyze } from '../../src/pipeline/analyze';
import { parseConfig } from '../../src/config/load';
import { assertClose } from '../helpers/close';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

// The config is parsed from text; its path only names it in messages (the built-in task reads no file).
const FILE = join(tmpdir(), 'solver-method.attention.yaml');
const text = (method: string) => `task: markov\nP: 40\nP_test: 60\nwidths: 10\nsolver:\n  method: ${method}\n`;

describe('solver.method', () => {
  it('lbfgs and newton-cg give the same U to 1e-8, each named in the report', async () => {
    const configs = ['lbfgs', 'newton-cg'].map((m) => {
      const r = parseConfig(text(m), FILE);
      assert.deepEqual(
        r.issues.filter((i) => i.severity === 'error'),
        [],
      );
      assert.equal(r.config!.solver.method, m);
      return r.config!;
    });
    const [a, b] = await Promise.all(configs.map((c) => analyze(c)));
    assert.match(a.solver.method, /^L-BFGS/);
    assert.match(b.solver.method, /^Newton–CG/);
    assert.ok(a.solver.converged && b.solver.converged, `${a.solver.stop_reason} / ${b.solver.stop_reason}`);
    assert.equal(a.U.length, b.U.length);
    for (let l = 0; l < a.U.length; l++) assertClose(b.U[l].flat(), a.U[l].flat(), 1e-8, 1e-8, `U_${l + 1}`);
  });

  it('an unknown method is an error at its line and column', () => {
    const r = parseConfig(text('newton'), FILE);
    const e = r.issues.find((i) => i.severity === 'error');
    assert.ok(e, 'no error');
    assert.equal(e.line, 6);
    assert.equal(e.column, 11);
    assert.match(e.message, /auto|lbfgs|newton-cg/);
  });
});
