import type { Dataset, SeededRandom, UpdateHook } from '@fedtune/shared';
import type { Collusion } from './collusion.ts';

export interface AttackContext {
  /** This malicious site's own generator (seeded from the run seed and its id). */
  rng: SeededRandom;
  numClasses: number;
  options: Record<string, number>;
  /** Shared by the malicious sites of a run, for attacks that coordinate (ALIE, IPM). */
  collusion: Collusion;
  totalSites: number;
  maliciousSites: number;
}

/** A probe the coordinator evaluates every round (e.g. the backdoor's attack success rate). */
export interface AttackProbe {
  name: string;
  /** Examples whose "accuracy" is the probe's value (for a backdoor: triggered inputs labelled with the target). */
  data: Dataset;
}

/**
 * A simulated misbehaving site. Data attacks poison the site's local data before training; model attacks
 * rewrite the weights it sends. Either way the site goes through the real client and the real validation.
 */
export interface Attack {
  readonly name: string;
  readonly reference: string;
  readonly description: string;
  readonly defaults: Record<string, number>;
  poisonData?(data: Dataset, ctx: AttackContext): Dataset;
  updateHook?(ctx: AttackContext): UpdateHook;
  probe?(holdout: Dataset, options: Record<string, number>): AttackProbe;
}
