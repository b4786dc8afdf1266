/**
 * Sites that were selected and gave no answer before a round's deadline (a hung process, a half-open connection,
 * a peer that joins and never trains) cool down: they are not sampled for the next 1, 2, 4, … rounds — doubling
 * with every miss in a row, at most `maxCooldownRounds` — so one silent site does not hold every round until its
 * deadline. An accepted update ends its cooldown and its record of misses (the round engine decides what counts
 * as a miss: round-loop.ts). Keyed by site id, so reconnecting does not clear it. Memory is bounded: at most `maxTracked`
 * sites are remembered (the oldest record goes first). `maxCooldownRounds` 0 turns it off. The records ride in the
 * run's checkpoint (`state`), so a resumed run keeps its cooldowns and the misses in a row they double on.
 *
 * A site the quorum wait cut off (stragglers.waitAfterQuorumMs) may be slow rather than silent, so it is not
 * cooled at once: it is *busy* — still training the fit it was sent — until it answers (even late: `heardFrom`)
 * or the round's deadline passes, and is not sent another fit meanwhile (a site works through its fits in
 * order: each would only queue behind the first and come back stale). Past the deadline with no answer it
 * counts as a miss, as above. Busy marks are not checkpointed (a resumed run starts with fresh connections).
 * Docs: docs/operations.md#sites-that-do-not-answer.
 */
import { FedtuneError } from '@fedtune/shared';

/** Most cooling sites a round record lists by name (the rest are counted). */
export const MAX_LISTED_COOLING = 50;

/** What a checkpoint keeps: every record, oldest first, as [site id, misses in a row, round of the last miss, last round it sits out]. */
export type UnresponsiveSitesState = Array<[siteId: string, misses: number, from: number, until: number]>;

export class UnresponsiveSites {
  /** Site id → misses in a row, the round of the last miss and the last round it sits out. Insertion order is the eviction order. */
  private readonly records = new Map<string, { misses: number; from: number; until: number }>();
  /** Site id → the deadline (ms since the epoch) of the fit the quorum wait cut it off from. Insertion order is the eviction order. */
  private readonly busyUntil = new Map<string, number>();

  constructor(
    readonly maxCooldownRounds: number,
    private readonly maxTracked = 100_000,
    /** The records of the checkpoint a run resumes from (checked by `checkUnresponsiveSitesState`). */
    restored?: UnresponsiveSitesState,
  ) {
    if (!(maxCooldownRounds > 0) || !restored) return;
    // The newest maxTracked records; a cooldown longer than the (possibly lowered) maximum is shortened to it.
    for (const [siteId, misses, from, until] of restored.slice(-maxTracked)) {
      this.records.set(siteId, { misses, from, until: Math.min(until, from + maxCooldownRounds) });
    }
  }

