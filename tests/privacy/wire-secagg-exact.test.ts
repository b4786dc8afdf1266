import { describe, expect, it } from 'vitest';
import { secAggInstruction } from '@fedtune/coordinator';
import {
  bytesToUint32,
  checkSecAggInstruction,
  dequantize,
  packBinaryFields,
  SecAggParticipant,
  SecAggServer,
  secAggConfigOf,
  secAggInputOf,
  SecureAggAdvertise,
  SecureAggInstruction,
  SecureAggKeys,
  SecureAggMasked,
  SecureAggShareKeys,
  SecureAggShares,
  SecureAggUnmask,
  SecureAggUnmaskResponse,
  uint32ToBytes,
  unpackBinaryFields,
  type SecAggPrimitives,
} from '@fedtune/shared';
import { nodeSecAggPrimitives } from '@fedtune/shared/node';
import { thrown } from '../helpers/thrown.ts';

/**
 * A site's side of secure aggregation (shared/src/client/secagg-participant.ts), exactly: the masked vector's
 * little-endian bytes, the clipped delta and capped weight it masks, the fixed-point bound it holds a coordinator's
 * scale to (to the last bit of 1e-12), the messages it answers with (every field, nothing more), and a whole round
 * of three participants and the real server over the packed wire whose sum is the weighted sum of their deltas.
 */
const SITES = ['site-a', 'site-b', 'site-c'];

/** Through the wire: packed, cloned, unpacked and parsed by the message's schema, as the other side receives it. */
const wire = <T>(schema: { parse: (v: unknown) => T }, message: unknown): T => schema.parse(unpackBinaryFields(structuredClone(packBinaryFields(message))));

describe('masked vectors on the wire', () => {
  it('uint32 values as little-endian bytes', () => {
    expect(Array.from(uint32ToBytes(Uint32Array.of(0x01020304, 0xffffffff, 0, 0x80000000)))).toEqual([4, 3, 2, 1, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 128]);
    expect(uint32ToBytes(new Uint32Array(0))).toHaveLength(0);
  });

  it('bytes back to uint32, from any offset of any buffer', () => {
    const buffer = Uint8Array.of(99, 4, 3, 2, 1, 255, 255, 255, 255, 0, 0, 0, 128, 99);
    expect(Array.from(bytesToUint32(buffer.subarray(1, 13)))).toEqual([0x01020304, 0xffffffff, 0x80000000]);
    expect(Array.from(bytesToUint32(uint32ToBytes(Uint32Array.of(7, 0xdeadbeef))))).toEqual([7, 0xdeadbeef]);
  });

  it.each([1, 2, 3, 5, 7])('refuses %i bytes (not whole uint32 values)', (n) => {
    const e = thrown(() => bytesToUint32(new Uint8Array(n)));
    expect(e.code).toBe('malformed_payload');
    expect(e.message).toBe('a uint32 vector must have a multiple of 4 bytes');
  });
});

describe('the input a site masks', () => {
  const instruction = (patch: Partial<SecureAggInstruction> = {}): SecureAggInstruction => ({ ...secAggInstruction(1, SITES, 2, 3, { clip: 10 } as never, 100), ...patch });

  it('is its delta from the global model, per tensor, unclipped within the clip', () => {
    const input = secAggInputOf([Float32Array.of(1.5, -2), Float32Array.of(4)], [Float32Array.of(0.5, 1), Float32Array.of(4.25)], 30, instruction());
    expect(input.update).toEqual([Float32Array.of(1, -3), Float32Array.of(-0.25)]);
  });

  it('is clipped to the L2 norm `clip`', () => {
    const input = secAggInputOf([Float32Array.of(3, 4, 0)], [new Float32Array(3)], 30, instruction({ clip: 2.5 }));
    expect(input.update).toEqual([Float32Array.of(1.5, 2, 0)]);
  });

  it.each([
    ['examples', 30, 100, 0.3],
    ['examples', 250, 100, 1], // 2.5, capped at maxTotalWeight 1
    ['uniform', 30, 4, 0.25],
    ['uniform', 30, 0.5, 1], // 2, capped
  ] as const)('weight with %s weighting, %i examples, denominator %d: %d', (weighting, examples, denominator, weight) => {
    const input = secAggInputOf([Float32Array.of(1)], [Float32Array.of(0)], examples, instruction({ weighting, weightDenominator: denominator }));
    expect(input.weight).toBe(weight);
  });
});

