import type { MessageOf } from '../transport/transport.ts';
import type { ServerToClient } from '../messages/events.ts';

/**
 * How often a coordinator may ask one site for the same work in a run (docs/site-policy.md, "Repeated
 * instructions"). Without a bound, a coordinator that keeps to the terms in every single instruction could
 * still ask for round 1's fit, an evaluation or a calibration question hundreds of times with crafted weights
 * and difference the answers into individual examples and labels (each answer is an aggregate; many answers
 * are not). The bounds leave room for what an honest run re-sends: a round's retries (3 attempts by default),
 * a reconnect and a cluster failover (a new leader re-runs the round it was in).
 */
export const INSTRUCTION_LIMITS = {
  /** Fits of one round. */
  fitsPerRound: 10,
  /** Federated evaluations (test-split metrics) of one round. */
  evaluationsPerRound: 3,
  /** Federated calibration questions of one round (a temperature search takes ~7; its bisection fewer than 60). */
  calibrationQuestionsPerRound: 64,
  /** Per-site reports of the run (the final one, once more after a reconnect). */
  siteReportsPerRun: 2,
  /** Counted instructions that arrived and were not carried out yet (a round queues a fit, or an evaluation, at a time). */
  pending: 32,
} as const;

export type InstructionLimits = { readonly [K in keyof typeof INSTRUCTION_LIMITS]: number };

/** The instructions counted: work a site carries out on its data (training, evaluation, a report). */
export const COUNTED_INSTRUCTIONS: ReadonlySet<string> = new Set(['fit', 'evaluate', 'siteReport']);

/** Counts the work a coordinator asks of this site as it arrives, and says when it asks for more than INSTRUCTION_LIMITS allow. */
export class InstructionBudget {
  private readonly counts = new Map<string, number>();

  constructor(private readonly limits: InstructionLimits = INSTRUCTION_LIMITS) {}

  /**
   * An instruction arrived while `pending` others wait to be carried out: counts it, and returns why it is one too
   * many (one line), or undefined. Messages other than fit, evaluate and siteReport are not counted.
   */
  take(message: MessageOf<ServerToClient>, pending: number): string | undefined {
    const counted = this.keyOf(message);
    if (!counted) return undefined;
    if (pending >= this.limits.pending) return `more than ${this.limits.pending} instructions arrived before this site could carry them out`;
    const [key, limit, what] = counted;
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    return n > limit ? `the coordinator asked for ${what} ${n} times: this site answers at most ${limit}` : undefined;
  }

  private keyOf(message: MessageOf<ServerToClient>): [string, number, string] | undefined {
    switch (message.event) {
      case 'fit':
        return [`fit:${message.payload.round}`, this.limits.fitsPerRound, `round ${message.payload.round}'s fit`];
      case 'evaluate':
        return message.payload.calibration
          ? [`calibration:${message.payload.round}`, this.limits.calibrationQuestionsPerRound, `a calibration of round ${message.payload.round}`]
          : [`evaluate:${message.payload.round}`, this.limits.evaluationsPerRound, `an evaluation of round ${message.payload.round}`];
      case 'siteReport':
        return ['siteReport', this.limits.siteReportsPerRun, 'a site report'];
      default:
        return undefined;
    }
  }
}
