import { FedtuneError } from '@fedtune/shared';
import type { AdminGuard } from './admin-guard.ts';
import { AuditJoins } from './audit-joins.ts';
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
  /** The sites that joined each run, kept between requests (default: the log is read whole each time). */
  joins?: AuditJoins;
}

export interface AuditRequest {
  authorization?: string;
  /** The Host header (admin-guard.ts: a name that is not loopback needs the admin token). */
  host?: string;
  site?: string;
}

/** Whether `siteId` joined the run whose audit log is `auditPath` (a `join` entry names it), reading the whole log. */
export function joinedRun(auditPath: string, siteId: string): boolean {
  return new AuditJoins().joined(auditPath, siteId);
}

/** Who is reading a run's audit log: the operator (the whole log), or one site of the run (its redacted copy). */
export type AuditReader = { kind: 'admin' } | { kind: 'site'; siteId: string };

/**
 * Who may download a run's audit log: whoever passes the admin check (everyone where the control plane is
 * open) reads it whole; a site of that run with its own site token (`Authorization: Bearer TOKEN`,
 * `X-Fedtune-Site: NAME`) reads its redacted copy (site-audit-view.ts: other sites' data withheld).
 * Throws FedtuneError('unauthorized') otherwise.
 */
export function checkAuditAccess(options: AuditAccessOptions, request: AuditRequest, auditPath: string): AuditReader {
  return checkRunReader(options, request, auditPath, "a run's audit log");
}

/**
 * Who may read a run's files that are not for everyone — its audit log, its global models — named `what` in the
 * refusal: the admin (or anyone where the control plane is open), or a site that joined the run (its `join`
 * entry in the run's audit log at `auditPath`) with its own site token.
 */
export function checkRunReader(options: AuditAccessOptions, request: AuditRequest, auditPath: string, what: string): AuditReader {
  if (!options.admin || options.admin.check(request.authorization, request.host).ok) return { kind: 'admin' };
  const site = request.site;
  const token = bearerToken(request.authorization);
  if (site !== undefined && SITE_NAME.test(site) && token && options.siteTokens?.verify(site, token).ok && (options.joins ?? new AuditJoins()).joined(auditPath, site)) return { kind: 'site', siteId: site };
  throw new FedtuneError('unauthorized', `reading ${what} needs the admin token, or the site token of a site of that run: send Authorization: Bearer TOKEN (and ${SITE_HEADER}: NAME with a site token)`);
}
