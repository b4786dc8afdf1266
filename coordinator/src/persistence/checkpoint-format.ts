import { createHash } from 'node:crypto';
import { decodeWeights, encodeWeights, FedtuneError, type RoundRecord, type RunReport, type Weights } from '@fedtune/shared';
import { checkUnresponsiveSitesState, type UnresponsiveSitesState } from '../engine/unresponsive-sites.ts';
import { decodeState, encodeState } from './state-codec.ts';
import { reportSkeletonJson } from './settled-rounds.ts';
import type { SettledRoundsRef } from './settled-rounds-log.ts';

/** Everything needed to continue a run after round `round` exactly as if it had never stopped. */
export interface Checkpoint {
  runId: string;
  /** The last completed round (0 = before the first round). */
  round: number;
  /** The global weights after `round`. */
  weights: Weights;
  /** The strategy's state (nested plain objects with Float32Arrays, numbers, null…). */
  strategyState: unknown;
  /** The random generators' states by name (`SeededRandom.state`), e.g. `{ sample: 123 }`. */
  rng: Record<string, number>;
  /** The privacy accountant's state (opaque JSON-like value; may hold typed arrays), once it exists. */
  accountant?: unknown;
  /** The final model's average so far (`averageRounds`: { count, sums }), inside its window. */
  averaging?: unknown;
  /** Sites cooling down after giving no answer (`UnresponsiveSites.state`), when any are on record. */
  stragglers?: UnresponsiveSitesState;
  /** The report so far (rounds 1..round). */
  report: RunReport;
  /** ISO time the checkpoint was written (set by `encodeCheckpoint` when absent). */
  createdAt?: string;
}

/**
 * File layout (little-endian):
 *
 *   prefix   "FTCK" | u32 format (2; 1 is read too) | u32 header length | u32 0
 *   header   UTF-8 JSON {format, runId, round, createdAt, bodyBytes, sha256, settledRounds?}, zero-padded to 8 bytes
 *   body     u32 meta length | u32 0 | UTF-8 meta JSON, zero-padded to 8 | sections, each padded to 8
 *
 * `sha256` is the hex SHA-256 of the whole body and `bodyBytes` its length, so a truncated, extended or
 * bit-flipped file is detected before anything in the body is trusted. The meta JSON holds the round,
 * rng, accountant, report and the strategy state's skeleton (see state-codec.ts), plus the offset and
 * length of every section relative to the body, and the straggler records (plain JSON, when any). Section 0 is the global weights (`encodeWeights`);
 * the others are the typed arrays of the strategy state, then of the accountant, then of the
 * final model's running average (`averaging`, with `accountantBlobs` telling the two apart).
 *
 * Format 2: the report's first settled round records are not in the meta but in the run's settled-rounds file
 * (settled-rounds-log.ts), which the meta's `settledRounds` refers to by line count, byte length and the hash chain
 * over those lines — covered by `sha256` like the rest of the meta, so the rounds stay verified. The meta's report
 * holds only the rounds after them. The header repeats the file's name (`settledRounds`, unverified: only for
 * deciding which files the store may delete). Format 1 (every round in the meta) is read as before.
 */
export const CHECKPOINT_FORMAT = 2;
const READABLE_FORMATS = [1, 2];
const MAGIC = 0x4b435446; // "FTCK" as little-endian u32
const PREFIX_BYTES = 16;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function pad8(n: number): number {
  return (n + 7) & ~7;
}

export interface CheckpointHeader {
  format: number;
  runId: string;
  round: number;
  createdAt: string;
  bodyBytes: number;
  sha256: string;
  /** Format 2: the name of the settled-rounds file the meta refers to (a hint for pruning; the meta's reference is the verified one). */
  settledRounds?: string;
}

interface Meta {
  runId: string;
  round: number;
  createdAt: string;
  rng: Record<string, number>;
  /** The report, its rounds from `settledRounds.count` on (format 2) or all of them (format 1). */
  report: string;
  /** Format 2: where the report's first rounds are (absent: all are in `report`). */
  settledRounds?: SettledRoundsRef;
  strategyState: string;
  strategyBlobs: number;
  accountant?: string;
  /** Sections of the accountant (absent in checkpoints written before `averaging` existed: the rest are its). */
  accountantBlobs?: number;
  averaging?: string;
  stragglers?: UnresponsiveSitesState;
  sections: Array<[offset: number, length: number]>;
}