describe('checkSecAggInstruction: the fixed-point scale a coordinator may ask for', () => {
  const site = { siteId: 'site-b', round: 3, parameterCount: 3 };
  /** Range 4 and a total weight of 2 (so the product, not a quotient, bounds the scale), three sites. */
  const safe = (2 ** 31 - 1 - 3) / (4 * 2);
  const withScale = (scale: number, range = 4): SecureAggInstruction => ({ ...secAggInstruction(1, SITES, 2, 3, { clip: 1 } as never, 100), fixedPoint: { range, maxTotalWeight: 2, scale } });

  it.each([
    ['the largest safe scale', safe],
    ['the safe scale with the 1e-12 rounding allowance', safe * (1 + 1e-12)],
  ])('accepts %s', (_what, scale) => {
    expect(() => checkSecAggInstruction(withScale(scale), site)).not.toThrow();
  });

  it.each([
    ['a scale 1e-10 above the safe one', safe * (1 + 1e-10)],
    ['a scale 1e-9 above the safe one', safe * (1 + 1e-9)],
    ['twice the safe scale', safe * 2],
  ])('refuses %s, saying what the bound is', (_what, scale) => {
    const e = thrown(() => checkSecAggInstruction(withScale(scale), site));
    expect(e.code).toBe('malformed_payload');
    expect(e.message).toBe(`secure aggregation: fixed-point scale ${scale} could overflow the sum of 3 sites (at most ${safe})`);
  });

  it('a range under 1 bounds the scale as a range of 1 does', () => {
    const safeUnder1 = (2 ** 31 - 1 - 3) / 2;
    expect(() => checkSecAggInstruction(withScale(safeUnder1, 0.25), site)).not.toThrow();
    expect(thrown(() => checkSecAggInstruction(withScale(safeUnder1 * (1 + 1e-10), 0.25), site)).code).toBe('malformed_payload');
  });

  it('an inconsistent topology is refused as malformed, with the topology\'s error as its cause', () => {
    const e = thrown(() => checkSecAggInstruction({ ...withScale(safe), threshold: 1 }, site));
    expect(e.code).toBe('malformed_payload');
    expect(e.message).toMatch(/^secure aggregation: .*threshold/);
    expect(e.cause).toBeInstanceOf(Error);
    expect(e.message).toBe(`secure aggregation: ${(e.cause as Error).message}`);
  });
});

