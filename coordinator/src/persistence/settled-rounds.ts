import { randomUUID } from 'node:crypto';
import type { RoundRecord, RunReport } from '@fedtune/shared';

/**
 * A run's report grows by one round record per round (with one entry per site), and report.json and the
 * checkpoint hold all of them: serialising every record again every round cost O(rounds × sites) of the event
 * loop per round (~0.1–0.4 s for report.json alone at 100 rounds of 500 sites). A record nothing changes any
 * more is *settled*: frozen (a later write to it throws instead of going unsaved) and serialised once: report.json's
 * text kept for as long as the record lives (report.json holds every round each time), the checkpoint's only until
 * the record is in the settled-rounds file (a checkpoint's meta holds only the rounds after them). The round engine
 * settles every record whose late robustness result has landed (round-engine.ts); the others are serialised each
 * time, as before. Used by report.json's writer (report-writer.ts, which writes the cached bytes as they are) and the
 * checkpoint (checkpoint-format.ts, and the settled-rounds file of checkpoint-store.ts, which appends each settled
 * record's encoding once and then drops it: `takeRoundRecordJson`).
 */

/** Frozen records' text: report.json's (UTF-8, indented) and the checkpoint skeleton's (until appended). */
const prettyBytes = new WeakMap<object, Buffer>();
const encodedText = new WeakMap<object, string>();

/** Freezes `record` and everything in it: nothing may change it after this. */
export function settleRoundRecord(record: RoundRecord): void {
  deepFreeze(record);
}

/** Whether `record` is settled (frozen by `settleRoundRecord`). */
export function isSettled(record: RoundRecord): boolean {
  return Object.isFrozen(record);
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const item of Object.values(value)) deepFreeze(item);
}

/** `text(record)`, computed once for a settled record. */
function cached<T>(cache: WeakMap<object, T>, record: RoundRecord, text: (r: RoundRecord) => T): T {
  if (!isSettled(record)) return text(record);
  let t = cache.get(record);
  if (t === undefined) {
    t = text(record);
    cache.set(record, t);
  }
  return t;
}

/** `serialize(report)` around a one-off marker where the list of rounds goes: the text before and after it. */
function around(report: RunReport, serialize: (r: unknown) => string): [before: string, after: string] {
  const marker = `\u0000rounds-${randomUUID()}`;
  const head = serialize({ ...report, rounds: marker });
  const quoted = JSON.stringify(marker);
  const at = head.indexOf(quoted);
  return [head.slice(0, at), head.slice(at + quoted.length)];
}

const OPEN = Buffer.from('[\n');
const SEPARATOR = Buffer.from(',\n');
const CLOSE = Buffer.from('\n  ]');
const EMPTY = Buffer.from('[]');

/**
 * report.json — the UTF-8 of `JSON.stringify(report, null, 2)` — as chunks to write back to back: each settled
 * round's bytes are encoded once and written from there, so a round costs the event loop its new record and the
 * report's other fields, not a copy of every earlier round.
 */
export function reportJsonChunks(report: RunReport): Buffer[] {
  const [before, after] = around(report, (r) => JSON.stringify(r, null, 2));
  // A record inside the top-level `rounds` list sits at depth 2: its lines are indented by four spaces.
  const bytes = (r: RoundRecord) => Buffer.from(`    ${JSON.stringify(r, null, 2).replaceAll('\n', '\n    ')}`, 'utf8');
  const rounds = report.rounds.flatMap((r, i) => (i === 0 ? [cached(prettyBytes, r, bytes)] : [SEPARATOR, cached(prettyBytes, r, bytes)]));
  return [Buffer.from(before, 'utf8'), ...(rounds.length === 0 ? [EMPTY] : [OPEN, ...rounds, CLOSE]), Buffer.from(after, 'utf8')];
}

/**
 * `encode(record)` for the record's line in the settled-rounds file (the checkpoint's encoding of one round record),
 * its cached text (from `reportSkeletonJson`) dropped: a settled record is appended to the file once, and kept text
 * of every appended record would grow the heap by a round's text per round (≈56 kB at 500 sites) for nothing.
 */
export function takeRoundRecordJson(record: RoundRecord, encode: (value: unknown) => string): string {
  const text = encodedText.get(record);
  if (text === undefined) return encode(record);
  encodedText.delete(record);
  return text;
}

/** How many of `rounds`, from the first, are settled: those a checkpoint keeps in its settled-rounds file. */
export function settledPrefixLength(rounds: readonly RoundRecord[]): number {
  let n = 0;
  while (n < rounds.length && isSettled(rounds[n])) n++;
  return n;
}

/**
 * The checkpoint's report skeleton: `encode(report)` (state-codec.ts's `encodeState(…).json`, which has no
 * whitespace), with each settled round's encoding computed once by `encode(record)`.
 */
export function reportSkeletonJson(report: RunReport, encode: (value: unknown) => string): string {
  const [before, after] = around(report, encode);
  return `${before}[${report.rounds.map((r) => cached(encodedText, r, encode)).join(',')}]${after}`;
}
