import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunReport } from '@fedtune/shared';
import { builtinSpam } from '@fedtune/shared/node';
import { tempDir } from '../helpers/federation.ts';
import { fedtune, fedtuneCoordinator } from '../helpers/fedtune-cli.ts';

/** Site k's text folder: ham/ and spam/ sub-folders of .txt e-mails from the spam pool (every other e-mail by site). */
function writeTextFolder(dir: string, k: number, perClass = 24): string {
  const { pool } = builtinSpam();
  const site = join(dir, `site-${k}`);
  for (const [cls, name] of pool.classNames.entries()) {
    mkdirSync(join(site, name), { recursive: true });
    const mails = pool.texts.filter((_, i) => pool.labels[i] === cls && i % 2 === k - 1).slice(0, perClass);
    mails.forEach((text, i) => writeFileSync(join(site, name, `${i}.txt`), text));
  }
  return site;
}

describe('text folders run a federation from the CLI (fedtune coordinator --task spam)', () => {
  it('two `fedtune client --data FOLDER` processes join, tokenize with the vocabulary the model brings and train', async () => {
    const dir = tempDir();
    const folders = [1, 2].map((k) => writeTextFolder(dir, k));
    const coordinator = fedtuneCoordinator(['--task', 'spam', '--port', '0', '--host', '127.0.0.1', '--rounds', '1', '--min-sites', '2', '--out', join(dir, 'runs'), '--run-id', 'spam-cli', '--federated-eval', 'never']);
    const url = await coordinator.url;
    if (!url) throw new Error(`coordinator exited: ${(await coordinator.done).stderr}`);
    const clients = folders.map((folder, k) => fedtune(['client', '--server', url, '--site', `mail-${k + 1}`, '--data', folder, '--privacy-ledger', join(dir, `ledger-${k}.jsonl`)]));
    const results = await Promise.all(clients.map((c) => c.done));
    const c = await coordinator.done;
    expect(c.code, c.stderr + c.stdout).toBe(0);
    for (const r of results) {
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toContain('classes (sorted folder names): 0=ham, 1=spam');
      expect(r.stdout).toContain('data check: 48 texts, labels [24,24] per class');
      expect(r.stdout).toMatch(/round 1: trained on \d+ examples/);
    }
    const report = JSON.parse(readFileSync(join(dir, 'runs', 'spam-cli', 'report.json'), 'utf8')) as RunReport;
    expect(report.status).toBe('complete');
    expect(report.model.architecture).toBe('text-cnn');
    expect(report.rounds[0]!.accepted.map((a) => a.siteId).sort()).toEqual(['mail-1', 'mail-2']);
    expect(report.rounds[0]!.rejected).toEqual([]);
    expect(report.textRobustness).toBeDefined();
    expect(report.textRobustness!.clean.accuracy).toBeGreaterThan(0.5);
  }, 600_000);

  it.each([
    ['invalid UTF-8', (file: string) => writeFileSync(file, Buffer.from([0x48, 0xff, 0xfe, 0x69]))],
    ['too large to read (over 1 MiB)', (file: string) => writeFileSync(file, 'a'.repeat((1 << 20) + 1))],
  ])('a broken text file (%s) is one clear line naming the file', async (_what, breakFile) => {
    const dir = tempDir();
    const folder = writeTextFolder(dir, 1, 3);
    const bad = join(folder, 'spam', 'broken.txt');
    breakFile(bad);
    const r = await fedtune(['client', '--server', 'http://127.0.0.1:1', '--site', 'mail-1', '--data', folder]).done;
    expect(r.code).not.toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(bad);
    // The data is read before any connection: the error is about the file, not the unreachable server.
    expect(r.stderr).not.toMatch(/connect/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);
});
