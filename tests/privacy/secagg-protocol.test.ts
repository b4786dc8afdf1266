import { describe, expect, it } from 'vitest';
import { secureAggregateSimulation, type SecAggDropPoint, type SecAggSimulationInput } from '../../shared/src/privacy/secagg-simulation.ts';
import { dequantize, fixedPointConfig } from '../../shared/src/privacy/fixed-point.ts';
import { SecAggServer } from '../../shared/src/privacy/secagg-server.ts';
import { SecAggSite } from '../../shared/src/privacy/secagg-site.ts';
import type { SecAggConfig, SecAggShareKeys, SecAggUnmaskResponse } from '../../shared/src/privacy/secagg-messages.ts';
import { weightedAverage } from '../../shared/src/strategies/aggregate-fedavg.ts';
import { SeededRandom } from '../../shared/src/random/seeded-random.ts';
import { isFedtuneError } from '../../shared/src/errors.ts';
import { thrownCodeAndMessage } from '../helpers/thrown.ts';

const SIZES = [600, 32, 10];
const EXAMPLES = [120, 340, 90, 500, 260, 75, 410, 205]; // Σ = 2000
const TOTAL = EXAMPLES.reduce((a, b) => a + b, 0);

/** Eight sites with clipped weight deltas of different scales; weight = numExamples / (a bound on Σ examples). */
function federation(sites = 8): SecAggSimulationInput[] {
  const rng = new SeededRandom(11);
  return Array.from({ length: sites }, (_, k) => ({
    siteId: `site-${k + 1}`,
    update: SIZES.map((n) => Float32Array.from({ length: n }, () => (0.05 + 0.1 * k) * rng.normal())),
    weight: EXAMPLES[k % EXAMPLES.length] / TOTAL,
  }));
}

function plainFedAvg(inputs: SecAggSimulationInput[]) {
  return weightedAverage(
    SIZES.map((n) => new Float32Array(n)),
    inputs.map((i) => ({ weights: i.update, numExamples: i.weight * TOTAL })),
  );
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((t, k) => t.forEach((v, i) => (m = Math.max(m, Math.abs(v - b[k][i])))));
  return m;
}

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return isFedtuneError(err) ? err.code : `not a FedtuneError: ${String(err)}`;
  }
  return undefined;
}

