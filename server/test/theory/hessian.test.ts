/** The exact energy Hessian against central differences of the exact energy gradient. */
import { describe, it } from 'node:test';
import { smallProblem, randomSpd } from '../helpers/problem';
import { assertClose } from '../helpers/close';
import { Random } from '../../src/util/random';
import { energy } from '../../src/theory/action';
import { energyHessian, symmetricIndex } from '../../src/theory/hessian';

describe('energy Hessian', () => {
  for (const heads of [[3], [2, 2]]) {
    it(`matches finite differences of the gradient (heads [${heads}])`, async () => {
      const p = await smallProblem(70 + heads.length, heads, { P: 14, N0: 4 });
      const Q = p.train.paths;
      const U = randomSpd(new Random(3), Q);
      const H = await energyHessian(p.train, p.y, p.settings.temperature, U);
      const idx = symmetricIndex(Q);
      const np = (Q * (Q + 1)) / 2;
      const symGrad = async (V: typeof U) => {
        const g = (await energy(p.train, p.y, p.settings.temperature, V, true)).grad!;
        const out = new Float64Array(np);
        for (let q = 0; q < Q; q++) for (let r = q; r < Q; r++) out[idx[q * Q + r]] = (q === r ? 1 : 2) * g.data[q * Q + r];
        return out;
      };
      const h = 1e-6;
      for (let q = 0; q < Q; q++)
        for (let r = q; r < Q; r++) {
          const shift = (d: number) => {
            const V = { ...U, data: U.data.slice() };
            V.data[q * Q + r] += d;
            if (q !== r) V.data[r * Q + q] += d;
            return V;
          };
          const gp = await symGrad(shift(h));
          const gm = await symGrad(shift(-h));
          const col = idx[q * Q + r];
          const fd = gp.map((v, i) => (v - gm[i]) / (2 * h));
          const an = Array.from({ length: np }, (_, i) => H.data[i * np + col]);
          assertClose(an, fd, 1e-6, 1e-6, `column (${q},${r})`);
        }
    });
  }
});
