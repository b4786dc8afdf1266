import { describe, expect, it } from 'vitest';
import { chainAuditEntry, GENESIS_PREV, type AuditEntry, type AuditEntryType } from '../../shared/src/audit/audit-entry.ts';
import { compareSiteLog, parseSiteLog } from '../../shared/src/audit/compare-site-log.ts';
import type { SiteAuditEntry } from '../../shared/src/audit/site-audit-entry.ts';

const H = (c: string) => c.repeat(64);

function chain(items: Array<[AuditEntryType, Record<string, unknown>]>): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (const [type, data] of items) out.push(chainAuditEntry(out.length, out.at(-1)?.hash ?? GENESIS_PREV, type, data, 't'));
  return out;
}

const coordinator = chain([
  ['run-start', { runId: 'r1' }],
  ['update', { round: 1, siteId: 'a', sha256: H('1'), accepted: true }],
  ['update', { round: 1, siteId: 'b', sha256: H('2'), accepted: false, code: 'non_finite' }],
  ['update', { round: 2, siteId: 'a', accepted: false, code: 'malformed_payload' }],
  ['secure-aggregation', { round: 3, attempt: 1, participants: ['a', 'b'], survivors: ['a'], masked: { a: H('3'), b: H('4') } }],
]);

const sent = (over: Partial<SiteAuditEntry>): SiteAuditEntry => ({ at: 't', runId: 'r1', siteId: 'a', round: 1, message: 'fitResult', sha256: H('1'), ...over });

describe('compareSiteLog', () => {
  it('matches a site that sent exactly what the log records (entries of other runs ignored)', () => {
    expect(compareSiteLog(coordinator, [sent({}), sent({ round: 3, message: 'secaggMasked', sha256: H('3'), attempt: 1 }), sent({ runId: 'other', sha256: H('9') })])).toEqual({ ok: true, siteId: 'a', runId: 'r1', updates: 2 });
    expect(compareSiteLog(coordinator, [sent({ siteId: 'b', sha256: H('2') }), sent({ siteId: 'b', round: 3, message: 'secaggMasked', sha256: H('4') })])).toMatchObject({ ok: true, siteId: 'b', updates: 2 });
  });

  const failures: Array<[string, AuditEntry[], SiteAuditEntry[], string]> = [
    ['an update the log lacks (other hash)', coordinator, [sent({ sha256: H('5') }), sent({ round: 3, message: 'secaggMasked', sha256: H('3') })], `a sent fitResult of round 1 (sha256 ${H('5')}) and the audit log does not record it`],
    ['an update recorded in another round', coordinator, [sent({ round: 2 }), sent({ round: 3, message: 'secaggMasked', sha256: H('3') })], `a sent fitResult of round 2 (sha256 ${H('1')}) and the audit log does not record it`],
    ['a masked input recorded as a plain update', coordinator, [sent({ message: 'secaggMasked' }), sent({ round: 3, message: 'secaggMasked', sha256: H('3') })], `a sent secaggMasked of round 1 (sha256 ${H('1')}) and the audit log does not record it`],
    ['an update the site never sent', coordinator, [sent({ round: 3, message: 'secaggMasked', sha256: H('3') })], `the audit log records fitResult of round 1 from a (sha256 ${H('1')}) that the site never sent`],
    ['a masked input the site never sent', coordinator, [sent({})], `the audit log records secaggMasked of round 3 from a (sha256 ${H('3')}) that the site never sent`],
    ['no entry of this run', coordinator, [sent({ runId: 'other' })], 'the site log has no entry of run r1'],
    ['two sites in one log', coordinator, [sent({}), sent({ siteId: 'b', sha256: H('2') })], 'the site log mixes sites a and b'],
    ['an audit log with no run-start', coordinator.slice(1), [sent({})], 'the audit log has no run-start entry naming its run'],
  ];
  it.each(failures)('fails on %s', (_name, log, site, reason) => {
    expect(compareSiteLog(log, site)).toEqual({ ok: false, reason, message: `site log does not match the audit log: ${reason}` });
  });
});

describe('parseSiteLog', () => {
  it('reads JSON lines and names the first bad one', () => {
    const line = JSON.stringify(sent({}));
    expect(parseSiteLog(`${line}\n${line}\n`)).toMatchObject({ ok: true, entries: [sent({}), sent({})] });
    expect(parseSiteLog('')).toEqual({ ok: true, entries: [] });
    expect(parseSiteLog(`${line}\n{oops\n`)).toEqual({ ok: false, message: 'site log line 2: not valid JSON' });
    expect(parseSiteLog(`${JSON.stringify({ ...sent({}), sha256: 'xyz' })}\n`)).toEqual({ ok: false, message: 'site log line 1: malformed entry: sha256: expected 64 lowercase hex digits' });
    expect(parseSiteLog(`${JSON.stringify({ ...sent({}), weights: [1, 2] })}\n`)).toEqual({ ok: false, message: 'site log line 1: malformed entry: (entry): Unrecognized key: "weights"' });
    expect(parseSiteLog(`${JSON.stringify({ ...sent({}), round: -1 })}\n`)).toMatchObject({ ok: false, message: expect.stringMatching(/^site log line 1: malformed entry: round: /) });
  });
});
