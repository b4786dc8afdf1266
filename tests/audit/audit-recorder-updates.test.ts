import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyAuditChain, type AuditEntry, type RoundRecord, type RunReport, type WeightsManifest } from '@fedtune/shared';
import { AuditLog } from '../../coordinator/src/audit/audit-log.ts';
import { AuditRecorder, sha256OfBytes } from '../../coordinator/src/audit/audit-recorder.ts';
import { tempDir } from '../helpers/federation.ts';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const manifest: WeightsManifest = [{ name: 'w', shape: [2], dtype: 'float32' }];
const weights = [new Float32Array([1, 2])];
/** The nonce every entry about sites carries (AuditRecorder's third argument). */
const NONCE = 'f'.repeat(32);
const record = (over: Partial<RoundRecord>): RoundRecord => ({ round: 1, durationMs: 0, attempts: 1, selected: ['a', 'b'], accepted: [], rejected: [], failed: [], bytesDown: 0, bytesUp: 0, global: { accuracy: 0, loss: 0 }, modelDir: 'm', ...over }) as RoundRecord;

function recorder(): { rec: AuditRecorder; entries: () => AuditEntry[]; written: () => AuditEntry[] } {
  const path = join(tempDir('fedtune-audit-digest-'), 'audit.jsonl');
  const log = AuditLog.open(path);
  const read = () => {
    const v = verifyAuditChain(readFileSync(path, 'utf8'));
    if (!v.ok) throw new Error(v.message);
    return v.good;
  };
  return { rec: new AuditRecorder(log, manifest, () => NONCE), written: () => (log.flush(), read()), entries: read };
}

