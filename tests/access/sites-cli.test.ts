import { fedtune as runFedtune } from '../helpers/fedtune-cli.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { SiteTokenStore } from '@fedtune/coordinator';
import { sitesCommand } from '../../cli/src/commands/sites-command.ts';
import { tempDir } from '../helpers/federation.ts';

/** Runs the real CLI to its end. */
const fedtune = (args: string[]) => runFedtune(args).done;

describe('fedtune sites', () => {
  it('add prints the token once, revoke stops it, list shows no token (three processes)', async () => {
    const db = join(tempDir(), 'runs', 'fedtune.db');
    const add = await fedtune(['sites', 'add', 'hospital-a', '--db', db]);
    expect(add.code, add.stderr).toBe(0);
    const token = add.stdout.trim(); // stdout is the token alone, for scripts: TOKEN=$(fedtune sites add NAME)
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(add.stderr).toMatch(/shown only this once/);
    const store = new SiteTokenStore(db);
    expect(store.verify('hospital-a', token)).toEqual({ ok: true });
    store.add('hospital-b');

    const revoke = await fedtune(['sites', 'revoke', 'hospital-a', '--db', db]);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(revoke.stdout).toMatch(/site hospital-a revoked/);
    expect(store.verify('hospital-a', token)).toEqual({ ok: false, reason: 'token revoked' });
    store.close();

    const list = await fedtune(['sites', 'list', '--db', db]);
    expect(list.code, list.stderr).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^site\s+created\s+revoked\s+last used$/);
    expect(lines[1]).toMatch(/^hospital-a\s+\d{4}-\S+\s+\d{4}-\S+\s+\d{4}-\S+$/); // revoked, used once above
    expect(lines[2]).toMatch(/^hospital-b\s+\d{4}-\S+\s+-\s+never$/);
    expect(list.stdout).not.toContain(token);
    for (const f of [db, `${db}-wal`]) if (existsSync(f)) expect(readFileSync(f).includes(Buffer.from(token))).toBe(false);
  });

  it('errors are clear (in process): revoking an unknown site, adding an active one, --json listing', async () => {
    const db = join(tempDir(), 'fedtune.db');
    const run = (args: string[]) => sitesCommand().exitOverride().parseAsync(args, { from: 'user' });
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await expect(run(['revoke', 'nobody', '--db', db])).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/no site nobody/) });
      await run(['add', 'bank-1', '--db', db]);
      const token = String(log.mock.calls.at(-1)?.[0]);
      await expect(run(['add', 'bank-1', '--db', db])).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(/already registered/) });
      await run(['add', 'bank-1', '--db', db, '--rotate']);
      expect(String(log.mock.calls.at(-1)?.[0])).not.toBe(token);
      await run(['revoke', 'bank-1', '--db', db]);
      await expect(run(['revoke', 'bank-1', '--db', db])).rejects.toMatchObject({ message: expect.stringMatching(/already revoked/) });
      await run(['list', '--db', db, '--json']);
      const rows = JSON.parse(String(log.mock.calls.at(-1)?.[0]));
      expect(rows).toEqual([{ name: 'bank-1', createdAt: expect.any(String), revokedAt: expect.any(String) }]);
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
  });
});
