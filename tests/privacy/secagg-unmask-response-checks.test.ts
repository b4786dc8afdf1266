import { describe, expect, it } from 'vitest';
import { numberToBytesBE } from '@noble/curves/utils.js';
import { dequantize, fixedPointConfig } from '../../shared/src/privacy/fixed-point.ts';
import { SecAggServer } from '../../shared/src/privacy/secagg-server.ts';
import { SecAggSite } from '../../shared/src/privacy/secagg-site.ts';
import { isShareValue, SHAMIR_SHARE_BYTES } from '../../shared/src/privacy/shamir.ts';
import type { SecAggConfig, SecAggUnmaskResponse } from '../../shared/src/privacy/secagg-messages.ts';
import { isFedtuneError } from '../../shared/src/errors.ts';

/**
 * The server's checks of one survivor's unmask response, on arrival (secagg-server.ts receiveUnmaskResponse):
 * every owner a neighbour of the right set (self-mask shares: survivors; masking-key shares: sites dropped after
 * sharing), once per list, each share a field element of SHAMIR_SHARE_BYTES bytes. A refused response is that
 * site's alone: the server keeps nothing of it, and the same site may still send a usable one.
 */
const P = 2n ** 521n - 1n;

function failure(f: () => unknown): { code: string; message: string } | undefined {
  try {
    f();
  } catch (err) {
    return isFedtuneError(err) ? { code: err.code, message: err.message } : { code: `not a FedtuneError: ${String(err)}`, message: '' };
  }
  return undefined;
}

/** Sites a, b, c, d (t = 2 of every neighbourhood); `drop` shares its keys, then sends no masked input. */
function toUnmask(options: { neighbours?: number; sites?: string[]; drop?: string } = {}) {
  const ids = options.sites ?? ['a', 'b', 'c', 'd'];
  const config: SecAggConfig = { round: 3, sites: ids, threshold: options.neighbours ? 2 : 3, vectorLength: 2, ...(options.neighbours ? { neighbours: options.neighbours } : {}), fixedPoint: fixedPointConfig({ sites: ids.length }) };
  const server = new SecAggServer(config);
  const sites = ids.map((id) => new SecAggSite(id, config));
  for (const s of sites) server.receiveAdvertiseKeys(s.advertiseKeys());
  const directory = server.closeAdvertise();
  for (const s of sites) server.receiveShareKeys(s.shareKeys(directory));
  const deliveries = server.closeShareKeys();
  for (const s of sites) if (s.siteId !== options.drop) server.receiveMaskedInput(s.maskInput(deliveries.get(s.siteId)!, { update: [Float32Array.from([0.5, -0.25])], weight: 0.2 }));
  const request = server.closeMaskedInput();
  const reply = (id: string): SecAggUnmaskResponse => sites.find((s) => s.siteId === id)!.unmask(request);
  return { server, request, reply };
}

describe('isShareValue: a share value is a field element of SHAMIR_SHARE_BYTES bytes', () => {
  it.each([
    ['0', numberToBytesBE(0n, SHAMIR_SHARE_BYTES), true],
    ['p − 1', numberToBytesBE(P - 1n, SHAMIR_SHARE_BYTES), true],
    ['p', numberToBytesBE(P, SHAMIR_SHARE_BYTES), false],
    ['p + 1', numberToBytesBE(P + 1n, SHAMIR_SHARE_BYTES), false],
    ['2^528 − 1 (every bit set)', new Uint8Array(SHAMIR_SHARE_BYTES).fill(0xff), false],
    ['one byte short', new Uint8Array(SHAMIR_SHARE_BYTES - 1), false],
    ['one byte long', new Uint8Array(SHAMIR_SHARE_BYTES + 1), false],
    ['empty', new Uint8Array(0), false],
    ['absent', undefined, false],
  ])('%s', (_name, y, expected) => {
    expect(isShareValue(y as Uint8Array | undefined)).toBe(expected);
  });
});

