import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunReport } from '@fedtune/shared';
import { builtinDigitsSites, writeCsvDataset } from '@fedtune/shared/node';
import { head, tempDir } from './helpers/federation.ts';

const BIN = join(import.meta.dirname, '..', 'node_modules', '.bin', 'fedtune');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Every process a test started, with what it printed: killed and shown if the test fails or stalls. */
const started: { name: string; child: ChildProcess; out: () => string }[] = [];

function run(name: string, args: string[], onLine?: (line: string, child: ChildProcess) => void): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; out: string }> } {
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    // Whole lines only: a chunk may end inside one.
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line) onLine?.(line, child);
  });
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  started.push({ name, child, out: () => out });
  return { child, done: new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out }))) };
}

/** What each process printed last, for a failure message. */
function transcript(): string {
  return started.map((p) => `--- ${p.name} (exit ${p.child.exitCode ?? p.child.signalCode ?? 'running'}):\n${p.out().split('\n').slice(-25).join('\n')}`).join('\n');
}

/** Rejects after `ms` with every process's output (a stalled federation fails with its story, not a bare timeout). */
function stallAfter(ms: number): { promise: Promise<never>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the federations did not finish in ${ms / 1000} s:\n${transcript()}`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

async function federation(dir: string, runId: string, killAfterRound?: number): Promise<{ report: RunReport; weights: Buffer }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const coordArgs = ['coordinator', '--port', String(port), '--host', '127.0.0.1', '--rounds', '4', '--min-sites', '2', '--seed', '3', '--out', join(dir, 'runs'), '--federated-eval', 'never', '--average-rounds', '3'];
  let killed = false;
  const first = run(`coordinator ${runId}`, [...coordArgs, '--run-id', runId], (line, child) => {
    // The table row of a finished round starts with its number, right-aligned.
    if (killAfterRound !== undefined && !killed && new RegExp(`^\\s+${killAfterRound}\\s+\\d`).test(line)) {
      killed = true;
      child.kill('SIGKILL');
    }
  });
  const sites = ['site-1', 'site-2'].map((name) => run(`${name} of ${runId}`, ['client', '--server', url, '--site', name, '--data', join(dir, `${name}.csv`)]).done);
  const c1 = await first.done;
  if (killAfterRound !== undefined) {
    expect(c1.signal, transcript()).toBe('SIGKILL');
    // A bare resume: the run's settings (rounds, seed, min sites, federated evaluation) come from its checkpoint.
    const second = await run(`resumed coordinator ${runId}`, ['coordinator', '--port', String(port), '--host', '127.0.0.1', '--out', join(dir, 'runs'), '--resume', runId]).done;
    expect(second.code, transcript()).toBe(0);
    expect(second.out).toMatch(new RegExp(`resuming run ${runId} with its own settings\\n`));
    expect(second.out).toMatch(new RegExp(`resumed after round ${killAfterRound}`));
  } else {
    expect(c1.code, transcript()).toBe(0);
  }
  for (const s of await Promise.all(sites)) expect(s.code, transcript()).toBe(0);
  const runDir = join(dir, 'runs', runId);
  const report = JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as RunReport;
  return { report, weights: readFileSync(join(runDir, report.final!.modelDir, 'weights.bin')) };
}

describe('a coordinator killed with SIGKILL and resumed', () => {
  afterEach(() => {
    for (const p of started.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });

  it('finishes with exactly the weights of the uninterrupted run (a final model averaged over its last 3 rounds included), no round lost or counted twice', async () => {
    const dir = tempDir();
    const sites = builtinDigitsSites({ sites: 2, partition: { kind: 'iid' }, seed: 3 });
    await writeCsvDataset(join(dir, 'site-1.csv'), head(sites[0], 300));
    await writeCsvDataset(join(dir, 'site-2.csv'), head(sites[1], 300));

    const stall = stallAfter(240_000);
    let reference: Awaited<ReturnType<typeof federation>>;
    let resumed: Awaited<ReturnType<typeof federation>>;
    try {
      [reference, resumed] = await Promise.race([Promise.all([federation(dir, 'reference'), federation(dir, 'killed', 2)]), stall.promise]);
    } finally {
      stall.cancel();
    }
    expect(reference.report.rounds.map((r) => r.round)).toEqual([1, 2, 3, 4]);
    expect(resumed.report.status).toBe('complete');
    expect(resumed.report.rounds.map((r) => r.round)).toEqual([1, 2, 3, 4]);
    expect(resumed.report.resumedAt).toHaveLength(1);
    // The final model averages rounds 2–4 (--average-rounds 3): the killed run's checkpoint of round 2 carried
    // the running average, so the resumed run ends with the same mean, not one of rounds 3–4 only.
    expect(reference.report.rounds.at(-1)!.averagedRounds).toBe(3);
    expect(resumed.report.rounds.at(-1)!.averagedRounds).toBe(3);
    expect(Buffer.compare(resumed.weights, reference.weights)).toBe(0);
    expect(resumed.report.final!.accuracy).toBe(reference.report.final!.accuracy);
  }, 300_000);
});
