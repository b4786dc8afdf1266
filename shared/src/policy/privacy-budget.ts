import { FedtuneError } from '../errors.ts';
import { RdpAccountant } from '../privacy/rdp-accountant.ts';
import { DEFAULT_DP_SGD_DELTA, dpSgdSchedule } from '../privacy/dp-sgd-accounting.ts';
import type { RunTerms } from '../messages/run-terms.ts';
import type { TrainConfig } from '../messages/schemas.ts';
import type { SitePolicy } from './site-policy.ts';
import type { PrivacyKind, PrivacyLedger, PrivacyLedgerEntry } from './privacy-ledger.ts';

/**
 * What the privacy ledger enforces (docs/privacy.md#privacy-ledger): before a round the site computes the ε
 * it would have after it (this round's steps composed into the run's accountant) and refuses the round when
 * that exceeds `maxEpsilonPerRun` or `maxEpsilonTotal`; at join a site at either limit refuses the run.
 */
export type PrivacyLimits = SitePolicy['privacy'];

/** `steps` steps of the sampled Gaussian mechanism, as one fit or one round spends them. */
export interface PrivacyStep {
  kind: PrivacyKind;
  noiseMultiplier: number;
  samplingRate: number;
  steps: number;
  delta: number;
}

/** The error of a refused round or run ('privacy_budget'), one line. */
export function privacyBudgetError(reason: string): FedtuneError {
  return new FedtuneError('privacy_budget', reason);
}

/** The run's accountant of `step.kind` restored from the ledger (a fresh one for a run never recorded). */
export function restoreAccountant(ledger: PrivacyLedger | undefined, runId: string, kind: PrivacyKind): RdpAccountant {
  const account = ledger?.account(runId, kind);
  return account ? RdpAccountant.fromState(account.state) : new RdpAccountant();
}

/** ε(δ) of an accountant, Infinity when a step had no noise or ε is unbounded. */
export function accountantEpsilon(accountant: RdpAccountant, delta: number): number {
  return accountant.getEpsilon(delta).epsilon;
}

/** The ledger entry after composing `step` into the run's accountant of its kind (the ledger is not changed). */
export function composeLedgerEntry(ledger: PrivacyLedger | undefined, runId: string, round: number, step: PrivacyStep, at = new Date()): PrivacyLedgerEntry {
  const accountant = restoreAccountant(ledger, runId, step.kind);
  accountant.step(step.noiseMultiplier, step.samplingRate, step.steps);
  const epsilon = accountantEpsilon(accountant, step.delta);
  return { runId, round, kind: step.kind, delta: step.delta, accountant: accountant.state, epsilon: Number.isFinite(epsilon) ? epsilon : null, at: at.toISOString() };
}

function fmt(e: number): string {
  return Number.isFinite(e) ? e.toFixed(4) : '∞';
}

/** Throws 'privacy_budget' when `spend` exceeds a limit (equal to it is allowed). */
export function checkSpendWithinLimits(spend: { runEpsilon: number; totalEpsilon: number }, limits: PrivacyLimits, what: string): void {
  // No limit: an infinite one, which no spend exceeds (not even an unbounded ε).
  if (spend.runEpsilon > (limits.maxEpsilonPerRun ?? Infinity)) {
    throw privacyBudgetError(`${what} would bring this run's ε to ${fmt(spend.runEpsilon)}, over this site's maxEpsilonPerRun ${limits.maxEpsilonPerRun}`);
  }
  if (spend.totalEpsilon > (limits.maxEpsilonTotal ?? Infinity)) {
    throw privacyBudgetError(`${what} would bring this site's total ε to ${fmt(spend.totalEpsilon)}, over its maxEpsilonTotal ${limits.maxEpsilonTotal}`);
  }
}

/** Whether the limits bound ε at all (a site with a bound takes part only in rounds with DP). */
export function hasEpsilonLimit(limits: PrivacyLimits): boolean {
  return limits.maxEpsilonPerRun !== undefined || limits.maxEpsilonTotal !== undefined;
}

/**
 * The steps one round spends at this site: its DP-SGD fit (`config.dpSgd`; steps = epochs × whole batches
 * of the schedule, at most what fitLocal takes) and its client-level participation (the terms' `dp`: one
 * step at q = 1 — the site cannot verify the coordinator's sampling, so it claims no amplification).
 */
