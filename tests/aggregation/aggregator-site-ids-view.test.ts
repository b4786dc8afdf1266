import { describe, expect, it } from 'vitest';
import { MapKeyView } from '../../coordinator/src/engine/aggregation/map-key-view.ts';
import { CASES, itemsOf } from './aggregator-cases.ts';

const ITEMS = itemsOf([
  { values: [1, 2, 3, 4, 5], n: 3 },
  { values: [-1, 0.5, 0.25, 3, -2], n: 7 },
  { values: [0.1, 0.2, 0.3, 0.4, 0.5], n: 2 },
]);

describe('an aggregator\'s siteIds is a live read-only view (no copy per read)', () => {
  it.each(CASES)('$name: the same object on every read, following adds, merges and begin', (c) => {
    const a = c.make();
    a.begin(c.plan(ITEMS.length));
    const view = a.siteIds;
    expect(view.size).toBe(0);
    c.feed(a, ITEMS.slice(0, 2));
    expect(a.siteIds).toBe(view);
    expect(view.size).toBe(2);
    const node = c.make();
    node.begin(c.plan(ITEMS.length));
    c.feed(node, ITEMS.slice(2));
    a.merge(JSON.parse(JSON.stringify(node.partial())));
    expect([...view].sort()).toEqual(ITEMS.map((i) => i.siteId).sort());
    for (const i of ITEMS) expect(view.has(i.siteId)).toBe(true);
    expect(view.has('nobody')).toBe(false);
    a.begin({ ...c.plan(ITEMS.length), attempt: 2 });
    expect(view.size).toBe(0);
    expect(a.siteIds).toBe(view);
  });
});

describe('MapKeyView', () => {
  it('is a set of the map\'s keys: size, has, iteration, keys, values, entries and forEach, live', () => {
    const map = new Map<string, number>([
      ['b', 1],
      ['a', 2],
    ]);
    const view = new MapKeyView(map);
    expect(view.size).toBe(2);
    expect(view.has('a')).toBe(true);
    expect(view.has('c')).toBe(false);
    expect([...view]).toEqual(['b', 'a']);
    expect([...view.keys()]).toEqual(['b', 'a']);
    expect([...view.values()]).toEqual(['b', 'a']);
    expect([...view.entries()]).toEqual([
      ['b', 'b'],
      ['a', 'a'],
    ]);
    const seen: unknown[] = [];
    const self = { tag: 'this' };
    view.forEach(function (this: unknown, v, k, s) {
      seen.push([v, k, s === view, this]);
    }, self);
    expect(seen).toEqual([
      ['b', 'b', true, self],
      ['a', 'a', true, self],
    ]);
    map.set('c', 3);
    map.delete('b');
    expect(view.size).toBe(2);
    expect([...view]).toEqual(['a', 'c']);
    expect(new Set(view)).toEqual(new Set(['a', 'c']));
  });
});
