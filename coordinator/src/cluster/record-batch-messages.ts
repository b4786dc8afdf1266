import { z } from 'zod';
import { NodeId } from './cluster-options.ts';

/** Most acceptance records one batch carries (a follower flushes when this many are pending). */
export const MAX_RECORDS_PER_BATCH = 256;

/**
 * A follower's acceptance records for the leader, several per message (record-batcher.ts): one server-side
 * emit per flush instead of one per site, so the leader's Redis client and every node's adapter decode one
 * message. The batch is parsed strictly (a bounded array); each record inside is parsed and checked on its
 * own by the leader (SiteAcceptanceMessage, the round's ledger), so a bad record refuses only itself.
 */
export const SiteAcceptanceBatchMessage = z.strictObject({
  node: NodeId,
  records: z.array(z.unknown()).min(1).max(MAX_RECORDS_PER_BATCH),
});
export type SiteAcceptanceBatchMessage = z.output<typeof SiteAcceptanceBatchMessage>;
