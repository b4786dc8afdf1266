import type { RobustnessReport } from './report-schema.ts';
import type { RobustnessOptions } from './evaluate-robustness.ts';

/**
 * Two threads sharing one robustness evaluation's PGD and PGD-L2 rows (its bulk: 40 gradient steps per
 * example and loss): the evaluator (evaluateRobustness) claims rows from the first one up once its other parts
 * are done, a helper (evaluateAttackRowsFromEnd) from the last one down from the start; each row goes to
 * whoever claims it first, so the two finish together whatever the rows cost. A row's numbers do not depend
 * on who computes it (its seeds derive from the options, ε and batch), so the report is the one a single
 * thread makes.
 *
 * The claims are one Int32 per row over a SharedArrayBuffer (both threads see every claim at once);
 * rows past ATTACK_ROW_CLAIMS are the evaluator's alone.
 */
export const ATTACK_ROW_CLAIMS = 256;
/** A row's claim: unclaimed, the evaluator's, the helper's. */
export const ATTACK_ROW_UNCLAIMED = 0;
export const ATTACK_ROW_EVALUATOR = 1;
export const ATTACK_ROW_HELPER = 2;

export type IterativeAttackRowReport = RobustnessReport['pgd'][number];

/**
 * What the helper computed: the rows it claimed (by index in PGD-then-PGD-L2 order), each with which attacked
 * examples withstood it (1) or not (0), for the per-example worst case over the attacks; and its time.
 */
export interface HelperAttackRows {
  rows: Array<{ index: number; row: IterativeAttackRowReport; robust: Uint8Array }>;
  ms: number;
}

/** The evaluator's side of a shared evaluation. */
export interface AttackRowSharing {
  claims: Int32Array;
  /** The helper's rows once it is done; undefined (or a rejection) when it failed: the evaluator computes them itself. */
  helperRows: Promise<HelperAttackRows | undefined>;
}

/** A fresh claims array, shareable between threads. */
export function newAttackRowClaims(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(ATTACK_ROW_CLAIMS * Int32Array.BYTES_PER_ELEMENT));
}

/** Claims row `index` for `who`; true when it was unclaimed (rows past the claims array are always the evaluator's). */
export function claimAttackRow(claims: Int32Array, index: number, who: typeof ATTACK_ROW_EVALUATOR | typeof ATTACK_ROW_HELPER): boolean {
  if (index >= claims.length) return who === ATTACK_ROW_EVALUATOR;
  return Atomics.compareExchange(claims, index, ATTACK_ROW_UNCLAIMED, who) === ATTACK_ROW_UNCLAIMED;
}

/**
 * The options of a helper's warm-up run: the same model, losses and input handling, but a few examples, one
 * PGD ε and a few steps — every kernel and code path of a PGD row, in a few milliseconds.
 */
export function warmUpAttackOptions(options: RobustnessOptions): RobustnessOptions {
  const eps = Array.isArray(options.pgd) && options.pgd.length > 0 ? options.pgd[0] : 0.1;
  return { ...options, examples: 16, adversarialExamples: 16, pgd: [eps], pgdL2: false, pgdSteps: 4, headlineEps: undefined, certify: undefined, textAttack: undefined };
}
