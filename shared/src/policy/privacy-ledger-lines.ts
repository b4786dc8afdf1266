import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { FedtuneError } from '../errors.ts';
import { clipText } from '../text/clip-text.ts';
import { PrivacyLedgerEntry } from './privacy-ledger.ts';

/**
 * The ledger's line format (docs/privacy.md#privacy-ledger), the same in the Node file and the browser store:
 * one JSON object per line, `{"sha256":"<64 hex>","entry":{…}}\n`, where the hash is over the exact UTF-8
 * bytes of the `entry` JSON. A line whose hash, JSON or entry does not check is corruption.
 */
const PREFIX = '{"sha256":"';
const MIDDLE = '","entry":';
/** Longest line read back (an entry holds an accountant's history; real ones are a few kB). */
export const MAX_LEDGER_LINE_CHARS = 1_000_000;

function entryJson(entry: PrivacyLedgerEntry): string {
  return JSON.stringify(entry);
}

export function ledgerLineChecksum(json: string): string {
  return bytesToHex(sha256(new TextEncoder().encode(json)));
}

/** One entry as a ledger line, newline included. */
export function encodeLedgerLine(entry: PrivacyLedgerEntry): string {
  const json = entryJson(PrivacyLedgerEntry.parse(entry));
  return `${PREFIX}${ledgerLineChecksum(json)}${MIDDLE}${json}}\n`;
}

/** Decodes one line (without its newline); throws FedtuneError('persistence') saying what is wrong. */
export function decodeLedgerLine(line: string): PrivacyLedgerEntry {
  if (line.length > MAX_LEDGER_LINE_CHARS) throw new FedtuneError('persistence', `line longer than ${MAX_LEDGER_LINE_CHARS} characters`);
  const hashEnd = PREFIX.length + 64;
  if (!line.startsWith(PREFIX) || line.slice(hashEnd, hashEnd + MIDDLE.length) !== MIDDLE || !line.endsWith('}')) {
    throw new FedtuneError('persistence', `not a ledger line: ${JSON.stringify(clipText(line, 60))}`);
  }
  const hash = line.slice(PREFIX.length, hashEnd);
  const json = line.slice(hashEnd + MIDDLE.length, -1);
  if (ledgerLineChecksum(json) !== hash) throw new FedtuneError('persistence', 'checksum mismatch');
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new FedtuneError('persistence', 'entry is not JSON');
  }
  const parsed = PrivacyLedgerEntry.safeParse(value);
  if (!parsed.success) throw new FedtuneError('persistence', `invalid entry: ${clipText(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), 200)}`);
  return parsed.data;
}

export interface ParsedLedger {
  entries: PrivacyLedgerEntry[];
  /** Characters of the text that hold whole lines (a torn last line starts here). */
  validLength: number;
  /** Set when a torn last line (no newline: a crash mid-write) was ignored. */
  tornLine?: string;
}

/**
 * Parses a whole ledger. Only the last line may be torn — text after the last newline is what a crash
 * mid-append leaves, and is ignored (reported in `tornLine`); any complete line that does not check is
 * corruption, a FedtuneError('persistence') naming `source` and the line number: the ledger is never reset.
 */
export function parseLedgerText(text: string, source: string): ParsedLedger {
  const end = text.lastIndexOf('\n') + 1;
  const entries: PrivacyLedgerEntry[] = [];
  const lines = text.split('\n');
  lines.pop(); // what follows the last newline: '' or a torn line
  lines.forEach((line, i) => {
    try {
      entries.push(decodeLedgerLine(line));
    } catch (err) {
      throw new FedtuneError('persistence', `privacy ledger ${source} is corrupt at line ${i + 1}: ${(err as Error).message}; it was not changed (restore it from a backup — a reset would forget spent privacy budget)`);
    }
  });
  const torn = text.slice(end);
  return { entries, validLength: end, ...(torn.length > 0 ? { tornLine: clipText(torn, 80) } : {}) };
}