  /** The records for the run's checkpoint (undefined when there are none). */
  get state(): UnresponsiveSitesState | undefined {
    if (this.records.size === 0) return undefined;
    return [...this.records].map(([siteId, r]) => [siteId, r.misses, r.from, r.until]);
  }

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
    this.busyUntil.delete(siteId);
  }

  /**
   * The quorum wait closed the round before `siteId` answered the fit whose deadline is `deadlineMs`: it is busy
   * (not sampled) until it answers or that deadline passes. Nothing is recorded when cooldowns are off.
   */
  cutOff(siteId: string, deadlineMs: number): void {
    if (!(this.maxCooldownRounds > 0)) return;
    this.busyUntil.delete(siteId);
    this.busyUntil.set(siteId, deadlineMs);
    while (this.busyUntil.size > this.maxTracked) this.busyUntil.delete(this.busyUntil.keys().next().value!);
  }

  /** A result came from `siteId` (in time or late, accepted or not): it is no longer busy with a fit. */
  heardFrom(siteId: string): void {
    this.busyUntil.delete(siteId);
  }

  /** Whether `siteId` is still busy with a fit the quorum wait cut it off from, at `nowMs`. */
  busy(siteId: string, nowMs: number): boolean {
    const deadline = this.busyUntil.get(siteId);
    // Stryker disable next-line ConditionalExpression: equivalent: a comparison with undefined is false either way
    return deadline !== undefined && nowMs < deadline;
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
   * The sites of `ids` that may be sampled in `round` at `nowMs`, those that sit it out cooling down, and those
   * still busy with a fit the quorum wait cut them off from. A busy site past its deadline is a miss from here
   * (it cools down from `round`). When every one would sit it out, none does (a round is never left without
   * sites to ask).
   */
  eligible(ids: readonly string[], round: number, nowMs: number = Date.now()): { ids: string[]; cooling: string[]; busy: string[] } {
    // Stryker disable next-line ConditionalExpression: equivalent: a fast path (no records: nobody is cooling or busy).
    if (this.records.size === 0 && this.busyUntil.size === 0) return { ids: [...ids], cooling: [], busy: [] };
    for (const id of ids) {
      const deadline = this.busyUntil.get(id);
      // Stryker disable next-line ConditionalExpression: equivalent: a comparison with undefined is false either way
      if (deadline !== undefined && nowMs >= deadline) {
        this.busyUntil.delete(id);
        this.missed(id, round);
      }
    }
    const cooling = ids.filter((id) => this.cooling(id, round));
    const busy = ids.filter((id) => this.busyUntil.has(id) && !this.cooling(id, round));
    if (cooling.length + busy.length === 0 || cooling.length + busy.length === ids.length) return { ids: [...ids], cooling: [], busy: [] };
    const out = new Set([...cooling, ...busy]);
    return { ids: ids.filter((id) => !out.has(id)), cooling, busy };
  }

  /**
   * The sites of `ids` to ask for an evaluation: all but those cooling down. A busy site is asked (the request
   * waits behind its fit, and an evaluation must not leave out the sites slower than the quorum wait).
   */
  evaluable(ids: readonly string[], round: number, nowMs: number = Date.now()): string[] {
    const { cooling } = this.eligible(ids, round, nowMs);
    // Stryker disable next-line ConditionalExpression: equivalent: a fast path (the filter below keeps every id).
    if (cooling.length === 0) return [...ids];
    const out = new Set(cooling);
    return ids.filter((id) => !out.has(id));
  }

  /** Sites busy with a fit the quorum wait cut them off from (for tests of the memory bound). */
  get busyCount(): number {
    return this.busyUntil.size;
  }

  /** Sites on record (for tests of the memory bound). */
  get size(): number {
    return this.records.size;
  }
}

/** Most characters of a site id on record (the hello's bound). */
const MAX_SITE_ID_CHARS = 128;

/**
 * Checks records read back from a checkpoint: a list of [site id, misses ≥ 1, from ≥ 0, until ≥ from], integers
 * and distinct ids. Throws FedtuneError('codec') naming the first bad entry; returns them typed.
 */
export function checkUnresponsiveSitesState(value: unknown): UnresponsiveSitesState {
  if (!Array.isArray(value)) throw new FedtuneError('codec', 'checkpoint straggler records are not a list');
  const seen = new Set<string>();
  value.forEach((entry: unknown, i) => {
    const ok =
      Array.isArray(entry) &&
      entry.length === 4 &&
      typeof entry[0] === 'string' &&
      entry[0].length > 0 &&
      entry[0].length <= MAX_SITE_ID_CHARS &&
      !seen.has(entry[0]) &&
      entry.slice(1).every((n) => Number.isSafeInteger(n) && n >= 0) &&
      entry[1] >= 1 &&
      entry[3] >= entry[2];
    if (!ok) throw new FedtuneError('codec', `checkpoint straggler record ${i} is malformed (expected [site id, misses, from, until])`);
    seen.add(entry[0]);
  });
  return value as UnresponsiveSitesState;
}
