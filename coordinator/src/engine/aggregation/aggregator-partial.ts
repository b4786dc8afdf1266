import { Buffer } from 'node:buffer';
import { clipText, FedtuneError, STREAMING_MAX_UPDATES } from '@fedtune/shared';
import { z } from 'zod';
import type { AggregationPlan } from './round-aggregator.ts';

/** The version of `AggregatorPartial`'s layout: a partial of another version is refused. */
export const AGGREGATOR_PARTIAL_VERSION = 1;

export const AGGREGATOR_KINDS = ['streaming-fedavg', 'individual-updates', 'central-dp', 'secure-sum'] as const;
export type AggregatorKind = (typeof AGGREGATOR_KINDS)[number];

const SiteId = z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * One aggregator's state as plain data, to be merged into another aggregator of the same run, round,
 * attempt and kind. `sites` (site-id order) lists every site in it with the examples it weighs for, so the
 * merge can refuse a site counted twice; `count` and `totalExamples` repeat their size and sum.
 */
export const AggregatorPartialEnvelope = z.strictObject({
  version: z.literal(AGGREGATOR_PARTIAL_VERSION),
  kind: z.enum(AGGREGATOR_KINDS),
  runId: z.string().min(1).max(256),
  round: z.number().int().min(1).max(2 ** 31),
  attempt: z.number().int().min(1).max(2 ** 31),
  sites: z.array(z.strictObject({ siteId: SiteId, numExamples: z.number().int().min(0).max(2 ** 53 - 1) })).max(STREAMING_MAX_UPDATES),
  count: z.number().int().min(0).max(STREAMING_MAX_UPDATES),
  totalExamples: z.number().int().min(0).max(2 ** 53 - 1),
  /** The kind's own state, validated by that aggregator (`merge`). */
  state: z.record(z.string(), z.unknown()),
});
export type AggregatorPartial = z.output<typeof AggregatorPartialEnvelope>;

/**
 * Checks a partial's envelope against the aggregator it is merged into: the schema, the kind, the run,
 * round and attempt, the counts, and that none of its sites is already in (or twice in) the aggregate.
 * Throws FedtuneError 'malformed_payload', 'stale_round' or 'duplicate_result' (messages clipped).
 */
export function checkPartialEnvelope(raw: unknown, kind: AggregatorKind, plan: AggregationPlan | undefined, present: { has(siteId: string): boolean }): AggregatorPartial {
  if (!plan) throw new FedtuneError('stale_round', 'the aggregator has no round in progress (begin was not called)');
  const parsed = AggregatorPartialEnvelope.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FedtuneError('malformed_payload', clipText(`not an aggregator partial: ${issue.path.join('.') || '(root)'}: ${issue.message}`));
  }
  const p = parsed.data;
  if (p.kind !== kind) throw new FedtuneError('malformed_payload', `a ${p.kind} partial cannot merge into a ${kind} aggregator`);
  if (p.runId !== plan.runId) throw new FedtuneError('stale_round', clipText(`the partial is of run ${p.runId}, not ${plan.runId}`));
  if (p.round !== plan.round || p.attempt !== plan.attempt) {
    throw new FedtuneError('stale_round', `the partial is of round ${p.round} attempt ${p.attempt}, not round ${plan.round} attempt ${plan.attempt}`);
  }
  if (p.count !== p.sites.length) throw new FedtuneError('malformed_payload', `the partial's count ${p.count} is not its ${p.sites.length} sites`);
  const total = p.sites.reduce((n, s) => n + s.numExamples, 0);
  if (p.totalExamples !== total) throw new FedtuneError('malformed_payload', `the partial's totalExamples ${p.totalExamples} is not its sites' ${total}`);
  const seen = new Set<string>();
  for (const { siteId } of p.sites) {
    if (seen.has(siteId)) throw new FedtuneError('duplicate_result', `site ${siteId} is twice in the partial`);
    if (present.has(siteId)) throw new FedtuneError('duplicate_result', `site ${siteId} is already in the aggregate`);
    seen.add(siteId);
  }
  return p;
}

