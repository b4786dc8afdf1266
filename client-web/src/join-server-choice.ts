import { joinLinkServerParam, parseJoinLinkServer, toFedtuneError, type JoinLinkServer } from '@fedtune/shared';

/**
 * Which coordinator the page may connect to, from its join link. By default the page's own origin (the coordinator
 * that served it). A `?server=` on the same origin (a path prefix behind a proxy) is used as it is. One on another
 * origin is only a request: a link on the real coordinator's site can name an attacker's server, so the page shows
 * that origin and connects there only after the user confirms (`ask`); until then nothing is sent to it.
 */
export type JoinServerChoice =
  | { kind: 'own'; server: string }
  | { kind: 'ask'; requested: JoinLinkServer; own: string }
  | { kind: 'invalid'; own: string; message: string };

export function joinServerChoice(href: string): JoinServerChoice {
  const page = new URL(href);
  const own = page.origin;
  const param = joinLinkServerParam(page.search);
  if (param === undefined) return { kind: 'own', server: own };
  let requested: JoinLinkServer;
  try {
    requested = parseJoinLinkServer(param);
  } catch (err) {
    return { kind: 'invalid', own, message: toFedtuneError(err).message };
  }
  return requested.origin === own ? { kind: 'own', server: requested.url } : { kind: 'ask', requested, own };
}