/** The checkpoint's encoding of a part of the report (no typed arrays allowed): `encodeState(value).json`. */
export function encodeReportPart(value: unknown): string {
  const encoded = encodeState(value);
  if (encoded.blobs.length) throw new FedtuneError('codec', 'the report must not hold typed arrays');
  return encoded.json;
}

/**
 * Encodes a checkpoint as chunks to write back to back (no single big copy of the weights). With `settledRounds`,
 * the report's first `settledRounds.count` rounds are left to that file (already written from the same records).
 */
export function encodeCheckpoint(ckpt: Checkpoint, settledRounds?: SettledRoundsRef): { chunks: Uint8Array[]; header: CheckpointHeader; bytes: number } {
  const createdAt = ckpt.createdAt ?? new Date().toISOString();
  const weightBytes = encodeWeights(ckpt.weights);
  const state = encodeState(ckpt.strategyState);
  const accountant = ckpt.accountant === undefined ? undefined : encodeState(ckpt.accountant);
  const averaging = ckpt.averaging === undefined ? undefined : encodeState(ckpt.averaging);
  // The report grows by a round of site entries per round: its settled rounds are in their own file (appended
  // once each), and any others here are encoded once when settled (settled-rounds.ts).
  if (settledRounds && settledRounds.count > ckpt.report.rounds.length) {
    throw new FedtuneError('internal', `checkpoint of round ${ckpt.round}: ${settledRounds.count} settled rounds referred to, the report has ${ckpt.report.rounds.length}`);
  }
  const reportPart = settledRounds ? { ...ckpt.report, rounds: ckpt.report.rounds.slice(settledRounds.count) } : ckpt.report;
  const report = { json: reportSkeletonJson(reportPart, encodeReportPart) };
  for (const [name, value] of Object.entries(ckpt.rng)) {
    if (!Number.isFinite(value)) throw new FedtuneError('codec', `rng state ${name} is not a finite number`);
  }
  const sectionData = [weightBytes, ...state.blobs, ...(accountant?.blobs ?? []), ...(averaging?.blobs ?? [])];

  // Offsets depend on the meta length, which depends on the offsets: lay out the sections relative to
  // the end of the meta, then shift them once the meta's padded length is known (a fixed point in ≤3 steps).
  const relative: Array<[number, number]> = [];
  let pos = 0;
  for (const s of sectionData) {
    relative.push([pos, s.byteLength]);
    pos = pad8(pos + s.byteLength);
  }
  const sectionsBytes = pos;
  let metaStart = 0;
  let metaJson = new Uint8Array();
  for (let guess = 8; ; ) {
    const meta: Meta = {
      runId: ckpt.runId,
      round: ckpt.round,
      createdAt,
      rng: ckpt.rng,
      report: report.json,
      ...(settledRounds ? { settledRounds } : {}),
      strategyState: state.json,
      strategyBlobs: state.blobs.length,
      accountant: accountant?.json,
      ...(averaging ? { accountantBlobs: accountant?.blobs.length ?? 0, averaging: averaging.json } : {}),
      ...(ckpt.stragglers ? { stragglers: ckpt.stragglers } : {}),
      sections: relative.map(([o, l]) => [guess + o, l]),
    };
    metaJson = encoder.encode(JSON.stringify(meta));
    const start = pad8(8 + metaJson.byteLength);
    if (start === guess) {
      metaStart = start;
      break;
    }
    guess = start;
  }
  const bodyChunks: Uint8Array[] = [];
  const metaPrefix = new Uint8Array(8);
  new DataView(metaPrefix.buffer).setUint32(0, metaJson.byteLength, true);
  bodyChunks.push(metaPrefix, metaJson, new Uint8Array(metaStart - 8 - metaJson.byteLength));
  for (const s of sectionData) {
    bodyChunks.push(s, new Uint8Array(pad8(s.byteLength) - s.byteLength));
  }
  const bodyBytes = metaStart + sectionsBytes;
  const hash = createHash('sha256');
  for (const c of bodyChunks) hash.update(c);
  const header: CheckpointHeader = { format: CHECKPOINT_FORMAT, runId: ckpt.runId, round: ckpt.round, createdAt, bodyBytes, sha256: hash.digest('hex'), ...(settledRounds ? { settledRounds: settledRounds.file } : {}) };
  const headerJson = encoder.encode(JSON.stringify(header));
  const prefix = new Uint8Array(PREFIX_BYTES);
  const view = new DataView(prefix.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, CHECKPOINT_FORMAT, true);
  view.setUint32(8, headerJson.byteLength, true);
  const headerPad = new Uint8Array(pad8(PREFIX_BYTES + headerJson.byteLength) - PREFIX_BYTES - headerJson.byteLength);
  const chunks = [prefix, headerJson, headerPad, ...bodyChunks];
  return { chunks, header, bytes: chunks.reduce((n, c) => n + c.byteLength, 0) };
}

