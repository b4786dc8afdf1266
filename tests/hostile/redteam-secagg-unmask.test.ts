import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '@fedtune/coordinator';
import type { ClientConnector, ClientToServer, RunReport } from '@fedtune/shared';
import { startTestFederation } from '../helpers/federation.ts';
import { rewritingSends } from '../helpers/rewriting-sends.ts';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';

/**
 * A site of a secure-aggregation round is a survivor (its masked input is in the sum) and then sends an unmask
 * response whose shares the coordinator cannot use: the same owner twice, or an owner that is not a survivor.
 * That one site's response is refused (it is a survivor that stayed silent in unmasking); the honest
 * survivors' shares suffice, and the round — and the run — completes. One site must never abort the run.
 */
type Unmask = ClientToServer['secaggUnmaskResponse'];

function tampering(connector: ClientConnector, tamper: (r: Unmask) => Unmask): ClientConnector {
  return rewritingSends(connector, (event, payload) => (event === 'secaggUnmaskResponse' ? tamper(payload as Unmask) : payload));
}

/**
 * One secure round over socket.io: `tamperer`'s unmask responses pass through `tamper`; `stall` keeps a site silent
 * at one phase of attempt 1. Runs to the end, closes everything and returns the report and the engine's events.
 */
async function secureRun(o: { sites: number; attempts: number; phaseTimeoutMs: number; tamperer: string; tamper: (r: Unmask) => Unmask; stall?: { siteId: string; phase: string } }): Promise<{ report: RunReport; events: EngineEvent[] }> {
  const events: EngineEvent[] = [];
  const stall = o.stall;
  const fed = await startTestFederation({
    sites: o.sites,
    rounds: 1,
    transport: 'socket',
    maxSiteExamples: 40,
    holdoutExamples: 100,
    onEvent: (e) => events.push(e),
    config: { federatedEvaluation: 'never', maxRoundAttempts: o.attempts, secureAggregation: { clip: 1, phaseTimeoutMs: o.phaseTimeoutMs } },
    ...(stall ? { siteOptions: (siteId: string) => (siteId === stall.siteId ? { secAggProbe: { beforeSend: (phase: string, info: { attempt: number }) => (phase === stall.phase && info.attempt === 1 ? ('stall' as const) : undefined) } } : {}) } : {}),
    wrapConnector: (siteId, connector) => (siteId === o.tamperer ? tampering(connector, o.tamper) : connector),
  });
  try {
    return { report: await fed.coordinator.done, events };
  } finally {
    await fed.coordinator.close();
    await Promise.allSettled(fed.siteRuns);
  }
}

const attacks: Array<[string, (r: Unmask) => Unmask]> = [
  ['the same self-mask share twice', (r) => ({ ...r, selfMaskShares: [...r.selfMaskShares, r.selfMaskShares[0]] })],
  ['a self-mask share of a site that is not a survivor', (r) => ({ ...r, selfMaskShares: [...r.selfMaskShares, { owner: 'nobody', share: r.selfMaskShares[0].share }] })],
  ['a masking-key share of a survivor (no site dropped)', (r) => ({ ...r, maskingKeyShares: [{ owner: r.selfMaskShares[0].owner, share: r.selfMaskShares[0].share }] })],
  ['a self-mask share of the wrong length', (r) => ({ ...r, selfMaskShares: [{ ...r.selfMaskShares[0], share: r.selfMaskShares[0].share.slice(1) }, ...r.selfMaskShares.slice(1)] })],
];

describe('secure aggregation: one survivor sends unusable unmask shares', () => {
  it.each(attacks)('%s: refused for that site only; the run completes', async (_name, tamper) => {
    const { report, events } = await secureRun({ sites: 4, attempts: 1, phaseTimeoutMs: 10_000, tamperer: 'site-4', tamper });
    expect(report.status, report.aborted).toBe('complete');
    // All four are in the sum (site-4's masked input arrived): its unmask response was refused.
    expect(report.rounds[0].accepted.map((a) => a.siteId)).toEqual(['site-1', 'site-2', 'site-3', 'site-4']);
    expect(events.some((e) => e.type === 'result' && e.siteId === 'site-4' && !e.accepted)).toBe(true);
  }, 120_000);
});

