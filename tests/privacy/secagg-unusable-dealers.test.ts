import { describe, expect, it } from 'vitest';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { fixedPointConfig } from '../../shared/src/privacy/fixed-point.ts';
import { secAggTopology } from '../../shared/src/privacy/secagg-config.ts';
import { isAgreeablePublicKey, nobleX25519, publicKeyOf } from '../../shared/src/privacy/secagg-crypto.ts';
import type { SecAggConfig, SecAggUnmaskResponse } from '../../shared/src/privacy/secagg-messages.ts';
import { SecAggServer } from '../../shared/src/privacy/secagg-server.ts';
import { SecAggSite } from '../../shared/src/privacy/secagg-site.ts';
import { SecAggUnrecoverableError } from '../../shared/src/privacy/secagg-unrecoverable-error.ts';
import { split, SHAMIR_SHARE_BYTES } from '../../shared/src/privacy/shamir.ts';
import { MAX_SUBSET_SEARCH_WORK, recoverVerified } from '../../shared/src/privacy/verified-recovery.ts';
import { nodeSecAggPrimitives } from '../../shared/src/node/node-secagg-primitives.ts';
import { thrownCodeAndMessage } from '../helpers/thrown.ts';

/**
 * A hostile dealer in secure aggregation: a site whose shares its neighbours cannot use — sealed so they do not
 * open, or of a secret other than the one it committed to — or that leaves neighbours out, or advertises a key
 * no one can agree with. Before, each of these made honest sites drop out or the unmasking fail, in every attempt
 * of the round: one site aborted the run. Now the server refuses what it can check on arrival, and names the
 * owners it cannot unmask (SecAggUnrecoverableError) when enough of their neighbours could tell — the round loop
 * leaves those out of the next attempt.
 */
const input = { update: [Float32Array.from([0.5, -0.25])], weight: 0.2 };
const config = (sites: string[], round = 4): SecAggConfig => ({ round, sites, threshold: Math.floor(sites.length / 2) + 1, vectorLength: 2, fixedPoint: fixedPointConfig({ sites: sites.length }) });

/** Phase 0 with honest sites: the server, the sites and the key directory. */
function advertised(c: SecAggConfig) {
  const server = new SecAggServer(c);
  const sites = c.sites.map((id) => new SecAggSite(id, c));
  for (const s of sites) server.receiveAdvertiseKeys(s.advertiseKeys());
  return { server, sites, directory: server.closeAdvertise() };
}

/** Phases 0–1 with honest sites (`reseed`: a dealer sharing another seed than it committed to). */
function shared(c: SecAggConfig, options: { reseed?: string } = {}) {
  const { server, sites, directory } = advertised(c);
  // A dealer that shares another seed than the one it committed to (valid seals, a consistent polynomial).
  if (options.reseed) (sites.find((s) => s.siteId === options.reseed) as unknown as { selfMaskSeed: Uint8Array }).selfMaskSeed = new Uint8Array(32).fill(7);
  for (const s of sites) server.receiveShareKeys(s.shareKeys(directory));
  return { server, sites, deliveries: server.closeShareKeys() };
}

/** The delivery to `to` with every box from `from` made unopenable. */
function spoiled(deliveries: ReturnType<SecAggServer['closeShareKeys']>, to: string, from: string) {
  const d = deliveries.get(to)!;
  return { ...d, shares: d.shares.map((s) => (s.from === from ? { ...s, ciphertext: s.ciphertext.map((v, i) => (i === 0 ? v ^ 1 : v)) } : s)) };
}

/** The delivery to `to` with every box from each of `spoilers` (but `to` itself) made unopenable. */
function spoiledBy(deliveries: ReturnType<SecAggServer['closeShareKeys']>, to: string, spoilers: readonly string[]) {
  let d = deliveries.get(to)!;
  for (const spoiler of spoilers) if (to !== spoiler) d = spoiled(new Map([[to, d]]), to, spoiler);
  return d;
}

function runTo(c: SecAggConfig, o: { spoiler?: string; reseed?: string; masked?: string[]; respond?: string[]; rewrite?: (r: SecAggUnmaskResponse) => SecAggUnmaskResponse }) {
  const { server, sites, deliveries } = shared(c, { reseed: o.reseed });
  const masked = o.masked ?? c.sites;
  for (const s of sites) {
    if (!masked.includes(s.siteId)) continue;
    const delivery = o.spoiler && s.siteId !== o.spoiler ? spoiled(deliveries, s.siteId, o.spoiler) : deliveries.get(s.siteId)!;
    server.receiveMaskedInput(s.maskInput(delivery, input));
  }
  const request = server.closeMaskedInput();
  for (const s of sites) if ((o.respond ?? request.survivors).includes(s.siteId)) server.receiveUnmaskResponse((o.rewrite ?? ((r) => r))(s.unmask(request)));
  return server;
}

