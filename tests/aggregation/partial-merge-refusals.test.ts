import { describe, expect, it } from 'vitest';
import { AGGREGATOR_PARTIAL_VERSION, type AggregatorPartial } from '../../coordinator/src/engine/aggregation/aggregator-partial.ts';
import type { RoundAggregator } from '../../coordinator/src/engine/aggregation/round-aggregator.ts';
import { bytesOf, CASES, codeOf, itemsOf, type AggregatorCase } from './aggregator-cases.ts';

// A partial comes from another coordinator node over Redis: merge treats it as hostile, refuses it with a
// typed code, and a refused partial leaves the aggregator as it was.

const ITEMS = itemsOf([
  { values: [1, 2, 3, 4, 5], n: 3 },
  { values: [-1, 0.5, 0.25, 3, -2], n: 7 },
  { values: [0.1, 0.2, 0.3, 0.4, 0.5], n: 2 },
  { values: [2, -2, 1, -1, 0], n: 5 },
]);

/** A leader holding s00 and s01, and a node's partial of s02 and s03 (as JSON). */
function setup(c: AggregatorCase): { leader: RoundAggregator; partial: AggregatorPartial } {
  const leader = c.make();
  leader.begin(c.plan(ITEMS.length));
  c.feed(leader, ITEMS.slice(0, 2));
  const node = c.make();
  node.begin(c.plan(ITEMS.length));
  c.feed(node, ITEMS.slice(2));
  return { leader, partial: JSON.parse(JSON.stringify(node.partial())) as AggregatorPartial };
}

type Tamper = (p: AggregatorPartial) => unknown;
const withState = (p: AggregatorPartial, key: string, value: unknown): AggregatorPartial => ({ ...p, state: { ...p.state, [key]: value } });
/** The kind's one base64 field (the first of an array). */
const bytesKey = (p: AggregatorPartial): string => Object.keys(p.state).find((k) => k !== 'maxAbsExponent' && k !== 'withinClip')!;
const setBytes = (p: AggregatorPartial, value: string): AggregatorPartial => {
  const key = bytesKey(p);
  const current = p.state[key];
  return withState(p, key, Array.isArray(current) ? [value, ...current.slice(1)] : value);
};
const firstBytes = (p: AggregatorPartial): string => {
  const current = p.state[bytesKey(p)];
  return (Array.isArray(current) ? current[0] : current) as string;
};

/** Every kind refuses these. */
const COMMON: Array<[string, string, Tamper]> = [
  ['null', 'malformed_payload', () => null],
  ['a string', 'malformed_payload', () => 'partial'],
  ['an array', 'malformed_payload', (p) => [p]],
  ['another version', 'malformed_payload', (p) => ({ ...p, version: AGGREGATOR_PARTIAL_VERSION + 1 })],
  ['an unknown kind', 'malformed_payload', (p) => ({ ...p, kind: 'fedsgd' })],
  ['an extra field', 'malformed_payload', (p) => ({ ...p, extra: 1 })],
  ['no state', 'malformed_payload', (p) => ({ ...p, state: undefined })],
  ['another run', 'stale_round', (p) => ({ ...p, runId: 'run-b' })],
  ['another round', 'stale_round', (p) => ({ ...p, round: p.round + 1 })],
  ['an earlier round', 'stale_round', (p) => ({ ...p, round: p.round - 1 })],
  ['another attempt', 'stale_round', (p) => ({ ...p, attempt: p.attempt + 1 })],
  ['round 0', 'malformed_payload', (p) => ({ ...p, round: 0 })],
  ['a fractional attempt', 'malformed_payload', (p) => ({ ...p, attempt: 1.5 })],
  ['a site already in the aggregate', 'duplicate_result', (p) => ({ ...p, sites: [{ siteId: 's00', numExamples: p.sites[0].numExamples }, p.sites[1]] })],
  ['a site twice', 'duplicate_result', (p) => ({ ...p, sites: [p.sites[0], p.sites[0]], totalExamples: 2 * p.sites[0].numExamples })],
  ['a count that is not its sites', 'malformed_payload', (p) => ({ ...p, count: p.count + 1 })],
  ['a count of zero', 'malformed_payload', (p) => ({ ...p, count: 0 })],
  ['a totalExamples that is not its sites', 'malformed_payload', (p) => ({ ...p, totalExamples: p.totalExamples + 1 })],
  ['a negative example count', 'malformed_payload', (p) => ({ ...p, sites: [{ ...p.sites[0], numExamples: -1 }, p.sites[1]] })],
  ['an empty site id', 'malformed_payload', (p) => ({ ...p, sites: [{ ...p.sites[0], siteId: '' }, p.sites[1]] })],
  ['a site id of 129 characters', 'malformed_payload', (p) => ({ ...p, sites: [{ ...p.sites[0], siteId: 'x'.repeat(129) }, p.sites[1]] })],
  ['a site id with a newline', 'malformed_payload', (p) => ({ ...p, sites: [{ ...p.sites[0], siteId: 's02\nfake log line' }, p.sites[1]] })],
  ['bytes that are not base64', 'malformed_payload', (p) => setBytes(p, '!'.repeat(firstBytes(p).length))],
  ['bytes one block short', 'malformed_payload', (p) => setBytes(p, firstBytes(p).slice(4))],
  ['bytes one block long', 'malformed_payload', (p) => setBytes(p, `${firstBytes(p)}AAAA`)],
  ['bytes that are a number', 'malformed_payload', (p) => setBytes(p, 42 as never)],
  ['bytes with padding inside', 'malformed_payload', (p) => setBytes(p, `==${firstBytes(p).slice(2)}`)],
];

