import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesOf, CASES, itemsOf, type AggregatorCase, type Item } from './aggregator-cases.ts';

// The RoundAggregator contract (coordinator/src/engine/aggregation/round-aggregator.ts): the same updates
// split over 1, 2 or 3 partials (some of them empty), taken out as JSON and merged in any order, give the
// bits of one aggregator fed everything.

const row = fc.record({
  values: fc.array(fc.float({ min: -4, max: 4, noNaN: true, noDefaultInfinity: true }), { minLength: 5, maxLength: 5 }),
  n: fc.integer({ min: 1, max: 500 }),
});

/** Each item's node (0 = the leader's own sites, 1..nodes the others), a shuffle key, and the order partials are merged in. */
const scenario = fc
  .tuple(fc.array(row, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 3 }))
  .chain(([rows, nodes]) =>
    fc.record({
      rows: fc.constant(rows),
      nodes: fc.constant(nodes),
      node: fc.array(fc.integer({ min: 0, max: nodes }), { minLength: rows.length, maxLength: rows.length }),
      order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: rows.length, maxLength: rows.length }),
      mergeOrder: fc.shuffledSubarray([...Array(nodes).keys()], { minLength: nodes, maxLength: nodes }),
    }),
  );

function reference(c: AggregatorCase, items: Item[]): number[] {
  const one = c.make();
  one.begin(c.plan(items.length));
  c.feed(one, items);
  return bytesOf(one.finish().weights);
}

function split(c: AggregatorCase, items: Item[], s: { nodes: number; node: number[]; order: number[]; mergeOrder: number[] }): { bytes: number[]; siteIds: string[]; count: number } {
  const shuffled = items.map((it, k) => ({ it, k })).sort((a, b) => s.order[a.k] - s.order[b.k]);
  const plan = c.plan(items.length);
  const leader = c.make();
  leader.begin(plan);
  c.feed(leader, shuffled.filter((x) => s.node[x.k] === 0).map((x) => x.it));
  const partials = [...Array(s.nodes).keys()].map((i) => {
    const node = c.make();
    node.begin(plan);
    c.feed(node, shuffled.filter((x) => s.node[x.k] === i + 1).map((x) => x.it));
    // Over Redis a partial is JSON: only what survives a round trip may be merged.
    return JSON.parse(JSON.stringify(node.partial())) as unknown;
  });
  for (const i of s.mergeOrder) leader.merge(partials[i]);
  const out = leader.finish();
  return { bytes: bytesOf(out.weights), siteIds: out.siteIds, count: out.count };
}

describe('a partial merged on another aggregator gives the bits of one aggregator fed all updates', () => {
  for (const c of CASES) {
    it(c.name, () => {
      fc.assert(
        fc.property(scenario, (s) => {
          fc.pre(s.rows.length >= c.minItems);
          const items = itemsOf(s.rows);
          const merged = split(c, items, s);
          expect(merged.bytes).toEqual(reference(c, items));
          expect(merged.siteIds).toEqual(items.map((u) => u.siteId));
          expect(merged.count).toBe(items.length);
        }),
        { numRuns: 60 },
      );
    });
  }

  it('each node holding one update, merged in reverse, and every node but one empty, for every kind', () => {
    const items = itemsOf([
      { values: [1, 2, 3, 4, 5], n: 3 },
      { values: [-1, 0.5, 0.25, 3, -2], n: 7 },
      { values: [0, 0, 0, 0, 0], n: 1 },
    ]);
    for (const c of CASES) {
      const want = reference(c, items);
      expect(split(c, items, { nodes: 3, node: [1, 2, 3], order: [0, 1, 2], mergeOrder: [2, 1, 0] }).bytes, c.name).toEqual(want);
      expect(split(c, items, { nodes: 3, node: [2, 2, 2], order: [2, 1, 0], mergeOrder: [0, 1, 2] }).bytes, c.name).toEqual(want);
    }
  });
});
