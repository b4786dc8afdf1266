import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
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
  it('falls back to hashing on this thread when WebCrypto fails, with the same digest', async () => {
    const bytes = randomBytes(1024);
    const spy = vi.spyOn(webcrypto.subtle, 'digest').mockRejectedValue(new Error('no crypto'));
    try {
      const d = new UpdateDigest(bytes);
      expect(await d.ready).toBe(sha256(bytes));
      expect(d.value).toBe(sha256(bytes));
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

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
    // The pool's digest cannot have landed: nothing has awaited since it was asked for.
    expect(d.value).toBeUndefined();
    expect(written()).toEqual([]);
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

/** A digest that lands when the test says (`now()` before that counts as hashing on the event loop). */
function manualDigest(hex: string): { digest: UpdateDigest; land: () => Promise<void>; early: () => number } {
  let resolve!: (h: string) => void;
  const fake = {
    value: undefined as string | undefined,
    early: 0,
    ready: new Promise<string>((r) => (resolve = r)),
    now(): string {
      if (this.value === undefined) {
        this.early++;
        this.value = hex;
      }
      return this.value;
    },
  };
  return {
    digest: fake as unknown as UpdateDigest,
    land: async () => {
      fake.value ??= hex;
      resolve(hex);
      await new Promise((r) => setImmediate(r));
    },
    early: () => fake.early,
  };
}

describe('AuditRecorder: the queue, digest by digest', () => {
  const h = (c: string) => c.repeat(64);
  const received = (round: number, siteId: string, sha256: string | UpdateDigest) => ({ type: 'update-received' as const, round, siteId, message: 'fitResult' as const, sha256, bytes: 4, numExamples: 2 });

  it('an entry waits for its own digest and every one before it, without hashing on the event loop', async () => {
    const { rec, written } = recorder();
    const a = manualDigest(h('a'));
    const b = manualDigest(h('b'));
    rec.onEvent(received(1, 'a', a.digest));
    rec.onEvent(received(1, 'b', b.digest));
    rec.onEvent({ type: 'result', round: 1, siteId: 'a', accepted: true });
    rec.onEvent({ type: 'site-left', siteId: 'z', reason: 'gone' });
    rec.onEvent({ type: 'result', round: 1, siteId: 'b', accepted: true });
    await b.land();
    expect(written()).toEqual([]);
    await a.land();
    expect(written().map((e) => [e.type, e.data.siteId, e.data.sha256])).toEqual([['update', 'a', h('a')], ['leave', 'z', undefined], ['update', 'b', h('b')]]);
    expect([a.early(), b.early()]).toEqual([0, 0]);
  });

  it('a landed digest, a known hex and no digest at all are written at once', async () => {
    const { rec, written } = recorder();
    const a = manualDigest(h('a'));
    await a.land();
    rec.onEvent(received(1, 'a', a.digest));
    rec.onEvent({ type: 'result', round: 1, siteId: 'a', accepted: true });
    rec.onEvent(received(1, 'b', h('b')));
    rec.onEvent({ type: 'result', round: 1, siteId: 'b', accepted: false, code: 'non_finite', reason: 'nan' });
    rec.onEvent(received(1, 'c', UpdateDigest.of(h('c'))));
    rec.onEvent({ type: 'result', round: 1, siteId: 'c', accepted: true });
    rec.onEvent({ type: 'result', round: 1, siteId: 'nobody', accepted: false, code: 'unauthorized', reason: 'x' });
    expect(written().map((e) => e.data.sha256 ?? null)).toEqual([h('a'), h('b'), h('c'), null]);
  });

  it('roundSaved resolves only once every digest is in; an update of a later round is not recorded as stale', async () => {
    const { rec, entries } = recorder();
    const a = manualDigest(h('a'));
    rec.onEvent({ type: 'round-start', round: 1, attempt: 1, selected: ['a'] });
    rec.onEvent(received(1, 'a', a.digest));
    rec.onEvent(received(2, 'early', h('e')));
    let saved = false;
    const done = rec.roundSaved(record({ round: 1 }), weights).then(() => (saved = true));
    // Long enough for the log's own write and fsync: what it still waits for is the digest.
    await new Promise((r) => setTimeout(r, 100));
    expect(saved).toBe(false);
    await a.land();
    await done;
    expect(entries().map((e) => [e.type, e.data.siteId ?? null, e.data.code ?? null])).toEqual([['round-start', null, null], ['update', 'a', 'stale_round'], ['model', null, null]]);
    expect(a.early()).toBe(0);
  });

  it('complete() writes a digest still pending on the spot, closes an open secure attempt with no survivors, and comes through its event too', () => {
    const { rec, entries } = recorder();
    const m = manualDigest(h('m'));
    rec.onEvent({ type: 'round-start', round: 4, attempt: 1, selected: ['x'] });
    rec.onEvent({ type: 'update-received', round: 4, siteId: 'x', message: 'secaggMasked', sha256: m.digest, bytes: 8 });
    rec.onEvent({ type: 'complete', report: { status: 'aborted', rounds: [], aborted: 'stopped' } as unknown as RunReport });
    const e = entries();
    expect(e.map((x) => x.type)).toEqual(['round-start', 'secure-aggregation', 'complete']);
    expect(e[1].data).toEqual({ round: 4, attempt: 1, participants: ['x'], survivors: [], masked: { x: h('m') } });
    expect(e[2].data).toEqual({ status: 'aborted', rounds: 0, aborted: 'stopped' });
    expect(m.early()).toBe(1);
  });

  it('a retry or a new attempt closes the secure attempt at once, with no survivors', () => {
    const { rec, written } = recorder();
    rec.onEvent({ type: 'round-start', round: 2, attempt: 1, selected: ['x'] });
    rec.onEvent({ type: 'update-received', round: 2, siteId: 'x', message: 'secaggMasked', sha256: h('1'), bytes: 8 });
    rec.onEvent({ type: 'round-retry', round: 2, attempt: 1, reason: 'quorum' });
    rec.onEvent({ type: 'site-joined', siteId: 'j', backend: 'wasm', runtime: 'node', numExamples: 1 });
    rec.onEvent({ type: 'round-start', round: 2, attempt: 2, selected: ['x'] });
    rec.onEvent({ type: 'update-received', round: 2, siteId: 'x', message: 'secaggMasked', sha256: h('2'), bytes: 8 });
    rec.onEvent({ type: 'round-start', round: 2, attempt: 3, selected: ['x'] });
    const e = written();
    expect(e.map((x) => x.type)).toEqual(['round-start', 'secure-aggregation', 'join', 'round-start', 'secure-aggregation', 'round-start']);
    expect([e[1].data.survivors, e[4].data.survivors, e[4].data.masked]).toEqual([[], [], { x: h('2') }]);
  });

  it('a site policy\'s refusal of the terms is recorded as a terms refusal', () => {
    const { rec, written } = recorder();
    rec.onEvent({ type: 'site-refused', siteId: 's', reason: 'requires DP' });
    expect(written().map((e) => [e.type, e.data])).toEqual([['refusal', { kind: 'terms', siteId: 's', code: 'policy_refused', reason: 'requires DP' }]]);
  });
});
