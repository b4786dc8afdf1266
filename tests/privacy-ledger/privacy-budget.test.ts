import { describe, expect, it } from 'vitest';
import { RdpAccountant } from '../../shared/src/privacy/rdp-accountant.ts';
import { MemoryPrivacyLedger } from '../../shared/src/policy/privacy-ledger-accounts.ts';
import { checkLedgerAtJoin, checkPrivacyBudgetAtJoin, checkRoundBudget, composeLedgerEntry, roundPrivacySteps, type PrivacyLimits, type PrivacyStep } from '../../shared/src/policy/privacy-budget.ts';
import { SitePolicy } from '../../shared/src/policy/site-policy.ts';
import type { RunTerms } from '../../shared/src/messages/run-terms.ts';
import type { TrainConfig } from '../../shared/src/messages/schemas.ts';
import { FedtuneError } from '../../shared/src/errors.ts';
import { SitePrivacyAccounting } from '../../shared/src/client/site-privacy-accounting.ts';

const base: TrainConfig = { epochs: 2, batchSize: 8, learningRate: 0.1, optimizer: 'sgd', trainable: 'all', seed: 3 };
const dpConfig: TrainConfig = { ...base, dpSgd: { clip: 1, noiseMultiplier: 1.1, delta: 1e-5 } };
const limits = (p: Partial<PrivacyLimits>): PrivacyLimits => SitePolicy.parse({ privacy: p }).privacy;

function eps(z: number, q: number, steps: number, delta: number): number {
  return new RdpAccountant().step(z, q, steps).getEpsilon(delta).epsilon;
}

/** The FedtuneError code `fn` throws, undefined when it returns; anything else it throws (a TypeError) fails the test. */
function code(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof FedtuneError)) throw err;
    return err.code;
  }
}

const HASH = 'a'.repeat(64);
function terms(over: Partial<RunTerms> = {}): RunTerms {
  return {
    runId: 'run-1', coordinator: HASH, rounds: 3, minSites: 2, fraction: 1,
    model: { architecture: 'mlp', topologyHash: HASH, initialWeightsHash: HASH, parameters: 100 },
    train: { epochs: 2, batchSize: 8, learningRate: 0.1, optimizer: 'sgd', trainable: 'all' },
    maxExamplesPerSite: 1000, federatedEvaluation: 'never', ...over,
  };
}

describe('roundPrivacySteps: what one round spends at a site', () => {
  it.each([
    ['DP-SGD: epochs × whole batches at q = batch/n', dpConfig, 40, undefined, [{ kind: 'record', noiseMultiplier: 1.1, samplingRate: 0.2, steps: 10, delta: 1e-5 }]],
    ['DP-SGD with maxExamples: batches of the used examples, q over all', { ...dpConfig, maxExamples: 20 }, 40, undefined, [{ kind: 'record', noiseMultiplier: 1.1, samplingRate: 0.2, steps: 4, delta: 1e-5 }]],
    ['DP-SGD without δ: the default 1e-5', { ...dpConfig, dpSgd: { clip: 1, noiseMultiplier: 2 } }, 8, undefined, [{ kind: 'record', noiseMultiplier: 2, samplingRate: 1, steps: 2, delta: 1e-5 }]],
    ['client-level: one step at q = 1 with the terms\' z and δ', base, 40, { noiseMultiplier: 0.9, clip: 1, delta: 1e-6, noise: 'central' }, [{ kind: 'client', noiseMultiplier: 0.9, samplingRate: 1, steps: 1, delta: 1e-6 }]],
    ['no DP: nothing', base, 40, undefined, []],
  ] as const)('%s', (_n, config, n, dp, expected) => {
    expect(roundPrivacySteps(config as TrainConfig, n, dp as RunTerms['dp'])).toEqual(expected);
  });
});

