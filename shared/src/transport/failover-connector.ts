import { FedtuneError, toFedtuneError } from '../errors.ts';
import type { ClientConnector, CoordinatorLink } from './transport.ts';

export interface FailoverOptions {
  /**
   * Which connector to try first (taken modulo their number; default 0). `fedtune client` starts at the node
   * its site id hashes to (nodeIndexForSite), so the sites of a consortium spread over a cluster's nodes
   * instead of all joining the first URL of the list.
   */
  startAt?: number;
}

/**
 * Connects through the first of several connectors that answers (the nodes of a coordinator cluster:
 * docs/cluster.md), starting at `startAt`. It keeps to the one that worked; once that connection closes,
 * the next connect tries the following one first, so a site whose node died — or that a busy node sent on
 * (`node_busy`) — moves on at its next connect. Throws the last failure when none answers.
 */
export function failoverConnector(connectors: ClientConnector[], options: FailoverOptions = {}): ClientConnector {
  if (connectors.length === 0) throw new FedtuneError('config', 'failover needs at least one coordinator to connect to');
  const startAt = options.startAt ?? 0;
  if (!Number.isSafeInteger(startAt) || startAt < 0) throw new FedtuneError('config', `failover startAt must be a whole number ≥ 0, got ${startAt}`);
  let preferred = startAt % connectors.length;
  return {
    alternatives: connectors.length - 1,
    async connect(): Promise<CoordinatorLink> {
      let last: FedtuneError | undefined;
      for (let i = 0; i < connectors.length; i++) {
        const k = (preferred + i) % connectors.length;
        try {
          const link = await connectors[k].connect();
          preferred = k;
          link.onClose(() => {
            if (preferred === k) preferred = (k + 1) % connectors.length;
          });
          return link;
        } catch (err) {
          last = toFedtuneError(err, 'transport');
        }
      }
      throw last!;
    },
  };
}
