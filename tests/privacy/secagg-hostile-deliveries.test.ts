import { describe, expect, it } from 'vitest';
import { dequantize, fixedPointConfig } from '../../shared/src/privacy/fixed-point.ts';
import { sha256 } from '@noble/hashes/sha2.js';
import { ChaChaRandom } from '../../shared/src/privacy/chacha-random.ts';
import { agreeKey, publicKeyOf, sealFor } from '../../shared/src/privacy/secagg-crypto.ts';
import type { SecAggConfig, SecAggKeyDirectory, SecAggShareDelivery } from '../../shared/src/privacy/secagg-messages.ts';
import { numberToBytesBE } from '@noble/curves/utils.js';
import { SecAggServer } from '../../shared/src/privacy/secagg-server.ts';
import { SecAggSite } from '../../shared/src/privacy/secagg-site.ts';
import { SHAMIR_SHARE_BYTES, splitAt } from '../../shared/src/privacy/shamir.ts';
import { thrownCodeAndMessage } from '../helpers/thrown.ts';

/**
 * Secure aggregation against a hostile party, message by message, with the exact refusal each gets:
 * - a coordinator that tampers with the share delivery a site receives (names a site that advertised no keys,
 *   leaves the site itself out, addresses a share elsewhere, claims one from a non-participant or a
 *   non-neighbour, repeats a sender, or leaves a participant's shares out);
 * - a dealer whose sealed shares cannot be used (do not open, the wrong size, not field elements): the site goes
 *   on without them and complains about the dealer in unmasking;
 * - sites whose revealed shares of a dropped site's masking key do not recombine to the key it advertised.
 */

const input = { update: [Float32Array.from([0.5, -0.25])], weight: 0.3 };

/** Deterministic randomness per site (the same seed: the same keys, masks and noise). */
const seeded = (seed: string, id: string) => ({ randomBytes: new ChaChaRandom(sha256(new TextEncoder().encode(`${seed}/${id}`))).randomBytes });

function setUp(config: SecAggConfig, seed?: string) {
  const server = new SecAggServer(config);
  const sites = config.sites.map((id) => new SecAggSite(id, config, seed === undefined ? {} : seeded(seed, id)));
  for (const s of sites) server.receiveAdvertiseKeys(s.advertiseKeys());
  const directory = server.closeAdvertise();
  for (const s of sites) server.receiveShareKeys(s.shareKeys(directory));
  const deliveries = server.closeShareKeys();
  return { server, sites, directory, deliveries };
}

const malformed = (message: string) => ({ code: 'malformed_payload', message });

