import { z } from 'zod';

/**
 * One line of a site's own audit log (`fedtune client --audit-log FILE`): what the site sent, as hashes and
 * counts, never data. `sha256` is of the bytes sent: the encoded weights of a plain update (`fitResult`), or
 * the masked vector under secure aggregation (`secaggMasked`).
 */
export const SiteAuditEntry = z.strictObject({
  at: z.string().max(40),
  runId: z.string().min(1).max(128),
  siteId: z.string().min(1).max(128),
  round: z.number().int().min(0),
  attempt: z.number().int().min(1).optional(),
  message: z.enum(['fitResult', 'secaggMasked']),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits'),
  numExamples: z.number().int().min(0).optional(),
  metrics: z.record(z.string(), z.number()).optional(),
});
export type SiteAuditEntry = z.infer<typeof SiteAuditEntry>;
