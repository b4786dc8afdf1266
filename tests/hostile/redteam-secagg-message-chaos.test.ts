import { describe, expect, it } from 'vitest';
import type { ClientConnector } from '@fedtune/shared';
import { startTestFederation } from '../helpers/federation.ts';

/**
 * One hostile site of five in a secure-aggregation run changes one secure-aggregation message in one way — every
 * field the protocol carries, duplicates, other sites' ids, lengths past the schema. Whatever it does, the run
 * completes with the four honest sites in the sum, in one attempt — or two when the hostile site dealt shares the
 * others could not use (it is then left out of the second). Before 2026-12-05 a third of these aborted the run
 * (redteam-secagg-dealers.test.ts), and a message claiming another site's id or failing its schema made the round
 * wait for the phase's deadline.
 */
type Payload = Record<string, any>;
const flip = (b: Uint8Array, i = 0) => b.map((v, k) => (k === i % b.length ? v ^ 1 : v));

/** [what, event, change (one payload, or several to send), site-3's input in the sum, attempts]. */
const changes: Array<[string, string, (p: Payload) => Payload | Payload[], boolean, number]> = [
  ['an encryption key one bit off (not its own: its directory check fails)', 'secaggAdvertise', (p) => ({ ...p, encryptionPublicKey: flip(p.encryptionPublicKey, 31) }), false, 1],
  ['a masking key one bit off', 'secaggAdvertise', (p) => ({ ...p, maskingPublicKey: flip(p.maskingPublicKey, 5) }), false, 1],
  ['a commitment to another seed', 'secaggAdvertise', (p) => ({ ...p, selfMaskCommitment: flip(p.selfMaskCommitment) }), false, 2],
  ['its advertisement twice', 'secaggAdvertise', (p) => [p, p], false, 1],
  ['an advertisement claiming site-1', 'secaggAdvertise', (p) => ({ ...p, siteId: 'site-1' }), false, 1],
  ['a key of 31 bytes (schema)', 'secaggAdvertise', (p) => ({ ...p, encryptionPublicKey: p.encryptionPublicKey.slice(1) }), false, 1],
  ['one box left out', 'secaggShareKeys', (p) => ({ ...p, shares: p.shares.slice(1) }), false, 1],
  ['no boxes', 'secaggShareKeys', (p) => ({ ...p, shares: [] }), false, 1],
  ['one box twice', 'secaggShareKeys', (p) => ({ ...p, shares: [p.shares[0], ...p.shares] }), false, 1],
  ['boxes addressed to the wrong neighbours', 'secaggShareKeys', (p) => ({ ...p, shares: p.shares.map((s: Payload, i: number) => ({ ...s, to: p.shares[(i + 1) % p.shares.length].to })) }), false, 2],
  ['boxes with their ciphertexts rotated', 'secaggShareKeys', (p) => ({ ...p, shares: p.shares.map((s: Payload, i: number) => ({ ...s, ciphertext: p.shares[(i + 1) % p.shares.length].ciphertext, nonce: p.shares[(i + 1) % p.shares.length].nonce })) }), false, 2],
  ['every nonce one bit off', 'secaggShareKeys', (p) => ({ ...p, shares: p.shares.map((s: Payload) => ({ ...s, nonce: flip(s.nonce) })) }), false, 2],
  ['every ciphertext cut to 5 bytes', 'secaggShareKeys', (p) => ({ ...p, shares: p.shares.map((s: Payload) => ({ ...s, ciphertext: s.ciphertext.slice(0, 5) })) }), false, 2],
  ['ciphertexts of 2000 bytes (schema)', 'secaggShareKeys', (p) => ({ ...p, shares: p.shares.map((s: Payload) => ({ ...s, ciphertext: new Uint8Array(2000) })) }), false, 1],
  ['boxes claiming to come from site-1', 'secaggShareKeys', (p) => ({ ...p, shares: p.shares.map((s: Payload) => ({ ...s, from: 'site-1' })) }), false, 1],
  ['its boxes twice', 'secaggShareKeys', (p) => [p, p], false, 1],
  ['a masked input one word short', 'secaggMasked', (p) => ({ ...p, masked: p.masked.slice(0, p.masked.length - 4) }), false, 1],
  ['a masked input one word long', 'secaggMasked', (p) => ({ ...p, masked: Uint8Array.from([...p.masked, 0, 0, 0, 0]) }), false, 1],
  ['an empty masked input', 'secaggMasked', (p) => ({ ...p, masked: new Uint8Array(0) }), false, 1],
  ['a masked input of whole bytes, not words (schema)', 'secaggMasked', (p) => ({ ...p, masked: p.masked.slice(1) }), false, 1],
  ['its masked input twice', 'secaggMasked', (p) => [p, p], true, 1],
  ['an unmask response without shares', 'secaggUnmaskResponse', (p) => ({ ...p, selfMaskShares: [], maskingKeyShares: [] }), true, 1],
  ['every revealed share one bit off', 'secaggUnmaskResponse', (p) => ({ ...p, selfMaskShares: p.selfMaskShares.map((s: Payload) => ({ ...s, share: flip(s.share, 65) })) }), true, 1],
  ['every share zero', 'secaggUnmaskResponse', (p) => ({ ...p, selfMaskShares: p.selfMaskShares.map((s: Payload) => ({ ...s, share: new Uint8Array(66) })) }), true, 1],
  ['shares under rotated owners', 'secaggUnmaskResponse', (p) => ({ ...p, selfMaskShares: p.selfMaskShares.map((s: Payload, i: number) => ({ ...s, owner: p.selfMaskShares[(i + 1) % p.selfMaskShares.length].owner })) }), true, 1],
  ['complaints about every dealer instead of shares', 'secaggUnmaskResponse', (p) => ({ ...p, selfMaskShares: [], unusable: p.selfMaskShares.map((s: Payload) => s.owner) }), true, 1],
  ['shares of 129 bytes (schema)', 'secaggUnmaskResponse', (p) => ({ ...p, selfMaskShares: p.selfMaskShares.map((s: Payload) => ({ ...s, share: new Uint8Array(129) })) }), true, 1],
  // Refused as stale, like a late answer from an earlier attempt (which an honest site can send): it counts as silence,
  // and the phase waits for its deadline as for any silent site (the only row that does).
  ['an unmask response of another run', 'secaggUnmaskResponse', (p) => ({ ...p, runId: 'other' }), true, 1],
  ['its unmask response twice', 'secaggUnmaskResponse', (p) => [p, p], true, 1],
];

