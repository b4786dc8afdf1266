import type { IncomingMessage } from 'node:http';
import { clipText } from '@fedtune/shared';
import { crossSiteRequest } from '../access/cross-site-request.ts';
import { hostName, isLoopbackHost } from '../access/admin-guard.ts';
import type { AllowRequest } from './connection-rate-limit.ts';

/**
 * Refuses the websocket of a web page that is not the coordinator's own, while the coordinator is open to this
 * machine only (bound to loopback, no site tokens: `open()`). "Only this machine can connect" held for Node
 * sites, but any page in the operator's browser is on this machine too: a page on another origin (its `Origin`,
 * which a page cannot forge) opened ws://127.0.0.1:PORT, joined as a site, counted toward minSites and sent
 * updates, and a page whose name was made to resolve to 127.0.0.1 (DNS rebinding) did the same under a Host that
 * is not loopback (attacker review 2026-12-07). Node sites send no Origin and are unaffected; the browser site
 * served by this coordinator (/site/) is its own origin. Where sites need tokens (or the coordinator is
 * exposed to the network), a page can join only with a token, as anyone can: nothing is refused here.
 */
export function webPageJoinCheck(open: () => boolean): (req: IncomingMessage) => string | undefined {
  return (req) => {
    if (!open()) return undefined;
    const headers = { host: req.headers.host, origin: req.headers.origin, 'sec-fetch-site': req.headers['sec-fetch-site'] as string | undefined };
    const page = crossSiteRequest(headers);
    const host = req.headers.host === undefined ? undefined : hostName(req.headers.host);
    const rebound = headers.origin !== undefined && host !== undefined && !isLoopbackHost(host);
    if (!page && !rebound) return undefined;
    const why = page ?? `Host ${clipText(req.headers.host ?? '', 80)}`;
    return `a web page (${why}) may not join a coordinator open to this machine only: open the browser site at this coordinator's own /site/, or register sites with site tokens (fedtune sites add)`;
  };
}

/** engine.io's `allowRequest` of two checks: the first refusal wins. */
export function allowRequestOf(first: AllowRequest, refuse: (req: IncomingMessage) => string | undefined): AllowRequest {
  return (req, callback) =>
    first(req, (message, success) => {
      if (!success) return callback(message, false);
      const refused = refuse(req);
      callback(refused ?? null, refused === undefined);
    });
}
