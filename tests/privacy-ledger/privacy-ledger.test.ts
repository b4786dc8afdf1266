import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FilePrivacyLedger, defaultPrivacyLedgerPath } from '../../client-node/src/file-privacy-ledger.ts';
import { RdpAccountant } from '../../shared/src/privacy/rdp-accountant.ts';
import { decodeLedgerLine, encodeLedgerLine, ledgerLineChecksum, parseLedgerText } from '../../shared/src/policy/privacy-ledger-lines.ts';
import { MemoryPrivacyLedger } from '../../shared/src/policy/privacy-ledger-accounts.ts';
import { composeLedgerEntry, type PrivacyStep } from '../../shared/src/policy/privacy-budget.ts';
import { ledgerTotalsWire } from '../../shared/src/policy/ledger-totals-wire.ts';
import type { PrivacyLedgerEntry } from '../../shared/src/policy/privacy-ledger.ts';
import { FitResultMetrics } from '../../shared/src/messages/schemas.ts';
import { FedtuneError } from '../../shared/src/errors.ts';
import { tempDir } from '../helpers/federation.ts';

const DP_SGD: PrivacyStep = { kind: 'record', noiseMultiplier: 1.1, samplingRate: 0.25, steps: 8, delta: 1e-5 };
const CLIENT: PrivacyStep = { kind: 'client', noiseMultiplier: 2, samplingRate: 1, steps: 1, delta: 1e-6 };
const AT = new Date('2026-01-01T00:00:00Z');

function directEpsilon(steps: Array<[number, number, number]>, delta: number): number {
  const acc = new RdpAccountant();
  for (const [z, q, n] of steps) acc.step(z, q, n);
  return acc.getEpsilon(delta).epsilon;
}

function entry(runId: string, round: number, step: PrivacyStep, ledger?: MemoryPrivacyLedger): PrivacyLedgerEntry {
  return composeLedgerEntry(ledger, runId, round, step, AT);
}

