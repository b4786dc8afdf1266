import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeWeights, sha256Hex, verifyAuditChain, type AuditEntry, type RoundRecord, type RunReport, type WeightsManifest } from '@fedtune/shared';
import { AuditLog } from '../../coordinator/src/audit/audit-log.ts';
import { AuditRecorder, configHash } from '../../coordinator/src/audit/audit-recorder.ts';
import { tempDir } from '../helpers/federation.ts';

const manifest: WeightsManifest = [{ name: 'w', shape: [2], dtype: 'float32' }];
const weights = [new Float32Array([1, 2])];
/** The nonce every entry about sites carries (AuditRecorder's third argument). */
const NONCE = 'f'.repeat(32);

function recorder(): { rec: AuditRecorder; entries: () => AuditEntry[] } {
  const path = join(tempDir('fedtune-audit-rec-'), 'audit.jsonl');
  const log = AuditLog.open(path);
  const rec = new AuditRecorder(log, manifest, () => NONCE);
  return {
    rec,
    entries: () => {
      log.flush();
      const v = verifyAuditChain(readFileSync(path, 'utf8'));
      if (!v.ok) throw new Error(v.message);
      return v.good;
    },
  };
}

const record = (over: Partial<RoundRecord>): RoundRecord => ({ round: 1, durationMs: 0, attempts: 1, selected: ['a', 'b'], accepted: [{ siteId: 'a', numExamples: 1, loss: 0, accuracy: 0, durationMs: 0 }], rejected: [], failed: [], bytesDown: 0, bytesUp: 0, global: { accuracy: 0, loss: 0 }, modelDir: 'm', ...over }) as RoundRecord;