describe('the server checks each unmask response as it arrives', () => {
  it('an honest response is kept, and with the others the sum finishes', () => {
    const { server, reply } = toUnmask({ drop: 'd' });
    for (const id of ['a', 'b', 'c']) expect(failure(() => server.receiveUnmaskResponse(reply(id)))).toBeUndefined();
    expect(failure(() => server.finish())).toBeUndefined();
  });

  it('a self-mask share of a site that is not a survivor (the dropped one): malformed_payload, naming both', () => {
    const { server, reply } = toUnmask({ drop: 'd' });
    const honest = reply('a');
    const bad = { ...honest, selfMaskShares: [...honest.selfMaskShares, { owner: 'd', share: honest.selfMaskShares[0].share }] };
    expect(failure(() => server.receiveUnmaskResponse(bad))).toEqual({ code: 'malformed_payload', message: 'a revealed an unexpected self-mask share of d' });
    // Nothing of it was kept: the same site's honest response is taken, and the round finishes.
    expect(failure(() => server.receiveUnmaskResponse(honest))).toBeUndefined();
    server.receiveUnmaskResponse(reply('b'));
    server.receiveUnmaskResponse(reply('c'));
    expect(failure(() => server.finish())).toBeUndefined();
  });

  it('a masking-key share of a survivor: malformed_payload; of the site that dropped: kept', () => {
    const { server, reply } = toUnmask({ drop: 'd' });
    const honest = reply('a');
    expect(honest.maskingKeyShares.map((s) => s.owner)).toEqual(['d']);
    const bad = { ...honest, maskingKeyShares: [...honest.maskingKeyShares, { owner: 'b', share: honest.maskingKeyShares[0].share }] };
    expect(failure(() => server.receiveUnmaskResponse(bad))).toEqual({ code: 'malformed_payload', message: 'a revealed an unexpected masking-key share of b' });
    expect(failure(() => server.receiveUnmaskResponse(honest))).toBeUndefined();
  });

  it('a masking-key share when no site dropped: malformed_payload', () => {
    const { server, reply } = toUnmask();
    const honest = reply('a');
    expect(honest.maskingKeyShares).toEqual([]);
    const bad = { ...honest, maskingKeyShares: [{ owner: 'b', share: honest.selfMaskShares[0].share }] };
    expect(failure(() => server.receiveUnmaskResponse(bad))?.code).toBe('malformed_payload');
  });

  it('an owner named twice in one list: duplicate_result, naming the list', () => {
    const { server, reply } = toUnmask({ drop: 'd' });
    const honest = reply('a');
    expect(failure(() => server.receiveUnmaskResponse({ ...honest, selfMaskShares: [...honest.selfMaskShares, honest.selfMaskShares[1]] }))).toEqual({
      code: 'duplicate_result',
      message: `a revealed two self-mask shares of ${honest.selfMaskShares[1].owner}`,
    });
    expect(failure(() => server.receiveUnmaskResponse({ ...honest, maskingKeyShares: [...honest.maskingKeyShares, honest.maskingKeyShares[0]] }))).toEqual({
      code: 'duplicate_result',
      message: 'a revealed two masking-key shares of d',
    });
    // The same owner once in each list is not a duplicate (the lists are checked apart): here d is in one only.
    expect(failure(() => server.receiveUnmaskResponse(honest))).toBeUndefined();
  });

  it.each([
    ['one byte short', (y: Uint8Array) => y.slice(1)],
    ['one byte long', (y: Uint8Array) => Uint8Array.from([0, ...y])],
    ['the value p', () => numberToBytesBE(P, SHAMIR_SHARE_BYTES)],
  ])('a share that is not a field element (%s): malformed_payload', (_name, change) => {
    const { server, reply } = toUnmask({ drop: 'd' });
    const honest = reply('b');
    const [first, ...rest] = honest.selfMaskShares;
    expect(failure(() => server.receiveUnmaskResponse({ ...honest, selfMaskShares: [{ ...first, share: change(first.share) }, ...rest] }))).toEqual({
      code: 'malformed_payload',
      message: `b revealed an unexpected self-mask share of ${first.owner}`,
    });
    const [key] = honest.maskingKeyShares;
    expect(failure(() => server.receiveUnmaskResponse({ ...honest, maskingKeyShares: [{ ...key, share: change(key.share) }] }))?.code).toBe('malformed_payload');
  });

  it('SecAgg+: a share of a survivor outside the responder’s neighbourhood: malformed_payload', () => {
    const ids = Array.from({ length: 10 }, (_, i) => `s${i}`);
    const { server, request, reply } = toUnmask({ neighbours: 2, sites: ids });
    const honest = reply('s0');
    const neighbours = new Set(honest.selfMaskShares.map((s) => s.owner));
    const stranger = request.survivors.find((id) => !neighbours.has(id))!;
    expect(stranger).toBeDefined();
    const bad = { ...honest, selfMaskShares: [...honest.selfMaskShares, { owner: stranger, share: honest.selfMaskShares[0].share }] };
    expect(failure(() => server.receiveUnmaskResponse(bad))).toEqual({ code: 'malformed_payload', message: `s0 revealed an unexpected self-mask share of ${stranger}` });
    expect(failure(() => server.receiveUnmaskResponse(honest))).toBeUndefined();
  });
});

