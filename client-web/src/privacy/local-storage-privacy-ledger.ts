import { encodeLedgerLine, FedtuneError, parseLedgerText, PrivacyLedgerAccounts, type PrivacyLedger, type PrivacyLedgerEntry } from '@fedtune/shared';

/** The part of the Web Storage API the ledger uses (window.localStorage; tests pass a map). */
export interface LedgerStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** The storage key of a site's ledger in this browser profile. */
export function privacyLedgerKey(siteId: string): string {
  return `fedtune.privacyLedger.${siteId}`;
}

/**
 * The browser site's privacy ledger (docs/privacy.md#privacy-ledger-per-site-across-runs-and-restarts): the
 * same checksummed JSON lines as the Node file, kept under one localStorage key per site name, so a reloaded
 * tab continues the same run's accountant. `setItem` replaces the value whole (no torn lines); a value that
 * does not check is an error, never a reset.
 */
export class LocalStoragePrivacyLedger extends PrivacyLedgerAccounts implements PrivacyLedger {
  private text: string;

  private constructor(
    private readonly storage: LedgerStorage,
    readonly key: string,
    text: string,
    entries: PrivacyLedgerEntry[],
  ) {
    super(entries);
    this.text = text;
  }

  static open(storage: LedgerStorage, siteId: string): LocalStoragePrivacyLedger {
    const key = privacyLedgerKey(siteId);
    const text = storage.getItem(key) ?? '';
    const parsed = parseLedgerText(text, `localStorage["${key}"]`);
    if (parsed.tornLine !== undefined) throw new FedtuneError('persistence', `privacy ledger localStorage["${key}"] ends in an incomplete line`);
    return new LocalStoragePrivacyLedger(storage, key, text, parsed.entries);
  }

  record(entry: PrivacyLedgerEntry): void {
    this.apply(entry);
    const text = this.text + encodeLedgerLine(entry);
    try {
      this.storage.setItem(this.key, text);
    } catch (err) {
      throw new FedtuneError('persistence', `cannot write the privacy ledger to localStorage (${(err as Error).message})`, { cause: err });
    }
    this.text = text;
  }
}
