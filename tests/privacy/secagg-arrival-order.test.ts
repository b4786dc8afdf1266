import { describe, expect, it } from 'vitest';
import { dequantize, fixedPointConfig } from '../../shared/src/privacy/fixed-point.ts';
import type { SecAggConfig } from '../../shared/src/privacy/secagg-messages.ts';
import { SecAggServer } from '../../shared/src/privacy/secagg-server.ts';
import { SecAggSite } from '../../shared/src/privacy/secagg-site.ts';

/**
 * What the server returns, and what a site reveals, does not depend on the order messages reached the server:
 * the dropped sites come sorted, and a site lists the shares it reveals by owner, whatever order the shares were
 * dealt and delivered in (closeShareKeys delivers them in the order the dealers' share-keys messages arrived).
 */
const ids = ['a', 'b', 'c', 'd', 'e'];
const config: SecAggConfig = { round: 5, sites: ids, threshold: 3, vectorLength: 2, fixedPoint: fixedPointConfig({ sites: ids.length }) };
const input = { update: [Float32Array.from([0.5, -0.25])], weight: 0.2 };

/** Share-keys messages sent e, d, c, b, a; d and e then send no masked input; a, b and c answer. */
function descendingDealersDropTheLastTwo() {
  const server = new SecAggServer(config);
  const sites = ids.map((id) => new SecAggSite(id, config));
  for (const s of sites) server.receiveAdvertiseKeys(s.advertiseKeys());
  const directory = server.closeAdvertise();
  for (const s of [...sites].reverse()) server.receiveShareKeys(s.shareKeys(directory));
  const deliveries = server.closeShareKeys();
  const survivors = sites.filter((s) => s.siteId < 'd');
  for (const s of survivors) server.receiveMaskedInput(s.maskInput(deliveries.get(s.siteId)!, input));
  const request = server.closeMaskedInput();
  const responses = survivors.map((s) => s.unmask(request));
  for (const r of responses) server.receiveUnmaskResponse(r);
  return { deliveries, responses, aggregate: server.finish() };
}

describe('arrival order', () => {
  const { deliveries, responses, aggregate } = descendingDealersDropTheLastTwo();

  it('the deliveries carry the boxes in the order their dealers sent them (e first)', () => {
    expect(deliveries.get('a')!.shares.map((s) => s.from)).toEqual(['e', 'd', 'c', 'b', 'a']);
  });

  it('a site reveals its shares by owner, ascending: self-mask shares of the survivors, masking-key shares of the dropped', () => {
    for (const r of responses) {
      expect(r.selfMaskShares.map((s) => s.owner)).toEqual(['a', 'b', 'c']);
      expect(r.maskingKeyShares.map((s) => s.owner)).toEqual(['d', 'e']);
    }
  });

  it('the server lists the dropped sites sorted, and the sum is the three survivors’', () => {
    expect(aggregate.survivors).toEqual(['a', 'b', 'c']);
    expect(aggregate.dropped).toEqual(['d', 'e']);
    const decoded = dequantize(aggregate.sum, [2], config.fixedPoint);
    expect(decoded.totalWeight).toBeCloseTo(0.6, 6);
    expect(Array.from(decoded.mean[0])).toEqual([expect.closeTo(0.5, 5), expect.closeTo(-0.25, 5)]);
  });
});