/** Reads and checks the header only (no checksum). Throws FedtuneError('codec') on anything wrong. */
export function readCheckpointHeader(bytes: Uint8Array): { header: CheckpointHeader; bodyOffset: number } {
  if (bytes.byteLength < PREFIX_BYTES) throw new FedtuneError('codec', `checkpoint is ${bytes.byteLength} bytes, shorter than its prefix`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new FedtuneError('codec', 'not a fedtune checkpoint (bad magic number)');
  const format = view.getUint32(4, true);
  if (!READABLE_FORMATS.includes(format)) throw new FedtuneError('codec', `checkpoint format ${format} is not supported (expected ${READABLE_FORMATS.join(' or ')})`);
  const headerLength = view.getUint32(8, true);
  if (PREFIX_BYTES + headerLength > bytes.byteLength) throw new FedtuneError('codec', 'checkpoint header runs past the end of the file (truncated?)');
  let header: CheckpointHeader;
  try {
    header = JSON.parse(decoder.decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength))) as CheckpointHeader;
  } catch (cause) {
    throw new FedtuneError('codec', 'checkpoint header is not valid JSON', { cause });
  }
  if (typeof header.sha256 !== 'string' || !Number.isInteger(header.bodyBytes) || !Number.isInteger(header.round)) {
    throw new FedtuneError('codec', 'checkpoint header lacks sha256, bodyBytes or round');
  }
  if (header.format !== format) throw new FedtuneError('codec', `checkpoint header says format ${String(header.format).slice(0, 32)}, its prefix ${format}`);
  return { header, bodyOffset: pad8(PREFIX_BYTES + headerLength) };
}

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';

/**
 * The meta's shape, checked before any of it is used (the checksum catches corruption, not a file written by
 * something else): the fields' types, every section inside the body, and at least as many sections as the weights,
 * the strategy state and the accountant claim. Throws FedtuneError('codec') naming the first bad field.
 */