const unrecoverable = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof SecAggUnrecoverableError) return { code: err.code, message: err.message, owners: err.owners };
    throw err;
  }
  throw new Error('did not throw');
};

describe('a dealer whose sealed shares do not open', () => {
  const c = config(['a', 'b', 'c', 'd', 'e']); // t = 3

  it('that survives: its self mask cannot be removed; the server names it (4 complaints ≥ t)', () => {
    const server = runTo(c, { spoiler: 'a' });
    expect(unrecoverable(() => server.finish())).toEqual({ code: 'malformed_payload', message: "4 of a's neighbours could not use the self-mask shares it dealt them (threshold 3)", owners: ['a'] });
  });

  it('that drops after dealing: its masking key cannot be recovered; named the same way', () => {
    const server = runTo(c, { spoiler: 'a', masked: ['b', 'c', 'd', 'e'] });
    expect(unrecoverable(() => server.finish())).toEqual({ code: 'malformed_payload', message: "4 of a's neighbours could not use the masking-key shares it dealt them (threshold 3)", owners: ['a'] });
  });

  it('two of them: both named in one attempt, each reason quoted', () => {
    const c7 = config(['a', 'b', 'c', 'd', 'e', 'f', 'g']); // t = 4
    const { server, sites, deliveries } = shared(c7);
    for (const s of sites) server.receiveMaskedInput(s.maskInput(spoiledBy(deliveries, s.siteId, ['a', 'g']), input));
    const request = server.closeMaskedInput();
    for (const s of sites) server.receiveUnmaskResponse(s.unmask(request));
    const thrown = unrecoverable(() => server.finish());
    expect(thrown.owners).toEqual(['a', 'g']);
    expect(thrown.message).toBe("6 of a's neighbours could not use the self-mask shares it dealt them (threshold 4); 6 of g's neighbours could not use the self-mask shares it dealt them (threshold 4)");
  });

  it('complaints below t name no one: too few shares is a lost quorum (the responders may be the ones lying)', () => {
    // Only b and c complain about a (t − 1 = 2); d and e hold a's shares back without complaining.
    const server = runTo(c, { rewrite: (r) => (r.siteId === 'b' || r.siteId === 'c' ? { ...r, selfMaskShares: r.selfMaskShares.filter((s) => s.owner !== 'a'), unusable: ['a'] } : r.siteId === 'd' || r.siteId === 'e' ? { ...r, selfMaskShares: r.selfMaskShares.filter((s) => s.owner !== 'a') } : r) });
    expect(thrownCodeAndMessage(() => server.finish())).toEqual({ code: 'quorum_not_met', message: 'secure aggregation round 4 aborted: 1 self-mask shares of a, threshold 3' });
  });

  it('exactly t complaints name it', () => {
    const server = runTo(c, { rewrite: (r) => (['b', 'c', 'd'].includes(r.siteId) ? { ...r, selfMaskShares: r.selfMaskShares.filter((s) => s.owner !== 'a'), unusable: ['a'] } : r) });
    expect(unrecoverable(() => server.finish()).owners).toEqual(['a']);
  });

  it('a complaint from a site found to reveal wrong shares does not count', () => {
    // b reveals a wrong share of c (among c's first t shares: found by decoding, and named) and complains about a with
    // c and d: two complaints count, not three.
    const server = runTo(c, {
      rewrite: (r) => {
        if (r.siteId === 'b') return { ...r, selfMaskShares: r.selfMaskShares.filter((s) => s.owner !== 'a').map((s) => (s.owner === 'c' ? { ...s, share: numberToBytesBE(bytesToNumberBE(s.share) ^ 1n, SHAMIR_SHARE_BYTES) } : s)), unusable: ['a'] };
        if (r.siteId === 'c' || r.siteId === 'd') return { ...r, selfMaskShares: r.selfMaskShares.filter((s) => s.owner !== 'a'), unusable: ['a'] };
        return r;
      },
    });
    expect(thrownCodeAndMessage(() => server.finish())).toEqual({ code: 'quorum_not_met', message: 'secure aggregation round 4 aborted: 2 self-mask shares of a, threshold 3' });
  });
});