describe('ledger lines', () => {
  it('round-trips an entry and checks its sha-256 over the exact entry JSON', () => {
    const e = entry('run-a', 1, DP_SGD);
    const line = encodeLedgerLine(e);
    expect(line.endsWith('}\n')).toBe(true);
    const json = JSON.stringify(e);
    expect(line).toBe(`{"sha256":"${ledgerLineChecksum(json)}","entry":${json}}\n`);
    expect(JSON.parse(line).entry).toEqual(e);
    expect(decodeLedgerLine(line.slice(0, -1))).toEqual(e);
  });

  it.each([
    ['a changed digit of ε', (l: string) => l.replace(/"epsilon":(\d)/, (_m, d) => `"epsilon":${(Number(d) + 1) % 10}`), 'checksum mismatch'],
    ['a changed checksum', (l: string) => l.replace(/"sha256":"(.)/, (_m, c) => `"sha256":"${c === 'a' ? 'b' : 'a'}`), 'checksum mismatch'],
    ['not a ledger line', () => '{"hello":1}', 'not a ledger line'],
    ['a valid checksum over an invalid entry', () => { const j = '{"runId":""}'; return `{"sha256":"${ledgerLineChecksum(j)}","entry":${j}}`; }, 'invalid entry'],
    ['a valid checksum over non-JSON', () => { const j = '{nope'; return `{"sha256":"${ledgerLineChecksum(j)}","entry":${j}}`; }, 'not JSON'],
  ])('refuses %s', (_name, edit, message) => {
    const line = encodeLedgerLine(entry('run-a', 1, DP_SGD)).slice(0, -1);
    expect(() => decodeLedgerLine(edit(line))).toThrow(message);
  });

  it('ignores only a torn last line; a corrupt complete line is an error naming the source and line', () => {
    const a = encodeLedgerLine(entry('run-a', 1, DP_SGD));
    const b = encodeLedgerLine(entry('run-b', 1, CLIENT));
    const torn = parseLedgerText(a + b.slice(0, 40), 'L');
    expect(torn.entries).toHaveLength(1);
    expect(torn.validLength).toBe(a.length);
    expect(torn.tornLine).toBe(b.slice(0, 40));
    expect(parseLedgerText(a + b, 'L').tornLine).toBeUndefined();
    expect(parseLedgerText('', 'L')).toEqual({ entries: [], validLength: 0 });
    const corrupt = a + b.replace('"round":1', '"round":2') + a;
    expect(() => parseLedgerText(corrupt, '/x/ledger.jsonl')).toThrow(/privacy ledger \/x\/ledger\.jsonl is corrupt at line 2: checksum mismatch/);
    try {
      parseLedgerText(corrupt, 'L');
    } catch (err) {
      expect((err as FedtuneError).code).toBe('persistence');
    }
  });
});

describe('ledger accounts: exact ε against the RDP accountant', () => {
  it('composes a run across entries exactly as one accountant does, and sums kinds and runs (basic composition)', () => {
    const ledger = new MemoryPrivacyLedger();
    ledger.record(entry('run-a', 1, DP_SGD, ledger));
    ledger.record(entry('run-a', 2, DP_SGD, ledger));
    const twoRounds = directEpsilon([[1.1, 0.25, 16]], 1e-5);
    expect(ledger.account('run-a', 'record')!.epsilon).toBe(twoRounds);
    expect(ledger.account('run-a', 'record')!.state.history).toEqual([{ noiseMultiplier: 1.1, samplingRate: 0.25, steps: 16 }]);
    expect(ledger.account('run-a', 'record')!.round).toBe(2);
    ledger.record(entry('run-a', 2, CLIENT, ledger));
    const client = directEpsilon([[2, 1, 1]], 1e-6);
    expect(ledger.runEpsilon('run-a')).toBe(twoRounds + client);
    ledger.record(entry('run-b', 1, DP_SGD, ledger));
    const oneRound = directEpsilon([[1.1, 0.25, 8]], 1e-5);
    expect(ledger.runEpsilon('run-b')).toBe(oneRound);
    expect(ledger.totalEpsilon()).toBe(twoRounds + client + oneRound);
    expect(ledger.runEpsilon('run-c')).toBe(0);
    expect(ledger.account('run-c', 'record')).toBeUndefined();
    expect(ledger.runIds()).toEqual(['run-a', 'run-b']);
  });

  it('the client-level step is the Gaussian mechanism at q = 1 (no amplification): ε of RDP α/(2z²)', () => {
    const e = entry('r', 1, CLIENT);
    expect(e.epsilon).toBe(directEpsilon([[2, 1, 1]], 1e-6));
    // Amplified accounting would report less: the site's claim is the larger, conservative one.
    expect(e.epsilon!).toBeGreaterThan(directEpsilon([[2, 0.1, 1]], 1e-6));
  });

  it('a step without noise is an unbounded ε, stored as null, summed as Infinity and sent as null', () => {
    const ledger = new MemoryPrivacyLedger();
    const e = entry('r', 1, { ...DP_SGD, noiseMultiplier: 0 });
    expect(e.epsilon).toBeNull();
    ledger.record(e);
    expect(ledger.totalEpsilon()).toBe(Infinity);
    expect(ledgerTotalsWire({ runEpsilon: Infinity, totalEpsilon: 2.5 })).toEqual({ runEpsilon: null, totalEpsilon: 2.5 });
  });

  it('refuses an entry that lowers a run ε (not a later state of the same accountant)', () => {
    const ledger = new MemoryPrivacyLedger();
    ledger.record(entry('r', 1, { ...DP_SGD, steps: 20 }));
    expect(() => ledger.record(entry('r', 2, DP_SGD))).toThrow(/lowers its ε/);
  });

  it('FitResultMetrics carries bounded ledger totals and refuses others', () => {
    const base = { loss: 1, accuracy: 0.5 };
    expect(FitResultMetrics.parse({ ...base, ledger: { runEpsilon: 1.5, totalEpsilon: null } }).ledger).toEqual({ runEpsilon: 1.5, totalEpsilon: null });
    for (const bad of [{ runEpsilon: -1, totalEpsilon: 1 }, { runEpsilon: 1, totalEpsilon: 2e12 }, { runEpsilon: 1 }, { runEpsilon: 1, totalEpsilon: 1, extra: 'x' }, { runEpsilon: 'a', totalEpsilon: 1 }]) {
      expect(FitResultMetrics.safeParse({ ...base, ledger: bad }).success).toBe(false);
    }
  });
});

describe('FilePrivacyLedger', () => {
  it('appends one line per entry, reloads to the same accounts, and creates its directory', () => {
    const path = join(tempDir(), 'sub', 'ledger.jsonl');
    const a = FilePrivacyLedger.open(path);
    a.record(entry('run-a', 1, DP_SGD, a as never));
    a.record(entry('run-a', 2, DP_SGD, a as never));
    a.record(entry('run-b', 1, CLIENT, a as never));
    expect(readFileSync(path, 'utf8').split('\n')).toHaveLength(4);
    const b = FilePrivacyLedger.open(path);
    expect(b.runEpsilon('run-a')).toBe(directEpsilon([[1.1, 0.25, 16]], 1e-5));
    expect(b.totalEpsilon()).toBe(a.totalEpsilon());
    expect(b.account('run-a', 'record')).toEqual(a.account('run-a', 'record'));
  });

  it('drops a torn last line with a warning, truncates it, and appends after it', () => {
    const path = join(tempDir(), 'ledger.jsonl');
    const first = encodeLedgerLine(entry('run-a', 1, DP_SGD));
    writeFileSync(path, first + encodeLedgerLine(entry('run-a', 2, DP_SGD)).slice(0, 50));
    const warnings: string[] = [];
    const ledger = FilePrivacyLedger.open(path, (w) => warnings.push(w));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`privacy ledger ${path}: ignored an incomplete last line`);
    expect(readFileSync(path, 'utf8')).toBe(first);
    expect(ledger.runEpsilon('run-a')).toBe(directEpsilon([[1.1, 0.25, 8]], 1e-5));
    ledger.record(entry('run-a', 2, DP_SGD, ledger as never));
    expect(FilePrivacyLedger.open(path, () => expect.unreachable()).runEpsilon('run-a')).toBe(directEpsilon([[1.1, 0.25, 16]], 1e-5));
  });

  it('a torn last line of a megabyte is quoted bounded in the warning', () => {
    const path = join(tempDir(), 'ledger.jsonl');
    const first = encodeLedgerLine(entry('run-a', 1, DP_SGD));
    writeFileSync(path, `${first}{"x":"${'y'.repeat(1_000_000)}`);
    const warnings: string[] = [];
    FilePrivacyLedger.open(path, (w) => warnings.push(w));
    expect(warnings).toHaveLength(1);
    expect(warnings[0].length).toBeLessThan(path.length + 400);
    expect(warnings[0]).toMatch(/more characters\)"$/);
    expect(readFileSync(path, 'utf8')).toBe(first);
  });

  it('a corrupt middle line is a clear error naming the file, and the file is left as it was', () => {
    const path = join(tempDir(), 'ledger.jsonl');
    const text = encodeLedgerLine(entry('run-a', 1, DP_SGD)) + '{"sha256":"00","entry":{}}\n' + encodeLedgerLine(entry('run-b', 1, DP_SGD));
    writeFileSync(path, text);
    expect(() => FilePrivacyLedger.open(path)).toThrow(`privacy ledger ${path} is corrupt at line 2`);
    expect(readFileSync(path, 'utf8')).toBe(text);
  });

  it('an edited ε is detected by the checksum, never read as a smaller spend', () => {
    const path = join(tempDir(), 'ledger.jsonl');
    const ledger = FilePrivacyLedger.open(path);
    ledger.record(entry('run-a', 1, DP_SGD));
    appendFileSync(path, encodeLedgerLine(entry('run-b', 1, DP_SGD)));
    writeFileSync(path, readFileSync(path, 'utf8').replace(/"epsilon":[0-9.]+/, '"epsilon":0.001'));
    expect(() => FilePrivacyLedger.open(path)).toThrow(/corrupt at line 1: checksum mismatch/);
  });

  it('a write failure is a persistence error naming the file', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), 'x');
    const ledger = FilePrivacyLedger.open(join(dir, 'file', 'ledger.jsonl'));
    expect(() => ledger.record(entry('r', 1, DP_SGD))).toThrow(`cannot write the privacy ledger ${join(dir, 'file', 'ledger.jsonl')}`);
  });

  it('defaults to .fedtune/privacy-ledger.jsonl under the working directory', () => {
    expect(defaultPrivacyLedgerPath('/srv/site')).toBe('/srv/site/.fedtune/privacy-ledger.jsonl');
  });
});