describe('checkRoundBudget: the projected ε after this round against the limits', () => {
  const step: PrivacyStep = { kind: 'record', noiseMultiplier: 1.1, samplingRate: 0.2, steps: 10, delta: 1e-5 };
  const one = eps(1.1, 0.2, 10, 1e-5);
  const two = eps(1.1, 0.2, 20, 1e-5);
  it('uses exactly the composed ε: a limit equal to it passes, just below it refuses', () => {
    const ledger = new MemoryPrivacyLedger();
    ledger.record(composeLedgerEntry(ledger, 'run-1', 1, step));
    expect(code(() => checkRoundBudget(ledger, limits({ maxEpsilonPerRun: two }), 'run-1', 2, [step]))).toBeUndefined();
    expect(code(() => checkRoundBudget(ledger, limits({ maxEpsilonPerRun: two * (1 - 1e-9) }), 'run-1', 2, [step]))).toBe('privacy_budget');
    expect(code(() => checkRoundBudget(ledger, limits({ maxEpsilonTotal: two }), 'run-1', 2, [step]))).toBeUndefined();
    expect(code(() => checkRoundBudget(ledger, limits({ maxEpsilonTotal: two * (1 - 1e-9) }), 'run-1', 2, [step]))).toBe('privacy_budget');
    // The total counts other runs too: with run-0's ε spent, the same round exceeds the total.
    ledger.record(composeLedgerEntry(ledger, 'run-0', 1, step));
    expect(code(() => checkRoundBudget(ledger, limits({ maxEpsilonTotal: two }), 'run-1', 2, [step]))).toBe('privacy_budget');
    expect(code(() => checkRoundBudget(ledger, limits({ maxEpsilonTotal: two + one }), 'run-1', 2, [step]))).toBeUndefined();
    expect(code(() => checkRoundBudget(ledger, limits({ maxEpsilonPerRun: two }), 'run-1', 2, [step]))).toBeUndefined();
  });

  it('says which limit and the projected ε in one line', () => {
    const ledger = new MemoryPrivacyLedger();
    expect(() => checkRoundBudget(ledger, limits({ maxEpsilonPerRun: 0.5 }), 'run-1', 3, [step])).toThrow(`round 3 would bring this run's ε to ${one.toFixed(4)}, over this site's maxEpsilonPerRun 0.5`);
    expect(() => checkRoundBudget(ledger, limits({ maxEpsilonTotal: 0.5 }), 'run-1', 3, [step])).toThrow(`round 3 would bring this site's total ε to ${one.toFixed(4)}, over its maxEpsilonTotal 0.5`);
  });

  it('sums both kinds of one round; no limit means no check; a limited site refuses a round without DP', () => {
    const ledger = new MemoryPrivacyLedger();
    const client: PrivacyStep = { kind: 'client', noiseMultiplier: 2, samplingRate: 1, steps: 1, delta: 1e-6 };
    const both = one + eps(2, 1, 1, 1e-6);
    expect(code(() => checkRoundBudget(ledger, limits({ maxEpsilonPerRun: both }), 'r', 1, [step, client]))).toBeUndefined();
    expect(code(() => checkRoundBudget(ledger, limits({ maxEpsilonPerRun: both * (1 - 1e-9) }), 'r', 1, [step, client]))).toBe('privacy_budget');
    expect(code(() => checkRoundBudget(ledger, limits({}), 'r', 1, []))).toBeUndefined();
    expect(code(() => checkRoundBudget(ledger, undefined, 'r', 1, [{ ...step, noiseMultiplier: 0 }]))).toBeUndefined();
    expect(() => checkRoundBudget(ledger, limits({ maxEpsilonTotal: 100 }), 'r', 4, [])).toThrow('round 4 has no differential privacy');
    expect(code(() => checkRoundBudget(ledger, limits({ maxEpsilonTotal: 100 }), 'r', 4, [{ ...step, noiseMultiplier: 0 }]))).toBe('privacy_budget');
  });
});