describe('a dealer whose shares are of another seed than the one it committed to', () => {
  it('more than t responders: named (framing an honest dealer would take two colluders)', () => {
    const server = runTo(config(['a', 'b', 'c', 'd', 'e']), { reseed: 'a' });
    expect(unrecoverable(() => server.finish())).toEqual({ code: 'malformed_payload', message: 'the self-mask seed recovered for a does not match its commitment', owners: ['a'] });
  });

  it('exactly t responders: the attempt fails, no one named (one wrong responder would be enough to frame it)', () => {
    const c = config(['a', 'b', 'c', 'd', 'e']);
    const server = runTo(c, { reseed: 'a', respond: ['a', 'b', 'c'] });
    let thrown: unknown;
    try {
      server.finish();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).not.toBeInstanceOf(SecAggUnrecoverableError);
    expect(thrownCodeAndMessage(() => { throw thrown; })).toEqual({ code: 'malformed_payload', message: 'the self-mask seed recovered for a does not match its commitment' });
  });
});

describe('complaints are checked on arrival', () => {
  const c = config(['a', 'b', 'c', 'd', 'e']);
  it.each([
    ['a site that dealt nothing (not in U2)', ['z'], "b complained about the shares of z, which it cannot"],
    ['itself twice', ['a', 'a'], "b complained about the shares of a, which it cannot"],
    ['a dealer whose share it also revealed', ['c'], "b complained about the shares of c, which it cannot"],
  ])('%s', (_name, unusable, message) => {
    const { server, sites, deliveries } = shared(c);
    for (const s of sites) server.receiveMaskedInput(s.maskInput(deliveries.get(s.siteId)!, input));
    const request = server.closeMaskedInput();
    const honest = sites[1].unmask(request);
    const response = { ...honest, selfMaskShares: honest.selfMaskShares.filter((s) => s.owner !== 'a'), unusable };
    expect(thrownCodeAndMessage(() => server.receiveUnmaskResponse(response))).toEqual({ code: 'malformed_payload', message });
    // b's honest response is still taken afterwards.
    server.receiveUnmaskResponse(honest);
  });

  it('a dealer outside its neighbourhood (SecAgg+ ring)', () => {
    const ring: SecAggConfig = { ...config(['a', 'b', 'c', 'd', 'e', 'f', 'g']), neighbours: 2, threshold: 2 };
    const { server, sites, deliveries } = shared(ring);
    for (const s of sites) server.receiveMaskedInput(s.maskInput(deliveries.get(s.siteId)!, input));
    const request = server.closeMaskedInput();
    const responder = sites[0];
    const response = responder.unmask(request);
    const mine = new Set([...response.selfMaskShares.map((s) => s.owner)]);
    const stranger = ring.sites.find((s) => !mine.has(s))!;
    expect(thrownCodeAndMessage(() => server.receiveUnmaskResponse({ ...response, unusable: [stranger] }))).toEqual({ code: 'malformed_payload', message: `a complained about the shares of ${stranger}, which it cannot` });
  });
});

describe('a dealer that leaves neighbours out of its shares', () => {
  it('is refused at once: every neighbour that advertised must get a box', () => {
    const c = config(['a', 'b', 'c', 'd']);
    const { server, sites, directory } = advertised(c);
    const mine = sites[0].shareKeys(directory);
    expect(thrownCodeAndMessage(() => server.receiveShareKeys({ ...mine, shares: mine.shares.filter((s) => s.to !== 'c') }))).toEqual({ code: 'malformed_payload', message: 'a sent no shares to c' });
    expect(thrownCodeAndMessage(() => server.receiveShareKeys({ ...mine, shares: mine.shares.filter((s) => s.to !== 'a' && s.to !== 'd') }))).toEqual({ code: 'malformed_payload', message: 'a sent no shares to a' });
    // The other three go on without it.
    for (const s of sites.slice(1)) server.receiveShareKeys(s.shareKeys(directory));
    expect([...server.closeShareKeys().keys()]).toEqual(['b', 'c', 'd']);
  });

  it('a neighbour that did not advertise needs no box', () => {
    const c = config(['a', 'b', 'c', 'd']);
    const server = new SecAggServer(c);
    const sites = c.sites.map((id) => new SecAggSite(id, c));
    for (const s of sites.slice(0, 3)) server.receiveAdvertiseKeys(s.advertiseKeys());
    const directory = server.closeAdvertise();
    for (const s of sites.slice(0, 3)) server.receiveShareKeys(s.shareKeys(directory));
    expect([...server.closeShareKeys().keys()]).toEqual(['a', 'b', 'c']);
  });
});

