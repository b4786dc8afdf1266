import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chainAuditEntry, GENESIS_PREV } from '../../shared/src/audit/audit-entry.ts';
import { checkAuditAccess, joinedRun } from '../../coordinator/src/access/audit-access.ts';
import type { AdminGuard } from '../../coordinator/src/access/admin-guard.ts';
import { tempDir } from '../helpers/federation.ts';
import { thrown } from '../helpers/thrown.ts';

function auditFile(): string {
  const path = join(tempDir('fedtune-audit-access-'), 'audit.jsonl');
  const a = chainAuditEntry(0, GENESIS_PREV, 'run-start', { runId: 'r' }, 't');
  const b = chainAuditEntry(1, a.hash, 'join', { siteId: 'site-a' }, 't');
  const c = chainAuditEntry(2, b.hash, 'leave', { siteId: 'site-b', reason: '"join"' }, 't');
  writeFileSync(path, `${[a, b, c].map((e) => JSON.stringify(e)).join('\n')}\n{"join" broken\n`);
  return path;
}

const admin = (required: boolean): AdminGuard => ({ required: () => required, check: (h) => (!required || h === 'Bearer ADMIN' ? { ok: true } : { ok: false, message: 'no' }) });
const siteTokens = { verify: (name: string, token: string | undefined) => (token === `tok-${name}` ? { ok: true as const } : { ok: false as const, reason: 'invalid token' as const }) };

describe('who may download a run\'s audit log', () => {
  const path = auditFile();
  it('joinedRun: only a join entry names a site of the run (not a leave, not a broken line, not a missing file)', () => {
    expect(joinedRun(path, 'site-a')).toBe(true);
    expect(joinedRun(path, 'site-b')).toBe(false);
    expect(joinedRun(path, 'site-c')).toBe(false);
    expect(joinedRun(join(path, '..', 'none.jsonl'), 'site-a')).toBe(false);
  });

  const admins = { kind: 'admin' } as const;
  const siteA = { kind: 'site', siteId: 'site-a' } as const;
  // [what, options, request, who reads (false: refused)]
  const cases: Array<[string, Parameters<typeof checkAuditAccess>[0], Parameters<typeof checkAuditAccess>[1], false | ReturnType<typeof checkAuditAccess>]> = [
    ['no admin guard: open', {}, {}, admins],
    ['control plane open (loopback): anyone', { admin: admin(false), siteTokens }, {}, admins],
    ['admin token', { admin: admin(true), siteTokens }, { authorization: 'Bearer ADMIN' }, admins],
    ['no token', { admin: admin(true), siteTokens }, {}, false],
    ['a site of the run with its token', { admin: admin(true), siteTokens }, { authorization: 'Bearer tok-site-a', site: 'site-a' }, siteA],
    ['a site of the run, token in lower-case scheme', { admin: admin(true), siteTokens }, { authorization: 'bearer tok-site-a', site: 'site-a' }, siteA],
    ['a site of the run with a wrong token', { admin: admin(true), siteTokens }, { authorization: 'Bearer tok-site-b', site: 'site-a' }, false],
    ['a registered site that never joined this run', { admin: admin(true), siteTokens }, { authorization: 'Bearer tok-site-b', site: 'site-b' }, false],
    ['a site token without the site header', { admin: admin(true), siteTokens }, { authorization: 'Bearer tok-site-a' }, false],
    ['a site header with an invalid name', { admin: admin(true), siteTokens }, { authorization: 'Bearer tok-site a', site: 'site a' }, false],
    ['no site token registry', { admin: admin(true) }, { authorization: 'Bearer tok-site-a', site: 'site-a' }, false],
  ];
  // A registry and an index of joins that accept anything: only the site name's own check stands.
  const anyToken = { verify: () => ({ ok: true as const }) };
  const anyJoin = { joined: () => true } as never;
  cases.push(
    ['any token, any join: a name with a space', { admin: admin(true), siteTokens: anyToken, joins: anyJoin }, { authorization: 'Bearer t', site: 'site a' }, false],
    ['any token, any join: a name of 129 characters', { admin: admin(true), siteTokens: anyToken, joins: anyJoin }, { authorization: 'Bearer t', site: 'a'.repeat(129) }, false],
    ['any token, any join: a name of 128 characters', { admin: admin(true), siteTokens: anyToken, joins: anyJoin }, { authorization: 'Bearer t', site: 'a'.repeat(128) }, { kind: 'site', siteId: 'a'.repeat(128) }],
    ['any token, any join: a valid name after a bad character', { admin: admin(true), siteTokens: anyToken, joins: anyJoin }, { authorization: 'Bearer t', site: '/site-a' }, false],
    ['any token, any join: a valid name before a bad character', { admin: admin(true), siteTokens: anyToken, joins: anyJoin }, { authorization: 'Bearer t', site: 'site-a/' }, false],
    ['any token, any join: no site header', { admin: admin(true), siteTokens: anyToken, joins: anyJoin }, { authorization: 'Bearer t' }, false],
    ['any token, any join: no token', { admin: admin(true), siteTokens: anyToken, joins: anyJoin }, { site: 'site-a' }, false],
    ['any token, any join: an empty bearer', { admin: admin(true), siteTokens: anyToken, joins: anyJoin }, { authorization: 'Bearer ', site: 'site-a' }, false],
    ['any token, any join: a valid name', { admin: admin(true), siteTokens: anyToken, joins: anyJoin }, { authorization: 'Bearer t', site: 'site-a' }, siteA],
  );
  it.each(cases)('%s', (_name, options, request, allowed) => {
    if (allowed) expect(checkAuditAccess(options, request, path)).toEqual(allowed);
    else {
      const err = thrown(() => checkAuditAccess(options, request, path));
      expect(err.code).toBe('unauthorized');
      expect(err.message).toBe("reading a run's audit log needs the admin token, or the site token of a site of that run: send Authorization: Bearer TOKEN (and x-fedtune-site: NAME with a site token)");
    }
  });
});
