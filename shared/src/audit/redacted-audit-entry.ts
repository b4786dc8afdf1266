import { z } from 'zod';
import { AUDIT_ENTRY_TYPES, AuditSha256, type AuditEntry } from './audit-entry.ts';

/**
 * What a redacted entry states about the data it withholds, as far as it concerns the site the copy is for:
 * the round and attempt, whether that site was asked to train (`participant`), whether its masked input is in
 * the secure sum (`survivor`) and that input's hash (`masked`). Stated by the coordinator, not covered by the
 * entry's hash: the hash commits to the withheld data, which an admin can reveal against it (docs/audit.md).
 */
export const RedactedFacts = z.strictObject({
  round: z.number().int().min(0).optional(),
  attempt: z.number().int().min(0).optional(),
  participant: z.boolean().optional(),
  survivor: z.boolean().optional(),
  masked: AuditSha256.optional(),
});
export type RedactedFacts = z.infer<typeof RedactedFacts>;

/**
 * One line of a site's copy of a run's audit log where the entry concerns other sites: its data withheld,
 * its seq, time, type, prev and hash kept, so the chain still links (site-audit-view.ts).
 */
export const RedactedAuditEntry = z.strictObject({
  seq: z.number().int().min(0),
  at: z.string().max(40),
  type: z.enum(AUDIT_ENTRY_TYPES),
  redacted: RedactedFacts,
  prev: AuditSha256,
  hash: AuditSha256,
});
export type RedactedAuditEntry = z.infer<typeof RedactedAuditEntry>;

/** A line of an audit log: whole (the coordinator's own log) or redacted (a site's copy). */
export type AuditLogEntry = AuditEntry | RedactedAuditEntry;

/** Whether an entry of a log is a redacted one (its data withheld). */
export function isRedacted(entry: AuditLogEntry): entry is RedactedAuditEntry {
  return 'redacted' in entry;
}
