import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SERVER_HEAP_GROWING_PERCENT, useServerHeapGrowth } from '@fedtune/coordinator';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'cli', 'bin', 'fedtune.mjs');

describe('a coordinator lets its heap grow to 4× what a full collection kept (server-heap-growth.ts)', () => {
  it('sets --heap-growing-percent=300 by default, any integer percent in 1..1000, and refuses others', () => {
    expect(SERVER_HEAP_GROWING_PERCENT).toBe(300);
    expect(useServerHeapGrowth()).toBe('--heap-growing-percent=300');
    expect(useServerHeapGrowth(150)).toBe('--heap-growing-percent=150');
    for (const bad of [0, -1, 1.5, 1001, Number.NaN]) expect(() => useServerHeapGrowth(bad)).toThrow(RangeError);
    useServerHeapGrowth();
  });

  it('`fedtune coordinator` applies it before it loads anything (FEDTUNE_DEBUG=1 says so), and listens', async () => {
    const out = mkdtempSync(join(tmpdir(), 'fedtune-heap-'));
    const child = spawn(BIN, ['coordinator', '--port', '0', '--out', out, '--rounds', '1', '--min-sites', '1'], { cwd: ROOT, env: { ...process.env, FEDTUNE_DEBUG: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not listening within 60 s: ${stderr.slice(-500)}`)), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (/listening on/.test(stdout)) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr.slice(-500)}`)));
      });
      expect(stderr).toContain('fedtune: coordinator heap growth --heap-growing-percent=300');
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);
});