/** Refusals of one kind's state. */
const BY_KIND: Record<string, Array<[string, string, Tamper]>> = {
  'streaming-fedavg': [
    ['another grid', 'malformed_payload', (p) => withState(p, 'maxAbsExponent', 20)],
    ['a grid that is a string', 'malformed_payload', (p) => withState(p, 'maxAbsExponent', '24')],
    ['a site with no examples', 'malformed_payload', (p) => ({ ...p, sites: [{ ...p.sites[0], numExamples: 0 }, p.sites[1]], totalExamples: p.sites[1].numExamples })],
  ],
  'individual-updates': [
    ['fewer weights than sites', 'malformed_payload', (p) => withState(p, 'weights', (p.state.weights as string[]).slice(1))],
    ['weights that are not an array', 'malformed_payload', (p) => withState(p, 'weights', 'AAAA')],
    ['a NaN weight', 'non_finite', (p) => setBytes(p, Buffer.from(new Float32Array([NaN, 0, 0, 0, 0]).buffer).toString('base64'))],
    ['an infinite weight', 'non_finite', (p) => setBytes(p, Buffer.from(new Float32Array([0, 0, 0, 0, Infinity]).buffer).toString('base64'))],
    ['a site with no examples', 'malformed_payload', (p) => ({ ...p, sites: [{ ...p.sites[0], numExamples: 0 }, p.sites[1]], totalExamples: p.sites[1].numExamples })],
  ],
  'central-dp': [
    ['a delta above the clip (unclipped)', 'update_norm', (p) => setBytes(p, Buffer.from(new Float32Array([1.5, 1.5, 0, 0, 0]).buffer).toString('base64'))],
    ['a NaN delta', 'non_finite', (p) => setBytes(p, Buffer.from(new Float32Array([NaN, 0, 0, 0, 0]).buffer).toString('base64'))],
    ['a within-clip bit that is a number', 'malformed_payload', (p) => withState(p, 'withinClip', [1, true])],
    ['fewer within-clip bits than sites', 'malformed_payload', (p) => withState(p, 'withinClip', [true])],
    ['fewer deltas than sites', 'malformed_payload', (p) => withState(p, 'deltas', (p.state.deltas as string[]).slice(1))],
  ],
  'secure-sum': [['a sum that is missing', 'malformed_payload', (p) => withState(p, 'sum', undefined)]],
};

describe('merge refuses a hostile partial with a typed code and changes nothing', () => {
  for (const c of CASES) {
    const kind = c.make().kind;
    for (const [what, code, tamper] of [...COMMON, ...(BY_KIND[kind] ?? [])]) {
      it(`${c.name}: ${what} → ${code}`, () => {
        const { leader, partial } = setup(c);
        const before = JSON.stringify(leader.partial());
        expect(codeOf(() => leader.merge(tamper(partial)))).toBe(code);
        expect(JSON.stringify(leader.partial())).toBe(before);
        // The untampered partial still merges afterwards.
        leader.merge(partial);
        expect([...leader.siteIds].sort()).toEqual(ITEMS.map((u) => u.siteId));
      });
    }
  }
});