/** The partial's `sites` entries in site-id order. */
export function sitesInOrder(sites: Iterable<{ siteId: string; numExamples: number }>): Array<{ siteId: string; numExamples: number }> {
  return [...sites].map((s) => ({ siteId: s.siteId, numExamples: s.numExamples })).sort((a, b) => bySiteId(a.siteId, b.siteId));
}

export function bySiteId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** An envelope around a kind's state. */
export function partialOf(kind: AggregatorKind, plan: AggregationPlan, sites: Iterable<{ siteId: string; numExamples: number }>, state: Record<string, unknown>): AggregatorPartial {
  const ordered = sitesInOrder(sites);
  return {
    version: AGGREGATOR_PARTIAL_VERSION,
    kind,
    runId: plan.runId,
    round: plan.round,
    attempt: plan.attempt,
    sites: ordered,
    count: ordered.length,
    totalExamples: ordered.reduce((n, s) => n + s.numExamples, 0),
    state,
  };
}

/** Bytes as base64 text. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Base64 text that must decode to exactly `byteLength` bytes (a fresh, aligned copy). Throws 'malformed_payload'. */
export function decodeBase64(value: unknown, byteLength: number, what: string): Uint8Array {
  // The length first: the layout fixes it, so no text of another length is even scanned.
  if (typeof value !== 'string' || value.length !== 4 * Math.ceil(byteLength / 3) || !BASE64.test(value)) throw new FedtuneError('malformed_payload', `${what} must be base64 of ${byteLength} bytes`);
  const decoded = Buffer.from(value, 'base64');
  if (decoded.byteLength !== byteLength) throw new FedtuneError('malformed_payload', `${what} must be base64 of ${byteLength} bytes`);
  const out = new Uint8Array(byteLength);
  out.set(decoded);
  return out;
}

/**
 * A binary state field as it may travel: base64 text (JSON, the HTTP API) or the bytes themselves (a cluster
 * message: msgpack carries binary, so the leader neither scans nor decodes megabytes of text). Either way
 * exactly `byteLength` bytes, copied out of the message.
 */
export function decodeBinaryField(value: unknown, byteLength: number, what: string): Uint8Array {
  if (value instanceof Uint8Array) {
    if (value.byteLength !== byteLength) throw new FedtuneError('malformed_payload', `${what} must be ${byteLength} bytes`);
    return new Uint8Array(value);
  }
  return decodeBase64(value, byteLength, what);
}

/** Float32 tensors, concatenated, as base64 (little-endian, as the platform stores them). */
export function encodeTensors(tensors: readonly Float32Array[]): string {
  const total = tensors.reduce((n, t) => n + t.length, 0);
  const flat = new Float32Array(total);
  let k = 0;
  for (const t of tensors) {
    flat.set(t, k);
    k += t.length;
  }
  return encodeBase64(new Uint8Array(flat.buffer));
}

/** `encodeTensors`' output back into tensors of `lengths`; every value must be finite. Throws 'malformed_payload' / 'non_finite'. */
export function decodeTensors(value: unknown, lengths: readonly number[], what: string): Float32Array[] {
  const total = lengths.reduce((n, l) => n + l, 0);
  const flat = new Float32Array(decodeBase64(value, 4 * total, what).buffer);
  for (let i = 0; i < flat.length; i++) {
    if (!Number.isFinite(flat[i])) throw new FedtuneError('non_finite', `${what} has a non-finite value at index ${i}`);
  }
  const out: Float32Array[] = [];
  let k = 0;
  for (const n of lengths) {
    out.push(flat.slice(k, k + n));
    k += n;
  }
  return out;
}

/** A kind's state field that must be an array of exactly `length` entries. */
export function stateArray(state: Record<string, unknown>, key: string, length: number): unknown[] {
  const value = state[key];
  if (!Array.isArray(value) || value.length !== length) throw new FedtuneError('malformed_payload', `the partial's state.${key} must be an array of ${length} entries`);
  return value;
}
