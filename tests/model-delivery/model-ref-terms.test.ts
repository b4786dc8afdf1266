import { describe, expect, it } from 'vitest';
import { checkEvaluateInstruction, checkFitInstruction, checkInitialWeights } from '../../shared/src/policy/check-instruction.ts';
import type { FitInstruction } from '@fedtune/shared';
import { H, policy, terms } from '../policy/terms-fixture.ts';

/** An instruction that references the initial model over HTTP must name the terms' initial weights hash. */
describe('a model reference against the accepted terms', () => {
  const t = terms();
  const ref = (sha256: string) => ({ path: '/api/v1/models/0/weights', sha256, bytes: 100 });
  const fit = (over: Partial<FitInstruction>): FitInstruction => ({ runId: 'run-1', round: 1, modelVersion: 0, config: { ...structuredClone(t.train), seed: 1 } as FitInstruction['config'], ...over });

  it.each([
    ['version 0, the terms\' hash', 0, H('b'), undefined],
    ['version 0, another hash', 0, H('c'), 'initial weights referenced'],
    ['version 1, any hash (checked against the fetched bytes only)', 1, H('c'), undefined],
  ])('%s', (_, modelVersion, sha256, refused) => {
    const a = checkInitialWeights(modelVersion, undefined, t, ref(sha256));
    const f = checkFitInstruction(fit({ modelVersion, modelRef: ref(sha256) }), t, policy());
    const e = checkEvaluateInstruction({ runId: 'run-1', round: 5, modelVersion, modelRef: ref(sha256) }, t);
    for (const reason of [a, f, e]) {
      if (refused) expect(reason).toContain(refused);
      else expect(reason).toBeUndefined();
    }
  });

  it('no reference and no weights: nothing to check', () => {
    expect(checkInitialWeights(0, undefined, t)).toBeUndefined();
  });
});