describe('a site refuses a tampered share delivery, naming what is wrong', () => {
  const config: SecAggConfig = { round: 3, sites: ['a', 'b', 'c'], threshold: 2, vectorLength: 2, fixedPoint: fixedPointConfig({ sites: 3 }) };

  const cases: Array<[string, (d: SecAggShareDelivery) => SecAggShareDelivery, ReturnType<typeof malformed>]> = [
    ['a participant that advertised no keys', (d) => ({ ...d, participants: [...d.participants, 'z'] }), malformed('share delivery names z, which advertised no keys')],
    ['a participant list without the site itself', (d) => ({ ...d, participants: d.participants.filter((p) => p !== 'b') }), malformed('share delivery does not list b')],
    ['a share addressed to another site', (d) => ({ ...d, shares: d.shares.map((s, i) => (i === 0 ? { ...s, to: 'c' } : s)) }), malformed('unexpected shares from a to c')],
    ['a share from a site left out of the participants', (d) => ({ ...d, participants: d.participants.filter((p) => p !== 'a') }), malformed('unexpected shares from a to b')],
    ['the same sender twice', (d) => ({ ...d, shares: [d.shares[0], ...d.shares] }), malformed('unexpected shares from a to b')],
    ['a participant whose shares are missing', (d) => ({ ...d, shares: d.shares.filter((s) => s.from !== 'c') }), malformed('no shares from c, which is listed as a participant')],
  ];

  it.each(cases)('%s', (_name, tamper, refusal) => {
    const { sites, deliveries } = setUp(config);
    const delivery = deliveries.get('b')!;
    expect(delivery.shares.map((s) => s.from)).toEqual(['a', 'b', 'c']);
    expect(thrownCodeAndMessage(() => sites[1].maskInput(tamper(delivery), input))).toEqual(refusal);
  });

  it('the untampered delivery is accepted (the cases above differ from it in one thing each)', () => {
    const { sites, deliveries } = setUp(config);
    const masked = sites[1].maskInput(deliveries.get('b')!, input);
    expect(masked.kind).toBe('secagg/masked-input');
    expect(masked.round).toBe(3);
    expect(masked.siteId).toBe('b');
    expect(masked.masked).toHaveLength(3);
  });

  it('too few participants, and an update of the wrong length, each refused as what it is', () => {
    const { sites, deliveries } = setUp(config);
    const alone = { ...deliveries.get('b')!, participants: ['b'], shares: deliveries.get('b')!.shares.filter((s) => s.from === 'b') };
    expect(thrownCodeAndMessage(() => sites[1].maskInput(alone, input))).toEqual({ code: 'quorum_not_met', message: "secure aggregation round 3: 1 of b's neighbourhood shared their keys, threshold 2" });
    expect(thrownCodeAndMessage(() => sites[2].maskInput(deliveries.get('c')!, { ...input, update: [Float32Array.from([1, 2, 3])] }))).toEqual({ code: 'shape_mismatch', message: 'update has 3 values, the round expects 2' });
  });

  it('distributed DP noise goes into the update\'s coordinates, not its weight', () => {
    const masks = (noise: boolean) => {
      const { sites, deliveries } = setUp(config, 'same-seed');
      const noiseInput = noise ? { noise: { variance: 1e6, randomBytes: new ChaChaRandom(sha256(new TextEncoder().encode('noise'))).randomBytes } } : {};
      return sites[1].maskInput(deliveries.get('b')!, { ...input, ...noiseInput }).masked;
    };
    const [plain, noisy] = [masks(false), masks(true)];
    expect(noisy[2]).toBe(plain[2]);
    const diff = [0, 1].map((i) => (noisy[i] - plain[i]) | 0);
    expect(diff.some((d) => d !== 0)).toBe(true);
    for (const d of diff) expect(Math.abs(d)).toBeLessThan(10 * Math.sqrt(1e6));
  });

  /** A box sealed as a would seal it to b (the coordinator cannot: it lacks the key; a hostile a can). */
  const sealedByA = (sites: SecAggSite[], directory: SecAggKeyDirectory, plain: Uint8Array) => {
    const aSecret = (sites[0] as unknown as { encryptionKeys: { secretKey: Uint8Array } }).encryptionKeys.secretKey;
    const bPublic = directory.keys.find((k) => k.siteId === 'b')!.encryptionPublicKey;
    return sealFor(agreeKey(aSecret, bPublic, 'encrypt', config.round, 'a', 'b'), config.round, 'a', 'b', plain, (n) => new Uint8Array(n));
  };
  const share = (fill: number) => new Uint8Array(SHAMIR_SHARE_BYTES).fill(fill);
  const two = (first: Uint8Array, second: Uint8Array) => Uint8Array.from([...first, ...second]);
  const unusableBoxes: Array<[string, (sites: SecAggSite[], directory: SecAggKeyDirectory, box: { nonce: Uint8Array; ciphertext: Uint8Array }) => { nonce: Uint8Array; ciphertext: Uint8Array }]> = [
    ['a box that does not open (one ciphertext bit flipped)', (_s, _d, box) => ({ ...box, ciphertext: box.ciphertext.map((v, i) => (i === 0 ? v ^ 1 : v)) })],
    ['a box whose tag is cut off', (_s, _d, box) => ({ ...box, ciphertext: box.ciphertext.slice(0, 10) })],
    ['a box of the right key, 1 byte short of two shares', (s, d) => sealedByA(s, d, new Uint8Array(2 * SHAMIR_SHARE_BYTES - 1))],
    ['a box of the right key, 1 byte over two shares', (s, d) => sealedByA(s, d, new Uint8Array(2 * SHAMIR_SHARE_BYTES + 1))],
    ['a masking-key share that is not a field element (≥ 2^521 − 1)', (s, d) => sealedByA(s, d, two(share(0xff), share(1)))],
    ['a self-mask share that is not a field element', (s, d) => sealedByA(s, d, two(share(1), Uint8Array.from({ length: SHAMIR_SHARE_BYTES }, (_, i) => (i === 0 ? 0x02 : 0))))],
  ];

  it.each(unusableBoxes)('%s: b goes on without a\'s shares, reveals none of them and complains about a', (_name, box) => {
    const { server, sites, directory, deliveries } = setUp(config);
    const delivery = deliveries.get('b')!;
    const tampered = { ...delivery, shares: delivery.shares.map((s) => (s.from === 'a' ? { ...s, ...box(sites, directory, s) } : s)) };
    // Before, b refused the whole delivery: one hostile dealer stopped every honest site, and every attempt failed.
    const masked = sites[1].maskInput(tampered, input);
    expect(masked.masked).toBeInstanceOf(Uint32Array);
    expect(sites[1].unusableDealers).toEqual(['a']);
    for (const s of [sites[0], sites[2]]) server.receiveMaskedInput(s.maskInput(deliveries.get(s.siteId)!, input));
    server.receiveMaskedInput(masked);
    const request = server.closeMaskedInput();
    const response = sites[1].unmask(request);
    expect(response.selfMaskShares.map((s) => s.owner)).toEqual(['b', 'c']);
    expect(response.unusable).toEqual(['a']);
    // The honest sites' responses never carry a complaint.
    expect(sites[2].unmask(request).unusable).toBeUndefined();
  });

  it('the last byte of a share that is a field element is still used (2^521 − 2 as its value)', () => {
    const { sites, directory, deliveries } = setUp(config);
    const largest = numberToBytesBE(2n ** 521n - 2n, SHAMIR_SHARE_BYTES);
    const delivery = deliveries.get('b')!;
    const tampered = { ...delivery, shares: delivery.shares.map((s) => (s.from === 'a' ? { ...s, ...sealedByA(sites, directory, two(largest, largest)) } : s)) };
    sites[1].maskInput(tampered, input);
    expect(sites[1].unusableDealers).toEqual([]);
  });
});

