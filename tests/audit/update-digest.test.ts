import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyAuditChain, type AuditEntry, type RoundRecord, type RunReport, type WeightsManifest } from '@fedtune/shared';
import { AuditLog } from '../../coordinator/src/audit/audit-log.ts';
import { AuditRecorder } from '../../coordinator/src/audit/audit-recorder.ts';
import { UpdateDigest } from '../../coordinator/src/audit/update-digest.ts';
import { tempDir } from '../helpers/federation.ts';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const manifest: WeightsManifest = [{ name: 'w', shape: [2], dtype: 'float32' }];
const weights = [new Float32Array([1, 2])];
const record = (over: Partial<RoundRecord>): RoundRecord => ({ round: 1, durationMs: 0, attempts: 1, selected: ['a', 'b'], accepted: [], rejected: [], failed: [], bytesDown: 0, bytesUp: 0, global: { accuracy: 0, loss: 0 }, modelDir: 'm', ...over }) as RoundRecord;

function recorder(): { rec: AuditRecorder; entries: () => AuditEntry[]; written: () => AuditEntry[] } {
  const path = join(tempDir('fedtune-audit-digest-'), 'audit.jsonl');
  const log = AuditLog.open(path);
  const read = () => {
    const v = verifyAuditChain(readFileSync(path, 'utf8'));
    if (!v.ok) throw new Error(v.message);
    return v.good;
  };
  return { rec: new AuditRecorder(log, manifest), written: () => (log.flush(), read()), entries: read };
}

describe('UpdateDigest: an update\'s SHA-256, hashed off the event loop', () => {
  it('is not computed on the spot, lands as the SHA-256 of exactly the viewed bytes, and does not see later writes to them', async () => {
    const backing = randomBytes(64 * 1024 + 8);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 8, 64 * 1024);
    const expected = sha256(view);
    const d = new UpdateDigest(view);
    expect(d.value).toBeUndefined();
    expect(JSON.stringify({ d })).toBe('{"d":null}');
    view.fill(0); // the pool hashes its own copy, taken when the digest was asked for
    expect(await d.ready).toBe(expected);
    expect(d.value).toBe(expected);
    expect(d.now()).toBe(expected);
    expect(JSON.stringify({ d })).toBe(`{"d":"${expected}"}`);
  });

  it('now() before the pool delivers hashes on this thread, and the pool\'s later result agrees', async () => {
    const bytes = randomBytes(1000);
    const d = new UpdateDigest(bytes);
    expect(d.now()).toBe(sha256(bytes));
    expect(await d.ready).toBe(sha256(bytes));
  });

  it('of(hex) is known at once', async () => {
    const d = UpdateDigest.of('ab'.repeat(32));
    expect(d.value).toBe('ab'.repeat(32));
    expect(await d.ready).toBe('ab'.repeat(32));
  });
});

describe('AuditRecorder with digests still being computed', () => {
  it('keeps the events\' order: an entry after a pending update waits for it; roundSaved resolves once every digest is in and durable', async () => {
    const { rec, entries } = recorder();
    const a = randomBytes(200_000);
    const b = randomBytes(300_000);
    rec.onEvent({ type: 'round-start', round: 1, attempt: 1, selected: ['a', 'b'] });
    rec.onEvent({ type: 'update-received', round: 1, siteId: 'a', message: 'fitResult', sha256: new UpdateDigest(a), bytes: a.byteLength, numExamples: 5 });
    rec.onEvent({ type: 'result', round: 1, siteId: 'a', accepted: true });
    rec.onEvent({ type: 'site-left', siteId: 'z', reason: 'gone' });
    rec.onEvent({ type: 'update-received', round: 1, siteId: 'b', message: 'fitResult', sha256: new UpdateDigest(b), bytes: b.byteLength, numExamples: 6 });
    await rec.roundSaved(record({}), weights);
    const e = entries();
    expect(e.map((x) => x.type)).toEqual(['round-start', 'update', 'leave', 'update', 'model']);
    expect(e[1].data).toEqual({ round: 1, siteId: 'a', sha256: sha256(a), bytes: a.byteLength, numExamples: 5, accepted: true });
    expect(e[2].data).toEqual({ siteId: 'z', reason: 'gone' });
    expect(e[3].data).toMatchObject({ siteId: 'b', sha256: sha256(b), accepted: false, code: 'stale_round' });
  });

  it('appends nothing out of order before the digest lands, then everything once it does', async () => {
    const { rec, written } = recorder();
    const a = randomBytes(100_000);
    const d = new UpdateDigest(a);
    rec.onEvent({ type: 'update-received', round: 1, siteId: 'a', message: 'fitResult', sha256: d, bytes: a.byteLength });
    rec.onEvent({ type: 'result', round: 1, siteId: 'a', accepted: false, code: 'non_finite', reason: 'nan' });
    rec.onEvent({ type: 'site-joined', siteId: 'j', backend: 'wasm', runtime: 'node', numExamples: 1 });
    if (d.value === undefined) expect(written()).toEqual([]);
    await d.ready;
    await new Promise((r) => setImmediate(r));
    expect(written().map((x) => [x.type, x.data.siteId])).toEqual([['update', 'a'], ['join', 'j']]);
  });

  it('a secure attempt waits for every masked input\'s digest', async () => {
    const { rec, entries } = recorder();
    const x = randomBytes(50_000);
    const y = randomBytes(60_000);
    rec.onEvent({ type: 'round-start', round: 2, attempt: 1, selected: ['x', 'y'] });
    rec.onEvent({ type: 'update-received', round: 2, siteId: 'y', message: 'secaggMasked', sha256: new UpdateDigest(y), bytes: y.byteLength });
    rec.onEvent({ type: 'update-received', round: 2, siteId: 'x', message: 'secaggMasked', sha256: new UpdateDigest(x), bytes: x.byteLength });
    await rec.roundSaved(record({ round: 2, accepted: [{ siteId: 'x', numExamples: 1, loss: 0, accuracy: 0, durationMs: 0 }] as RoundRecord['accepted'] }), weights);
    const e = entries();
    expect(e.map((q) => q.type)).toEqual(['round-start', 'secure-aggregation', 'model']);
    expect(e[1].data).toEqual({ round: 2, attempt: 1, participants: ['x', 'y'], survivors: ['x'], masked: { x: sha256(x), y: sha256(y) } });
  });

  it('complete() is synchronous to the end: a digest not yet delivered is computed there, in order', () => {
    const { rec, entries } = recorder();
    const a = randomBytes(400_000);
    rec.onEvent({ type: 'update-received', round: 3, siteId: 'a', message: 'fitResult', sha256: new UpdateDigest(a), bytes: a.byteLength });
    rec.onEvent({ type: 'result', round: 3, siteId: 'a', accepted: true });
    rec.complete({ status: 'complete', rounds: [] } as unknown as RunReport);
    const e = entries();
    expect(e.map((q) => q.type)).toEqual(['update', 'complete']);
    expect(e[0].data).toMatchObject({ siteId: 'a', sha256: sha256(a) });
  });
});
