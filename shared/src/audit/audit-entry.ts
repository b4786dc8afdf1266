import { z } from 'zod';
import { canonicalJson } from './canonical-json.ts';
import { sha256Hex } from './sha256-hex.ts';

/** The `prev` of the first entry of a chain. */
export const GENESIS_PREV = '0'.repeat(64);

/** Every kind of entry the coordinator's audit log holds (docs/audit.md). */
export const AUDIT_ENTRY_TYPES = [
  'run-start',
  'terms',
  'join',
  'leave',
  'refusal',
  'round-start',
  'update',
  'secure-aggregation',
  'model',
  'privacy',
  'complete',
  'recovery',
] as const;
export type AuditEntryType = (typeof AUDIT_ENTRY_TYPES)[number];

/** A SHA-256 digest as 64 lowercase hex digits (an entry's hash, prev, and the hashes it records). */
export const AuditSha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits');
const Sha256 = AuditSha256;

/** One line of `audit.jsonl`: hash = sha-256(canonical JSON of {seq, at, type, data, prev}), prev = the previous entry's hash. */
export const AuditEntry = z.strictObject({
  seq: z.number().int().min(0),
  at: z.string().max(40),
  type: z.enum(AUDIT_ENTRY_TYPES),
  data: z.record(z.string(), z.unknown()),
  prev: Sha256,
  hash: Sha256,
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/** SHA-256 of a string's UTF-8 bytes as 64 lowercase hex digits. */
export type Sha256HexOf = (text: string) => string;

/**
 * The hash an entry must carry: of everything in it but the hash itself. `sha256` computes the same digest
 * as the default (pure JS, Node and browser) faster where a native one exists (the coordinator's node:crypto).
 */
export function auditEntryHash(entry: Omit<AuditEntry, 'hash'>, sha256: Sha256HexOf = sha256Hex): string {
  return sha256(canonicalJson({ seq: entry.seq, at: entry.at, type: entry.type, data: entry.data, prev: entry.prev }));
}

/** The next entry of a chain whose last entry has `seq - 1` and hash `prev`. */
export function chainAuditEntry(seq: number, prev: string, type: AuditEntryType, data: Record<string, unknown>, at: string, sha256: Sha256HexOf = sha256Hex): AuditEntry {
  const body = { seq, at, type, data, prev };
  return { ...body, hash: auditEntryHash(body, sha256) };
}

/** Where a chain stands: how many entries and the last one's hash (GENESIS_PREV when empty). A site compares these. */
export interface AuditHead {
  count: number;
  head: string;
}