/**
 * With exactly t self-mask shares of a survivor nothing else can tell a wrong one: the seed they recover is
 * checked against the commitment its owner sent with its keys (secagg-crypto.ts selfMaskCommitment), so one
 * survivor lying about another's share fails the round instead of unmasking the sum with a wrong seed (before:
 * finish returned a sum of random words, which the coordinator decoded into the global model).
 */
describe('a recovered self-mask seed must match its owner’s commitment', () => {
  /** a, b, c, d all survive; only a, b, c answer (t = 3); `lie` flips one bit of a's share of b's seed. */
  function exactlyT(lie: boolean) {
    const { server, reply } = toUnmask();
    for (const id of ['a', 'b', 'c']) {
      const r = reply(id);
      if (lie && id === 'a') {
        const i = r.selfMaskShares.findIndex((s) => s.owner === 'b');
        const share = Uint8Array.from(r.selfMaskShares[i].share);
        share[SHAMIR_SHARE_BYTES - 1] ^= 1;
        r.selfMaskShares[i] = { owner: 'b', share };
      }
      expect(failure(() => server.receiveUnmaskResponse(r))).toBeUndefined();
    }
    return server;
  }

  it('honest, exactly t responders: the sum of the four inputs, d silent in unmasking', () => {
    const aggregate = exactlyT(false).finish();
    expect(aggregate.silentInUnmasking).toEqual(['d']);
    const decoded = dequantize(aggregate.sum, [2], fixedPointConfig({ sites: 4 }));
    // Each of the four sites sent 0.2 · [0.5, −0.25] with weight 0.2: the mean is [0.5, −0.25].
    expect(decoded.totalWeight).toBeCloseTo(0.8, 6);
    expect(Array.from(decoded.mean[0])).toEqual([expect.closeTo(0.5, 5), expect.closeTo(-0.25, 5)]);
  });

  it('one wrong share among exactly t: malformed_payload naming the owner, never a sum', () => {
    expect(failure(() => exactlyT(true).finish())).toEqual({ code: 'malformed_payload', message: 'the self-mask seed recovered for b does not match its commitment' });
  });

  it('public keys that are not 32 bytes, or missing, are refused with the keys', () => {
    const ids = ['a', 'b', 'c'];
    const config: SecAggConfig = { round: 3, sites: ids, threshold: 2, vectorLength: 2, fixedPoint: fixedPointConfig({ sites: 3 }) };
    const server = new SecAggServer(config);
    const advert = new SecAggSite('a', config).advertiseKeys();
    const bad = [{ encryptionPublicKey: new Uint8Array(31) }, { maskingPublicKey: new Uint8Array(33) }, { encryptionPublicKey: undefined }, { maskingPublicKey: undefined }, { selfMaskCommitment: undefined }];
    for (const change of bad) {
      const message = 'selfMaskCommitment' in change ? 'bad self-mask commitment from a' : 'bad public keys from a';
      expect(failure(() => server.receiveAdvertiseKeys({ ...advert, ...change } as typeof advert))).toEqual({ code: 'malformed_payload', message });
    }
    expect(failure(() => server.receiveAdvertiseKeys(advert))).toBeUndefined();
  });

  it('a commitment that is not 32 bytes is refused with the keys', () => {
    const ids = ['a', 'b', 'c'];
    const config: SecAggConfig = { round: 3, sites: ids, threshold: 2, vectorLength: 2, fixedPoint: fixedPointConfig({ sites: 3 }) };
    const server = new SecAggServer(config);
    const advert = new SecAggSite('a', config).advertiseKeys();
    for (const length of [0, 31, 33]) {
      expect(failure(() => server.receiveAdvertiseKeys({ ...advert, selfMaskCommitment: new Uint8Array(length) }))).toEqual({ code: 'malformed_payload', message: 'bad self-mask commitment from a' });
    }
    expect(failure(() => server.receiveAdvertiseKeys(advert))).toBeUndefined();
  });
});

