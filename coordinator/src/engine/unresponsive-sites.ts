/**
 * Sites that were selected and gave no answer before a round's deadline (a hung process, a half-open connection,
 * a peer that joins and never trains) cool down: they are not sampled for the next 1, 2, 4, … rounds — doubling
 * with every miss in a row, at most `maxCooldownRounds` — so one silent site does not hold every round until its
 * deadline. An accepted update ends its cooldown and its record of misses (the round engine decides what counts
 * as a miss: round-loop.ts). Keyed by site id, so reconnecting does not clear it. Memory is bounded: at most `maxTracked`
 * sites are remembered (the oldest record goes first). `maxCooldownRounds` 0 turns it off.
 * Docs: docs/operations.md#sites-that-do-not-answer.
 */
/** Most cooling sites a round record lists by name (the rest are counted). */
export const MAX_LISTED_COOLING = 50;

export class UnresponsiveSites {
  /** Site id → misses in a row, the round of the last miss and the last round it sits out. Insertion order is the eviction order. */
  private readonly records = new Map<string, { misses: number; from: number; until: number }>();

  constructor(
    readonly maxCooldownRounds: number,
    private readonly maxTracked = 100_000,
  ) {}

  /**
   * `siteId` was selected in `round` and gave no answer before the round closed: it sits out the rest of
   * `round` (its further attempts) and the next min(2^(misses − 1), maxCooldownRounds) rounds. Returns how many
   * (0 when cooldowns are off).
   */
  missed(siteId: string, round: number): number {
    if (!(this.maxCooldownRounds > 0)) return 0;
    const misses = (this.records.get(siteId)?.misses ?? 0) + 1;
    const rounds = Math.min(2 ** Math.min(misses - 1, 30), this.maxCooldownRounds);
    this.records.delete(siteId);
    this.records.set(siteId, { misses, from: round, until: round + rounds });
    while (this.records.size > this.maxTracked) this.records.delete(this.records.keys().next().value!);
    return rounds;
  }

  /** The site answered: its cooldown and misses are forgotten. */
  answered(siteId: string): void {
    this.records.delete(siteId);
  }

  /** Whether `siteId` sits out `round`. */
  cooling(siteId: string, round: number): boolean {
    const r = this.records.get(siteId);
    return r !== undefined && r.from <= round && round <= r.until;
  }

  /** Misses in a row on record for `siteId` (0: none). */
  misses(siteId: string): number {
    return this.records.get(siteId)?.misses ?? 0;
  }

  /**
   * The sites of `ids` that may be sampled in `round`, and those that sit it out. When every one would sit it
   * out, none does (a round is never left without sites to ask).
   */
  eligible(ids: readonly string[], round: number): { ids: string[]; cooling: string[] } {
    // Stryker disable next-line ConditionalExpression: equivalent: a fast path (no records: nobody is cooling).
    if (this.records.size === 0) return { ids: [...ids], cooling: [] };
    const cooling = ids.filter((id) => this.cooling(id, round));
    // Stryker disable next-line ConditionalExpression: equivalent: with none cooling the filter below keeps every id.
    if (cooling.length === 0 || cooling.length === ids.length) return { ids: [...ids], cooling: [] };
    const out = new Set(cooling);
    return { ids: ids.filter((id) => !out.has(id)), cooling };
  }

  /** Sites on record (for tests of the memory bound). */
  get size(): number {
    return this.records.size;
  }
}
