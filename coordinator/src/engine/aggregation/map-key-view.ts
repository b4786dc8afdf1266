/**
 * A map's keys as a live, read-only set: taking it copies nothing (an aggregator's `siteIds` is read for
 * every update a busy node validates: a fresh copy each time made a round O(n²)), and it follows the map.
 */
export class MapKeyView<K> implements ReadonlySet<K> {
  constructor(private readonly map: ReadonlyMap<K, unknown>) {}

  get size(): number {
    return this.map.size;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  forEach(callback: (value: K, key: K, set: ReadonlySet<K>) => void, thisArg?: unknown): void {
    for (const k of this.map.keys()) callback.call(thisArg, k, k, this);
  }

  keys(): IterableIterator<K> {
    return this.map.keys();
  }

  values(): IterableIterator<K> {
    return this.map.keys();
  }

  *entries(): IterableIterator<[K, K]> {
    for (const k of this.map.keys()) yield [k, k];
  }

  [Symbol.iterator](): IterableIterator<K> {
    return this.map.keys();
  }
}
