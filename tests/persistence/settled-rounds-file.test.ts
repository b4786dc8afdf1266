import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunReport } from '@fedtune/shared';
import { CheckpointStore, decodeCheckpoint, encodeState, type Checkpoint } from '@fedtune/coordinator';
import { readCheckpointHeader } from '../../coordinator/src/persistence/checkpoint-format.ts';
import { reportSkeletonJson, settleRoundRecord } from '../../coordinator/src/persistence/settled-rounds.ts';
import { makeReport, makeRound, makeWeights, tempDir } from './helpers.ts';

// Format 2 checkpoints: the report's settled rounds in an append-only settled-rounds file the checkpoint refers to
// by count, bytes and hash chain (settled-rounds-log.ts), so a checkpoint's cost per round stays flat.

const encoded = (v: unknown) => encodeState(v).json;
const FORMAT_1 = join(import.meta.dirname, 'fixtures', 'format-1-round-3.ckpt');

/** Round `n`'s record with awkward strings and numbers (a lossy codec or a wrong splice would change them). */
function record(n: number) {
  return makeRound(n, {
    rejected: [{ siteId: `s"${n}\n<x>`, code: 'non_finite', reason: `NaN \u0000 🐍 ${'\\'.repeat(n)}` }],
    global: { accuracy: n === 1 ? Number.NaN : 0.5 + n / 100, loss: n === 2 ? -0 : 1 / n },
  });
}

/** Grows `report` to `round` as the engine does (every earlier record settled before the next is pushed). */
function grow(report: RunReport, round: number): void {
  for (const r of report.rounds) settleRoundRecord(r);
  report.rounds.push(record(round));
}

function checkpoint(report: RunReport): Checkpoint {
  const round = report.rounds.length;
  return { runId: report.runId, round, weights: makeWeights(round), strategyState: { m: [new Float32Array([round, -0])] }, rng: { sample: round }, report };
}

const settledFiles = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('settled-rounds-'));
const lines = (path: string) => readFileSync(path, 'utf8').split('\n').slice(0, -1);