describe('sha256OfBytes: an update\'s audit digest', () => {
  it('is the SHA-256 of exactly the viewed bytes (a view into a larger buffer, as socket.io hands updates over)', () => {
    const backing = randomBytes(64 * 1024 + 16);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 8, 64 * 1024);
    expect(sha256OfBytes(view)).toBe(createHash('sha256').update(Buffer.from(backing.subarray(8, 8 + 64 * 1024))).digest('hex'));
    expect(sha256OfBytes(view)).not.toBe(sha256(backing));
    expect(sha256OfBytes(view)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('AuditRecorder: updates and secure inputs with their digests', () => {
  it('keeps the events\' order; an update without a verdict is recorded stale when its round is saved', async () => {
    const { rec, entries } = recorder();
    const a = randomBytes(200_000);
    const b = randomBytes(300_000);
    rec.onEvent({ type: 'round-start', round: 1, attempt: 1, selected: ['a', 'b'] });
    rec.onEvent({ type: 'update-received', round: 1, siteId: 'a', message: 'fitResult', sha256: sha256(a), bytes: a.byteLength, numExamples: 5 });
    rec.onEvent({ type: 'result', round: 1, siteId: 'a', accepted: true });
    rec.onEvent({ type: 'site-left', siteId: 'z', reason: 'gone' });
    rec.onEvent({ type: 'update-received', round: 1, siteId: 'b', message: 'fitResult', sha256: sha256(b), bytes: b.byteLength, numExamples: 6 });
    await rec.roundSaved(record({}), weights);
    const e = entries();
    expect(e.map((x) => x.type)).toEqual(['round-start', 'update', 'leave', 'update', 'model']);
    expect(e[1].data).toEqual({ round: 1, siteId: 'a', sha256: sha256(a), bytes: a.byteLength, numExamples: 5, accepted: true, nonce: NONCE });
    expect(e[2].data).toEqual({ siteId: 'z', reason: 'gone', nonce: NONCE });
    expect(e[3].data).toMatchObject({ siteId: 'b', sha256: sha256(b), accepted: false, code: 'stale_round' });
  });

  it('a secure attempt records every masked input\'s digest', async () => {
    const { rec, entries } = recorder();
    const x = randomBytes(50_000);
    const y = randomBytes(60_000);
    rec.onEvent({ type: 'round-start', round: 2, attempt: 1, selected: ['x', 'y'] });
    rec.onEvent({ type: 'update-received', round: 2, siteId: 'y', message: 'secaggMasked', sha256: sha256(y), bytes: y.byteLength });
    rec.onEvent({ type: 'update-received', round: 2, siteId: 'x', message: 'secaggMasked', sha256: sha256(x), bytes: x.byteLength });
    await rec.roundSaved(record({ round: 2, accepted: [{ siteId: 'x', numExamples: 1, loss: 0, accuracy: 0, durationMs: 0 }] as RoundRecord['accepted'] }), weights);
    const e = entries();
    expect(e.map((q) => q.type)).toEqual(['round-start', 'secure-aggregation', 'model']);
    expect(e[1].data).toEqual({ round: 2, attempt: 1, participants: ['x', 'y'], survivors: ['x'], masked: { x: sha256(x), y: sha256(y) }, nonce: NONCE });
  });

  it('complete() writes what is left, in order, synchronously', () => {
    const { rec, entries } = recorder();
    const a = randomBytes(400_000);
    rec.onEvent({ type: 'update-received', round: 3, siteId: 'a', message: 'fitResult', sha256: sha256(a), bytes: a.byteLength });
    rec.onEvent({ type: 'result', round: 3, siteId: 'a', accepted: true });
    rec.complete({ status: 'complete', rounds: [] } as unknown as RunReport);
    const e = entries();
    expect(e.map((q) => q.type)).toEqual(['update', 'complete']);
    expect(e[0].data).toMatchObject({ siteId: 'a', sha256: sha256(a) });
  });
});

describe('AuditRecorder: each update joined with its verdict', () => {
  const h = (c: string) => c.repeat(64);
  const received = (round: number, siteId: string, sha256: string) => ({ type: 'update-received' as const, round, siteId, message: 'fitResult' as const, sha256, bytes: 4, numExamples: 2 });

  it('writes each update when its verdict comes, with the digest it was received with; a verdict with no update has no digest', () => {
    const { rec, written } = recorder();
    rec.onEvent(received(1, 'a', h('a')));
    rec.onEvent(received(1, 'b', h('b')));
    expect(written()).toEqual([]);
    rec.onEvent({ type: 'result', round: 1, siteId: 'b', accepted: false, code: 'non_finite', reason: 'nan' });
    rec.onEvent({ type: 'site-left', siteId: 'z', reason: 'gone' });
    rec.onEvent({ type: 'result', round: 1, siteId: 'a', accepted: true });
    rec.onEvent({ type: 'result', round: 1, siteId: 'nobody', accepted: false, code: 'unauthorized', reason: 'x' });
    expect(written().map((e) => [e.type, e.data.siteId, e.data.sha256 ?? null, e.data.accepted ?? null])).toEqual([
      ['update', 'b', h('b'), false],
      ['leave', 'z', null, null],
      ['update', 'a', h('a'), true],
      ['update', 'nobody', null, false],
    ]);
  });

  it('an update of a later round is not recorded as stale when a round is saved', async () => {
    const { rec, entries, written } = recorder();
    rec.onEvent({ type: 'round-start', round: 1, attempt: 1, selected: ['a'] });
    rec.onEvent(received(1, 'a', h('a')));
    rec.onEvent(received(2, 'early', h('e')));
    await rec.roundSaved(record({ round: 1 }), weights);
    expect(entries().map((e) => [e.type, e.data.siteId ?? null, e.data.code ?? null])).toEqual([['round-start', null, null], ['update', 'a', 'stale_round'], ['model', null, null]]);
    rec.onEvent({ type: 'result', round: 2, siteId: 'early', accepted: true });
    expect(written().at(-1)).toMatchObject({ type: 'update', data: { round: 2, siteId: 'early', sha256: h('e'), accepted: true } });
  });

  it('complete() closes an open secure attempt with no survivors, and comes through its event too', () => {
    const { rec, entries } = recorder();
    rec.onEvent({ type: 'round-start', round: 4, attempt: 1, selected: ['x'] });
    rec.onEvent({ type: 'update-received', round: 4, siteId: 'x', message: 'secaggMasked', sha256: h('m'), bytes: 8 });
    rec.onEvent({ type: 'complete', report: { status: 'aborted', rounds: [], aborted: 'stopped' } as unknown as RunReport });
    const e = entries();
    expect(e.map((x) => x.type)).toEqual(['round-start', 'secure-aggregation', 'complete']);
    expect(e[1].data).toEqual({ round: 4, attempt: 1, participants: ['x'], survivors: [], masked: { x: h('m') }, nonce: NONCE });
    expect(e[2].data).toEqual({ status: 'aborted', rounds: 0, aborted: 'stopped' });
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
    expect(written().map((e) => [e.type, e.data])).toEqual([['refusal', { kind: 'terms', siteId: 's', code: 'policy_refused', reason: 'requires DP', nonce: NONCE }]]);
  });
});
