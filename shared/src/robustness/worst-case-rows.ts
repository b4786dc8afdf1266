import { FedtuneError } from '../errors.ts';

/** The L∞ attacks whose results combine per example (PGD-L2 is another norm: its radii are not comparable). */
export const WORST_CASE_ATTACKS = ['fgsm', 'pgd', 'square'] as const;
export type WorstCaseAttack = (typeof WORST_CASE_ATTACKS)[number];
/** How reports and summaries name them. */
export const WORST_CASE_ATTACK_NAMES: Readonly<Record<WorstCaseAttack, string>> = { fgsm: 'FGSM', pgd: 'PGD', square: 'Square' };

/** One attack's outcome at one ε: per attacked example, 1 if it is still classified correctly. */
export interface AttackOutcome {
  attack: WorstCaseAttack;
  eps: number;
  epsAbsolute: number;
  robust: Uint8Array;
}

/** The per-example worst case at one ε: the share of attacked examples that every attack run at that ε left correct. */
export interface WorstCaseRow {
  eps: number;
  epsAbsolute: number;
  /** The attacks combined, in WORST_CASE_ATTACKS order (at least two). */
  attacks: WorstCaseAttack[];
  accuracy: number;
}

/**
 * The per-example worst case over the attacks run at the same ε (as AutoAttack reports robust accuracy): an
 * example counts only if no attack fooled it, so a row is never above any of the rows it combines. One row per
 * ε at which at least two different attacks ran, in ascending ε. Pure.
 */
export function worstCaseRows(outcomes: readonly AttackOutcome[]): WorstCaseRow[] {
  if (outcomes.length === 0) return [];
  const n = outcomes[0].robust.length;
  for (const o of outcomes) {
    if (o.robust.length !== n) throw new FedtuneError('internal', `attack outcomes cover ${o.robust.length} and ${n} examples: they must be of the same examples`);
  }
  const byEps = new Map<number, AttackOutcome[]>();
  for (const o of outcomes) byEps.set(o.eps, [...(byEps.get(o.eps) ?? []), o]);
  const rows: WorstCaseRow[] = [];
  for (const eps of [...byEps.keys()].sort((a, b) => a - b)) {
    const group = byEps.get(eps)!;
    const attacks = WORST_CASE_ATTACKS.filter((a) => group.some((o) => o.attack === a));
    if (attacks.length < 2) continue;
    let robust = 0;
    // Stryker disable next-line EqualityOperator: equivalent: past the end robust[i] is undefined, never 1.
    for (let i = 0; i < n; i++) if (group.every((o) => o.robust[i] === 1)) robust++;
    rows.push({ eps, epsAbsolute: group[0].epsAbsolute, attacks, accuracy: n === 0 ? 0 : robust / n });
  }
  return rows;
}