describe('secure aggregation, end to end in memory', () => {
  const inputs = federation();

  it('8 sites, none dropping: the coordinator obtains weighted FedAvg within the quantization error', () => {
    const r = secureAggregateSimulation({ inputs, threshold: 5, seed: 'no-drop' });
    expect(r.survivors).toHaveLength(8);
    expect(r.dropped).toEqual([]);
    expect(r.totalWeight).toBeCloseTo(1, 7);
    const err = maxAbsDiff(r.mean, plainFedAvg(inputs));
    expect(err).toBeLessThan(1e-4);
    expect(err).toBeLessThan(1e-6); // in fact: n/(2s)·(1 + R) ≈ 5e-7 at the defaults
  });

  it('2 of 8 sites drop after masking: the survivors’ shares remove their masks and the survivors’ FedAvg is exact', () => {
    const dropouts: Record<string, SecAggDropPoint> = { 'site-3': 'masked-input', 'site-6': 'masked-input' };
    const r = secureAggregateSimulation({ inputs, threshold: 5, dropouts, seed: 'two-drop' });
    expect(r.dropped).toEqual(['site-3', 'site-6']);
    const survivors = inputs.filter((i) => !(i.siteId in dropouts));
    expect(r.totalWeight).toBeCloseTo(survivors.reduce((s, i) => s + i.weight, 0), 7);
    expect(maxAbsDiff(r.mean, plainFedAvg(survivors))).toBeLessThan(1e-6);
  });

  it('drops at every phase at once: before sharing, after masking, and silent while unmasking', () => {
    const dropouts: Record<string, SecAggDropPoint> = { 'site-1': 'advertise-keys', 'site-2': 'share-keys', 'site-5': 'masked-input', 'site-8': 'unmask' };
    const ten = federation(10);
    const r = secureAggregateSimulation({ inputs: ten, threshold: 6, dropouts, fixedPoint: { maxTotalWeight: 2 }, seed: 'all-phases' });
    // site-8 sent its masked input, so its update is in the sum; its self mask comes from the others' shares.
    expect(r.survivors).toEqual(['site-10', 'site-3', 'site-4', 'site-6', 'site-7', 'site-8', 'site-9']);
    expect(r.dropped).toEqual(['site-5']);
    expect(r.silentInUnmasking).toEqual(['site-8']);
    expect(maxAbsDiff(r.mean, plainFedAvg(ten.filter((i) => r.survivors.includes(i.siteId))))).toBeLessThan(1e-6);
  });

  it('fewer than t survivors: the round is refused, never summed', () => {
    const after = { 'site-1': 'masked-input', 'site-2': 'masked-input', 'site-3': 'masked-input', 'site-4': 'masked-input' } as const;
    expect(code(() => secureAggregateSimulation({ inputs, threshold: 5, dropouts: after }))).toBe('quorum_not_met');
    // enough masked inputs, but too few sites answer the unmask request
    const silent = { 'site-1': 'masked-input', 'site-2': 'unmask', 'site-3': 'unmask', 'site-4': 'unmask' } as const;
    expect(code(() => secureAggregateSimulation({ inputs, threshold: 5, dropouts: silent }))).toBe('quorum_not_met');
    const early = { 'site-1': 'advertise-keys', 'site-2': 'advertise-keys', 'site-3': 'share-keys', 'site-4': 'share-keys' } as const;
    expect(code(() => secureAggregateSimulation({ inputs, threshold: 5, dropouts: early }))).toBe('quorum_not_met');
  });

  it('the coordinator’s view: masked inputs do not correlate with the updates, shares are sealed, no site is ever fully unmasked', () => {
    const r = secureAggregateSimulation({ inputs, threshold: 5, dropouts: { 'site-2': 'masked-input' }, seed: 'view' });
    for (const input of inputs.filter((i) => i.siteId !== 'site-2')) {
      const masked = r.maskedInputs.get(input.siteId)!;
      const seen = dequantize(masked, SIZES, r.fixedPoint).weightedSum.flatMap((t) => Array.from(t));
      const truth = input.update.flatMap((t) => Array.from(t));
      expect(Math.abs(correlation(seen, truth)), input.siteId).toBeLessThan(0.15); // |r| of 642 independent pairs: sd ≈ 0.04
      // uniform over int32: a typical |value| is 2^30/s, not |w·x|
      const typical = seen.reduce((s, v) => s + Math.abs(v), 0) / seen.length;
      expect(typical).toBeGreaterThan(0.9 * (2 ** 30 / r.fixedPoint.scale));
      expect(typical).toBeGreaterThan(10 * Math.max(...truth.map((v) => Math.abs(v * input.weight))));
    }
    // Shares travel only as ciphertexts: no plaintext share of any secret appears in what the coordinator received
    // before unmasking.
    const shareMessages = r.coordinatorReceived.filter((m): m is SecAggShareKeys => m.kind === 'secagg/share-keys');
    expect(shareMessages).toHaveLength(8);
    for (const m of shareMessages) for (const s of m.shares) expect(s.ciphertext.length).toBe(2 * 66 + 16);
    // In unmasking, each owner's secrets are revealed as one kind only: self-mask shares for survivors,
    // masking-key shares for the dropped site.
    const responses = r.coordinatorReceived.filter((m): m is SecAggUnmaskResponse => m.kind === 'secagg/unmask-response');
    const selfOwners = new Set(responses.flatMap((m) => m.selfMaskShares.map((s) => s.owner)));
    const keyOwners = new Set(responses.flatMap((m) => m.maskingKeyShares.map((s) => s.owner)));
    expect([...keyOwners]).toEqual(['site-2']);
    expect(selfOwners.has('site-2')).toBe(false);
  });

  it('SecAgg+: with k = 4 neighbours of 10 sites and a drop, the sum is still exact and each site talks to 5', () => {
    const ten = federation(10);
    const r = secureAggregateSimulation({ inputs: ten, threshold: 3, neighbours: 4, dropouts: { 'site-4': 'masked-input' }, fixedPoint: { maxTotalWeight: 2 }, seed: 'plus' });
    expect(maxAbsDiff(r.mean, plainFedAvg(ten.filter((i) => i.siteId !== 'site-4')))).toBeLessThan(1e-6);
    const shares = r.coordinatorReceived.filter((m): m is SecAggShareKeys => m.kind === 'secagg/share-keys');
    for (const m of shares) expect(m.shares).toHaveLength(5);
  });
});

