import type { SiteLedgerTotals } from '../messages/schemas.ts';
import type { LedgerTotals } from './privacy-ledger.ts';

/** Ledger totals as FitResultMetrics.ledger carries them: an unbounded (infinite) ε is null. */
export function ledgerTotalsWire(t: LedgerTotals): SiteLedgerTotals {
  const wire = (e: number) => (Number.isFinite(e) ? e : null);
  return { runEpsilon: wire(t.runEpsilon), totalEpsilon: wire(t.totalEpsilon) };
}