describe('public keys no one can agree with', () => {
  const le = (v: bigint) => numberToBytesBE(v, 32).reverse();
  const p = 2n ** 255n - 19n;
  // The small-order points of Curve25519 and its twist (RFC 7748 §7; libsodium's list), and their top-bit variants.
  const smallOrder = [0n, 1n, 325606250916557431795983626356110631294008115727848805560023387167927233504n, 39382357235489614581723060781553021112529911719440698176882885853963445705823n, p - 1n, p, p + 1n];
  const keys = [...smallOrder.map((v) => [`u = ${v.toString().slice(0, 12)}…`, le(v)] as const), ...smallOrder.filter((v) => v < 2n ** 255n).map((v) => [`u = ${v.toString().slice(0, 12)}… with the top bit set`, le(v + 2n ** 255n)] as const)];

  it.each(keys)('%s: refused, with @noble’s and with OpenSSL’s X25519', (_name, key) => {
    expect(isAgreeablePublicKey(key)).toBe(false);
    expect(isAgreeablePublicKey(key, nodeSecAggPrimitives.x25519)).toBe(false);
  });

  it('real public keys pass; other lengths do not', () => {
    for (let i = 1; i <= 20; i++) {
      const key = publicKeyOf(new Uint8Array(32).fill(i));
      expect(isAgreeablePublicKey(key, nobleX25519)).toBe(true);
      expect(isAgreeablePublicKey(key, nodeSecAggPrimitives.x25519)).toBe(true);
    }
    expect(isAgreeablePublicKey(new Uint8Array(31).fill(9))).toBe(false);
    expect(isAgreeablePublicKey(new Uint8Array(33).fill(9))).toBe(false);
    // u = 9, the base point: a real key.
    expect(isAgreeablePublicKey(le(9n))).toBe(true);
  });

  it.each(['encryptionPublicKey', 'maskingPublicKey'] as const)('an advertisement with a small-order %s is refused at once; the others go on', (field) => {
    const c = config(['a', 'b', 'c']);
    const server = new SecAggServer(c);
    const sites = c.sites.map((id) => new SecAggSite(id, c));
    expect(thrownCodeAndMessage(() => server.receiveAdvertiseKeys({ ...sites[0].advertiseKeys(), [field]: new Uint8Array(32) }))).toEqual({ code: 'malformed_payload', message: 'bad public keys from a' });
    for (const s of sites.slice(1)) server.receiveAdvertiseKeys(s.advertiseKeys());
    expect(server.closeAdvertise().keys.map((k) => k.siteId)).toEqual(['b', 'c']);
  });
});

describe('recoverVerified on larger neighbourhoods', () => {
  const secret = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 3) & 0xff);
  let counter = 0;
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 97 + 13 * ++counter) & 0xff);
  const same = (b: Uint8Array) => b.every((v, i) => v === secret[i]);
  const moved = (y: Uint8Array, by: bigint) => numberToBytesBE((bytesToNumberBE(y) + by) % (2n ** 521n - 1n), SHAMIR_SHARE_BYTES);

  it('20 shares, threshold 11, 4 wrong (the decoding bound): found by decoding with one check, all four named', () => {
    const shares = split(secret, 20, 11, randomBytes);
    const wrong = [0, 3, 10, 19];
    let checks = 0;
    const r = recoverVerified(shares.map((s, i) => (wrong.includes(i) ? { ...s, y: moved(s.y, BigInt(i + 1) ** 5n) } : s)), (b) => (checks++, same(b)));
    expect(r?.wrongShareXs).toEqual(wrong.map((i) => i + 1));
    expect(checks).toBe(2); // the first 11, then the decoded polynomial
  });

  it('20 shares, threshold 11, 9 wrong: no set of 11 right ones exists past the budget — undefined, within MAX_SUBSET_SEARCH_WORK', () => {
    const shares = split(secret, 20, 11, randomBytes);
    let checks = 0;
    const r = recoverVerified(shares.map((s, i) => (i % 2 === 0 && i < 18 ? { ...s, y: moved(s.y, BigInt(i + 7) ** 3n) } : s)), (b) => (checks++, same(b)));
    expect(r).toBeUndefined();
    expect(checks).toBeLessThanOrEqual(2 + Math.floor(MAX_SUBSET_SEARCH_WORK / (11 * 11 + 100)));
  });

  it('8 shares, threshold 5, 3 wrong (past decoding’s 1): another set of five finds it, the three named', () => {
    const shares = split(secret, 8, 5, randomBytes);
    const wrong = [1, 2, 6];
    const r = recoverVerified(shares.map((s, i) => (wrong.includes(i) ? { ...s, y: moved(s.y, BigInt(1000 + i * i * i)) } : s)), same);
    expect(r?.wrongShareXs).toEqual([2, 3, 7]);
    expect(r && same(r.secret)).toBe(true);
  });
});