describe('AuditRecorder', () => {
  it('joins an update\'s received hash with its verdict; an update with no verdict is recorded as stale when its round is saved', () => {
    const { rec, entries } = recorder();
    rec.onEvent({ type: 'round-start', round: 1, attempt: 1, selected: ['a', 'b'] });
    rec.onEvent({ type: 'update-received', round: 1, siteId: 'a', message: 'fitResult', sha256: 'a'.repeat(64), bytes: 10, numExamples: 5 });
    rec.onEvent({ type: 'update-received', round: 1, siteId: 'b', message: 'fitResult', sha256: 'b'.repeat(64), bytes: 11, numExamples: 6 });
    rec.onEvent({ type: 'result', round: 1, siteId: 'a', accepted: false, code: 'non_finite', reason: 'x'.repeat(1000) });
    rec.onEvent({ type: 'result', round: 1, siteId: 'c', accepted: false, code: 'malformed_payload', reason: 'bad' });
    rec.roundSaved(record({ privacy: { epsilon: 1.5, delta: 1e-5 } as RoundRecord['privacy'] }), weights);
    const e = entries();
    expect(e.map((x) => x.type)).toEqual(['round-start', 'update', 'update', 'update', 'model', 'privacy']);
    expect(e[0].data).toEqual({ round: 1, attempt: 1, participants: ['a', 'b'], nonce: NONCE });
    expect(e[1].data).toEqual({ round: 1, siteId: 'a', sha256: 'a'.repeat(64), bytes: 10, numExamples: 5, accepted: false, code: 'non_finite', reason: `${'x'.repeat(300)}… (700 more characters)`, nonce: NONCE });
    expect(e[2].data).toEqual({ round: 1, siteId: 'c', accepted: false, code: 'malformed_payload', reason: 'bad', nonce: NONCE });
    expect(e[3].data).toEqual({ round: 1, siteId: 'b', sha256: 'b'.repeat(64), bytes: 11, numExamples: 6, accepted: false, code: 'stale_round', reason: 'received with no round open for it', nonce: NONCE });
    expect(e[4].data).toEqual({ round: 1, sha256: sha256Hex(encodeWeights({ manifest, arrays: weights })) });
    expect(e[5].data).toEqual({ round: 1, epsilon: 1.5, delta: 1e-5 });
  });

  it('records a secure attempt with each masked hash, its participants and survivors; a failed attempt with none', () => {
    const { rec, entries } = recorder();
    rec.onEvent({ type: 'round-start', round: 2, attempt: 1, selected: ['a', 'b', 'c'] });
    rec.onEvent({ type: 'update-received', round: 2, siteId: 'b', message: 'secaggMasked', sha256: '2'.repeat(64), bytes: 8 });
    rec.onEvent({ type: 'round-retry', round: 2, attempt: 1, reason: 'quorum' });
    rec.onEvent({ type: 'round-start', round: 2, attempt: 2, selected: ['a', 'b'] });
    rec.onEvent({ type: 'update-received', round: 2, siteId: 'b', message: 'secaggMasked', sha256: '4'.repeat(64), bytes: 8 });
    rec.onEvent({ type: 'update-received', round: 2, siteId: 'a', message: 'secaggMasked', sha256: '3'.repeat(64), bytes: 8 });
    rec.roundSaved(record({ round: 2, selected: ['a', 'b'], adoption: { adopted: false, refusals: [] } as RoundRecord['adoption'] }), weights);
    const e = entries();
    expect(e.map((x) => x.type)).toEqual(['round-start', 'secure-aggregation', 'round-start', 'secure-aggregation', 'model']);
    expect(e[1].data).toEqual({ round: 2, attempt: 1, participants: ['a', 'b', 'c'], survivors: [], masked: { b: '2'.repeat(64) }, nonce: NONCE });
    expect(e[3].data).toEqual({ round: 2, attempt: 2, participants: ['a', 'b'], survivors: ['a'], masked: { a: '3'.repeat(64), b: '4'.repeat(64) }, nonce: NONCE });
    expect(Object.keys(e[3].data.masked as object)).toEqual(['a', 'b']);
    expect(e[4].data).toMatchObject({ round: 2, adopted: false });
  });

  it('records run start, terms, joins, leaves, refusals and completion once, bounded', () => {
    const { rec, entries } = recorder();
    rec.runStart({ runId: 'r', configSha256: configHash({ b: 1, a: 2 }), modelSha256: 'm'.repeat(64), resumedAfterRound: 2 });
    rec.onEvent({ type: 'terms', sha256: 't'.repeat(64) });
    rec.onEvent({ type: 'site-joined', siteId: 's'.repeat(200), backend: 'wasm', runtime: 'node', numExamples: 3 });
    rec.onEvent({ type: 'site-left', siteId: 'a', reason: 'transport close' });
    rec.onEvent({ type: 'connection-refused', connection: 'c1', siteId: 'a', refusals: 11, reason: 'too many' });
    rec.onEvent({ type: 'connection-refused', connection: 'c2', refusals: 1, reason: 'closed without joining' });
    rec.onEvent({ type: 'hello-refused', siteId: 'z', code: 'unauthorized', reason: 'bad token' });
    rec.refusal('policy', { siteId: 'b', code: 'config', reason: 'requires DP' });
    rec.onEvent({ type: 'waiting', joined: 1, needed: 2 });
    const report = { status: 'aborted', rounds: [], aborted: 'stopped' } as unknown as RunReport;
    rec.complete(report);
    rec.onEvent({ type: 'complete', report });
    const e = entries();
    expect(e.map((x) => x.type)).toEqual(['run-start', 'terms', 'join', 'leave', 'refusal', 'refusal', 'refusal', 'complete']);
    expect(e[0].data).toEqual({ runId: 'r', config: sha256Hex('{"a":2,"b":1}'), model: 'm'.repeat(64), resumedAfterRound: 2 });
    expect(e[1].data).toEqual({ sha256: 't'.repeat(64) });
    expect(e[2].data).toEqual({ siteId: `${'s'.repeat(128)}… (72 more characters)`, backend: 'wasm', runtime: 'node', numExamples: 3, nonce: NONCE });
    expect(e[3].data).toEqual({ siteId: 'a', reason: 'transport close', nonce: NONCE });
    expect(e[4].data).toEqual({ kind: 'connection', siteId: 'a', reason: 'too many (connection c1, 11 refusals)', nonce: NONCE });
    expect(e[5].data).toEqual({ kind: 'hello', siteId: 'z', code: 'unauthorized', reason: 'bad token', nonce: NONCE });
    expect(e[6].data).toEqual({ kind: 'policy', siteId: 'b', code: 'config', reason: 'requires DP', nonce: NONCE });
    expect(e[7].data).toEqual({ status: 'aborted', rounds: 0, aborted: 'stopped' });
  });
  it('by default each entry about sites gets its own random 128-bit nonce; entries about the run get none', () => {
    const path = join(tempDir('fedtune-audit-nonce-'), 'audit.jsonl');
    const log = AuditLog.open(path);
    const rec = new AuditRecorder(log, manifest);
    rec.runStart({ runId: 'r', configSha256: 'c'.repeat(64), modelSha256: 'm'.repeat(64) });
    rec.refusal('policy', { reason: 'a' });
    rec.refusal('policy', { reason: 'a' });
    log.flush();
    const e = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AuditEntry);
    expect(e[0].data.nonce).toBeUndefined();
    expect([e[1].data.nonce, e[2].data.nonce]).toEqual([expect.stringMatching(/^[0-9a-f]{32}$/), expect.stringMatching(/^[0-9a-f]{32}$/)]);
    expect(e[1].data.nonce).not.toBe(e[2].data.nonce);
  });

  it('a refusal without a site or a code records neither key', () => {
    const { rec, entries } = recorder();
    rec.refusal('policy', { reason: 'refused before naming itself' });
    rec.refusal('policy', { siteId: 'a', reason: 'no code' });
    const e = entries();
    expect(e.map((x) => x.data)).toEqual([
      { kind: 'policy', reason: 'refused before naming itself', nonce: NONCE },
      { kind: 'policy', siteId: 'a', reason: 'no code', nonce: NONCE },
    ]);
  });
});