describe('one wrong share among more than t: left out, the sum is right, its holder named', () => {
  /** a … e all survive and answer (t = 3 of 5); `liar` moves every share it reveals off its owner's polynomial. */
  function fiveAnswer(liar: string, only?: string) {
    const { server, reply } = toUnmask({ sites: ['a', 'b', 'c', 'd', 'e'] });
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      const r = reply(id);
      if (id === liar) {
        r.selfMaskShares = r.selfMaskShares.map((s) => (only === undefined || s.owner === only ? { owner: s.owner, share: s.share.map((v, i) => (i === SHAMIR_SHARE_BYTES - 1 ? v ^ 1 : v)) } : s));
      }
      server.receiveUnmaskResponse(r);
    }
    return server.finish();
  }
  const mean = (aggregate: { sum: Uint32Array }) => Array.from(dequantize(aggregate.sum, [2], fixedPointConfig({ sites: 5 })).mean[0]);

  it.each(['a', 'b', 'e'])('%s lies about every owner: the sum of the five inputs, wrongShares names it', (liar) => {
    const aggregate = fiveAnswer(liar);
    expect(aggregate.wrongShares).toEqual(liar === 'e' ? [] : [liar]);
    expect(mean(aggregate)).toEqual([expect.closeTo(0.5, 5), expect.closeTo(-0.25, 5)]);
  });

  it('a lies about c’s seed only: the same sum, a named', () => {
    const aggregate = fiveAnswer('a', 'c');
    expect(aggregate.wrongShares).toEqual(['a']);
    expect(mean(aggregate)).toEqual([expect.closeTo(0.5, 5), expect.closeTo(-0.25, 5)]);
  });

  it('honest: nobody named', () => {
    expect(fiveAnswer('nobody').wrongShares).toEqual([]);
  });

  it('the answers arrive in reverse (e first, a last), a lies: still a named — shares are used in point order', () => {
    const { server, reply } = toUnmask({ sites: ['a', 'b', 'c', 'd', 'e'] });
    for (const id of ['e', 'd', 'c', 'b', 'a']) {
      const r = reply(id);
      if (id === 'a') r.selfMaskShares = r.selfMaskShares.map((s) => ({ owner: s.owner, share: s.share.map((v, i) => (i === SHAMIR_SHARE_BYTES - 1 ? v ^ 1 : v)) }));
      server.receiveUnmaskResponse(r);
    }
    const aggregate = server.finish();
    expect(aggregate.wrongShares).toEqual(['a']);
    expect(mean(aggregate)).toEqual([expect.closeTo(0.5, 5), expect.closeTo(-0.25, 5)]);
  });

  it('a lies about every owner and b about c only: once a is found its other shares are left out, so b is found too', () => {
    const { server, reply } = toUnmask({ sites: ['a', 'b', 'c', 'd', 'e'] });
    const flip = (share: Uint8Array) => share.map((v, i) => (i === SHAMIR_SHARE_BYTES - 1 ? v ^ 1 : v));
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      const r = reply(id);
      if (id === 'a') r.selfMaskShares = r.selfMaskShares.map((s) => ({ owner: s.owner, share: flip(s.share) }));
      if (id === 'b') r.selfMaskShares = r.selfMaskShares.map((s) => (s.owner === 'c' ? { owner: s.owner, share: flip(s.share) } : s));
      server.receiveUnmaskResponse(r);
    }
    // With a's shares still in use, c's first t + 1 shares (a, b, c, d) would hold two wrong ones: no recovery.
    const aggregate = server.finish();
    expect(aggregate.wrongShares).toEqual(['a', 'b']);
    expect(mean(aggregate)).toEqual([expect.closeTo(0.5, 5), expect.closeTo(-0.25, 5)]);
  });

  it('once a is found wrong, its shares of the owners recovered after are not used, even when that leaves fewer than t', () => {
    /** a … e answer; `lie`: a moves its share of b's seed; d and e leave out their shares of c's, so c has a's, b's and c's. */
    function finishWith(lie: boolean) {
      const { server, reply } = toUnmask({ sites: ['a', 'b', 'c', 'd', 'e'] });
      for (const id of ['a', 'b', 'c', 'd', 'e']) {
        const r = reply(id);
        if (lie && id === 'a') r.selfMaskShares = r.selfMaskShares.map((s) => (s.owner === 'b' ? { owner: s.owner, share: s.share.map((v, i) => (i === SHAMIR_SHARE_BYTES - 1 ? v ^ 1 : v)) } : s));
        if (id === 'd' || id === 'e') r.selfMaskShares = r.selfMaskShares.filter((s) => s.owner !== 'c');
        server.receiveUnmaskResponse(r);
      }
      return server.finish();
    }
    // Honest: c's seed comes from the three shares it has.
    expect(mean(finishWith(false))).toEqual([expect.closeTo(0.5, 5), expect.closeTo(-0.25, 5)]);
    // b's seed (five shares, one wrong) finds a out; c (after b) is left with b's and c's shares: two of t = 3.
    expect(failure(() => finishWith(true))).toEqual({ code: 'quorum_not_met', message: 'secure aggregation round 3 aborted: 2 self-mask shares of c, threshold 3' });
  });

  it('no survivor answered: quorum_not_met, 0 self-mask shares of the first survivor', () => {
    const { server } = toUnmask();
    expect(failure(() => server.finish())).toEqual({ code: 'quorum_not_met', message: 'secure aggregation round 3 aborted: 0 self-mask shares of a, threshold 3' });
  });
});