describe('exact edges (what the mutation tests asked for)', () => {
  const secret = Uint8Array.from({ length: 32 }, (_, i) => (i * 31 + 5) & 0xff);
  let counter = 0;
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 89 + 17 * ++counter) & 0xff);
  const same = (b: Uint8Array) => b.length === 32 && b.every((v, i) => v === secret[i]);
  const moved = (y: Uint8Array, by: bigint) => numberToBytesBE((bytesToNumberBE(y) + by) % (2n ** 521n - 1n), SHAMIR_SHARE_BYTES);

  it('isAgreeablePublicKey with an X25519 that returns zeros instead of throwing, or takes any length', () => {
    const key = publicKeyOf(new Uint8Array(32).fill(3));
    expect(isAgreeablePublicKey(key, () => new Uint8Array(32))).toBe(false);
    expect(isAgreeablePublicKey(key, () => Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? 1 : 0)))).toBe(true);
    expect(isAgreeablePublicKey(new Uint8Array(31).fill(9), () => new Uint8Array(32).fill(1))).toBe(false);
  });

  it('two wrong among the first three of five (t = 3): only {1, 4, 5} is right — found by the search, both named', () => {
    const shares = split(secret, 5, 3, randomBytes);
    const r = recoverVerified(shares.map((s, i) => (i === 1 || i === 2 ? { ...s, y: moved(s.y, BigInt(7 + i * i * 1000)) } : s)), same);
    expect(r && same(r.secret)).toBe(true);
    expect(r?.wrongShareXs).toEqual([2, 3]);
  });

  it('shares given in descending order: the names come ascending', () => {
    const shares = split(secret, 5, 3, randomBytes);
    const r = recoverVerified(shares.map((s, i) => (i === 1 || i === 2 ? { ...s, y: moved(s.y, BigInt(11 + i)) } : s)).reverse(), same);
    expect(r?.wrongShareXs).toEqual([2, 3]);
  });

  it('a polynomial whose constant does not fit 32 bytes, decodable: never offered to the check', () => {
    const f = (x: bigint) => (2n ** 300n + 5n * x + 9n * x * x) % (2n ** 521n - 1n);
    const points = [1, 2, 3, 4, 5].map((x) => ({ x, y: numberToBytesBE(f(BigInt(x)), SHAMIR_SHARE_BYTES), threshold: 3, secretLength: 32 }));
    const offered: unknown[] = [];
    expect(recoverVerified(points, (b) => (offered.push(b), true))).toBeUndefined();
    expect(offered).toEqual([]);
  });

  it('the search stops exactly at MAX_SUBSET_SEARCH_WORK: t = 20 costs 500 per set, so 500 sets after the first', () => {
    expect(MAX_SUBSET_SEARCH_WORK).toBe(250_000);
    const shares = split(secret, 30, 20, randomBytes);
    // 11 wrong among the first 23: decoding (bound 5) fails, and every set of 20 of the first 23 holds a wrong one.
    const tampered = shares.map((s, i) => (i <= 10 ? { ...s, y: moved(s.y, BigInt(3 + i) ** 7n) } : s));
    const cache = new Map<string, bigint[]>();
    expect(recoverVerified(tampered, same, cache)).toBeUndefined();
    expect(cache.size).toBe(1 + 500);
  });

  it('a site lists the dealers it could not use sorted, whatever order their boxes came in', () => {
    const c = config(['a', 'b', 'c', 'd', 'e']);
    const { sites, deliveries } = shared(c);
    let d = spoiled(deliveries, 'b', 'd');
    d = spoiled(new Map([['b', d]]), 'b', 'a');
    sites[1].maskInput({ ...d, shares: [...d.shares].reverse() }, input);
    expect(sites[1].unusableDealers).toEqual(['a', 'd']);
  });

  it('a dealer leaving out two neighbours of a round listed out of order: the first by id is named', () => {
    const c = config(['d', 'c', 'b', 'a']);
    const { server, sites, directory } = advertised(c);
    const mine = sites[0].shareKeys(directory);
    expect(thrownCodeAndMessage(() => server.receiveShareKeys({ ...mine, shares: mine.shares.filter((s) => s.to !== 'c' && s.to !== 'b') }))).toEqual({ code: 'malformed_payload', message: 'd sent no shares to b' });
  });

  it('four dealers named: three reasons quoted and "and 1 more"; the names sorted, dropped ones included', () => {
    const c = config(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']); // t = 5
    const { server, sites, deliveries } = shared(c);
    const spoilers = ['a', 'c', 'e', 'g'];
    for (const s of sites) {
      if (s.siteId === 'a') continue; // a drops after dealing: its masking key is what cannot be recovered
      server.receiveMaskedInput(s.maskInput(spoiledBy(deliveries, s.siteId, spoilers), input));
    }
    const request = server.closeMaskedInput();
    for (const s of sites.slice(1)) server.receiveUnmaskResponse(s.unmask(request));
    const thrown = unrecoverable(() => server.finish());
    expect(thrown.owners).toEqual(['a', 'c', 'e', 'g']);
    expect(thrown.message).toBe("7 of c's neighbours could not use the self-mask shares it dealt them (threshold 5); 7 of e's neighbours could not use the self-mask shares it dealt them (threshold 5); 7 of g's neighbours could not use the self-mask shares it dealt them (threshold 5); and 1 more");
  });

  it('wrong-share holders found for different owners are listed sorted', () => {
    const c = config(['a', 'b', 'c', 'd', 'e']); // t = 3; points a = 1 … e = 5
    const off = (s: { owner: string; share: Uint8Array }) => ({ ...s, share: moved(s.share, 99n) });
    // c's share of a's seed is wrong (found first, recovering a), then b's share of b's own seed (recovering b).
    const server = runTo(c, {
      rewrite: (r) => {
        if (r.siteId === 'c') return { ...r, selfMaskShares: r.selfMaskShares.map((s) => (s.owner === 'a' ? off(s) : s)) };
        if (r.siteId === 'b') return { ...r, selfMaskShares: r.selfMaskShares.map((s) => (s.owner === 'b' ? off(s) : s)) };
        return r;
      },
    });
    expect(server.finish().wrongShares).toEqual(['b', 'c']);
  });
});