describe('each party refuses what the protocol forbids', () => {
  const config: SecAggConfig = { round: 7, sites: ['a', 'b', 'c'], threshold: 2, vectorLength: 2, fixedPoint: fixedPointConfig({ sites: 3 }) };
  const input = { update: [Float32Array.from([0.5, -0.25])], weight: 0.3 };

  function runToUnmask() {
    const server = new SecAggServer(config);
    const sites = config.sites.map((id) => new SecAggSite(id, config));
    for (const s of sites) server.receiveAdvertiseKeys(s.advertiseKeys());
    const dir = server.closeAdvertise();
    for (const s of sites) server.receiveShareKeys(s.shareKeys(dir));
    const deliveries = server.closeShareKeys();
    for (const s of sites) server.receiveMaskedInput(s.maskInput(deliveries.get(s.siteId)!, input));
    return { server, sites, request: server.closeMaskedInput() };
  }

  it('a site answers one unmask request only, and never for a survivor list without itself', () => {
    const { sites, request } = runToUnmask();
    sites[0].unmask(request);
    expect(code(() => sites[0].unmask({ ...request, survivors: ['b', 'c'] }))).toBe('malformed_payload');
    expect(code(() => sites[1].unmask({ ...request, survivors: ['a', 'c'] }))).toBe('malformed_payload');
  });

  it('the server refuses messages from the wrong round, duplicates, strangers and late inputs', () => {
    const { server, sites, request } = runToUnmask();
    const reply: SecAggUnmaskResponse = sites[0].unmask(request);
    server.receiveUnmaskResponse(reply);
    expect(code(() => server.receiveUnmaskResponse(reply))).toBe('duplicate_result');
    expect(code(() => server.receiveUnmaskResponse({ ...sites[1].unmask(request), round: 6 }))).toBe('stale_round');
    expect(code(() => server.receiveMaskedInput({ kind: 'secagg/masked-input', round: 7, siteId: 'a', masked: new Uint32Array(3) }))).toBe('stale_round');
    expect(code(() => new SecAggSite('z', config))).toBe('not_selected');
    server.receiveUnmaskResponse(sites[2].unmask(request));
    const sum = server.finish();
    const d = dequantize(sum.sum, [2], config.fixedPoint);
    expect(d.mean[0][0]).toBeCloseTo(0.5, 6);
    expect(d.totalWeight).toBeCloseTo(0.9, 6);
  });

  it('once finished the round takes nothing more: a second finish, or a response, is stale in phase done', () => {
    const { server, sites, request } = runToUnmask();
    const replies = sites.map((s) => s.unmask(request));
    server.receiveUnmaskResponse(replies[0]);
    server.receiveUnmaskResponse(replies[1]);
    expect(server.finish().survivors).toEqual(['a', 'b', 'c']);
    expect(thrownCodeAndMessage(() => server.finish())).toEqual({ code: 'stale_round', message: 'secure aggregation: cannot close unmask in phase done' });
    expect(thrownCodeAndMessage(() => server.receiveUnmaskResponse(replies[2]))).toEqual({ code: 'stale_round', message: 'secure aggregation: a unmask message from c arrived in phase done' });
  });

  it('a tampered share is caught by authentication', () => {
    const server = new SecAggServer(config);
    const sites = config.sites.map((id) => new SecAggSite(id, config));
    for (const s of sites) server.receiveAdvertiseKeys(s.advertiseKeys());
    const dir = server.closeAdvertise();
    for (const s of sites) server.receiveShareKeys(s.shareKeys(dir));
    const delivery = server.closeShareKeys().get('b')!;
    delivery.shares[0].ciphertext[3] ^= 1;
    // Not used, and not a reason to stop: the site masks as before and complains about the dealer in unmasking.
    sites[1].maskInput(delivery, input);
    expect(sites[1].unusableDealers).toEqual([delivery.shares[0].from]);
  });
});

function correlation(a: number[], b: number[]): number {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}