describe('what every aggregator refuses or reports', () => {
  for (const c of CASES) {
    it(`${c.name}: merge before begin is stale; finish with nothing is no_updates; begin forgets the last attempt`, () => {
      const a = c.make();
      const { partial } = setup(c);
      expect(codeOf(() => a.merge(partial))).toBe('stale_round');
      expect(codeOf(() => a.partial())).toBe('stale_round');
      expect(codeOf(() => a.finish())).toBe('stale_round');
      a.begin(c.plan(ITEMS.length));
      expect(codeOf(() => a.finish())).toBe('no_updates');
      c.feed(a, ITEMS);
      expect(a.siteIds.size).toBe(ITEMS.length);
      a.begin({ ...c.plan(ITEMS.length), attempt: 2 });
      expect(a.siteIds.size).toBe(0);
      expect(a.partial()).toMatchObject({ attempt: 2, count: 0, totalExamples: 0, sites: [] });
      // A partial of attempt 1 no longer fits.
      expect(codeOf(() => a.merge(partial))).toBe('stale_round');
    });

    it(`${c.name}: a site added twice is a duplicate, and the first stays`, () => {
      const a = c.make();
      a.begin(c.plan(ITEMS.length));
      c.feed(a, ITEMS.slice(0, c.minItems === 1 ? 1 : 3));
      const before = bytesOf(a.finish().weights);
      expect(codeOf(() => c.feed(a, [{ ...ITEMS[0], weights: ITEMS[1].weights }]))).toBe('duplicate_result');
      expect(bytesOf(a.finish().weights)).toEqual(before);
    });

    it(`${c.name}: the partial is versioned and lists its sites in order with their counts`, () => {
      const { partial } = setup(c);
      expect(partial).toMatchObject({ version: 1, runId: 'run-a', round: 2, attempt: 1, count: 2, totalExamples: ITEMS[2].numExamples + ITEMS[3].numExamples });
      expect(partial.sites).toEqual([
        { siteId: 's02', numExamples: 2 },
        { siteId: 's03', numExamples: 5 },
      ]);
      const out = (() => {
        const { leader } = setup(c);
        leader.merge(partial);
        return leader.finish();
      })();
      expect(out.count).toBe(4);
      expect(out.totalExamples).toBe(17);
      expect(out.siteIds).toEqual(['s00', 's01', 's02', 's03']);
    });
  }

  it('a secure sum refuses a single update: the coordinator never sees one', () => {
    const c = CASES.find((x) => x.secure)!;
    const a = c.make();
    a.begin(c.plan(2));
    expect(codeOf(() => a.add(ITEMS[0]))).toBe('malformed_payload');
  });
});

describe('central DP: the clip a merged delta must respect', () => {
  const c = CASES.find((x) => x.name === 'central DP')!;
  /** A partial of site s02 whose delta is (norm, 0, 0, 0, 0). */
  function partialWithNorm(norm: number): AggregatorPartial {
    const { partial } = setup(c);
    const delta = Buffer.from(new Float32Array([norm, 0, 0, 0, 0]).buffer).toString('base64');
    return { ...partial, sites: [partial.sites[0]], count: 1, totalExamples: partial.sites[0].numExamples, state: { deltas: [delta], withinClip: [true] } };
  }
  const clip = 1.5;
  const table: Array<[string, number, string]> = [
    ['exactly the clip', clip, 'no error'],
    ['the clip plus float rounding (half the slack)', clip * (1 + 0.5e-5), 'no error'],
    ['above the clip by twice the slack', clip * (1 + 2e-5), 'update_norm'],
    ['a negative delta above the clip', -2, 'update_norm'],
    ['zero', 0, 'no error'],
  ];
  for (const [what, norm, code] of table) {
    it(`${what} → ${code}`, () => {
      const { leader } = setup(c);
      expect(codeOf(() => leader.merge(partialWithNorm(norm)))).toBe(code);
    });
  }
});
