import { describe, expect, it } from 'vitest';
import { RdpAccountant } from '../../shared/src/privacy/rdp-accountant.ts';
import { decodeLedgerLine, encodeLedgerLine, ledgerLineChecksum, MAX_LEDGER_LINE_CHARS, parseLedgerText } from '../../shared/src/policy/privacy-ledger-lines.ts';
import { MemoryPrivacyLedger } from '../../shared/src/policy/privacy-ledger-accounts.ts';
import { checkLedgerAtJoin, checkPrivacyBudgetAtJoin, checkRoundBudget, composeLedgerEntry, type PrivacyLimits, type PrivacyStep } from '../../shared/src/policy/privacy-budget.ts';
import { SitePolicy } from '../../shared/src/policy/site-policy.ts';
import { SitePrivacyAccounting } from '../../shared/src/client/site-privacy-accounting.ts';
import type { RunTerms } from '../../shared/src/messages/run-terms.ts';
import type { TrainConfig } from '../../shared/src/messages/schemas.ts';
import { thrown, thrownCodeAndMessage } from '../helpers/thrown.ts';

// The privacy ledger exactly (mutation module privacy-ledger): every refusal of a ledger line someone may have
// edited with its code and words, the accounts' monotone spend at its edge, the budget's words for an unbounded ε,
// and SitePrivacyAccounting's checks as a site calls them — with no limits at all too.
const DP_SGD: PrivacyStep = { kind: 'record', noiseMultiplier: 1.1, samplingRate: 0.25, steps: 8, delta: 1e-5 };
const CLIENT: PrivacyStep = { kind: 'client', noiseMultiplier: 2, samplingRate: 1, steps: 1, delta: 1e-6 };
const AT = new Date('2026-01-01T00:00:00Z');
const limits = (p: Partial<PrivacyLimits>): PrivacyLimits => SitePolicy.parse({ privacy: p }).privacy;
const eps = (z: number, q: number, steps: number, delta: number) => new RdpAccountant().step(z, q, steps).getEpsilon(delta).epsilon;
const entry = (runId = 'run-a', round = 1, step = DP_SGD) => composeLedgerEntry(undefined, runId, round, step, AT);
const line = (e = entry()) => encodeLedgerLine(e).slice(0, -1);
/** A line with a valid checksum over `json`. */
const sealed = (json: string) => `{"sha256":"${ledgerLineChecksum(json)}","entry":${json}}`;

