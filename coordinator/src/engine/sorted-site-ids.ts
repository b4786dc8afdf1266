/**
 * Site ids kept in canonical order (JavaScript's default string order, as `[...].sort()` gives) as they
 * join and leave: a round's sample reads them without sorting every joined id (O(log N) search and one
 * array move per join or leave instead of O(N log N) per round). Each id at most once.
 */
export class SortedSiteIds {
  private readonly ids: string[] = [];

  /** Where `id` is, or where it would go (the first position whose id is not less than it). */
  private position(id: string): number {
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ids[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Adds `id` in order; false if it is there already. */
  add(id: string): boolean {
    const at = this.position(id);
    if (this.ids[at] === id) return false;
    this.ids.splice(at, 0, id);
    return true;
  }

  /** Removes `id`; false if it was not there. */
  delete(id: string): boolean {
    const at = this.position(id);
    if (this.ids[at] !== id) return false;
    this.ids.splice(at, 1);
    return true;
  }

  has(id: string): boolean {
    return this.ids[this.position(id)] === id;
  }

  get size(): number {
    return this.ids.length;
  }

  /** A copy, in canonical order (the caller may shuffle it). */
  toArray(): string[] {
    return this.ids.slice();
  }
}
