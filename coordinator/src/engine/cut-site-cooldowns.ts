/** Sites cut for too many refusals remembered at once (each for refusalCutCooldownMs); past it the oldest are forgotten. */
export const MAX_CUT_SITES = 10_000;

/**
 * The names of sites whose connection was cut for too many refused messages, each until its cooldown ends
 * (connectionLimits.refusalCutCooldownMs): a hello under such a name is refused until then. Bounded: the expired
 * are dropped as new cuts come, and past `max` names the oldest still cooling are forgotten.
 */
export class CutSiteCooldowns {
  /** Name → until when (ms), oldest cut first. */
  private readonly until = new Map<string, number>();

  constructor(private readonly cooldownMs: number, private readonly max = MAX_CUT_SITES) {}

  /** `siteId` was cut at `t`: its name may not join again before t + cooldownMs (0: no cooldown). */
  cut(siteId: string, t: number): void {
    // With cooldownMs 0 the name's own entry has ended at once: the loop below drops it with the expired.
    this.until.delete(siteId);
    this.until.set(siteId, t + this.cooldownMs);
    for (const [id, until] of this.until) {
      if (until > t && this.until.size <= this.max) break;
      this.until.delete(id);
    }
  }

  /** Milliseconds until `siteId` may join again at `t` (0: it may now). */
  left(siteId: string, t: number): number {
    const until = this.until.get(siteId);
    // Stryker disable next-line ConditionalExpression: equivalent: an unknown name falls through to "may join now" (deleting nothing)
    if (until === undefined) return 0;
    if (until > t) return until - t;
    this.until.delete(siteId);
    return 0;
  }

  /** Names remembered (for tests of the bound). */
  get size(): number {
    return this.until.size;
  }
}