function changing(connector: ClientConnector, event: string, change: (p: Payload) => Payload | Payload[]): ClientConnector {
  return {
    connect: async () => {
      const link = await connector.connect();
      const send = link.send.bind(link) as (e: string, p: unknown) => void;
      link.send = ((e: string, p: Payload) => {
        if (e !== event) return send(e, p);
        const out = change(p);
        for (const o of Array.isArray(out) ? out : [out]) send(e, o);
      }) as typeof link.send;
      return link;
    },
  };
}

describe('secure aggregation: one hostile site changes one message', () => {
  it.each(changes)('%s (%s)', async (what, event, change, inSum, attempts) => {
    const fed = await startTestFederation({
      sites: 5,
      rounds: 1,
      transport: 'memory',
      maxSiteExamples: 40,
      holdoutExamples: 100,
      config: { federatedEvaluation: 'never', maxRoundAttempts: 3, secureAggregation: { clip: 1, phaseTimeoutMs: 20_000 } },
      wrapConnector: (siteId, c) => (siteId === 'site-3' ? changing(c, event, change) : c),
    });
    const started = Date.now();
    try {
      const report = await fed.coordinator.done;
      expect(report.status, report.aborted).toBe('complete');
      const [round] = report.rounds;
      expect(round.attempts).toBe(attempts);
      expect(round.accepted.map((a) => a.siteId)).toEqual(inSum ? ['site-1', 'site-2', 'site-3', 'site-4', 'site-5'] : ['site-1', 'site-2', 'site-4', 'site-5']);
      // No phase waited for its 20 s deadline: every other refusal took the site out at once.
      if (event === 'secaggUnmaskResponse' && what.includes('another run')) expect(Date.now() - started).toBeGreaterThanOrEqual(20_000);
      else expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      await fed.coordinator.close();
      await Promise.allSettled(fed.siteRuns);
    }
  }, 60_000);
});
