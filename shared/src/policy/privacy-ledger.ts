import { z } from 'zod';
import type { RdpAccountantState } from '../privacy/rdp-accountant.ts';

/**
 * A site's persistent privacy ledger (docs/privacy.md#privacy-ledger): the ε this site spent, per run and in
 * total, across runs and process restarts.
 *
 * - Per run and kind of DP ('record': the site's own DP-SGD; 'client': its participation in client-level
 *   DP-FedAvg, accounted at q = 1) the ledger keeps the RDP accountant's whole state, so a restarted site
 *   continues composing the same run instead of starting from zero.
 * - A run's ε is the sum of its kinds' ε, and the total is the sum of the runs' ε: basic (sequential)
 *   composition, an upper bound that never under-counts (RDP composition across runs would be tighter, but
 *   runs may use different δ).
 * - Write-ahead: an entry is recorded, durably, before the update it accounts for leaves the site. A crash
 *   after sending never loses spend; a crash between recording and sending counts a round that was never
 *   sent — an over-count, which is the safe direction.
 */
export type PrivacyKind = 'record' | 'client';

const Finite = z.number().finite();
export const RdpAccountantStateSchema = z
  .object({
    version: z.literal(1),
    orders: z.array(Finite.gt(1)).min(1).max(1024),
    history: z
      .array(z.object({ noiseMultiplier: Finite.min(0).max(1e6), samplingRate: Finite.min(0).max(1), steps: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }).strict())
      .max(100_000),
  })
  .strict();

/** One ledger entry: the state of a run's accountant of one kind after `round`, and that accountant's ε(δ) (null: infinite). */
export const PrivacyLedgerEntry = z
  .object({
    runId: z.string().min(1).max(128),
    round: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    kind: z.enum(['record', 'client']),
    delta: Finite.gt(0).lt(1),
    accountant: RdpAccountantStateSchema,
    epsilon: Finite.min(0).nullable(),
    /** When it was recorded (ISO 8601), for the operator. */
    at: z.string().max(40),
  })
  .strict();
export type PrivacyLedgerEntry = z.output<typeof PrivacyLedgerEntry>;

/** The last recorded state of one run's accountant of one kind. */
export interface LedgerAccount {
  state: RdpAccountantState;
  delta: number;
  /** ε(δ) of the accountant; Infinity when a step had no noise. */
  epsilon: number;
  round: number;
}

/** What a site's ledger answers and records; the Node site keeps it in a file, the browser site in localStorage. */
export interface PrivacyLedger {
  /** The last recorded accountant of `runId` and `kind`, if this site ever recorded one. */
  account(runId: string, kind: PrivacyKind): LedgerAccount | undefined;
  /** ε spent in `runId`: the sum over its kinds (0 when none recorded). */
  runEpsilon(runId: string): number;
  /** ε spent over all runs: the sum of the runs' ε. */
  totalEpsilon(): number;
  /** Appends an entry; durable when it returns (or its promise resolves). */
  record(entry: PrivacyLedgerEntry): void | Promise<void>;
}

/** A site's ledger totals as sent to the coordinator in fit metrics (FitResultMetrics.ledger). */
export interface LedgerTotals {
  runEpsilon: number;
  totalEpsilon: number;
}
