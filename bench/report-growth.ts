/**
 * What persisting the run report costs the coordinator's event loop per round as the run grows (`npm run
 * bench:report-growth`). A report gains a round record with an entry per site every round, and report.json and
 * every checkpoint hold all of them. Before 2026-12-06 each round deep-copied the report (the report writer's
 * snapshot), pretty-printed all of it (report.json) and encoded all of it (the checkpoint): O(rounds × sites)
 * per round. Now the writer takes a shallow snapshot and settled round records are serialised once
 * (coordinator/src/persistence/settled-rounds.ts). A report of 500 sites is grown round by round as the engine
 * does (earlier records settled before the next is pushed); at rounds 10 and 100 both ways are timed (median of
 * 5). Goals: the old way ÷ the new at round 100 ≥ 10; report.json's cost at round 100 ÷ at round 10 ≤ 2 (flat in
 * the rounds; the checkpoint's skeleton is still one string of every round's cached text, reported beside it).
 * Writes bench/results/report-growth.json.
 *
 *   npx tsx bench/report-growth.ts [--sites 500]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { RoundRecord, RunReport } from '@fedtune/shared';
import { reportJsonChunks, reportSkeletonJson, settleRoundRecord } from '../coordinator/src/persistence/settled-rounds.ts';
import { encodeState } from '../coordinator/src/persistence/state-codec.ts';

const { values: args } = parseArgs({ options: { sites: { type: 'string', default: '500' } } });
const SITES = Number(args.sites);
const ids = Array.from({ length: SITES }, (_, i) => `site-${String(i + 1).padStart(4, '0')}`);

function roundRecord(round: number): RoundRecord {
  return {
    round,
    durationMs: 1000 + round,
    attempts: 1,
    selected: [...ids],
    accepted: ids.map((siteId, i) => ({ siteId, numExamples: 100 + i, loss: 0.5 + i / 1e4, accuracy: 0.8 - i / 1e5, durationMs: 10 + (i % 7) })),
    rejected: [],
    failed: [],
    bytesDown: 2e8,
    bytesUp: 2e8,
    global: { accuracy: 0.8, loss: 0.5 },
    modelDir: `models/round-${round}`,
  } as RoundRecord;
}

const encode = (v: unknown) => encodeState(v).json;
/** One round's persistence of the report as before: the writer's deep snapshot, report.json, the checkpoint's skeleton. */
const before = (r: RunReport) => Buffer.from(JSON.stringify(structuredClone(r), null, 2), 'utf8').length + encode(r).length;
/** As now, report.json: a shallow snapshot and its chunks (settled rounds' bytes encoded once, written as they are). */
const afterJson = (r: RunReport) => reportJsonChunks({ ...r, rounds: r.rounds.slice() }).length;
/** As now, the checkpoint's skeleton: settled rounds encoded once, joined into the one string the checkpoint embeds. */
const afterSkeleton = (r: RunReport) => reportSkeletonJson(r, encode).length;
const after = (r: RunReport) => afterJson(r) + afterSkeleton(r);

function median(f: () => unknown): number {
  const t: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = performance.now();
    f();
    t.push(performance.now() - s);
  }
  return t.sort((a, b) => a - b)[2];
}

const report = { schemaVersion: 1, runId: 'growth', status: 'running', startedAt: 'a', updatedAt: 'b', config: { rounds: 100 }, backend: 'wasm', model: { architecture: 'mlp', parameters: 101770 }, rounds: [] } as unknown as RunReport;
const rows: Array<{ round: number; beforeMs: number; afterMs: number; reportJsonMs: number; checkpointSkeletonMs: number; reportMb: number }> = [];
const load = loadavg()[0];
for (let round = 1; round <= 100; round++) {
  for (const r of report.rounds) settleRoundRecord(r);
  report.rounds.push(roundRecord(round));
  if (round === 10 || round === 100) {
    // The settled rounds' text is cached by the first call, as in a run (each round is serialised the round after it).
    after(report);
    const ms = (f: () => unknown) => Number(median(f).toFixed(2));
    const row = { round, beforeMs: ms(() => before(report)), afterMs: ms(() => after(report)), reportJsonMs: ms(() => afterJson(report)), checkpointSkeletonMs: ms(() => afterSkeleton(report)), reportMb: Number((JSON.stringify(report).length / 1e6).toFixed(2)) };
    rows.push(row);
    console.log(`round ${round} (${SITES} sites, report ${row.reportMb} MB): before ${row.beforeMs} ms, now ${row.afterMs} ms per round (report.json ${row.reportJsonMs} ms, checkpoint skeleton ${row.checkpointSkeletonMs} ms)`);
  } else after(report);
}
const [r10, r100] = rows;
const speedup = Number((r100.beforeMs / r100.afterMs).toFixed(1));
const growth = Number((r100.reportJsonMs / r10.reportJsonMs).toFixed(2));
const skeletonGrowth = Number((r100.checkpointSkeletonMs / r10.checkpointSkeletonMs).toFixed(1));
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'report-growth.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      loadAverage: [load, loadavg()[0]].map((v) => Number(v.toFixed(2))),
      sites: SITES,
      rows,
      targets: [
        { target: `report persistence per round at round 100, ${SITES} sites: deep snapshot + full serialisation ÷ shallow snapshot + settled rounds once`, goal: 10, measured: speedup, unit: 'ratio', met: speedup >= 10, note: `${r100.beforeMs} ms vs ${r100.afterMs} ms` },
        { target: `report.json per round, ${SITES} sites: round 100 ÷ round 10 (at most; flat in the rounds)`, goal: 2, measured: growth, unit: 'ratio', met: growth <= 2, note: `${r100.reportJsonMs} ms vs ${r10.reportJsonMs} ms; the checkpoint's skeleton still grows ${skeletonGrowth}× (${r100.checkpointSkeletonMs} vs ${r10.checkpointSkeletonMs} ms: one string of every round's cached text)` },
      ],
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${out}`);
