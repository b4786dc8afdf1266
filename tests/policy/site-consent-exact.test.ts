import { describe, expect, it } from 'vitest';
import { canonicalHash, checkRunTerms, SiteTermsGuard, sitePolicyFrom, sitePolicyFromJson, verifyTermsSignature, type RunTerms } from '@fedtune/shared';
import { CoordinatorIdentity } from '@fedtune/coordinator';
import { thrownCodeAndMessage } from '../helpers/thrown.ts';
import { identity, policy, signed } from './terms-fixture.ts';
import { manifest, modelTerms, otherTopology, topology, withModelTerms } from './model-terms-fixture.ts';

// What a site agrees to, exactly (mutation module site-consent): the guard that holds a run to its accepted terms
// event by event, the signature cache's verdicts and its bound, each refusal's exact words, and the policy file's
// one-line errors.
const base = modelTerms;
const withTerms = withModelTerms;
const accepted = (t: RunTerms = base) => {
  const guard = new SiteTermsGuard(policy());
  expect(guard.onTerms(signed(t), 'run-1')).toEqual({ accept: true, hash: signed(t).hash });
  return guard;
};
const key16 = identity.publicKey.slice(0, 16);

describe('SiteTermsGuard: the accepted terms', () => {
  it('holds no terms before it accepts any, and the accepted ones after', () => {
    const guard = new SiteTermsGuard(policy());
    expect(guard.terms).toBeUndefined();
    expect(guard.breach).toBeUndefined();
    guard.onTerms(signed(base), 'run-1');
    expect(guard.terms?.runId).toBe('run-1');
  });

  it('terms with no welcome to compare with (a site that joined by link) are judged on their own', () => {
    const guard = new SiteTermsGuard(policy());
    expect(guard.onTerms(signed(base), undefined)).toEqual({ accept: true, hash: signed(base).hash });
    expect(guard.breach).toBeUndefined();
  });

  it.each([
    ['altered after signing', () => ({ ...signed(base), terms: withTerms((t) => (t.rounds = 6)) }), 'the terms do not match their hash (altered in transit or by the coordinator)'],
    ['signed by another key than the one they name', () => signed(base, CoordinatorIdentity.generate()), `the terms' signature is not coordinator ${key16}…'s`],
  ])('terms %s are refused, and the refusal sticks', (_n, make, reason) => {
    const guard = new SiteTermsGuard(policy());
    expect(guard.onTerms(make(), 'run-1')).toEqual({ accept: false, reason });
    expect(guard.breach).toBe(reason);
    expect(guard.terms).toBeUndefined();
    // The refusal is final for the run: the genuine terms afterwards are refused with the first reason.
    expect(guard.onTerms(signed(base), 'run-1')).toEqual({ accept: false, reason });
  });

  it('terms outside the policy are refused with its reason', () => {
    const guard = new SiteTermsGuard(policy({ training: { maxRounds: 4 } }));
    const reason = "the run asks for 5 rounds, more than the policy's maxRounds 4";
    expect(guard.onTerms(signed(base), 'run-1')).toEqual({ accept: false, reason });
    expect(guard.breach).toBe(reason);
  });
});

describe('SiteTermsGuard: every instruction against the accepted terms', () => {
  it.each(['model', 'fit', 'evaluate', 'siteReport'] as const)('"%s" before the terms is refused', (event) => {
    const guard = new SiteTermsGuard(policy());
    const reason = `"${event}" arrived before this site accepted the run's terms`;
    expect(guard.checkInstruction({ event, payload: {} } as never)).toBe(reason);
    expect(guard.breach).toBe(reason);
  });

  it('a model: its topology against the terms', () => {
    expect(accepted().checkInstruction({ event: 'model', payload: { runId: 'run-1', modelVersion: 0, topology, manifest } })).toBeUndefined();
    const guard = accepted();
    const reason = guard.checkInstruction({ event: 'model', payload: { runId: 'run-1', modelVersion: 0, topology: otherTopology, manifest } });
    expect(reason).toBe(`the model topology (${canonicalHash(otherTopology).slice(0, 16)}…) is not the one of the terms (${base.model.topologyHash.slice(0, 16)}…)`);
    expect(guard.breach).toBe(reason);
  });

  it('an evaluation: within the terms\' federated evaluation (the final round only here)', () => {
    expect(accepted().checkInstruction({ event: 'evaluate', payload: { runId: 'run-1', round: 5, modelVersion: 5 } })).toBeUndefined();
    const guard = accepted();
    expect(guard.checkInstruction({ event: 'evaluate', payload: { runId: 'run-1', round: 3, modelVersion: 3 } })).toBe('the terms include a federated evaluation of the final round (5) only, not of round 3');
    expect(accepted(withTerms((t) => (t.federatedEvaluation = 'never'))).checkInstruction({ event: 'evaluate', payload: { runId: 'run-1', round: 5, modelVersion: 5 } })).toBe('the terms include no federated evaluation');
  });

  it('a site report: only when the terms include one', () => {
    const guard = accepted();
    const payload = { runId: 'run-1', round: 5, modelVersion: 5, weights: new Uint8Array([1]), train: { ...structuredClone(base.train), seed: 1 } };
    expect(guard.checkInstruction({ event: 'siteReport', payload } as never)).toBe('the terms include no per-site report');
  });

  it('other events are no instructions: nothing to check, and no breach', () => {
    const guard = accepted();
    expect(guard.checkInstruction({ event: 'rejected', payload: { code: 'x', reason: 'y' } })).toBeUndefined();
    expect(guard.breach).toBeUndefined();
    expect(guard.checkInstruction({ event: 'evaluate', payload: { runId: 'run-1', round: 5, modelVersion: 5 } })).toBeUndefined();
  });
});

