import { FedtuneError } from '@fedtune/shared';

/** A fencing token as it crosses Redis: the leader lease's token (leader-lease.ts), a positive safe integer. */
export const MAX_FENCING_TOKEN = Number.MAX_SAFE_INTEGER;

/**
 * A follower's view of the leaders' fencing tokens (docs/cluster.md, "Fencing"): the highest token seen in a
 * leader announcement, a plan or a close. A plan or close carrying a lower token comes from a leader that
 * has been replaced (it may not know yet): it is ignored and counted, never acted on.
 */
export class FencingTokens {
  private top = 0;
  /** Plans and closes ignored because their token was lower than the highest seen. */
  staleIgnored = 0;

  /** The highest token seen so far (0: none). */
  get highest(): number {
    return this.top;
  }

  /** A token seen in a leader announcement or this node's own lease: the highest only grows. */
  observe(token: number): void {
    // Stryker disable next-line EqualityOperator: equivalent: at token === top the assignment changes nothing
    if (token > this.top) this.top = token;
  }

  /** A plan's or close's token: true (and the highest raised) when it is not lower than the highest seen; false, counted, when it is. */
  admit(token: number): boolean {
    if (token < this.top) {
      this.staleIgnored++;
      return false;
    }
    this.top = token;
    return true;
  }
}

/**
 * The leader's check of a follower's record or partial: it must carry the token of the plan it answers (the
 * leader's own). Throws FedtuneError('stale_leader') otherwise; the caller counts the refusal by its code.
 */
export function checkFencingToken(what: string, node: string, token: number, expected: number): void {
  if (token !== expected) throw new FedtuneError('stale_leader', `${what} of node ${node} carries fencing token ${token}, not the leader's ${expected}`);
}
