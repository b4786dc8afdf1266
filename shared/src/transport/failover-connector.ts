import { FedtuneError, toFedtuneError } from '../errors.ts';
import type { ClientConnector, CoordinatorLink } from './transport.ts';

/**
 * Connects through the first of several connectors that answers (the nodes of a coordinator cluster:
 * docs/cluster.md). It keeps to the one that worked; once that connection closes, the next connect tries
 * the following one first, so a site whose node died moves on at its next reconnect. Throws the last
 * failure when none answers.
 */
export function failoverConnector(connectors: ClientConnector[]): ClientConnector {
  if (connectors.length === 0) throw new FedtuneError('config', 'failover needs at least one coordinator to connect to');
  let preferred = 0;
  return {
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