describe('SecAgg+: shares only from neighbours', () => {
  it('a share claimed from a participant outside the site\'s neighbourhood is refused', () => {
    const ids = Array.from({ length: 10 }, (_, i) => `s${i}`);
    const config: SecAggConfig = { round: 1, sites: ids, threshold: 3, neighbours: 4, vectorLength: 2, fixedPoint: fixedPointConfig({ sites: 10 }) };
    const { sites, deliveries } = setUp(config);
    const site = sites[0];
    const neighbourhood = (site as unknown as { topology: { neighbourhood: Map<string, Set<string>> } }).topology.neighbourhood.get('s0')!;
    const stranger = ids.find((id) => !neighbourhood.has(id))!;
    expect(stranger).toBeDefined();
    const delivery = deliveries.get('s0')!;
    expect(delivery.participants).toContain(stranger);
    const tampered = { ...delivery, shares: [{ ...delivery.shares[0], from: stranger }, ...delivery.shares.slice(1)] };
    expect(thrownCodeAndMessage(() => site.maskInput(tampered, input))).toEqual(malformed(`unexpected shares from ${stranger} to s0`));
  });
});

describe('the server checks a recovered masking key against the key its owner advertised', () => {
  it('revealed shares that recombine to another key are refused, naming the dropped site', () => {
    const config: SecAggConfig = { round: 5, sites: ['a', 'b', 'c', 'd'], threshold: 3, vectorLength: 2, fixedPoint: fixedPointConfig({ sites: 4 }) };
    const { server, sites, deliveries } = setUp(config);
    // d shares its keys, then drops before its masked input: the survivors reveal shares of its masking key.
    for (const s of sites.slice(0, 3)) server.receiveMaskedInput(s.maskInput(deliveries.get(s.siteId)!, input));
    const request = server.closeMaskedInput();
    expect(request.survivors).toEqual(['a', 'b', 'c']);
    for (const s of sites.slice(0, 3)) {
      const reply = s.unmask(request);
      expect(reply.maskingKeyShares.map((r) => r.owner)).toEqual(['d']);
      // A byte of the share's value flipped (its x, the evaluation point, kept).
      const tampered = reply.maskingKeyShares.map((r) => ({ ...r, share: r.share.map((v, i) => (i === r.share.length - 1 ? v ^ 1 : v)) }));
      server.receiveUnmaskResponse({ ...reply, maskingKeyShares: tampered });
    }
    expect(thrownCodeAndMessage(() => server.finish())).toEqual(malformed('the masking key recovered for d does not match its public key'));
  });

  it('shares that recombine to a key agreeing with the advertised one in some bytes but not all are refused too', () => {
    const config: SecAggConfig = { round: 5, sites: ['a', 'b', 'c', 'd'], threshold: 3, vectorLength: 2, fixedPoint: fixedPointConfig({ sites: 4 }) };
    const { server, sites, directory, deliveries } = setUp(config, 'near-key');
    for (const s of sites.slice(0, 3)) server.receiveMaskedInput(s.maskInput(deliveries.get(s.siteId)!, input));
    const request = server.closeMaskedInput();
    const advertised = directory.keys.find((k) => k.siteId === 'd')!.maskingPublicKey;
    // Colluding survivors choose a key whose public key shares its first byte with d's (1 in 256 keys does).
    const rng = new ChaChaRandom(sha256(new TextEncoder().encode('forged')));
    let forged = rng.randomBytes(32);
    while (publicKeyOf(forged)[0] !== advertised[0]) forged = rng.randomBytes(32);
    expect(publicKeyOf(forged)).not.toEqual(advertised);
    // Their shares of it at their own points (a, b, c are 1, 2, 3): any three recombine to the forged key.
    const forgedShares = splitAt(forged, [1, 2, 3], 3, rng.randomBytes);
    sites.slice(0, 3).forEach((s, k) => {
      const reply = s.unmask(request);
      server.receiveUnmaskResponse({ ...reply, maskingKeyShares: [{ owner: 'd', share: forgedShares[k].y }] });
    });
    expect(thrownCodeAndMessage(() => server.finish())).toEqual(malformed('the masking key recovered for d does not match its public key'));
  });

  it('responses that leave out the shares a secret needs: the round is aborted, naming the secret and its owner', () => {
    const config: SecAggConfig = { round: 5, sites: ['a', 'b', 'c', 'd'], threshold: 3, vectorLength: 2, fixedPoint: fixedPointConfig({ sites: 4 }) };
    for (const [left, message] of [
      ['maskingKeyShares', 'secure aggregation round 5 aborted: 0 masking-key shares of d, threshold 3'],
      ['selfMaskShares', 'secure aggregation round 5 aborted: 0 self-mask shares of a, threshold 3'],
    ] as const) {
      const { server, sites, deliveries } = setUp(config);
      for (const s of sites.slice(0, 3)) server.receiveMaskedInput(s.maskInput(deliveries.get(s.siteId)!, input));
      const request = server.closeMaskedInput();
      for (const s of sites.slice(0, 3)) server.receiveUnmaskResponse({ ...s.unmask(request), [left]: [] });
      expect(thrownCodeAndMessage(() => server.finish()), left).toEqual({ code: 'quorum_not_met', message });
    }
  });

  it('the same round with honest shares sums exactly (the refusal above is the tampering\'s)', () => {
    const config: SecAggConfig = { round: 5, sites: ['a', 'b', 'c', 'd'], threshold: 3, vectorLength: 2, fixedPoint: fixedPointConfig({ sites: 4 }) };
    const { server, sites, deliveries } = setUp(config);
    for (const s of sites.slice(0, 3)) server.receiveMaskedInput(s.maskInput(deliveries.get(s.siteId)!, input));
    const request = server.closeMaskedInput();
    for (const s of sites.slice(0, 3)) server.receiveUnmaskResponse(s.unmask(request));
    const result = server.finish();
    expect(result.dropped).toEqual(['d']);
    expect(result.survivors).toEqual(['a', 'b', 'c']);
    const { mean, totalWeight } = dequantize(result.sum, [2], config.fixedPoint);
    expect(totalWeight).toBeCloseTo(0.9, 6);
    expect(mean[0][0]).toBeCloseTo(0.5, 6);
    expect(mean[0][1]).toBeCloseTo(-0.25, 6);
  });
});
