import { describe, expect, it } from 'vitest';
import type { RoundRecord, RunReport } from '@fedtune/shared';
import { isSettled, reportJsonChunks, reportSkeletonJson, settleRoundRecord, takeRoundRecordJson } from '../../coordinator/src/persistence/settled-rounds.ts';
import { encodeState } from '../../coordinator/src/persistence/state-codec.ts';
import { makeReport, makeRound } from './helpers.ts';

const encode = (v: unknown) => encodeState(v).json;
const reportJsonPretty = (r: RunReport) => Buffer.concat(reportJsonChunks(r)).toString('utf8');

/** A report whose strings try to look like the splice point, with NaN and -0 for the checkpoint's encoding. */
function awkwardReport(rounds: number): RunReport {
  const report = makeReport('run-\u0000rounds-x', rounds);
  report.config = { ...report.config, rounds: 3, note: '"rounds": [] \u0000rounds-' } as never;
  report.rounds.forEach((r, i) => Object.assign(r, { rejected: [{ siteId: `s"${i}\n`, code: 'non_finite', reason: 'rounds' }], global: { accuracy: i === 0 ? Number.NaN : 0.5, loss: -0 } }));
  report.final = { accuracy: 0.5, loss: 1, modelDir: 'm', round: rounds };
  return report;
}

describe('settled round records (settled-rounds.ts)', () => {
  it.each([0, 1, 3])('report.json with %i rounds, settled or not, is exactly JSON.stringify(report, null, 2)', (n) => {
    const report = awkwardReport(n);
    expect(reportJsonPretty(report)).toBe(JSON.stringify(report, null, 2));
    for (const r of report.rounds.slice(0, -1)) settleRoundRecord(r);
    expect(reportJsonPretty(report)).toBe(JSON.stringify(report, null, 2));
    expect(reportJsonPretty(report)).toBe(JSON.stringify(report, null, 2));
  });

  it.each([0, 1, 3])('the checkpoint skeleton with %i rounds, settled or not, is exactly encodeState(report).json', (n) => {
    const report = awkwardReport(n);
    expect(reportSkeletonJson(report, encode)).toBe(encode(report));
    for (const r of report.rounds) settleRoundRecord(r);
    expect(reportSkeletonJson(report, encode)).toBe(encode(report));
    expect(JSON.parse(reportSkeletonJson(report, encode)).rounds).toHaveLength(n);
  });

  it('report.json\'s chunks of a settled record are the same buffer every time (encoded once); an unsettled one\'s are new', () => {
    const report = makeReport('run-a', 2);
    settleRoundRecord(report.rounds[0]);
    const [a, b] = [reportJsonChunks(report), reportJsonChunks(report)];
    const roundChunk = (chunks: Buffer[], n: number) => chunks.find((c) => c.toString('utf8').startsWith(`    {\n      "round": ${n},`));
    expect(roundChunk(a, 1)).toBeDefined();
    expect(roundChunk(a, 1)).toBe(roundChunk(b, 1));
    expect(roundChunk(a, 2)).not.toBe(roundChunk(b, 2));
    expect(roundChunk(a, 2)!.equals(roundChunk(b, 2)!)).toBe(true);
  });

  it('a settled record is encoded once; an unsettled one every time', () => {
    const report = makeReport('run-a', 3);
    settleRoundRecord(report.rounds[0]);
    settleRoundRecord(report.rounds[1]);
    const seen: unknown[] = [];
    const counting = (v: unknown) => (seen.push(v), encode(v));
    for (let i = 0; i < 3; i++) reportSkeletonJson(report, counting);
    const calls = (r: RoundRecord) => seen.filter((v) => v === r).length;
    expect(report.rounds.map(calls)).toEqual([1, 1, 3]);
    // The report without its rounds, once per call.
    expect(seen.filter((v) => !report.rounds.includes(v as RoundRecord))).toHaveLength(3);
  });

  it("taking a settled record's checkpoint text for its settled-rounds line hands the cached text over and drops it", () => {
    const report = makeReport('run-a', 2);
    settleRoundRecord(report.rounds[0]);
    const seen: unknown[] = [];
    const counting = (v: unknown) => (seen.push(v), encode(v));
    reportSkeletonJson(report, counting); // caches round 1's text
    const calls = () => seen.filter((v) => v === report.rounds[0]).length;
    expect(calls()).toBe(1);
    expect(takeRoundRecordJson(report.rounds[0], counting)).toBe(encode(report.rounds[0]));
    expect(calls()).toBe(1);
    // Dropped: the next call encodes again (a record in the file is not kept in memory as text too).
    expect(takeRoundRecordJson(report.rounds[0], counting)).toBe(encode(report.rounds[0]));
    expect(calls()).toBe(2);
    // Nor is a text taken for a record that was not cached kept.
    expect(takeRoundRecordJson(report.rounds[0], counting)).toBe(encode(report.rounds[0]));
    expect(calls()).toBe(3);
  });

  it('settling freezes the record and everything in it: a later write throws instead of going unsaved', () => {
    const record = makeRound(1, { accepted: [{ siteId: 'a', numExamples: 1, loss: 1, accuracy: 0.5, durationMs: 1 }] });
    expect(isSettled(record)).toBe(false);
    settleRoundRecord(record);
    expect(isSettled(record)).toBe(true);
    expect(() => Object.assign(record, { robustness: {} })).toThrow(TypeError);
    expect(() => (record.accepted[0].loss = 2)).toThrow(TypeError);
    expect(() => record.accepted.push(record.accepted[0])).toThrow(TypeError);
  });
});
