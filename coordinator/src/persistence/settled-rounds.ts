import { randomUUID } from 'node:crypto';
import type { RoundRecord, RunReport } from '@fedtune/shared';

/**
 * A run's report grows by one round record per round (with one entry per site), and report.json and the
 * checkpoint hold all of them: serialising every record again every round cost O(rounds × sites) of the event
 * loop per round (~0.1–0.4 s for report.json alone at 100 rounds of 500 sites). A record nothing changes any
 * more is *settled*: frozen (a later write to it throws instead of going unsaved) and serialised once, its text
 * kept for as long as the record lives. The round engine settles every record whose late robustness result has
 * landed (round-engine.ts); the others are serialised each time, as before. Used by report.json's writer
 * (report-writer.ts) and the checkpoint (checkpoint-format.ts).
 */

/** Frozen records' text, per format. */
const prettyText = new WeakMap<object, string>();
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
function cached(cache: WeakMap<object, string>, record: RoundRecord, text: (r: RoundRecord) => string): string {
  if (!isSettled(record)) return text(record);
  let t = cache.get(record);
  if (t === undefined) {
    t = text(record);
    cache.set(record, t);
  }
  return t;
}

/**
 * `serialize(report)` with its rounds spliced in as `round(record)` texts joined by `separator` inside the
 * array's brackets: the report without its rounds is serialised with a one-off marker where the list goes.
 */
function withRounds(report: RunReport, serialize: (r: unknown) => string, round: (r: RoundRecord) => string, open: string, separator: string, close: string): string {
  const marker = `\u0000rounds-${randomUUID()}`;
  const head = serialize({ ...report, rounds: marker });
  const quoted = JSON.stringify(marker);
  const at = head.indexOf(quoted);
  const list = report.rounds.length === 0 ? '[]' : `${open}${report.rounds.map(round).join(separator)}${close}`;
  return head.slice(0, at) + list + head.slice(at + quoted.length);
}

/** `JSON.stringify(report, null, 2)`, with each settled round's text computed once. */
export function reportJsonPretty(report: RunReport): string {
  // A record inside the top-level `rounds` list sits at depth 2: its lines are indented by four spaces.
  const text = (r: RoundRecord) => `    ${JSON.stringify(r, null, 2).replaceAll('\n', '\n    ')}`;
  return withRounds(report, (r) => JSON.stringify(r, null, 2), (r) => cached(prettyText, r, text), '[\n', ',\n', '\n  ]');
}

/**
 * The checkpoint's report skeleton: `encode(report)` (state-codec.ts's `encodeState(…).json`, which has no
 * whitespace), with each settled round's encoding computed once by `encode(record)`.
 */
export function reportSkeletonJson(report: RunReport, encode: (value: unknown) => string): string {
  return withRounds(report, encode, (r) => cached(encodedText, r, encode), '[', ',', ']');
}
