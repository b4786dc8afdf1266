import { clipText } from '../text/clip-text.ts';
import { isRedacted, type AuditLogEntry } from './redacted-audit-entry.ts';
import { SiteAuditEntry } from './site-audit-entry.ts';

export type SiteLogVerdict =
  | { ok: true; siteId: string; runId: string; updates: number }
  | { ok: false; reason: string; message: string };

/** A sent or recorded update: a round, which message, and the hash of its bytes. */
const key = (round: number, message: string, sha256: string) => `${round} ${message} ${sha256}`;

/** Parses a site's own log (JSON lines; its entries of every run it took part in). */
export function parseSiteLog(text: string): { ok: true; entries: SiteAuditEntry[] } | { ok: false; message: string } {
  const entries: SiteAuditEntry[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(lines[i]);
    } catch {
      return { ok: false, message: `site log line ${i + 1}: not valid JSON` };
    }
    const r = SiteAuditEntry.safeParse(parsed);
    if (!r.success) {
      const issue = r.error.issues[0];
      return { ok: false, message: clipText(`site log line ${i + 1}: malformed entry: ${issue.path.join('.') || '(entry)'}: ${issue.message}`) };
    }
    entries.push(r.data);
  }
  return { ok: true, entries };
}

/**
 * Checks a site's own log against a verified coordinator log of one run: every update the site sent for
 * that run is recorded with the same hash (an `update` entry for a plain update, the site's masked hash in
 * a `secure-aggregation` entry), and the coordinator records no update from this site that the site never sent.
 * The coordinator's log may be a site's redacted copy: its own entries are whole, its masked inputs stated.
 */
export function compareSiteLog(coordinator: readonly AuditLogEntry[], site: readonly SiteAuditEntry[]): SiteLogVerdict {
  const fail = (reason: string): SiteLogVerdict => ({ ok: false, reason, message: `site log does not match the audit log: ${reason}` });
  const start = coordinator.find((e) => e.type === 'run-start');
  const runId = start && !isRedacted(start) ? start.data.runId : undefined;
  if (typeof runId !== 'string') return fail('the audit log has no run-start entry naming its run');
  const mine = site.filter((e) => e.runId === runId);
  if (mine.length === 0) return fail(`the site log has no entry of run ${clipText(runId, 128)}`);
  const siteId = mine[0].siteId;
  const other = mine.find((e) => e.siteId !== siteId);
  if (other) return fail(`the site log mixes sites ${clipText(siteId, 128)} and ${clipText(other.siteId, 128)}`);
  const recorded = new Set<string>();
  for (const e of coordinator) {
    // A site's copy (docs/audit.md): another site's entries withheld, its own masked inputs stated.
    if (isRedacted(e)) {
      if (e.type === 'secure-aggregation' && e.redacted.round !== undefined && e.redacted.masked !== undefined) recorded.add(key(e.redacted.round, 'secaggMasked', e.redacted.masked));
      continue;
    }
    if (e.type === 'update' && e.data.siteId === siteId && typeof e.data.sha256 === 'string' && typeof e.data.round === 'number') {
      recorded.add(key(e.data.round, 'fitResult', e.data.sha256));
    }
    if (e.type === 'secure-aggregation' && typeof e.data.round === 'number' && e.data.masked && typeof e.data.masked === 'object') {
      const hash = (e.data.masked as Record<string, unknown>)[siteId];
      if (typeof hash === 'string') recorded.add(key(e.data.round, 'secaggMasked', hash));
    }
  }
  const sent = new Set(mine.map((e) => key(e.round, e.message, e.sha256)));
  for (const e of mine) {
    if (!recorded.has(key(e.round, e.message, e.sha256))) {
      return fail(`${clipText(siteId, 128)} sent ${e.message} of round ${e.round} (sha256 ${e.sha256}) and the audit log does not record it`);
    }
  }
  for (const k of recorded) {
    if (!sent.has(k)) {
      const [round, message, sha256] = k.split(' ');
      return fail(`the audit log records ${message} of round ${round} from ${clipText(siteId, 128)} (sha256 ${sha256}) that the site never sent`);
    }
  }
  return { ok: true, siteId, runId, updates: mine.length };
}
