import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointStore, removeStaleTempFiles } from '@fedtune/coordinator';
import { makeReport, makeWeights, tempDir } from './helpers.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'kill-writer.ts');

describe('atomic checkpoint writes', () => {
  it('a writer SIGKILLed mid-write leaves no partial checkpoint: latest() is still the old good one', async () => {
    const runDir = tempDir();
    const store = new CheckpointStore(runDir);
    const good = { runId: 'kill-test', round: 1, weights: makeWeights(1), strategyState: { momentum: null }, rng: { sample: 5 }, report: makeReport('kill-test', 1) };
    await store.write(good);

    // 24M floats in the weights and 24M more in the strategy state: a ~190 MB checkpoint.
    const floats = 24 * 1024 * 1024;
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, runDir, '2', String(floats)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(out.trim());
      });
      child.on('exit', (code) => reject(new Error(`writer exited (${code}) before writing: ${stderr}`)));
    });
    const [, written, total] = line.split(' ').map(Number);
    expect(line).toMatch(/^mid-write /);
    expect(written).toBeLessThan(total);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    // The half-written temporary file is there, but never under a checkpoint name.
    const names = readdirSync(store.dir);
    const temps = names.filter((n) => n.includes('.tmp-'));
    expect(temps).toHaveLength(1);
    expect(statSync(join(store.dir, temps[0])).size).toBeLessThan(total);
    expect(existsSync(store.pathOf(2))).toBe(false);

    const latest = store.latest();
    expect(latest.warnings).toEqual([]);
    expect(latest.checkpoint!.round).toBe(1);
    expect(latest.checkpoint!.rng).toEqual({ sample: 5 });

    // A restarted coordinator clears the dead writer's temporary file.
    expect(removeStaleTempFiles(store.dir)).toEqual(temps);
    expect(readdirSync(store.dir)).toEqual(['round-1.ckpt']);
  });
});
