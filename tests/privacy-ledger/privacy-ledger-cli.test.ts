import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FEDTUNE_BIN } from '../helpers/fedtune-cli.ts';
import { ledgerOpeningLine } from '../../cli/src/commands/client-command.ts';
import { FilePrivacyLedger } from '../../client-node/src/file-privacy-ledger.ts';
import { composeLedgerEntry, type PrivacyStep } from '../../shared/src/policy/privacy-budget.ts';
import { tempDir } from '../helpers/federation.ts';

function client(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(FEDTUNE_BIN, ['client', '--server', 'http://127.0.0.1:9', '--site', 's1', '--data', 'digits:1/50', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('fedtune client and its privacy ledger file', () => {
  it.each([
    ['the default .fedtune/privacy-ledger.jsonl under the working directory', [], (dir: string) => join(dir, '.fedtune', 'privacy-ledger.jsonl')],
    ['--privacy-ledger FILE', ['--privacy-ledger', 'elsewhere/ledger.jsonl'], (dir: string) => join(dir, 'elsewhere', 'ledger.jsonl')],
  ])('a corrupt ledger at %s stops the site with one clear line naming the file', async (_name, args, pathOf) => {
    const dir = tempDir();
    const path = pathOf(dir);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, '{"sha256":"00","entry":{}}\n');
    const r = await client(args, dir);
    expect(r.code).not.toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`privacy ledger ${args.length ? 'elsewhere/ledger.jsonl' : path} is corrupt at line 1: not a ledger line`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});

describe('the privacy ledger line at start', () => {
  const step: PrivacyStep = { kind: 'record', noiseMultiplier: 1.1, samplingRate: 0.25, steps: 8, delta: 1e-5 };

  it('is said only when a ledger file exists (a run without differential privacy never creates one)', () => {
    const path = join(tempDir(), 'ledger.jsonl');
    expect(ledgerOpeningLine(FilePrivacyLedger.open(path))).toBeUndefined();
    const ledger = FilePrivacyLedger.open(path);
    ledger.record(composeLedgerEntry(ledger, 'r', 1, step));
    expect(ledgerOpeningLine(FilePrivacyLedger.open(path))).toBe(`privacy ledger ${path}: ε ${ledger.totalEpsilon().toFixed(4)} spent in total over 1 run(s)`);
  });

  it('fedtune client with no ledger file prints no ledger line and creates no file', async () => {
    const dir = tempDir();
    const child = spawn(FEDTUNE_BIN, ['client', '--server', 'http://127.0.0.1:9', '--site', 's1', '--data', 'digits:1/50', '--workers', '1'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      // Past the point where the ledger is opened: the site is about to connect.
      if (/training on/.test(stdout)) child.kill('SIGKILL');
    });
    await new Promise((resolve) => child.on('close', resolve));
    expect(stdout).toMatch(/training on/);
    expect(stdout).not.toContain('privacy ledger');
    expect(existsSync(join(dir, '.fedtune', 'privacy-ledger.jsonl'))).toBe(false);
  }, 60_000);
});