describe('exact edges, continued', () => {
  it('exactly three dealers named: all three reasons quoted, no "and … more"', () => {
    const c = config(['a', 'b', 'c', 'd', 'e', 'f', 'g']); // t = 4
    const { server, sites, deliveries } = shared(c);
    const spoilers = ['a', 'c', 'e'];
    for (const s of sites) server.receiveMaskedInput(s.maskInput(spoiledBy(deliveries, s.siteId, spoilers), input));
    const request = server.closeMaskedInput();
    for (const s of sites) server.receiveUnmaskResponse(s.unmask(request));
    const thrown = unrecoverable(() => server.finish());
    expect(thrown.owners).toEqual(spoilers);
    expect(thrown.message).toBe(spoilers.map((o) => `6 of ${o}'s neighbours could not use the self-mask shares it dealt them (threshold 4)`).join('; '));
  });

  it('on a SecAgg+ ring a dealer leaving two neighbours out: the first of them by id is named, not by ring order', () => {
    const ring: SecAggConfig = { ...config(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']), neighbours: 2, threshold: 2 };
    const topology = secAggTopology(ring);
    // A dealer whose two neighbours come in the ring in the other order than by id.
    const dealer = ring.sites.find((s) => {
      const others = [...topology.neighbourhood.get(s)!].filter((o) => o !== s);
      return others[0] > others[1];
    })!;
    expect(dealer).toBeDefined();
    const { server, sites, directory } = advertised(ring);
    const mine = sites.find((s) => s.siteId === dealer)!.shareKeys(directory);
    const neighbours = [...topology.neighbourhood.get(dealer)!].filter((o) => o !== dealer).sort();
    expect(thrownCodeAndMessage(() => server.receiveShareKeys({ ...mine, shares: mine.shares.filter((s) => s.to === dealer) }))).toEqual({ code: 'malformed_payload', message: `${dealer} sent no shares to ${neighbours[0]}` });
  });
});