describe('SecAggParticipant', () => {
  const runId = 'run-1';
  const round = 4;
  const instruction = SecureAggInstruction.parse(secAggInstruction(2, SITES, 2, 3, { clip: 10 } as never, 100));
  const global = [Float32Array.of(0.5, -1), Float32Array.of(2)];
  const locals: Record<string, Float32Array[]> = {
    'site-a': [Float32Array.of(0.75, -1), Float32Array.of(2.5)],
    'site-b': [Float32Array.of(0.5, -0.5), Float32Array.of(1)],
    'site-c': [Float32Array.of(1.5, -2), Float32Array.of(2)],
  };
  const examples: Record<string, number> = { 'site-a': 10, 'site-b': 20, 'site-c': 40 };
  const report = (id: string) => ({ numExamples: examples[id], metrics: { loss: 0.5, accuracy: 0.75 }, durationMs: 12 });

  /** The real node primitives, counting their calls (to see that the participant's site uses them). */
  function countingPrimitives() {
    const calls = { keystream: 0, x25519: 0 };
    const primitives: SecAggPrimitives = {
      keystream: (key, bytes) => (calls.keystream++, nodeSecAggPrimitives.keystream(key, bytes)),
      x25519: (secretKey, publicKey) => (calls.x25519++, nodeSecAggPrimitives.x25519(secretKey, publicKey)),
    };
    return { calls, primitives };
  }

  const participants = (primitives?: SecAggPrimitives) =>
    SITES.map((id) => new SecAggParticipant(runId, round, instruction, id, secAggInputOf(locals[id], global, examples[id], instruction), primitives));

  it('the protocol configuration is the instruction\'s, for this round', () => {
    expect(secAggConfigOf(round, instruction)).toEqual({ round: 4, sites: SITES, threshold: 2, neighbours: undefined, vectorLength: 3, fixedPoint: instruction.fixedPoint });
  });

  it('belongs to its run, round and attempt only', () => {
    const [p] = participants();
    expect(p.attempt).toBe(2);
    expect(p.matches({ runId, round, attempt: 2 })).toBe(true);
    expect(p.matches({ runId: 'run-2', round, attempt: 2 })).toBe(false);
    expect(p.matches({ runId, round: 3, attempt: 2 })).toBe(false);
    expect(p.matches({ runId, round, attempt: 1 })).toBe(false);
  });

  it('a round of three participants and the real server over the wire: every message exactly, and the sum is Σ w·delta', () => {
    const { calls, primitives } = countingPrimitives();
    const ps = participants(primitives);
    const server = new SecAggServer(secAggConfigOf(round, instruction));
    const ids = (siteId: string) => ({ runId, round, attempt: 2, siteId });

    for (const p of ps) {
      const advert = p.advertise(report(p.siteId));
      expect(Object.keys(advert).sort()).toEqual(['attempt', 'durationMs', 'encryptionPublicKey', 'maskingPublicKey', 'metrics', 'numExamples', 'round', 'runId', 'selfMaskCommitment', 'siteId']);
      expect(advert).toMatchObject({ ...ids(p.siteId), ...report(p.siteId) });
      expect([advert.encryptionPublicKey.length, advert.maskingPublicKey.length, advert.selfMaskCommitment.length]).toEqual([32, 32, 32]);
      const m = wire(SecureAggAdvertise, advert);
      server.receiveAdvertiseKeys({ kind: 'secagg/advertise-keys', round: m.round, siteId: m.siteId, encryptionPublicKey: m.encryptionPublicKey, maskingPublicKey: m.maskingPublicKey, selfMaskCommitment: m.selfMaskCommitment });
    }
    const directory = server.closeAdvertise();
    const keys = wire(SecureAggKeys, { runId, round, attempt: 2, keys: directory.keys });

    for (const p of ps) {
      const shares = p.shareKeys(keys);
      expect(Object.keys(shares).sort()).toEqual(['attempt', 'round', 'runId', 'shares', 'siteId']);
      expect(shares).toMatchObject(ids(p.siteId));
      expect(shares.shares.map((s) => [s.from, s.to])).toEqual(SITES.map((to) => [p.siteId, to]));
      const m = wire(SecureAggShareKeys, shares);
      server.receiveShareKeys({ kind: 'secagg/share-keys', round: m.round, siteId: m.siteId, shares: m.shares });
    }
    const deliveries = server.closeShareKeys();

    for (const p of ps) {
      const d = deliveries.get(p.siteId)!;
      const masked = p.maskInput(wire(SecureAggShares, { runId, round, attempt: 2, participants: d.participants, shares: d.shares }));
      expect(Object.keys(masked).sort()).toEqual(['attempt', 'masked', 'round', 'runId', 'siteId']);
      expect(masked).toMatchObject(ids(p.siteId));
      expect(masked.masked).toHaveLength(4 * 4);
      const m = wire(SecureAggMasked, masked);
      server.receiveMaskedInput({ kind: 'secagg/masked-input', round: m.round, siteId: m.siteId, masked: bytesToUint32(m.masked) });
    }
    const request = server.closeMaskedInput();
    expect(request.survivors).toEqual(SITES);

    for (const p of ps) {
      const response = p.unmask(wire(SecureAggUnmask, { runId, round, attempt: 2, survivors: request.survivors }));
      expect(Object.keys(response).sort()).toEqual(['attempt', 'maskingKeyShares', 'round', 'runId', 'selfMaskShares', 'siteId']);
      expect(response).toMatchObject(ids(p.siteId));
      expect(response.selfMaskShares.map((s) => s.owner)).toEqual(SITES);
      expect(response.maskingKeyShares).toEqual([]);
      const m = wire(SecureAggUnmaskResponse, response);
      server.receiveUnmaskResponse({ kind: 'secagg/unmask-response', round: m.round, siteId: m.siteId, selfMaskShares: m.selfMaskShares, maskingKeyShares: m.maskingKeyShares });
      expect([p.clamped, p.wrapped]).toEqual([0, 0]);
    }
    // Keys agreed and masks expanded by the primitives the participant was given.
    expect(calls.x25519).toBeGreaterThan(0);
    expect(calls.keystream).toBeGreaterThan(0);

    const sum = dequantize(server.finish().sum, [2, 1], instruction.fixedPoint);
    // w = 0.1, 0.2, 0.4; deltas (0.25, 0, 0.5), (0, 0.5, -1), (1, -1, 0).
    expect(sum.totalWeight).toBeCloseTo(0.7, 8);
    const tolerance = 3 / (2 * instruction.fixedPoint.scale) + 1e-7;
    const expected = [0.1 * 0.25 + 0.4 * 1, 0.2 * 0.5 - 0.4, 0.1 * 0.5 - 0.2];
    const got = [...sum.weightedSum[0], ...sum.weightedSum[1]];
    got.forEach((v, i) => expect(Math.abs(v - expected[i])).toBeLessThan(tolerance));
  });

  it('names the dealers whose shares it could not open in its unmask response, and counts the coordinates it clamped', () => {
    const clampInstruction = { ...instruction, fixedPoint: { ...instruction.fixedPoint, range: 0.25 } };
    const ps = SITES.map((id) => new SecAggParticipant(runId, round, clampInstruction, id, secAggInputOf(locals[id], global, examples[id], clampInstruction)));
    const server = new SecAggServer(secAggConfigOf(round, clampInstruction));
    for (const p of ps) {
      const m = p.advertise(report(p.siteId));
      server.receiveAdvertiseKeys({ kind: 'secagg/advertise-keys', round, siteId: m.siteId, encryptionPublicKey: m.encryptionPublicKey, maskingPublicKey: m.maskingPublicKey, selfMaskCommitment: m.selfMaskCommitment });
    }
    const keys = { runId, round, attempt: 2, keys: server.closeAdvertise().keys };
    for (const p of ps) server.receiveShareKeys({ kind: 'secagg/share-keys', round, siteId: p.siteId, shares: p.shareKeys(keys).shares });
    const deliveries = server.closeShareKeys();
    const a = ps[0];
    const d = deliveries.get('site-a')!;
    // A hostile coordinator flips one bit of site-b's sealed shares to site-a.
    const shares = d.shares.map((s) => (s.from === 'site-b' ? { ...s, ciphertext: s.ciphertext.map((v, i) => (i === 0 ? v ^ 1 : v)) } : s));
    a.maskInput({ runId, round, attempt: 2, participants: d.participants, shares });
    // Deltas (0.25, 0, 0.5): 0.5 is outside the range 0.25.
    expect(a.clamped).toBe(1);
    const response = a.unmask({ runId, round, attempt: 2, survivors: SITES });
    expect(response.unusable).toEqual(['site-b']);
    expect(response.selfMaskShares.map((s) => s.owner)).toEqual(['site-a', 'site-c']);
    expect(Object.keys(response).sort()).toEqual(['attempt', 'maskingKeyShares', 'round', 'runId', 'selfMaskShares', 'siteId', 'unusable']);
  });
});