function checkMeta(value: unknown, bodyBytes: number): Meta {
  const bad = (what: string): never => {
    throw new FedtuneError('codec', `checkpoint meta: ${what}`);
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return bad('not an object');
  const m = value as Record<string, unknown>;
  if (typeof m.runId !== 'string') bad('runId is not a string');
  if (!isCount(m.round)) bad('round is not a non-negative integer');
  if (typeof m.createdAt !== 'string') bad('createdAt is not a string');
  if (m.rng === null || typeof m.rng !== 'object' || Array.isArray(m.rng)) bad('rng is not an object');
  for (const [name, v] of Object.entries(m.rng as object)) if (!Number.isFinite(v)) bad(`rng state ${name.slice(0, 64)} is not a finite number`);
  if (typeof m.report !== 'string' || typeof m.strategyState !== 'string') bad('report or strategyState is not an encoded string');
  if (!optionalString(m.accountant) || !optionalString(m.averaging)) bad('accountant or averaging is not an encoded string');
  if (!isCount(m.strategyBlobs)) bad('strategyBlobs is not a count');
  if (m.accountantBlobs !== undefined && !isCount(m.accountantBlobs)) bad('accountantBlobs is not a count');
  if (m.settledRounds !== undefined && (m.settledRounds === null || typeof m.settledRounds !== 'object')) bad('settledRounds is not a reference');
  if (!Array.isArray(m.sections)) return bad('sections is not a list');
  m.sections.forEach((s: unknown, i) => {
    if (!Array.isArray(s) || s.length !== 2 || !isCount(s[0]) || !isCount(s[1])) bad(`section ${i} is not an [offset, length] pair`);
    const [offset, length] = s as [number, number];
    if (offset + length > bodyBytes) bad(`section ${i} lies outside the body`);
  });
  const claimed = 1 + (m.strategyBlobs as number) + ((m.accountantBlobs as number | undefined) ?? 0);
  if (m.sections.length < claimed) bad(`${m.sections.length} sections, fewer than the ${claimed} the weights, strategy state and accountant claim`);
  return m as unknown as Meta;
}

/**
 * Verifies the checksum and decodes a checkpoint. Throws FedtuneError('codec') saying what is wrong. A format-2
 * checkpoint's first rounds come from `readSettledRounds` (checkpoint-store.ts reads and verifies them against the
 * reference), which only a checkpoint that refers to a settled-rounds file needs.
 */
export function decodeCheckpoint(bytes: Uint8Array, readSettledRounds?: (ref: SettledRoundsRef) => RoundRecord[]): Checkpoint {
  const { header, bodyOffset } = readCheckpointHeader(bytes);
  const actual = bytes.byteLength - bodyOffset;
  if (actual !== header.bodyBytes) {
    // Stryker disable next-line EqualityOperator: equivalent: here actual ≠ bodyBytes, so < and ≤ agree.
    throw new FedtuneError('codec', `checkpoint body is ${actual} bytes, header says ${header.bodyBytes} (${actual < header.bodyBytes ? 'truncated' : 'trailing data'})`);
  }
  const body = bytes.subarray(bodyOffset);
  const sha = createHash('sha256').update(body).digest('hex');
  if (sha !== header.sha256) throw new FedtuneError('codec', `checkpoint checksum mismatch (sha256 ${sha.slice(0, 12)}…, header says ${header.sha256.slice(0, 12)}…)`);
  if (body.byteLength < 8) throw new FedtuneError('codec', `checkpoint body is ${body.byteLength} bytes, shorter than its meta's length prefix`);
  const metaLength = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0, true);
  if (8 + metaLength > body.byteLength) throw new FedtuneError('codec', `checkpoint meta of ${metaLength} bytes runs past the body's end`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(body.subarray(8, 8 + metaLength)));
  } catch (cause) {
    throw new FedtuneError('codec', 'checkpoint meta is not valid JSON', { cause });
  }
  const meta = checkMeta(parsed, body.byteLength);
  if (meta.runId !== header.runId || meta.round !== header.round) {
    throw new FedtuneError('codec', `checkpoint header (run ${String(header.runId).slice(0, 64)}, round ${header.round}) disagrees with its meta (run ${meta.runId.slice(0, 64)}, round ${meta.round})`);
  }
  const sections = meta.sections.map(([offset, length]) => body.subarray(offset, offset + length));
  const decoded = decodeWeights(sections[0]);
  // Copy the weights out so they do not pin the whole file's buffer.
  const weights: Weights = { manifest: decoded.manifest, arrays: decoded.arrays.map((a) => a.slice()) };
  const stateBlobs = sections.slice(1, 1 + meta.strategyBlobs);
  const accountantEnd = meta.accountantBlobs === undefined ? sections.length : 1 + meta.strategyBlobs + meta.accountantBlobs;
  const accountantBlobs = sections.slice(1 + meta.strategyBlobs, accountantEnd);
  const ckpt: Checkpoint = {
    runId: meta.runId,
    round: meta.round,
    createdAt: meta.createdAt,
    weights,
    strategyState: decodeState(meta.strategyState, stateBlobs),
    rng: meta.rng,
    report: decodeState(meta.report, []) as RunReport,
  };
  if (meta.settledRounds !== undefined) {
    if (header.format < 2) throw new FedtuneError('codec', `checkpoint format ${header.format} cannot refer to a settled-rounds file`);
    if (!readSettledRounds) throw new FedtuneError('codec', `checkpoint of round ${meta.round} keeps its first ${String(meta.settledRounds.count).slice(0, 32)} rounds in ${String(meta.settledRounds.file).slice(0, 64)}: read it with its checkpoint store`);
    const settled = readSettledRounds(meta.settledRounds);
    if (settled.length !== meta.settledRounds.count) throw new FedtuneError('codec', `checkpoint refers to ${meta.settledRounds.count} settled rounds, ${settled.length} read`);
    ckpt.report.rounds = [...settled, ...ckpt.report.rounds];
  }
  if (meta.accountant !== undefined) ckpt.accountant = decodeState(meta.accountant, accountantBlobs);
  if (meta.averaging !== undefined) ckpt.averaging = decodeState(meta.averaging, sections.slice(accountantEnd));
  if (meta.stragglers !== undefined) ckpt.stragglers = checkUnresponsiveSitesState(meta.stragglers);
  return ckpt;
}
