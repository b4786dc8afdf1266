import { AuditSha256, type AuditEntry, type AuditEntryType } from './audit-entry.ts';
import type { RedactedAuditEntry, RedactedFacts } from './redacted-audit-entry.ts';

/** Entries about the run as a whole (its start, terms, models, privacy spent, end, the log's own recoveries): every site sees them whole. */
export const RUN_LEVEL_AUDIT_TYPES: ReadonlySet<AuditEntryType> = new Set(['run-start', 'terms', 'model', 'privacy', 'complete', 'recovery']);

/** Entries about one site, named by `data.siteId`: whole for that site, redacted for every other. */
const ONE_SITE: ReadonlySet<AuditEntryType> = new Set(['join', 'leave', 'refusal', 'update']);

const count = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;
const names = (v: unknown, siteId: string): boolean => Array.isArray(v) && v.includes(siteId);

/**
 * An entry of a run's audit log as the site `siteId` may see it: whole when it is about the run or about that
 * site; otherwise its data withheld — other sites' names, example counts, update hashes and reasons — with
 * the facts that concern `siteId` stated (redacted-audit-entry.ts). Its seq, time, type, prev and hash stay, so
 * the site's copy verifies as a chain and pins every entry's hash.
 */
export function siteViewOfAuditEntry(entry: AuditEntry, siteId: string): AuditEntry | RedactedAuditEntry {
  if (RUN_LEVEL_AUDIT_TYPES.has(entry.type)) return entry;
  if (ONE_SITE.has(entry.type) && entry.data.siteId === siteId) return entry;
  const { data } = entry;
  const facts: RedactedFacts = {};
  if (count(data.round)) facts.round = data.round;
  if (count(data.attempt)) facts.attempt = data.attempt;
  if (entry.type === 'round-start' || entry.type === 'secure-aggregation') facts.participant = names(data.participants, siteId);
  if (entry.type === 'secure-aggregation') {
    facts.survivor = names(data.survivors, siteId);
    const masked = AuditSha256.safeParse((data.masked as Record<string, unknown> | null | undefined)?.[siteId]);
    if (masked.success) facts.masked = masked.data;
  }
  return { seq: entry.seq, at: entry.at, type: entry.type, redacted: facts, prev: entry.prev, hash: entry.hash };
}