describe('secure aggregation: survivors reveal shares that recombine to a wrong masking key', () => {
  it('the attempt fails (the sum is not trusted) and is retried; the run is not aborted', async () => {
    let tampered = 0;
    const { report, events } = await secureRun({
      sites: 4,
      attempts: 2,
      phaseTimeoutMs: 3_000,
      // site-3 shares its keys, then stays silent in attempt 1: the survivors reveal shares of its masking key.
      stall: { siteId: 'site-3', phase: 'masked-input' },
      // site-4 flips a bit of its share of that key (still a field element): the key recombines wrong.
      tamperer: 'site-4',
      tamper: (r) => {
        if (r.attempt !== 1 || r.maskingKeyShares.length === 0) return r;
        tampered++;
        return { ...r, maskingKeyShares: r.maskingKeyShares.map((s) => ({ ...s, share: s.share.map((v, i) => (i === s.share.length - 1 ? v ^ 1 : v)) })) };
      },
    });
    expect(tampered).toBe(1);
    expect(report.status, report.aborted).toBe('complete');
    expect(report.rounds[0].attempts).toBe(2);
    const retry = events.find((e) => e.type === 'round-retry');
    expect(retry && 'reason' in retry ? retry.reason : '').toMatch(/recovered/);
  }, 120_000);
});

describe('secure aggregation: exactly t survivors answer, one with a wrong share of another’s self-mask seed', () => {
  it('the attempt fails on the seed’s commitment (never a sum of random words as the global model) and the retry completes', async () => {
    let tampered = 0;
    const { report, events } = await secureRun({
      sites: 4,
      attempts: 2,
      phaseTimeoutMs: 3_000,
      // site-3 sends its masked input, then stays silent in unmasking in attempt 1: 3 of 4 answer, the threshold.
      stall: { siteId: 'site-3', phase: 'unmask' },
      // site-4 shifts its share of site-1's self-mask seed so that the seed recovered from the three answers is the
      // true one + 1 — a 32-byte value like any seed, with no surplus share to compare it with. The answers are at
      // x = 1, 2, 4 (a site's point is its index + 1), so site-4's Lagrange coefficient at 0 is (1/−3)·(2/−2) = 1/3:
      // its share + 3 moves the secret by exactly 1. (A share with a bit flipped at random moves it by a multiple of
      // 1/3 mod p, which almost never fits 32 bytes: the old code refused that one by luck.)
      tamperer: 'site-4',
      tamper: (r) => {
        if (r.attempt !== 1) return r;
        tampered++;
        const shift = (share: Uint8Array) => numberToBytesBE((bytesToNumberBE(share) + 3n) % (2n ** 521n - 1n), share.length);
        return { ...r, selfMaskShares: r.selfMaskShares.map((s) => (s.owner === 'site-1' ? { ...s, share: shift(s.share) } : s)) };
      },
    });
    expect(tampered).toBe(1);
    expect(report.status, report.aborted).toBe('complete');
    expect(report.rounds[0].attempts).toBe(2);
    const retry = events.find((e) => e.type === 'round-retry');
    expect(retry && 'reason' in retry ? retry.reason : '').toContain('the self-mask seed recovered for site-1 does not match its commitment');
    // The global model is the honest sum's: a model near the pretrained one, not random weights.
    expect(report.rounds[0].global.accuracy).toBeGreaterThan(0.3);
  }, 120_000);
});

describe('secure aggregation: five survivors answer, one reveals every share off its owner’s polynomial', () => {
  it('the wrong shares are found and left out: the round completes in its first attempt with all five in the sum', async () => {
    let tampered = 0;
    const { report, events } = await secureRun({
      sites: 5,
      attempts: 1,
      phaseTimeoutMs: 10_000,
      // site-2 answers with every self-mask share moved by one bit (field elements all): before, the surplus
      // shares failed the check against the others and the attempt — with one attempt, the run — was lost.
      tamperer: 'site-2',
      tamper: (r) => {
        tampered++;
        return { ...r, selfMaskShares: r.selfMaskShares.map((s) => ({ ...s, share: s.share.map((v, i) => (i === s.share.length - 1 ? v ^ 1 : v)) })) };
      },
    });
    expect(tampered).toBe(1);
    expect(report.status, report.aborted).toBe('complete');
    expect(report.rounds[0].attempts).toBe(1);
    expect(report.rounds[0].accepted.map((a) => a.siteId)).toEqual(['site-1', 'site-2', 'site-3', 'site-4', 'site-5']);
    expect(events.some((e) => e.type === 'round-retry')).toBe(false);
    expect(report.rounds[0].global.accuracy).toBeGreaterThan(0.3);
    // The report names it (report.json): its shares were left out, its input is in the sum.
    expect(report.rounds[0].secureAggregation).toEqual({ wrongShares: ['site-2'], silentInUnmasking: [] });
  }, 120_000);
});
