import { describe, expect, it } from 'vitest';
import { fixedPointConfig } from '../../shared/src/privacy/fixed-point.ts';
import { nobleChaChaKeystream, nobleX25519, type SecAggPrimitives } from '../../shared/src/privacy/secagg-crypto.ts';
import type { SecAggConfig } from '../../shared/src/privacy/secagg-messages.ts';
import { SecAggServer } from '../../shared/src/privacy/secagg-server.ts';
import { SecAggSite } from '../../shared/src/privacy/secagg-site.ts';
import { SHAMIR_SHARE_BYTES } from '../../shared/src/privacy/shamir.ts';
import { thrownCodeAndMessage } from '../helpers/thrown.ts';

/**
 * The server's finish expands one mask per survivor's self-mask seed and agrees one key per (dropped site,
 * surviving neighbour) — but once one secret cannot be recovered the sum is not returned, so it expands and agrees
 * nothing more (secagg-server.ts finish). Counted through the primitives the server is given.
 */
const ids = ['a', 'b', 'c', 'd', 'e'];
const config: SecAggConfig = { round: 2, sites: ids, threshold: 3, vectorLength: 2, fixedPoint: fixedPointConfig({ sites: ids.length }) };

/** Primitives that count their calls (the same bytes as @noble's). */
function counted() {
  const calls = { keystream: 0, x25519: 0 };
  const primitives: SecAggPrimitives = {
    keystream: (key, bytes) => (calls.keystream++, nobleChaChaKeystream(key, bytes)),
    x25519: (secretKey, publicKey) => (calls.x25519++, nobleX25519(secretKey, publicKey)),
  };
  return { calls, primitives };
}

/** d drops after sharing; a, b and c answer (e is silent); `lie`: b moves its share of a's seed. The calls of finish alone. */
function finish(lie: boolean) {
  const { calls, primitives } = counted();
  const server = new SecAggServer(config, { primitives });
  const sites = ids.map((id) => new SecAggSite(id, config));
  for (const s of sites) server.receiveAdvertiseKeys(s.advertiseKeys());
  const directory = server.closeAdvertise();
  for (const s of sites) server.receiveShareKeys(s.shareKeys(directory));
  const deliveries = server.closeShareKeys();
  for (const s of sites) if (s.siteId !== 'd') server.receiveMaskedInput(s.maskInput(deliveries.get(s.siteId)!, { update: [Float32Array.from([0.5, -0.25])], weight: 0.2 }));
  const request = server.closeMaskedInput();
  for (const s of sites.filter((s) => ['a', 'b', 'c'].includes(s.siteId))) {
    const r = s.unmask(request);
    if (lie && s.siteId === 'b') r.selfMaskShares = r.selfMaskShares.map((x) => (x.owner === 'a' ? { owner: 'a', share: x.share.map((v, i) => (i === SHAMIR_SHARE_BYTES - 1 ? v ^ 1 : v)) } : x));
    server.receiveUnmaskResponse(r);
  }
  calls.keystream = 0;
  calls.x25519 = 0;
  if (!lie) {
    server.finish();
    return { outcome: 'summed', calls };
  }
  return { outcome: thrownCodeAndMessage(() => server.finish()), calls };
}

describe('finish: the masks it expands and the keys it agrees', () => {
  it('a round that sums: 4 self masks (a, b, c, e) and d’s pairwise masks with its 4 surviving neighbours', () => {
    expect(finish(false)).toEqual({ outcome: 'summed', calls: { keystream: 4 + 4, x25519: 4 } });
  });

  it('a’s seed not recovered (exactly t shares, one wrong): the round fails, and no mask is expanded nor key agreed', () => {
    expect(finish(true)).toEqual({ outcome: { code: 'malformed_payload', message: 'the self-mask seed recovered for a does not match its commitment' }, calls: { keystream: 0, x25519: 0 } });
  });
});
