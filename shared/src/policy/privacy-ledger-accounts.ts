import { FedtuneError } from '../errors.ts';
import type { LedgerAccount, PrivacyKind, PrivacyLedgerEntry } from './privacy-ledger.ts';

/**
 * The in-memory index every PrivacyLedger implementation keeps: the last entry of each (run, kind) and the
 * sums of docs/privacy.md#privacy-ledger (run ε = Σ kinds, total = Σ runs). `MemoryPrivacyLedger` is it with
 * a no-op store (tests, and a site that opts out of persistence).
 */
const NO_RUNS: ReadonlyMap<string, Map<PrivacyKind, LedgerAccount>> = new Map();

export class PrivacyLedgerAccounts {
  /** Made at the first entry: a ledger with none (an idle site's) holds no map. */
  private spent?: Map<string, Map<PrivacyKind, LedgerAccount>>;

  private get runs(): ReadonlyMap<string, Map<PrivacyKind, LedgerAccount>> {
    return this.spent ?? NO_RUNS;
  }

  constructor(entries: Iterable<PrivacyLedgerEntry> = []) {
    for (const e of entries) this.apply(e);
  }

  /** Applies an entry: it replaces the account of its run and kind (an entry holds the accountant's whole state). */
  apply(entry: PrivacyLedgerEntry): void {
    let kinds = this.runs.get(entry.runId);
    if (!kinds) (this.spent ??= new Map()).set(entry.runId, (kinds = new Map()));
    const before = kinds.get(entry.kind);
    const epsilon = entry.epsilon ?? Infinity;
    // Spend only grows: an entry that lowers a run's ε is not a later state of the same accountant.
    if (before && epsilon < before.epsilon) {
      throw new FedtuneError('persistence', `ledger entry for run ${entry.runId} (${entry.kind}) round ${entry.round} lowers its ε from ${before.epsilon} to ${epsilon}`);
    }
    kinds.set(entry.kind, { state: entry.accountant, delta: entry.delta, epsilon, round: entry.round });
  }

  account(runId: string, kind: PrivacyKind): LedgerAccount | undefined {
    return this.runs.get(runId)?.get(kind);
  }

  runEpsilon(runId: string): number {
    let sum = 0;
    for (const a of this.runs.get(runId)?.values() ?? []) sum += a.epsilon;
    return sum;
  }

  totalEpsilon(): number {
    let sum = 0;
    for (const runId of this.runs.keys()) sum += this.runEpsilon(runId);
    return sum;
  }

  /** The run ids with an entry, in the order first recorded. */
  runIds(): string[] {
    return [...this.runs.keys()];
  }
}

/** A ledger that keeps nothing beyond the process (tests; never the default of a real site). */
export class MemoryPrivacyLedger extends PrivacyLedgerAccounts {
  readonly entries: PrivacyLedgerEntry[] = [];
  record(entry: PrivacyLedgerEntry): void {
    this.apply(entry);
    this.entries.push(entry);
  }
}