describe('verifyTermsSignature: the cache of valid signatures', () => {
  const hex = (n: number) => n.toString(16).padStart(64, '0');
  const counting = (answer: boolean) => {
    const calls: string[] = [];
    const verify = (_s: Uint8Array, message: Uint8Array) => {
      calls.push(Buffer.from(message).toString('hex'));
      return answer;
    };
    return { calls, verify };
  };

  it('an invalid signature is never remembered: asked again, it is checked again and still refused', () => {
    const { calls, verify } = counting(false);
    expect(verifyTermsSignature(hex(1), hex(2), hex(3), verify)).toBe(false);
    expect(verifyTermsSignature(hex(1), hex(2), hex(3), verify)).toBe(false);
    expect(calls).toHaveLength(2);
  });

  it('a valid one is checked once', () => {
    const { calls, verify } = counting(true);
    expect(verifyTermsSignature(hex(11), hex(12), hex(13), verify)).toBe(true);
    expect(verifyTermsSignature(hex(11), hex(12), hex(13), verify)).toBe(true);
    expect(calls).toHaveLength(1);
    // The same hash under another signature or key is another question.
    expect(verifyTermsSignature(hex(11), hex(14), hex(13), verify)).toBe(true);
    expect(verifyTermsSignature(hex(11), hex(12), hex(15), verify)).toBe(true);
    expect(calls).toHaveLength(3);
  });

  it('remembers the 16 latest: the 17th pushes out the oldest', () => {
    const { calls, verify } = counting(true);
    const ask = (i: number) => verifyTermsSignature(hex(1000 + i), hex(7), hex(8), verify);
    for (let i = 1; i <= 16; i++) ask(i);
    expect(calls).toHaveLength(16);
    for (let i = 1; i <= 16; i++) ask(i);
    expect(calls).toHaveLength(16);
    ask(17);
    expect(calls).toHaveLength(17);
    ask(2);
    expect(calls).toHaveLength(17);
    ask(1);
    expect(calls).toHaveLength(18);
  });

  it('a signature that is not hex, or a verifier that throws, is a refusal, never a throw', () => {
    expect(verifyTermsSignature(hex(1), 'not hex', hex(3))).toBe(false);
    expect(verifyTermsSignature(hex(21), hex(22), hex(23), () => { throw new Error('bad point'); })).toBe(false);
  });
});

describe('checkRunTerms: the exact words', () => {
  it('a coordinator the policy does not list, by its key\'s first 16 digits', () => {
    expect(checkRunTerms(signed(base), policy({ coordinators: ['c'.repeat(64)] }))).toMatchObject({ ok: false, reason: `coordinator ${key16}… is not one of the policy's coordinators` });
  });

  it('the policy\'s architectures, listed', () => {
    expect(checkRunTerms(signed(base), policy({ model: { architectures: ['cnn', 'cnn-wide'] } }))).toMatchObject({ ok: false, reason: 'model architecture "mlp" is not allowed (policy: cnn, cnn-wide)' });
  });

  it('δ bounds name the δ and the bound; none without a bound', () => {
    const clientDp = withTerms((t) => (t.dp = { noiseMultiplier: 1, clip: 1, delta: 1e-3, noise: 'central' }));
    expect(checkRunTerms(signed(clientDp), policy({ privacy: { maxDelta: 1e-4 } }))).toMatchObject({ ok: false, reason: "the run's client-level δ 0.001 is above the policy's maxDelta 0.0001" });
    const recordDp = withTerms((t) => (t.train.dpSgd = { clip: 1, noiseMultiplier: 1, delta: 1e-3 }));
    expect(checkRunTerms(signed(recordDp), policy({ privacy: { maxDelta: 1e-4 } }))).toMatchObject({ ok: false, reason: "the run's DP-SGD δ 0.001 is above the policy's maxDelta 0.0001" });
    expect(checkRunTerms(signed(recordDp), policy())).toMatchObject({ ok: true });
    expect(checkRunTerms(signed(base), policy({ privacy: { maxDelta: 1e-9 } }))).toMatchObject({ ok: true });
  });

  it('no cap in the policy: the verdict carries no maxExamples at all', () => {
    expect(checkRunTerms(signed(base), policy())).toStrictEqual({ ok: true, hash: signed(base).hash });
    const noAsk = withTerms((t) => delete t.train.maxExamples);
    expect(checkRunTerms(signed(noAsk), policy())).toStrictEqual({ ok: true, hash: signed(noAsk).hash });
  });
});

describe('site policy documents: one line, code config', () => {
  it('names the source and at most three fields, joined by "; "', () => {
    const document = { training: { maxRounds: 'a', maxEpochs: 'b', maxExamplesPerRound: 'c' }, aggregation: { minSites: 'd' } };
    const { code, message } = thrownCodeAndMessage(() => sitePolicyFrom(document, 'p.json'));
    expect(code).toBe('config');
    const fields = message.replace(/^p\.json: /, '').split('; ').map((issue) => issue.split(':')[0]);
    expect(fields).toHaveLength(3);
    expect(fields.every((f) => f.startsWith('training.'))).toBe(true);
  });

  it('a document that is not an object is the policy\'s own issue', () => {
    const { code, message } = thrownCodeAndMessage(() => sitePolicyFrom(5, 'p.json'));
    expect(code).toBe('config');
    expect(message).toMatch(/^p\.json: \(policy\): /);
  });

  it('JSON that does not parse says so, with the code config', () => {
    const { code, message } = thrownCodeAndMessage(() => sitePolicyFromJson('{', '?policy='));
    expect(code).toBe('config');
    expect(message).toMatch(/^\?policy=: not valid JSON \(/);
  });
});