export function roundPrivacySteps(config: TrainConfig, trainExamples: number, clientDp: RunTerms['dp'] | undefined): PrivacyStep[] {
  const steps: PrivacyStep[] = [];
  if (config.dpSgd) {
    const used = Math.min(trainExamples, config.maxExamples ?? trainExamples);
    const schedule = dpSgdSchedule(used, trainExamples, config.batchSize);
    steps.push({ kind: 'record', noiseMultiplier: config.dpSgd.noiseMultiplier, samplingRate: schedule.samplingRate, steps: config.epochs * schedule.batches, delta: config.dpSgd.delta ?? DEFAULT_DP_SGD_DELTA });
  }
  if (clientDp) steps.push({ kind: 'client', noiseMultiplier: clientDp.noiseMultiplier, samplingRate: 1, steps: 1, delta: clientDp.delta });
  return steps;
}

/**
 * Refuses a round ('privacy_budget') whose spend would exceed the site's limits: `steps` are this round's
 * (roundPrivacySteps); a site with a limit refuses a round without DP (its ε would be unbounded).
 */
export function checkRoundBudget(ledger: PrivacyLedger, limits: PrivacyLimits | undefined, runId: string, round: number, steps: readonly PrivacyStep[]): void {
  if (!limits || !hasEpsilonLimit(limits)) return;
  if (steps.length === 0) throw privacyBudgetError(`round ${round} has no differential privacy, so its ε is unbounded; this site's policy limits ε`);
  const entries = steps.map((s) => composeLedgerEntry(ledger, runId, round, s));
  let runEpsilon = ledger.runEpsilon(runId);
  let totalEpsilon = ledger.totalEpsilon();
  for (const e of entries) {
    const added = (e.epsilon ?? Infinity) - (ledger.account(runId, e.kind)?.epsilon ?? 0);
    runEpsilon += added;
    totalEpsilon += added;
  }
  checkSpendWithinLimits({ runEpsilon, totalEpsilon }, limits, `round ${round}`);
}

/**
 * The join check of the privacy budget: a site refuses a run ('privacy_budget') when it is at (or over) its
 * total, when it already spent this run's limit (a rejoin), when the run has no DP while the policy limits ε,
 * or when the run's first round alone would exceed a limit (client-level DP from the terms; DP-SGD from the
 * terms' training when `trainExamples` is given).
 */
export function checkPrivacyBudgetAtJoin(ledger: PrivacyLedger, limits: PrivacyLimits | undefined, terms: RunTerms, trainExamples?: number): void {
  if (!limits || !hasEpsilonLimit(limits)) return;
  checkLedgerAtJoin(ledger, limits, terms.runId);
  if (!terms.dp && !terms.train.dpSgd) throw privacyBudgetError('the run has no differential privacy, so its ε is unbounded; this site\'s policy limits ε');
  const config = { ...terms.train, seed: 0 } as TrainConfig;
  const examples = trainExamples ?? 0;
  // Without a count of examples, no DP-SGD schedule (its sampling rate): the client-level step only.
  // Stryker disable next-line ObjectLiteral: equivalent: a config without dpSgd gives the same steps as an empty one
  const steps = roundPrivacySteps(examples > 0 ? config : { ...config, dpSgd: undefined }, examples, terms.dp);
  if (steps.length > 0) checkRoundBudget(ledger, limits, terms.runId, 1, steps);
}

/** The part of the join check that needs no terms (the site's 'welcome' runs it): at the total, or at this run's limit already. */
export function checkLedgerAtJoin(ledger: PrivacyLedger, limits: PrivacyLimits | undefined, runId: string): void {
  const { maxEpsilonTotal, maxEpsilonPerRun } = limits ?? {};
  const total = ledger.totalEpsilon();
  if (atLimit(total, maxEpsilonTotal)) {
    throw privacyBudgetError(`this site has spent ε ${fmt(total)} in total, its maxEpsilonTotal ${maxEpsilonTotal}; it takes part in no further run`);
  }
  const spent = ledger.runEpsilon(runId);
  if (atLimit(spent, maxEpsilonPerRun)) {
    throw privacyBudgetError(`this site has spent ε ${fmt(spent)} in run ${runId}, its maxEpsilonPerRun ${maxEpsilonPerRun}`);
  }
}

/**
 * Whether `spent` leaves nothing of `limit` (at it counts: a site exactly at a limit has none of it left). No limit
 * compares as NaN, which no spend reaches, not even an unbounded ε (∞ ≥ ∞ would refuse a site with no limit).
 */
function atLimit(spent: number, limit: number | undefined): boolean {
  return spent >= (limit ?? NaN);
}
