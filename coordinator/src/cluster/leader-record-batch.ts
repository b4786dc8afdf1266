import { clipText, FedtuneError, toFedtuneError } from '@fedtune/shared';
import { SiteAcceptanceBatchMessage } from './record-batch-messages.ts';

/** What became of one batch: records taken, and each refused record's typed error (in batch order). */
export interface RecordBatchOutcome {
  applied: number;
  refused: FedtuneError[];
}

/**
 * The leader's reading of a follower's batch of acceptance records (record-batch-messages.ts): the batch is
 * parsed strictly (a malformed one throws `malformed_payload` and applies nothing); then each record goes to
 * `apply` (LeaderRoundPartials.onRecord: parsed and checked on its own) and a refused record refuses only
 * itself. A record naming another node than the batch's is refused (`malformed_payload`): a node speaks for its
 * own sites only.
 */
export function applyRecordBatch(raw: unknown, apply: (record: unknown) => void): RecordBatchOutcome {
  const parsed = SiteAcceptanceBatchMessage.safeParse(raw);
  if (!parsed.success) throw new FedtuneError('malformed_payload', clipText(`not a batch of acceptance records: ${parsed.error.issues[0]?.path.join('.') || '(root)'}: ${parsed.error.issues[0]?.message}`));
  const { node, records } = parsed.data;
  const outcome: RecordBatchOutcome = { applied: 0, refused: [] };
  for (const record of records) {
    try {
      const claimed = (record as { node?: unknown } | null)?.node;
      if (record !== null && typeof record === 'object' && claimed !== node) throw new FedtuneError('malformed_payload', clipText(`a record of node ${String(claimed)} in a batch of node ${node}`));
      apply(record);
      outcome.applied++;
    } catch (err) {
      outcome.refused.push(toFedtuneError(err));
    }
  }
  return outcome;
}