describe('decodeLedgerLine: every refusal, code persistence', () => {
  const valid = line();
  const hashEnd = '{"sha256":"'.length + 64;
  it.each([
    ['a line past the longest read back', 'x'.repeat(MAX_LEDGER_LINE_CHARS + 1), `line longer than ${MAX_LEDGER_LINE_CHARS} characters`],
    ['another prefix (quoted, cut)', valid.replace('{"sha256"', '{"sha257"'), /^not a ledger line: "\{\\"sha257\\":\\"[0-9a-f]{40,}… \(\d+ more characters\)"$/],
    ['the right prefix, another middle', `${valid.slice(0, hashEnd)}","Entry":${valid.slice(hashEnd + '","entry":'.length)}`, /^not a ledger line: /],
    ['something after the closing brace', `${valid} `, /^not a ledger line: /],
    ['a changed checksum', `${valid.slice(0, 11)}${valid[11] === 'a' ? 'b' : 'a'}${valid.slice(12)}`, 'checksum mismatch'],
    ['a valid checksum over non-JSON', sealed('{nope}'), 'entry is not JSON'],
  ])('%s', (_n, text, message) => {
    const { code, message: got } = thrownCodeAndMessage(() => decodeLedgerLine(text));
    expect(code).toBe('persistence');
    if (typeof message === 'string') expect(got).toBe(message);
    else expect(got).toMatch(message);
  });

  it('a line of exactly the longest length is read (and refused for what it holds, not its length)', () => {
    const long = `${valid.slice(0, -1)}${' '.repeat(MAX_LEDGER_LINE_CHARS - valid.length)}}`;
    expect(long).toHaveLength(MAX_LEDGER_LINE_CHARS);
    expect(thrown(() => decodeLedgerLine(long)).message).toBe('checksum mismatch');
  });

  it('an invalid entry names each field by its path, joined by "; "', () => {
    const e = entry();
    const bad = { ...e, round: -1, accountant: { ...e.accountant, history: [{ ...e.accountant.history[0], steps: 1.5 }] } };
    const { code, message } = thrownCodeAndMessage(() => decodeLedgerLine(sealed(JSON.stringify(bad))));
    expect(code).toBe('persistence');
    expect(message).toMatch(/^invalid entry: round: [^;]+; accountant\.history\.0\.steps: [^;]+$/);
  });

  it('a torn last line is the text after the last newline, whatever it holds', () => {
    const a = encodeLedgerLine(entry('run-a'));
    expect(parseLedgerText(`${a}{"sha256":"`, 'L')).toEqual({ entries: [entry('run-a')], validLength: a.length, tornLine: '{"sha256":"' });
    expect(parseLedgerText('partial', 'L')).toEqual({ entries: [], validLength: 0, tornLine: 'partial' });
  });
});

describe('the accounts: spend only grows', () => {
  it('an entry of the same ε again is accepted (a round recorded twice); a lower one is refused, code persistence', () => {
    const ledger = new MemoryPrivacyLedger();
    const first = entry('run-a', 1);
    ledger.record(first);
    ledger.record({ ...first, round: 2 });
    expect(ledger.account('run-a', 'record')?.round).toBe(2);
    const lower = { ...first, round: 3, epsilon: first.epsilon! / 2 };
    const { code, message } = thrownCodeAndMessage(() => ledger.record(lower));
    expect(code).toBe('persistence');
    expect(message).toBe(`ledger entry for run run-a (record) round 3 lowers its ε from ${first.epsilon} to ${first.epsilon! / 2}`);
  });
});

describe('the budget: words and limits', () => {
  it('an unbounded ε is written ∞', () => {
    const ledger = new MemoryPrivacyLedger();
    expect(thrownCodeAndMessage(() => checkRoundBudget(ledger, limits({ maxEpsilonTotal: 100 }), 'r', 4, [{ ...DP_SGD, noiseMultiplier: 0 }]))).toEqual({
      code: 'privacy_budget',
      message: "round 4 would bring this site's total ε to ∞, over its maxEpsilonTotal 100",
    });
    ledger.record(composeLedgerEntry(ledger, 'r', 1, { ...DP_SGD, noiseMultiplier: 0 }, AT));
    expect(thrownCodeAndMessage(() => checkLedgerAtJoin(ledger, limits({ maxEpsilonPerRun: 5 }), 'r'))).toEqual({ code: 'privacy_budget', message: 'this site has spent ε ∞ in run r, its maxEpsilonPerRun 5' });
  });

  it('no limits: an unbounded spend refuses nothing, at join or in a round', () => {
    const ledger = new MemoryPrivacyLedger();
    ledger.record(composeLedgerEntry(ledger, 'r', 1, { ...DP_SGD, noiseMultiplier: 0 }, AT));
    expect(ledger.totalEpsilon()).toBe(Infinity);
    expect(() => checkLedgerAtJoin(ledger, undefined, 'r')).not.toThrow();
    expect(() => checkLedgerAtJoin(ledger, limits({}), 'r')).not.toThrow();
    expect(() => checkRoundBudget(ledger, undefined, 'r', 2, [{ ...DP_SGD, noiseMultiplier: 0 }])).not.toThrow();
    const accounting = new SitePrivacyAccounting(ledger, undefined);
    expect(() => accounting.checkJoin('r')).not.toThrow();
    expect(() => accounting.checkRound('r', 2, { epochs: 1, batchSize: 8, learningRate: 0.1, optimizer: 'sgd', trainable: 'all', seed: 1 }, 40, undefined)).not.toThrow();
  });

  const HASH = 'a'.repeat(64);
  const dpTerms: RunTerms = {
    runId: 'run-1', coordinator: HASH, rounds: 3, minSites: 2, fraction: 1,
    model: { architecture: 'mlp', topologyHash: HASH, initialWeightsHash: HASH, parameters: 100 },
    train: { epochs: 2, batchSize: 8, learningRate: 0.1, optimizer: 'sgd', trainable: 'all', dpSgd: { clip: 1, noiseMultiplier: 1.1, delta: 1e-5 } },
    maxExamplesPerSite: 1000, federatedEvaluation: 'never',
  };

  it('a run without DP while ε is limited: the exact refusal', () => {
    const { dpSgd: _none, ...train } = dpTerms.train;
    expect(thrownCodeAndMessage(() => checkPrivacyBudgetAtJoin(new MemoryPrivacyLedger(), limits({ maxEpsilonPerRun: 10 }), { ...dpTerms, train }))).toEqual({
      code: 'privacy_budget',
      message: "the run has no differential privacy, so its ε is unbounded; this site's policy limits ε",
    });
  });

  it('no examples counted yet (0): the DP-SGD round is not projected (no schedule to project), the ledger still is', () => {
    const tight = limits({ maxEpsilonPerRun: eps(1.1, 0.2, 10, 1e-5) * 0.5 });
    expect(() => checkPrivacyBudgetAtJoin(new MemoryPrivacyLedger(), tight, dpTerms, 0)).not.toThrow();
    expect(thrown(() => checkPrivacyBudgetAtJoin(new MemoryPrivacyLedger(), tight, dpTerms, 40)).code).toBe('privacy_budget');
  });
});

describe('SitePrivacyAccounting: the checks a site runs', () => {
  const config: TrainConfig = { epochs: 2, batchSize: 8, learningRate: 0.1, optimizer: 'sgd', trainable: 'all', seed: 3, dpSgd: { clip: 1, noiseMultiplier: 1.1, delta: 1e-5 } };
  const spent = eps(1.1, 0.2, 10, 1e-5);

  it('checkJoin: at this run\'s limit already', () => {
    const ledger = new MemoryPrivacyLedger();
    ledger.record(composeLedgerEntry(ledger, 'r', 1, { ...DP_SGD, samplingRate: 0.2, steps: 10 }, AT));
    const accounting = new SitePrivacyAccounting(ledger, limits({ maxEpsilonPerRun: spent }));
    expect(thrownCodeAndMessage(() => accounting.checkJoin('r'))).toEqual({ code: 'privacy_budget', message: `this site has spent ε ${spent.toFixed(4)} in run r, its maxEpsilonPerRun ${spent}` });
    expect(() => accounting.checkJoin('other')).not.toThrow();
  });

  it('checkTerms and checkRound project the round against the limit', () => {
    const accounting = new SitePrivacyAccounting(new MemoryPrivacyLedger(), limits({ maxEpsilonPerRun: spent }));
    expect(() => accounting.checkTerms({ runId: 'r', train: { ...config } } as unknown as RunTerms, 40)).not.toThrow();
    expect(() => accounting.checkRound('r', 1, config, 40, undefined)).not.toThrow();
    const tighter = new SitePrivacyAccounting(new MemoryPrivacyLedger(), limits({ maxEpsilonPerRun: spent * 0.99 }));
    expect(thrown(() => tighter.checkTerms({ runId: 'r', train: { ...config } } as unknown as RunTerms, 40)).code).toBe('privacy_budget');
    expect(thrownCodeAndMessage(() => tighter.checkRound('r', 1, config, 40, undefined))).toEqual({
      code: 'privacy_budget',
      message: `round 1 would bring this run's ε to ${spent.toFixed(4)}, over this site's maxEpsilonPerRun ${spent * 0.99}`,
    });
  });

  it('recordRound with client-level DP only: one client entry, no DP-SGD privacy to report', async () => {
    const ledger = new MemoryPrivacyLedger();
    const out = await new SitePrivacyAccounting(ledger, undefined).recordRound('r', 1, undefined, undefined, { noiseMultiplier: 2, clip: 1, delta: 1e-6, noise: 'central' });
    expect(ledger.entries.map((e) => [e.kind, e.round, e.delta])).toEqual([['client', 1, 1e-6]]);
    expect(out).toEqual({ ledger: { runEpsilon: eps(2, 1, 1, 1e-6), totalEpsilon: eps(2, 1, 1, 1e-6) } });
  });
});
