import type { RunTerms } from '../messages/run-terms.ts';
import type { SitePrivacy, TrainConfig } from '../messages/schemas.ts';
import type { DpSgdSpend } from '../privacy/dp-sgd-accounting.ts';
import { DEFAULT_DP_SGD_DELTA } from '../privacy/dp-sgd-accounting.ts';
import { MemoryPrivacyLedger } from '../policy/privacy-ledger-accounts.ts';
import { checkLedgerAtJoin, checkPrivacyBudgetAtJoin, checkRoundBudget, composeLedgerEntry, roundPrivacySteps, type PrivacyLimits, type PrivacyStep } from '../policy/privacy-budget.ts';
import type { LedgerTotals, PrivacyLedger } from '../policy/privacy-ledger.ts';

/**
 * The privacy ledger as a site uses it (docs/privacy.md#privacy-ledger): the join check, the projected check
 * before a round's training, and the write-ahead record after training and before the update leaves. A site
 * without a ledger keeps an in-memory one (the DP-SGD ε it reports then starts from zero in a new process).
 */
export class SitePrivacyAccounting {
  private readonly ledger: PrivacyLedger;

  constructor(
    ledger: PrivacyLedger | undefined,
    private readonly limits: PrivacyLimits | undefined,
    /** Whether the ledger is the site's own persistent one (its totals are then sent and shown). */
    private readonly persistent = ledger !== undefined,
  ) {
    this.ledger = ledger ?? new MemoryPrivacyLedger();
  }

  /** Throws 'privacy_budget' when the site is at its total or at this run's limit already. */
  checkJoin(runId: string): void {
    checkLedgerAtJoin(this.ledger, this.limits, runId);
  }

  /** At join, on the run's terms: throws 'privacy_budget' when the site is at a limit or the run cannot stay within it (checkPrivacyBudgetAtJoin). */
  checkTerms(terms: RunTerms, trainExamples: number): void {
    checkPrivacyBudgetAtJoin(this.ledger, this.limits, terms, trainExamples);
  }

  /** Before training: throws 'privacy_budget' when the round's projected spend exceeds a limit. */
  checkRound(runId: string, round: number, config: TrainConfig, trainExamples: number, clientDp: RunTerms['dp'] | undefined): void {
    checkRoundBudget(this.ledger, this.limits, runId, round, roundPrivacySteps(config, trainExamples, clientDp));
  }

  /**
   * After training, before sending: records what the fit spent (its DP-SGD steps, and one q = 1 step of
   * client-level DP when the terms have it), durably. Returns the DP-SGD privacy to report (undefined when
   * ε is infinite, as composeDpSgd) and the ledger totals (a persistent ledger only).
   */
  async recordRound(runId: string, round: number, dpSgd: DpSgdSpend | undefined, dpSgdDelta: number | undefined, clientDp: RunTerms['dp'] | undefined): Promise<{ privacy?: SitePrivacy; ledger?: LedgerTotals }> {
    const steps: PrivacyStep[] = [];
    const delta = dpSgdDelta ?? DEFAULT_DP_SGD_DELTA;
    if (dpSgd) steps.push({ kind: 'record', noiseMultiplier: dpSgd.noiseMultiplier, samplingRate: dpSgd.samplingRate, steps: dpSgd.steps, delta });
    if (clientDp) steps.push({ kind: 'client', noiseMultiplier: clientDp.noiseMultiplier, samplingRate: 1, steps: 1, delta: clientDp.delta });
    let privacy: SitePrivacy | undefined;
    for (const step of steps) {
      const entry = composeLedgerEntry(this.ledger, runId, round, step);
      await this.ledger.record(entry);
      if (step.kind === 'record' && entry.epsilon !== null) {
        const total = entry.accountant.history.reduce((n, h) => n + h.steps, 0);
        privacy = { epsilon: entry.epsilon, delta, steps: total, samplingRate: step.samplingRate, noiseMultiplier: step.noiseMultiplier };
      }
    }
    return { ...(privacy ? { privacy } : {}), ...(this.persistent ? { ledger: this.totals(runId) } : {}) };
  }

  /** The ledger's ε for this run and in total. */
  totals(runId: string): LedgerTotals {
    return { runEpsilon: this.ledger.runEpsilon(runId), totalEpsilon: this.ledger.totalEpsilon() };
  }
}
