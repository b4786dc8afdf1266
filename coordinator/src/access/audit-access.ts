import { existsSync, readFileSync } from 'node:fs';
import { FedtuneError } from '@fedtune/shared';
import type { AdminGuard } from './admin-guard.ts';
import { bearerToken } from './bearer-token.ts';
import type { TokenVerdict } from './site-token-store.ts';

/** The header a site names itself with when it reads its run's audit log with its site token. */
export const SITE_HEADER = 'x-fedtune-site';

const SITE_NAME = /^[A-Za-z0-9._-]{1,128}$/;

export interface AuditAccessOptions {
  /** The control plane's admin check (absent: everyone may read). */
  admin?: AdminGuard;
  /** The site token registry, when the coordinator has one. */
  siteTokens?: { verify(name: string, token: string | undefined): TokenVerdict };
}

export interface AuditRequest {
  authorization?: string;
  /** The Host header (admin-guard.ts: a name that is not loopback needs the admin token). */
  host?: string;
  site?: string;
}

/** Whether `siteId` joined the run whose audit log is `auditPath` (a `join` entry names it). */
export function joinedRun(auditPath: string, siteId: string): boolean {
  if (!existsSync(auditPath)) return false;
  for (const line of readFileSync(auditPath, 'utf8').split('\n')) {
    if (!line.includes('"join"')) continue;
    try {
      const e = JSON.parse(line) as { type?: unknown; data?: { siteId?: unknown } };
      if (e.type === 'join' && e.data?.siteId === siteId) return true;
    } catch {
      // a broken line: the verifier names it; here it grants nothing
    }
  }
  return false;
}

/**
 * Who may download a run's audit log: whoever passes the admin check (everyone where the control plane is
 * open), or a site of that run with its own site token (`Authorization: Bearer TOKEN`, `X-Fedtune-Site: NAME`).
 * Throws FedtuneError('unauthorized') otherwise.
 */
export function checkAuditAccess(options: AuditAccessOptions, request: AuditRequest, auditPath: string): void {
  if (!options.admin || options.admin.check(request.authorization, request.host).ok) return;
  const site = request.site;
  const token = bearerToken(request.authorization);
  if (site !== undefined && SITE_NAME.test(site) && token && options.siteTokens?.verify(site, token).ok && joinedRun(auditPath, site)) return;
  throw new FedtuneError('unauthorized', `reading a run's audit log needs the admin token, or the site token of a site of that run: send Authorization: Bearer TOKEN (and ${SITE_HEADER}: NAME with a site token)`);
}
