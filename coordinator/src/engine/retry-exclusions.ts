/**
 * Which joined sites a plain round's retry leaves out, so that a few peers cannot fail every attempt of a round
 * and with it the run (after `maxRoundAttempts` failed attempts the run is aborted):
 * - the sites that gave no usable update in an earlier attempt of the round (their update refused, or they
 *   left, or failed): three peers answering every fit with garbage failed each attempt's quorum;
 * - the sites that joined after the round began: peers that leave when asked to train and come back under
 *   fresh names were sampled again by every retry.
 * Each rule applies only while at least `minSites` sites remain to sample (a retry never runs with fewer sites
 * than the run's minimum; with too few left every joined site is sampled, as before). Sites that gave no answer
 * at all are the cooldown's (unresponsive-sites.ts).
 */
export class RetryExclusions {
  private readonly joinedAtStart: ReadonlySet<string>;
  private readonly failed = new Set<string>();

  constructor(joinedAtStart: Iterable<string>, private readonly minSites: number) {
    this.joinedAtStart = new Set(joinedAtStart);
  }

  /** An attempt of the round failed: these sites gave no usable update in it. */
  noteFailedAttempt(siteIds: Iterable<string>): void {
    for (const id of siteIds) this.failed.add(id);
  }

  /** The sites the next attempt leaves out, of those joined now (`joined`). */
  leftOut(joined: readonly string[]): Set<string> {
    const out = new Set<string>();
    const usable = joined.filter((id) => !this.failed.has(id));
    if (usable.length < this.minSites) return out;
    for (const id of joined) if (this.failed.has(id)) out.add(id);
    const known = usable.filter((id) => this.joinedAtStart.has(id));
    if (known.length < this.minSites) return out;
    for (const id of usable) if (!this.joinedAtStart.has(id)) out.add(id);
    return out;
  }
}
