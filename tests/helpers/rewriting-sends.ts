import type { ClientConnector } from '@fedtune/shared';

/**
 * A site's connector whose link passes every message it sends through `rewrite` (event, payload → the payload
 * sent): a hostile site made of an honest one, past the site's own checks, for the red-team tests.
 */
export function rewritingSends(connector: ClientConnector, rewrite: (event: string, payload: unknown) => unknown): ClientConnector {
  return {
    connect: async () => {
      const link = await connector.connect();
      const send = link.send.bind(link) as (event: string, payload: unknown) => void;
      link.send = ((event: string, payload: unknown) => send(event, rewrite(event, payload))) as typeof link.send;
      return link;
    },
  };
}
