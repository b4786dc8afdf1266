import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chainAuditEntry, GENESIS_PREV } from '../../shared/src/audit/audit-entry.ts';
import { verifyAuditFiles } from '../../cli/src/commands/audit-command.ts';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { tempDir } from '../helpers/federation.ts';
import { thrown } from '../helpers/thrown.ts';

describe('fedtune audit verify', () => {
  const dir = tempDir('fedtune-audit-cli-');
  const a = chainAuditEntry(0, GENESIS_PREV, 'run-start', { runId: 'r' }, 't');
  const b = chainAuditEntry(1, a.hash, 'join', { siteId: 's' }, 't');
  const path = join(dir, 'audit.jsonl');
  writeFileSync(path, `${JSON.stringify(a)}\n${JSON.stringify(b)}\n`);

  it('verifyAuditFiles: verdict, count, head, --head against a deleted last entry, unreadable files', () => {
    expect(verifyAuditFiles(path, [])).toEqual({ ok: true, message: `OK: 2 entries, head ${b.hash}, run r`, count: 2, redacted: 0, head: b.hash, runId: 'r', siteLogs: [] });
    expect(verifyAuditFiles(path, [], a.hash)).toMatchObject({ ok: true, count: 2 });
    const short = join(dir, 'short.jsonl');
    writeFileSync(short, `${JSON.stringify(a)}\n`);
    expect(verifyAuditFiles(short, [], b.hash)).toEqual({ ok: false, message: `FAILED: ${short}: audit log head mismatch: the expected head ${b.hash} is not in the log, which ends at ${a.hash} after 1 entries (entries were deleted or rewritten)`, siteLogs: [] });
    expect(thrown(() => verifyAuditFiles(join(dir, 'none.jsonl'), []))).toMatchObject({ code: 'not_found', message: `cannot read the audit log ${join(dir, 'none.jsonl')}: ENOENT` });
    expect(thrown(() => verifyAuditFiles(path, [join(dir, 'none.jsonl')]))).toMatchObject({ code: 'not_found', message: `cannot read the site log ${join(dir, 'none.jsonl')}: ENOENT` });
    // A named pipe would block the read for ever: refused by what it is.
    execFileSync('mkfifo', [join(dir, 'pipe.jsonl')]);
    expect(thrown(() => verifyAuditFiles(join(dir, 'pipe.jsonl'), []))).toMatchObject({ code: 'not_found', message: `cannot read the audit log ${join(dir, 'pipe.jsonl')}: ${join(dir, 'pipe.jsonl')} is not a regular file (a pipe, socket or device): an audit log must be a file` });
    expect(thrown(() => verifyAuditFiles(path, [join(dir, 'pipe.jsonl')])).message).toMatch(/^cannot read the site log .*pipe\.jsonl: .* is not a regular file/);
    const badSite = join(dir, 'bad-site.jsonl');
    writeFileSync(badSite, '{nope\n');
    expect(verifyAuditFiles(path, [badSite])).toMatchObject({ ok: false, message: `FAILED: ${badSite}: site log line 1: not valid JSON` });
  });

  it('a malformed --head and a missing file are one clear line each, exit code 1, no stack', async () => {
    const head = await fedtune(['audit', 'verify', path, '--head', 'xyz']).done;
    expect(head.code).toBe(1);
    expect(head.stderr).toContain('--head must be 64 lowercase hex digits');
    expect(head.stderr).not.toMatch(/\n\s+at /);
    const missing = await fedtune(['audit', 'verify', join(dir, 'none.jsonl')]).done;
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`fedtune: not_found: <audit-log> ${join(dir, 'none.jsonl')}: no such file`);
  }, 60_000);
});
