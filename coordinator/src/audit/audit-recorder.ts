import { createHash, randomBytes } from 'node:crypto';
import { canonicalJson, clipText, RUN_LEVEL_AUDIT_TYPES, encodeWeights, type AuditEntryType, type RoundRecord, type RunReport, type WeightArrays, type WeightsManifest } from '@fedtune/shared';
import type { EngineEvent } from '../engine/round-engine.ts';
import type { AuditLog } from './audit-log.ts';

/** SHA-256 of bytes as hex (node:crypto: the coordinator hashes every update it receives). */
export function sha256OfBytes(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The hash a run's configuration is recorded under: of its canonical JSON. */
export function configHash(config: unknown): string {
  return sha256OfBytes(canonicalJson(config));
}

/** The hash of a model's weights: of their codec bytes, exactly what sites are sent. */
export function weightsHash(manifest: WeightsManifest, arrays: WeightArrays): string {
  return sha256OfBytes(encodeWeights({ manifest, arrays }));
}

export interface RunStartFacts {
  runId: string;
  configSha256: string;
  modelSha256: string;
  /** The round a resumed run continues after. */
  resumedAfterRound?: number;
}

/** A site id, a reason or a code as it goes into the log: bounded (it may come from a peer). */
const id = (s: string) => clipText(s, 128);

/**
 * Turns a run's engine events into audit entries (audit-log.ts; entry types: docs/audit.md). Updates are
 * recorded with the hash of their bytes as received (the engine's 'update-received') joined with their
 * verdict ('result'); a secure round with each site's masked-input hash, its participants and survivors.
 * `roundSaved` writes the round's model (and ε) and flushes before the model is published.
 */
export class AuditRecorder {
  /** Plain updates received and not yet judged: `${round} ${siteId}` → what was received. */
  private readonly received = new Map<string, { round: number; siteId: string; sha256: string; numExamples?: number; bytes: number }>();
  /** Masked inputs of the current secure attempt: siteId → hash. */
  private masked = new Map<string, string>();
  private attempt: { round: number; attempt: number; participants: string[] } | undefined;
  private completed = false;

  constructor(
    private readonly log: AuditLog,
    private readonly manifest: WeightsManifest,
    /** 128 random bits as hex for each entry about sites (tests pass a fixed one). */
    private readonly nonce: () => string = () => randomBytes(16).toString('hex'),
  ) {}

  runStart(facts: RunStartFacts): void {
    this.append('run-start', {
      runId: id(facts.runId),
      config: facts.configSha256,
      model: facts.modelSha256,
      // Stryker disable next-line ConditionalExpression: equivalent: an absent field and one set to undefined are the same entry (canonical JSON leaves undefined out)
      ...(facts.resumedAfterRound !== undefined ? { resumedAfterRound: facts.resumedAfterRound } : {}),
    });
  }

  /** The hash of the run's terms (what it asks of sites), when the run has terms. */
  terms(sha256: string): void {
    this.append('terms', { sha256: clipText(sha256, 128) });
  }

  /** A refusal that is not an engine event of its own (e.g. a site's policy refusing the run). */
  refusal(kind: string, data: { siteId?: string; code?: string; reason: string }): void {
    this.append('refusal', { kind: id(kind), ...(data.siteId !== undefined ? { siteId: id(data.siteId) } : {}), ...(data.code !== undefined ? { code: id(data.code) } : {}), reason: clipText(data.reason) });
  }

  onEvent(event: EngineEvent): void {
    switch (event.type) {
      case 'site-joined':
        return this.append('join', { siteId: id(event.siteId), backend: id(event.backend), runtime: id(event.runtime), numExamples: event.numExamples });
      case 'site-left':
        return this.append('leave', { siteId: id(event.siteId), reason: clipText(event.reason) });
      case 'connection-refused':
        // Only a joined site's connection: connections that never joined are anyone's, and unbounded in number
        // (their refused hellos are recorded as 'hello' refusals, up to the rate limit).
        if (event.siteId === undefined) return;
        return this.refusal('connection', { siteId: event.siteId, reason: `${clipText(event.reason)} (connection ${clipText(event.connection, 64)}, ${event.refusals} refusals)` });
      case 'hello-refused':
        return this.refusal('hello', { siteId: event.siteId, code: event.code, reason: event.reason });
      case 'terms':
        return this.terms(event.sha256);
      case 'site-refused':
        // A site's policy refused the run's terms (after its hello was authorized: bounded by the hello limits).
        return this.refusal('terms', { siteId: event.siteId, code: 'policy_refused', reason: event.reason });
      case 'round-start':
        this.closeSecureAttempt([]);
        this.attempt = { round: event.round, attempt: event.attempt, participants: event.selected.map(id) };
        return this.append('round-start', { round: event.round, attempt: event.attempt, participants: event.selected.map(id) });
      case 'update-received':
        if (event.message === 'secaggMasked') {
          this.masked.set(id(event.siteId), event.sha256);
          return;
        }
        this.received.set(`${event.round} ${event.siteId}`, { round: event.round, siteId: event.siteId, sha256: event.sha256, numExamples: event.numExamples, bytes: event.bytes });
        return;
      case 'result': {
        const k = `${event.round} ${event.siteId}`;
        const got = this.received.get(k);
        this.received.delete(k);
        return this.append('update', {
          round: event.round,
          siteId: id(event.siteId),
          ...(got
            ? {
                sha256: got.sha256,
                bytes: got.bytes,
                // Stryker disable next-line ConditionalExpression: equivalent: a numExamples key holding undefined is left out of the entry's JSON and of its canonical hash alike.
                ...(got.numExamples !== undefined ? { numExamples: got.numExamples } : {}),
              }
            : {}),
          accepted: event.accepted,
          ...(event.code !== undefined ? { code: id(event.code) } : {}),
          ...(event.reason !== undefined ? { reason: clipText(event.reason) } : {}),
        });
      }
      case 'round-retry':
        this.closeSecureAttempt([]);
        return;
      case 'complete':
        return this.complete(event.report);
    }
  }

  /**
   * A round's result, before its model is checkpointed and published: its secure sum (if any), updates that
   * arrived with no verdict, the model's hash, the privacy spent; then everything is flushed to disk.
   */
  async roundSaved(record: RoundRecord, weights: WeightArrays): Promise<void> {
    this.closeSecureAttempt(record.accepted.map((a) => a.siteId));
    this.flushUnjudged(record.round);
    this.append('model', { round: record.round, sha256: weightsHash(this.manifest, weights), ...(record.adoption ? { adopted: record.adoption.adopted } : {}) });
    if (record.privacy) this.append('privacy', { round: record.round, epsilon: Number.isFinite(record.privacy.epsilon) ? record.privacy.epsilon : String(record.privacy.epsilon), delta: record.privacy.delta });
    // Durable before the model is checkpointed and published; the fsync runs off the event loop.
    return this.log.flushAsync();
  }

  /** The run ended (complete or aborted): written once, flushed. */
  complete(report: RunReport): void {
    if (this.completed) return;
    this.completed = true;
    this.closeSecureAttempt([]);
    this.flushUnjudged(Infinity);
    this.append('complete', { status: report.status, rounds: report.rounds.length, ...(report.aborted ? { aborted: clipText(report.aborted) } : {}) });
    this.log.flush();
  }

  /**
   * An entry about sites gets a random nonce: a site's copy of the log withholds other sites' entries but keeps
   * their hashes (docs/audit.md), and without it a join's hash — a guessable name, backend and example count —
   * could be matched by trying values.
   */
  private append(type: AuditEntryType, data: Record<string, unknown>): void {
    this.log.append(type, RUN_LEVEL_AUDIT_TYPES.has(type) ? data : { ...data, nonce: this.nonce() });
  }

  /** Updates received without a verdict (e.g. after their round closed): recorded as such, up to `round`. */
  private flushUnjudged(round: number): void {
    for (const [k, u] of this.received) {
      if (u.round > round) continue;
      this.received.delete(k);
      this.append('update', {
        round: u.round,
        siteId: id(u.siteId),
        sha256: u.sha256,
        bytes: u.bytes,
        // Stryker disable next-line ConditionalExpression: equivalent: a numExamples key holding undefined is left out of the entry's JSON and of its canonical hash alike.
        ...(u.numExamples !== undefined ? { numExamples: u.numExamples } : {}),
        accepted: false,
        code: 'stale_round',
        reason: 'received with no round open for it',
      });
    }
  }

  /** Writes the secure-aggregation entry of the current attempt, if sites sent masked inputs in it. */
  private closeSecureAttempt(survivors: string[]): void {
    if (this.masked.size === 0 || !this.attempt) {
      this.masked.clear();
      return;
    }
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: the site ids of one attempt are distinct keys of a Map
    const inputs = [...this.masked].sort(([a], [b]) => (a < b ? -1 : 1));
    const { round, attempt, participants } = this.attempt;
    this.append('secure-aggregation', { round, attempt, participants, survivors: survivors.map(id), masked: Object.fromEntries(inputs) });
    this.masked = new Map();
  }
}
