import { describe, expect, it } from 'vitest';
import { LocalStoragePrivacyLedger, privacyLedgerKey, type LedgerStorage } from '../../client-web/src/privacy/local-storage-privacy-ledger.ts';
import { composeLedgerEntry, type PrivacyStep } from '../../shared/src/policy/privacy-budget.ts';
import { RdpAccountant } from '../../shared/src/privacy/rdp-accountant.ts';

class MapStorage implements LedgerStorage {
  readonly map = new Map<string, string>();
  fail = false;
  getItem(key: string): string | null {
    return this.map.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    if (this.fail) throw new Error('QuotaExceededError');
    this.map.set(key, value);
  }
}

const step: PrivacyStep = { kind: 'record', noiseMultiplier: 1.1, samplingRate: 0.25, steps: 8, delta: 1e-5 };

describe('LocalStoragePrivacyLedger (the browser site)', () => {
  it('keeps one key per site, reloads (a reloaded tab) to the same accountant, and refuses corruption', () => {
    const storage = new MapStorage();
    const a = LocalStoragePrivacyLedger.open(storage, 'site-1');
    a.record(composeLedgerEntry(a, 'r', 1, step));
    a.record(composeLedgerEntry(a, 'r', 2, step));
    expect([...storage.map.keys()]).toEqual([privacyLedgerKey('site-1')]);
    expect(privacyLedgerKey('site-1')).toBe('fedtune.privacyLedger.site-1');
    const b = LocalStoragePrivacyLedger.open(storage, 'site-1');
    expect(b.runEpsilon('r')).toBe(new RdpAccountant().step(1.1, 0.25, 16).getEpsilon(1e-5).epsilon);
    expect(LocalStoragePrivacyLedger.open(storage, 'site-2').totalEpsilon()).toBe(0);
    const key = privacyLedgerKey('site-1');
    storage.map.set(key, storage.map.get(key)!.replace('"round":1', '"round":7'));
    expect(() => LocalStoragePrivacyLedger.open(storage, 'site-1')).toThrow(`privacy ledger localStorage["${key}"] is corrupt at line 1: checksum mismatch`);
    storage.map.set('fedtune.privacyLedger.site-3', '{"sha');
    expect(() => LocalStoragePrivacyLedger.open(storage, 'site-3')).toThrow('ends in an incomplete line');
  });

  it('a full storage is a persistence error and nothing changes', () => {
    const storage = new MapStorage();
    const ledger = LocalStoragePrivacyLedger.open(storage, 's');
    storage.fail = true;
    expect(() => ledger.record(composeLedgerEntry(ledger, 'r', 1, step))).toThrow('cannot write the privacy ledger to localStorage (QuotaExceededError)');
    expect(storage.map.size).toBe(0);
  });
});