describe('checkPrivacyBudgetAtJoin', () => {
  const step: PrivacyStep = { kind: 'record', noiseMultiplier: 1.1, samplingRate: 0.2, steps: 10, delta: 1e-5 };
  const spent = eps(1.1, 0.2, 10, 1e-5);
  const ledgerWith = (runId: string) => {
    const l = new MemoryPrivacyLedger();
    l.record(composeLedgerEntry(l, runId, 1, step));
    return l;
  };
  const dpTerms = terms({ train: { ...terms().train, dpSgd: { clip: 1, noiseMultiplier: 1.1, delta: 1e-5 } } });
  const clientTerms = terms({ dp: { noiseMultiplier: 2, clip: 1, delta: 1e-6, noise: 'central' } });
  it.each([
    ['no limits: joins any run, even without DP', limits({}), new MemoryPrivacyLedger(), terms(), undefined, undefined],
    ['at its total exactly: refuses the next run', limits({ maxEpsilonTotal: spent }), ledgerWith('run-0'), dpTerms, undefined, 'privacy_budget'],
    ['just under its total: joins', limits({ maxEpsilonTotal: spent * (1 + 1e-9) + eps(1.1, 0.2, 10, 1e-5) }), ledgerWith('run-0'), dpTerms, 40, undefined],
    ['rejoining a run at its per-run limit: refuses', limits({ maxEpsilonPerRun: spent }), ledgerWith('run-1'), dpTerms, undefined, 'privacy_budget'],
    ['a per-run limit reached in another run does not refuse this one', limits({ maxEpsilonPerRun: spent }), ledgerWith('run-0'), dpTerms, 40, undefined],
    ['a run without DP while ε is limited: refuses', limits({ maxEpsilonPerRun: 10 }), new MemoryPrivacyLedger(), terms(), undefined, 'privacy_budget'],
    ['client-level DP whose first round already exceeds the run limit: refuses', limits({ maxEpsilonPerRun: eps(2, 1, 1, 1e-6) * 0.99 }), new MemoryPrivacyLedger(), clientTerms, undefined, 'privacy_budget'],
    ['client-level DP whose first round fits: joins', limits({ maxEpsilonPerRun: eps(2, 1, 1, 1e-6) }), new MemoryPrivacyLedger(), clientTerms, undefined, undefined],
    ['DP-SGD whose first round exceeds (examples given): refuses', limits({ maxEpsilonPerRun: spent * 0.99 }), new MemoryPrivacyLedger(), dpTerms, 40, 'privacy_budget'],
    ['DP-SGD without the example count: only the ledger is checked', limits({ maxEpsilonPerRun: spent * 0.99 }), new MemoryPrivacyLedger(), dpTerms, undefined, undefined],
  ] as const)('%s', (_n, lim, ledger, t, n, expected) => {
    expect(code(() => checkPrivacyBudgetAtJoin(ledger, lim, t, n))).toBe(expected);
  });

  it('the reason names the total', () => {
    expect(() => checkLedgerAtJoin(ledgerWith('run-0'), limits({ maxEpsilonTotal: 1 }), 'run-1')).toThrow(`this site has spent ε ${spent.toFixed(4)} in total, its maxEpsilonTotal 1; it takes part in no further run`);
    expect(() => checkLedgerAtJoin(ledgerWith('run-1'), limits({ maxEpsilonPerRun: 1 }), 'run-1')).toThrow(`this site has spent ε ${spent.toFixed(4)} in run run-1, its maxEpsilonPerRun 1`);
  });
});

describe('SitePrivacyAccounting.recordRound', () => {
  it('records before returning, reports the DP-SGD privacy as composeDpSgd did, and ledger totals only for a persistent ledger', async () => {
    const ledger = new MemoryPrivacyLedger();
    const acc = new SitePrivacyAccounting(ledger, undefined);
    const spend = { steps: 10, samplingRate: 0.2, noiseMultiplier: 1.1, clip: 1 };
    await acc.recordRound('r', 1, spend, 1e-5, undefined);
    const second = await acc.recordRound('r', 2, spend, 1e-5, { noiseMultiplier: 2, clip: 1, delta: 1e-6, noise: 'central' });
    expect(ledger.entries.map((e) => [e.round, e.kind])).toEqual([[1, 'record'], [2, 'record'], [2, 'client']]);
    expect(second.privacy).toEqual({ epsilon: eps(1.1, 0.2, 20, 1e-5), delta: 1e-5, steps: 20, samplingRate: 0.2, noiseMultiplier: 1.1 });
    expect(second.ledger).toEqual({ runEpsilon: eps(1.1, 0.2, 20, 1e-5) + eps(2, 1, 1, 1e-6), totalEpsilon: eps(1.1, 0.2, 20, 1e-5) + eps(2, 1, 1, 1e-6) });
    const inMemory = new SitePrivacyAccounting(undefined, undefined);
    const r = await inMemory.recordRound('r', 1, spend, undefined, undefined);
    expect(r).toEqual({ privacy: { epsilon: eps(1.1, 0.2, 10, 1e-5), delta: 1e-5, steps: 10, samplingRate: 0.2, noiseMultiplier: 1.1 } });
    expect(await inMemory.recordRound('r', 2, { ...spend, noiseMultiplier: 0 }, undefined, undefined)).toEqual({});
  });

  it('a ledger whose record fails stops the round (the caller sends nothing)', async () => {
    const failing = new MemoryPrivacyLedger();
    failing.record = () => {
      throw new FedtuneError('persistence', 'disk full');
    };
    await expect(new SitePrivacyAccounting(failing, undefined).recordRound('r', 1, { steps: 1, samplingRate: 1, noiseMultiplier: 1, clip: 1 }, undefined, undefined)).rejects.toThrow('disk full');
  });
});