describe('the settled-rounds file of format-2 checkpoints', () => {
  it('each checkpoint restores every round exactly, its settled ones from one append-only file; the checkpoint itself does not grow', async () => {
    const store = new CheckpointStore(tempDir());
    const report = makeReport('run-f', 0);
    const sizes: number[] = [];
    for (let round = 1; round <= 12; round++) {
      grow(report, round);
      const { bytes } = await store.write(checkpoint(report));
      sizes.push(bytes);
      const back = new CheckpointStore(store.runDir).latest().checkpoint!;
      expect(back.round).toBe(round);
      expect(encoded(back.report)).toBe(encoded(report));
    }
    // One file, a line per settled record (all but the last), each the record's checkpoint encoding.
    const [file] = settledFiles(store.dir);
    expect(settledFiles(store.dir)).toEqual([file]);
    expect(lines(join(store.dir, file))).toEqual(report.rounds.slice(0, -1).map(encoded));
    // The checkpoint holds only the unsettled last round: its size is flat in the rounds (± digits).
    expect(Math.max(...sizes.slice(2)) - Math.min(...sizes.slice(2))).toBeLessThan(64);
    expect(store.peek(12)).toMatchObject({ format: 2, settledRounds: file });
  });

  it("what a write puts on disk and keeps in memory does not grow with the settled rounds: at round 100 as at round 10, the same meta and one new line", async () => {
    const store = new CheckpointStore(tempDir());
    const report = makeReport('run-flat', 0);
    /** The meta's byte length (the u32 before it at the body's start). */
    const metaBytes = (round: number) => {
      const bytes = readFileSync(store.pathOf(round));
      return bytes.readUInt32LE(readCheckpointHeader(bytes).bodyOffset);
    };
    const seen: unknown[] = [];
    const counting = (v: unknown) => (seen.push(v), encoded(v));
    const meta = new Map<number, number>();
    const size = new Map<number, number>();
    let settledBytes = 0;
    for (let round = 1; round <= 100; round++) {
      for (const r of report.rounds) settleRoundRecord(r);
      report.rounds.push(makeRound(round));
      size.set(round, (await store.write(checkpoint(report))).bytes);
      meta.set(round, metaBytes(round));
      const [file] = settledFiles(store.dir);
      if (round > 1) {
        // Exactly the record settled since the last write was appended.
        const grown = statSync(join(store.dir, file)).size - settledBytes;
        expect(grown).toBe(Buffer.byteLength(`${encoded(report.rounds[round - 2])}\n`));
        settledBytes += grown;
      }
    }
    // No settled record's checkpoint text is kept once it is in the file: each is encoded again here.
    reportSkeletonJson(report, counting);
    expect(report.rounds.filter((r) => seen.includes(r))).toEqual(report.rounds);
    // The meta and the checkpoint: flat (± the digits of the round and the reference's counts).
    expect(Math.abs(meta.get(100)! - meta.get(10)!)).toBeLessThan(32);
    expect(Math.abs(size.get(100)! - size.get(10)!)).toBeLessThan(64);
    expect(meta.get(100)!).toBeLessThan(4 * Buffer.byteLength(encoded(report.rounds[99])));
  });

  it('a record settled while an earlier one was not sits in the meta with its text cached; once in the file its text is dropped', async () => {
    const store = new CheckpointStore(tempDir());
    const report = makeReport('run-late', 2);
    settleRoundRecord(report.rounds[1]);
    await store.write(checkpoint(report)); // round 1 unsettled: both in the meta, round 2's text cached
    settleRoundRecord(report.rounds[0]);
    report.rounds.push(makeRound(3));
    await store.write(checkpoint(report)); // rounds 1 and 2 appended to the file
    expect(lines(join(store.dir, settledFiles(store.dir)[0]))).toEqual(report.rounds.slice(0, 2).map(encoded));
    const seen: unknown[] = [];
    reportSkeletonJson(report, (v) => (seen.push(v), encoded(v)));
    expect(report.rounds.filter((r) => seen.includes(r))).toEqual(report.rounds);
    expect(encoded(new CheckpointStore(store.runDir).latest().checkpoint!.report)).toBe(encoded(report));
  });

  it('a format-1 checkpoint (every round in its meta, written by the encoder before this format) still loads and resumes', async () => {
    const runDir = tempDir();
    mkdirSync(join(runDir, 'checkpoints'));
    copyFileSync(FORMAT_1, join(runDir, 'checkpoints', 'round-3.ckpt'));
    const store = new CheckpointStore(runDir);
    expect(store.peek(3).format).toBe(1);
    const latest = store.latest();
    expect(latest.warnings).toEqual([]);
    const old = latest.checkpoint!;
    expect(old.report.rounds.map((r) => r.round)).toEqual([1, 2, 3]);
    expect(Number.isNaN(old.report.rounds[0].global.accuracy)).toBe(true);
    expect(old.report.rounds[1].rejected[0]).toEqual({ siteId: 's"\n<x>', code: 'non_finite', reason: 'NaN \u0000 🐍' });
    expect(old.rng).toEqual({ sample: 11 });
    // Resumed: the next checkpoints are format 2 and hold the old rounds too.
    grow(old.report, 4);
    await store.write(checkpoint(old.report));
    const back = new CheckpointStore(runDir).latest().checkpoint!;
    expect(encoded(back.report)).toBe(encoded(old.report));
    expect(new CheckpointStore(runDir).peek(4).format).toBe(2);
  });

  it('a crash after the settled rounds are appended and before the checkpoint is written: the previous checkpoint loads whole, and the resumed run loses no round', async () => {
    const runDir = tempDir();
    const store = new CheckpointStore(runDir);
    const report = makeReport('run-c', 0);
    for (let round = 1; round <= 3; round++) {
      grow(report, round);
      await store.write(checkpoint(report));
    }
    // Round 4: round 3's record is appended and fsync'd, then the writer dies writing the checkpoint.
    grow(report, 4);
    await expect(store.write(checkpoint(report), { onChunk: () => { throw new Error('killed'); } })).rejects.toThrow('killed');
    const [file] = settledFiles(store.dir);
    expect(lines(join(store.dir, file))).toHaveLength(3);

    // A restarted coordinator: round 3's checkpoint, with its 3 rounds, though the file has a line more.
    const restarted = new CheckpointStore(runDir);
    const latest = restarted.latest();
    expect(latest.warnings).toEqual([]);
    const resumed = latest.checkpoint!;
    expect(resumed.round).toBe(3);
    expect(encoded(resumed.report)).toBe(encoded({ ...report, rounds: report.rounds.slice(0, 3) }));

    // It runs rounds 4 and 5 again (round 4 differently this time): the file continues after round 3's prefix.
    for (let round = 4; round <= 5; round++) {
      grow(resumed.report, round);
      if (round === 4) resumed.report.rounds[3].durationMs = 777;
      await restarted.write(checkpoint(resumed.report));
    }
    const final = new CheckpointStore(runDir).latest().checkpoint!;
    expect(final.round).toBe(5);
    expect(final.report.rounds.map((r) => r.round)).toEqual([1, 2, 3, 4, 5]);
    expect(final.report.rounds[3].durationMs).toBe(777);
    expect(encoded(final.report)).toBe(encoded(resumed.report));
    expect(settledFiles(store.dir)).toEqual([file]);
    expect(lines(join(store.dir, file))).toHaveLength(4);
  });

  it('a coordinator SIGKILLed after appending the settled rounds, before its checkpoint is renamed into place: the previous checkpoint loads whole and the run resumes', async () => {
    const runDir = tempDir();
    const store = new CheckpointStore(runDir);
    const report = makeReport('run-k', 0);
    for (let round = 1; round <= 3; round++) {
      grow(report, round);
      await store.write(checkpoint(report));
    }
    const [file] = settledFiles(store.dir);
    expect(lines(join(store.dir, file))).toHaveLength(2);
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'kill-after-settled-rounds.ts'), runDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('appended\n')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`the writer exited (${code}) before appending: ${stderr}`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    // Round 3's record is in the file, fsync'd; round 4's checkpoint is only a temporary file.
    expect(lines(join(store.dir, file))).toHaveLength(3);
    expect(readdirSync(store.dir).some((n) => n.startsWith('.round-4.ckpt.tmp-'))).toBe(true);

    const restarted = new CheckpointStore(runDir);
    const latest = restarted.latest();
    expect(latest.warnings).toEqual([]);
    const resumed = latest.checkpoint!;
    expect(resumed.round).toBe(3);
    expect(encoded(resumed.report)).toBe(encoded(report));
    for (let round = 4; round <= 6; round++) {
      grow(resumed.report, round);
      await restarted.write(checkpoint(resumed.report));
    }
    const final = new CheckpointStore(runDir).latest().checkpoint!;
    expect(final.report.rounds.map((r) => r.round)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(encoded(final.report)).toBe(encoded(resumed.report));
    expect(settledFiles(store.dir)).toEqual([file]);
    expect(lines(join(store.dir, file))).toEqual(resumed.report.rounds.slice(0, 5).map(encoded));
  });

  it('the rounds are verified: a changed, truncated or missing settled-rounds file makes the checkpoints that refer to it unusable (the store falls back)', async () => {
    const runDir = tempDir();
    const store = new CheckpointStore(runDir);
    const report = makeReport('run-v', 0);
    for (let round = 1; round <= 4; round++) {
      grow(report, round);
      await store.write(checkpoint(report));
    }
    const path = join(store.dir, settledFiles(store.dir)[0]);
    const good = readFileSync(path);
    // A bit flipped in round 3's line: only round 4's checkpoint refers to it.
    const flipped = Buffer.from(good);
    flipped[good.length - 10] ^= 0x01;
    writeFileSync(path, flipped);
    let latest = new CheckpointStore(runDir).latest();
    expect(latest.checkpoint!.round).toBe(3);
    expect(latest.warnings.map((w) => w.round)).toEqual([4]);
    expect(latest.warnings[0].message).toMatch(/hash chain/);
    expect(encoded(latest.checkpoint!.report)).toBe(encoded({ ...report, rounds: report.rounds.slice(0, 3) }));
    // Truncated into round 2's line: rounds 4 and 3 unusable, round 2's checkpoint (1 settled round) loads.
    writeFileSync(path, good);
    truncateSync(path, lines(path)[0].length + 5);
    latest = new CheckpointStore(runDir).latest();
    expect(latest.checkpoint!.round).toBe(2);
    expect(latest.warnings.map((w) => w.round)).toEqual([4, 3]);
    expect(latest.warnings[0].message).toMatch(/truncated/);
    // Missing.
    rmSync(path);
    latest = new CheckpointStore(runDir).latest();
    expect(latest.checkpoint).toBeUndefined();
    expect(latest.warnings.map((w) => w.round)).toEqual([4, 3, 2]);
    expect(latest.warnings[0].message).toMatch(/missing/);
  });

  it('a checkpoint that refers to a settled-rounds file is not decoded without it', async () => {
    const store = new CheckpointStore(tempDir());
    const report = makeReport('run-d', 0);
    for (let round = 1; round <= 2; round++) {
      grow(report, round);
      await store.write(checkpoint(report));
    }
    expect(() => decodeCheckpoint(readFileSync(store.pathOf(2)))).toThrow(/settled-rounds|read it with its checkpoint store/);
  });

  it('a store that does not continue the file on disk (a new store, no latest()) starts its own; the old one goes once no kept checkpoint refers to it', async () => {
    const runDir = tempDir();
    const first = new CheckpointStore(runDir, { keep: 2 });
    const report = makeReport('run-g', 0);
    for (let round = 1; round <= 3; round++) {
      grow(report, round);
      await first.write(checkpoint(report));
    }
    const [old] = settledFiles(first.dir);
    const second = new CheckpointStore(runDir, { keep: 2 });
    grow(report, 4);
    await second.write(checkpoint(report));
    // Round 3's checkpoint (kept) still refers to the old file.
    expect(settledFiles(first.dir)).toHaveLength(2);
    grow(report, 5);
    await second.write(checkpoint(report));
    const now = settledFiles(first.dir);
    expect(now).toHaveLength(1);
    expect(now[0]).not.toBe(old);
    expect(encoded(new CheckpointStore(runDir).latest().checkpoint!.report)).toBe(encoded(report));
    expect(statSync(join(first.dir, now[0])).size).toBeGreaterThan(0);
  });
});
