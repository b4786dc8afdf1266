/**
 * What persisting the run report costs the coordinator per round as the run grows (`npm run bench:report-growth`).
 * A report gains a round record with an entry per site every round, and report.json, every checkpoint and
 * report.html hold all of them. Before 2026-12-06 each round deep-copied the report (the report writer's snapshot),
 * pretty-printed all of it (report.json) and encoded all of it (the checkpoint): O(rounds × sites) per round. Then the
 * writer took a shallow snapshot and settled round records were serialised once
 * (coordinator/src/persistence/settled-rounds.ts), but the checkpoint still embedded every round's cached text as
 * one string in its meta (format 1) and report.html rendered every record. Now a checkpoint (format 2) refers to its
 * settled rounds in an append-only settled-rounds file, each record appended once (settled-rounds-log.ts), and
 * report.html renders each settled record's fragments once (coordinator/src/report/settled-record-html.ts) and keeps what
 * the settled rounds add up to (the per-site curves, the rounds table's rows) from render to render
 * (coordinator/src/report/settled-prefix-fold.ts).
 *
 * A report of 500 sites is grown round by round as the engine does (earlier records settled before the next is
 * pushed), a checkpoint written (CheckpointStore, in a temporary directory, weights of the built-in MLP's size) and
 * report.html rendered each round. At rounds 10 and 100: the old and new ways of report.json + the checkpoint's
 * encoding (median of 5 calls), the checkpoint's encoding as format 1 (every round in the meta) and format 2, the
 * store's whole write of a round's checkpoint (settled-rounds append, encoding, files fsync'd; wall time, median of
 * the 5 rounds up to that round), and report.html's render, cached and with nothing settled (median of 15), with its
 * size and the size of its parts that grow with the rounds (the per-round charts, the rounds table). The report is then
 * grown on to `--far-round` (default 1000: past the charts' MAX_POINTS_PER_LINE, so their lines are thinned) and
 * report.html alone measured there (no checkpoint written after round 100).
 * The store's write is also timed where only the rounds differ: two more runs' stores, at rounds 6–15 and 96–105,
 * written alternately in one heap (median of 10 each; wall and CPU time). In sequence the round-100 write meets a
 * heap of 100 rounds and the round-10 one a heap of 10, and the machine's load of another moment: the garbage
 * collector's pauses inside each write (a PerformanceObserver's 'gc' entries) and its CPU are recorded to show it.
 * report.html's render is timed so too: two more runs' reports at rounds 10 and 100, rendered alternately in one heap
 * (median of 31 each; the target), its in-sequence times recorded beside it.
 * Goals: the old way ÷ the new at round 100 ≥ 10; report.json at round 100 ÷ at round 10, report.html's render at round
 * 100 ÷ at round 10 rendered alternately, and the checkpoint's write at round ~100 ÷ at round ~10 written alternately,
 * ≤ 2 (flat in the rounds). Writes
 * bench/results/report-growth.json.
 *
 *   npx tsx bench/report-growth.ts [--sites 500] [--far-round 1000]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { RoundRecord, RunReport } from '@fedtune/shared';
import { encodeCheckpoint, type Checkpoint } from '../coordinator/src/persistence/checkpoint-format.ts';
import { CheckpointStore } from '../coordinator/src/persistence/checkpoint-store.ts';
import { reportJsonChunks, settleRoundRecord, settledPrefixLength } from '../coordinator/src/persistence/settled-rounds.ts';
import { encodeState } from '../coordinator/src/persistence/state-codec.ts';
import { renderReportHtml } from '../coordinator/src/report/report-html.ts';
import { MAX_POINTS_PER_LINE } from '../coordinator/src/report/thin-series.ts';

const { values: args } = parseArgs({ options: { sites: { type: 'string', default: '500' }, 'far-round': { type: 'string', default: '1000' } } });
const SITES = Number(args.sites);
const FAR_ROUND = Number(args['far-round']);
if (!(FAR_ROUND > 100)) throw new Error('--far-round must be past round 100');
const ids = Array.from({ length: SITES }, (_, i) => `site-${String(i + 1).padStart(4, '0')}`);

function roundRecord(round: number): RoundRecord {
  return {
    round,
    durationMs: 1000 + round,
    attempts: 1,
    selected: [...ids],
    // Metrics that vary from round to round (a saw-tooth per site), as a run's do: a flat line would thin to fewer points.
    accepted: ids.map((siteId, i) => ({ siteId, numExamples: 100 + i, loss: (5000 + i + 13 * ((round + i) % 17)) / 1e4, accuracy: (80_000 - i + 97 * ((round + i) % 13)) / 1e5, durationMs: 10 + (i % 7) })),
    rejected: [],
    failed: [],
    bytesDown: 2e8,
    bytesUp: 2e8,
    global: { accuracy: (8000 + 7 * (round % 23)) / 1e4, loss: (5000 - 11 * (round % 19)) / 1e4 },
    modelDir: `models/round-${round}`,
  } as RoundRecord;
}

const encode = (v: unknown) => encodeState(v).json;
/** One round's persistence of the report as before: the writer's deep snapshot, report.json, the checkpoint's skeleton. */
const before = (r: RunReport) => Buffer.from(JSON.stringify(structuredClone(r), null, 2), 'utf8').length + encode(r).length;
/** As now, report.json: a shallow snapshot and its chunks (settled rounds' bytes encoded once, written as they are). */
const afterJson = (r: RunReport) => reportJsonChunks({ ...r, rounds: r.rounds.slice() }).length;

const PARAMETERS = 101_770; // the built-in MLP's
const weights = { manifest: [{ name: 'w', shape: [PARAMETERS], dtype: 'float32' as const }], arrays: [new Float32Array(PARAMETERS).fill(0.25)] };
const checkpointOf = (r: RunReport): Checkpoint => ({ runId: r.runId, round: r.rounds.length, weights, strategyState: { momentum: [weights.arrays[0]] }, rng: {}, report: r, createdAt: '2026-12-06T00:00:00.000Z' });
/** The checkpoint's encoding as format 1 did it: every round's cached text joined into the meta, all of it hashed. */
const checkpointFormat1 = (r: RunReport) => encodeCheckpoint(checkpointOf(r)).bytes;
/** As now (format 2): only the rounds after the settled ones in the meta (the settled ones are in their file already). */
const checkpointFormat2 = (r: RunReport) => {
  const count = settledPrefixLength(r.rounds);
  return encodeCheckpoint(checkpointOf(r), count > 0 ? { file: 'settled-rounds-00000000.jsonl', count, bytes: 0, sha256: '0'.repeat(64) } : undefined).bytes;
};
/** As now, a round's report.json and the checkpoint's encoding. */
const after = (r: RunReport) => afterJson(r) + checkpointFormat2(r);

function median(f: () => unknown, times = 5): number {
  const t: number[] = [];
  for (let i = 0; i < times; i++) {
    const s = performance.now();
    f();
    t.push(performance.now() - s);
  }
  return t.sort((a, b) => a - b)[Math.floor(times / 2)];
}
/** report.html's parts that grow with the rounds, in kB: the per-round line charts' SVG and the rounds table. */
function pageParts(html: string): { chartsKb: number; roundsTableKb: number } {
  const svgBytes = (title: string) => {
    const label = html.indexOf(`aria-label="${title}"`);
    return label < 0 ? 0 : Buffer.byteLength(html.slice(html.lastIndexOf('<svg', label), html.indexOf('</svg>', label) + '</svg>'.length));
  };
  const table = html.indexOf('<table class="rounds"');
  const charts = ['accuracy per round', 'loss per round', 'per-site training loss', 'per-site training accuracy'].reduce((n, title) => n + svgBytes(title), 0);
  return { chartsKb: kb(charts), roundsTableKb: kb(Buffer.byteLength(html.slice(table, html.indexOf('</table>', table) + '</table>'.length))) };
}
const kb = (bytes: number) => Number((bytes / 1e3).toFixed(1));
const mid = (t: number[]) => [...t].sort((a, b) => a - b)[Math.floor(t.length / 2)];
const ms = (t: number) => Number(t.toFixed(2));

const report = { schemaVersion: 1, runId: 'growth', status: 'running', startedAt: 'a', updatedAt: 'b', config: { rounds: 100 }, backend: 'wasm', model: { architecture: 'mlp', parameters: PARAMETERS }, rounds: [] } as unknown as RunReport;
interface Row {
  round: number;
  beforeMs: number;
  afterMs: number;
  reportJsonMs: number;
  checkpointFormat1EncodeMs: number;
  checkpointEncodeMs: number;
  checkpointWriteMs: number;
  /** Of the write's wall time, the garbage collector's pauses (median of the same 5 rounds) and the process's CPU (all threads). */
  checkpointWriteGcMs: number;
  checkpointWriteCpuMs: number;
  reportHtmlMs: number;
  reportHtmlUncachedMs: number;
  reportHtmlKb: number;
  reportHtmlChartsKb: number;
  reportHtmlRoundsTableKb: number;
  reportMb: number;
  checkpointKb: number;
}
const rows: Row[] = [];
const htmlParts = (r: RunReport) => {
  const { chartsKb, roundsTableKb } = pageParts(renderReportHtml(r));
  return { reportHtmlChartsKb: chartsKb, reportHtmlRoundsTableKb: roundsTableKb };
};
/** report.html alone at a round past the charts' bound. */
interface FarRow {
  round: number;
  reportHtmlMs: number;
  reportHtmlUncachedMs: number;
  reportHtmlKb: number;
  reportHtmlChartsKb: number;
  reportHtmlRoundsTableKb: number;
}
let far: FarRow | undefined;
/** The garbage collector's pauses (start and duration, ms), to tell a write's own cost from the heap's. */
const gcPauses: Array<[start: number, duration: number]> = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push([e.startTime, e.duration]);
});
gcObserver.observe({ entryTypes: ['gc'] });
interface WriteTime {
  wallMs: number;
  cpuMs: number;
  /** Started and ended within the write; the pauses are read once the write is over (the observer reports late). */
  span: [start: number, end: number];
}
const gcMsIn = ([start, end]: [number, number]) => gcPauses.reduce((n, [s, d]) => (s >= start && s < end ? n + d : n), 0);
/** A round's checkpoint written by `store`: wall and CPU time, and when (for the pauses in it). */
async function timedWrite(store: CheckpointStore, r: RunReport): Promise<{ time: WriteTime; bytes: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const { bytes } = await store.write(checkpointOf(r));
  const end = performance.now();
  const used = process.cpuUsage(cpu);
  return { time: { wallMs: end - start, cpuMs: (used.user + used.system) / 1e3, span: [start, end] }, bytes };
}
/** `report` grown by a round as the engine does it: every earlier record settled before the next is pushed. */
function grow(r: RunReport): void {
  for (const record of r.rounds) settleRoundRecord(record);
  r.rounds.push(roundRecord(r.rounds.length + 1));
}
const freshReport = (): RunReport => ({ ...report, rounds: [] });

const runDir = mkdtempSync(join(tmpdir(), 'fedtune-report-growth-'));
const store = new CheckpointStore(runDir);
const writes: WriteTime[] = [];
let checkpointBytes = 0;
const load = loadavg()[0];
for (let round = 1; round <= 100; round++) {
  grow(report);
  // A round as the coordinator persists it: the checkpoint (settled-rounds file appended and fsync'd, then the
  // checkpoint written durably), report.json and report.html (rendered here every round, in a run every 15 s).
  const written = await timedWrite(store, report);
  checkpointBytes = written.bytes;
  writes[round] = written.time;
  afterJson(report);
  renderReportHtml(report);
  if (round === 10 || round === 100) {
    const unsettled = structuredClone(report);
    const row: Row = {
      round,
      beforeMs: ms(median(() => before(report))),
      afterMs: ms(median(() => after(report))),
      reportJsonMs: ms(median(() => afterJson(report))),
      checkpointFormat1EncodeMs: ms(median(() => checkpointFormat1(report))),
      checkpointEncodeMs: ms(median(() => checkpointFormat2(report))),
      checkpointWriteMs: ms(mid(writes.slice(round - 4, round + 1).map((w) => w.wallMs))),
      checkpointWriteGcMs: 0, // once the observer has reported (below)
      checkpointWriteCpuMs: ms(mid(writes.slice(round - 4, round + 1).map((w) => w.cpuMs))),
      reportHtmlMs: ms(median(() => renderReportHtml(report), 15)),
      reportHtmlUncachedMs: ms(median(() => renderReportHtml(unsettled), 15)),
      reportHtmlKb: kb(Buffer.byteLength(renderReportHtml(report))),
      ...htmlParts(report),
      reportMb: Number((JSON.stringify(report).length / 1e6).toFixed(2)),
      checkpointKb: Number((checkpointBytes / 1e3).toFixed(1)),
    };
    rows.push(row);
    console.log(
      `round ${round} (${SITES} sites, report ${row.reportMb} MB): before ${row.beforeMs} ms, now ${row.afterMs} ms per round (report.json ${row.reportJsonMs} ms; checkpoint encoding ${row.checkpointEncodeMs} ms, as format 1 ${row.checkpointFormat1EncodeMs} ms; the store's write ${row.checkpointWriteMs} ms, ${row.checkpointKb} kB); report.html (${row.reportHtmlKb} kB, its per-round charts ${row.reportHtmlChartsKb} kB, the rounds table ${row.reportHtmlRoundsTableKb} kB) ${row.reportHtmlMs} ms, with nothing settled ${row.reportHtmlUncachedMs} ms`,
    );
  }
}
await new Promise((resolve) => setTimeout(resolve, 50)); // the observer's last reports
for (const row of rows) row.checkpointWriteGcMs = ms(mid(writes.slice(row.round - 4, row.round + 1).map((w) => gcMsIn(w.span))));

/**
 * The store's write at round ~10 and at round ~100 in one heap: two more runs' reports, each in its own store, one
 * grown to round 5 and one to round 95 (untimed), then written alternately, 10 rounds each (rounds 6–15 and 96–105).
 * In sequence above, the round-100 write runs in a heap that holds 100 rounds (the report, report.json's and
 * report.html's kept text) where the round-10 one ran in a heap of 10, so the garbage collector's pauses inside a write
 * grow with the process's heap, and the machine's load changes between round 10 and round 100; interleaved, both
 * writes meet the same heap and the same load, and only what the write itself does per round tells them apart.
 */
async function interleavedWrites(): Promise<{ early: WriteTime[]; late: WriteTime[] }> {
  const dirs = [mkdtempSync(join(tmpdir(), 'fedtune-report-growth-early-')), mkdtempSync(join(tmpdir(), 'fedtune-report-growth-late-'))];
  try {
    const [earlyStore, lateStore] = dirs.map((d) => new CheckpointStore(d));
    const [earlyReport, lateReport] = [freshReport(), freshReport()];
    for (const [s, r, upTo] of [[earlyStore, earlyReport, 5], [lateStore, lateReport, 95]] as const) {
      while (r.rounds.length < upTo) {
        grow(r);
        await s.write(checkpointOf(r));
      }
    }
    const early: WriteTime[] = [];
    const late: WriteTime[] = [];
    const step = async (s: CheckpointStore, r: RunReport, into: WriteTime[]) => {
      grow(r);
      into.push((await timedWrite(s, r)).time);
    };
    for (let i = 0; i < 10; i++) {
      // Alternate which goes first, so neither always follows the other's fsyncs.
      if (i % 2 === 0) {
        await step(earlyStore, earlyReport, early);
        await step(lateStore, lateReport, late);
      } else {
        await step(lateStore, lateReport, late);
        await step(earlyStore, earlyReport, early);
      }
    }
    return { early, late };
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
const interleaved = await interleavedWrites();
await new Promise((resolve) => setTimeout(resolve, 50));
gcObserver.disconnect();
const summary = (w: WriteTime[]) => ({ wallMs: ms(mid(w.map((x) => x.wallMs))), cpuMs: ms(mid(w.map((x) => x.cpuMs))), gcMs: ms(mid(w.map((x) => gcMsIn(x.span)))), gcTotalMs: ms(w.reduce((n, x) => n + gcMsIn(x.span), 0)) });
const checkpointWriteInterleaved = { rounds: ['6–15', '96–105'], early: summary(interleaved.early), late: summary(interleaved.late) };
console.log(`the store's write interleaved in one heap: rounds 6–15 ${checkpointWriteInterleaved.early.wallMs} ms (CPU ${checkpointWriteInterleaved.early.cpuMs}), rounds 96–105 ${checkpointWriteInterleaved.late.wallMs} ms (CPU ${checkpointWriteInterleaved.late.cpuMs}); in sequence, the garbage collector's pauses in a write: ${rows.map((r) => `round ${r.round} ${r.checkpointWriteGcMs} ms`).join(', ')}`);
/**
 * report.html's render at round 10 and at round 100 in one heap: two more runs' reports grown as the engine does (each
 * rendered every round, as the coordinator renders it, so its kept fragments and folds are those of a run), then
 * rendered alternately, 31 times each (the order swapped every time). In sequence above, the round-100 render is timed
 * right after that round's heavy work (the deep snapshot and the old way's serialisations of a 5 MB report: garbage the
 * collector clears during the renders) and at another moment of the machine's load than the round-10 one; interleaved,
 * both renders meet the same heap and the same load, and only what the render itself does per round tells them apart.
 */
function interleavedRenders(): { early: number; late: number } {
  const [earlyReport, lateReport] = [freshReport(), freshReport()];
  for (const [r, upTo] of [[earlyReport, 10], [lateReport, 100]] as const) {
    while (r.rounds.length < upTo) {
      grow(r);
      renderReportHtml(r);
    }
  }
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < 31; i++) {
    const order = i % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const);
    for (const k of order) {
      const start = performance.now();
      renderReportHtml(k === 0 ? earlyReport : lateReport);
      times[k].push(performance.now() - start);
    }
  }
  return { early: ms(mid(times[0])), late: ms(mid(times[1])) };
}
const reportHtmlInterleaved = { rounds: [10, 100], ...interleavedRenders() };
console.log(`report.html's render interleaved in one heap: round 10 ${reportHtmlInterleaved.early} ms, round 100 ${reportHtmlInterleaved.late} ms`);
rmSync(runDir, { recursive: true, force: true });
for (let round = 101; round <= FAR_ROUND; round++) {
  settleRoundRecord(report.rounds.at(-1)!); // every earlier record is settled already

  report.rounds.push(roundRecord(round));
  afterJson(report);
  renderReportHtml(report);
}
{
  const unsettled = structuredClone(report);
  far = {
    round: FAR_ROUND,
    reportHtmlMs: ms(median(() => renderReportHtml(report), 15)),
    reportHtmlUncachedMs: ms(median(() => renderReportHtml(unsettled), 15)),
    reportHtmlKb: kb(Buffer.byteLength(renderReportHtml(report))),
    ...htmlParts(report),
  };
  console.log(`round ${FAR_ROUND}: report.html (${far.reportHtmlKb} kB, its per-round charts ${far.reportHtmlChartsKb} kB, the rounds table ${far.reportHtmlRoundsTableKb} kB) ${far.reportHtmlMs} ms, with nothing settled ${far.reportHtmlUncachedMs} ms`);
}
const [r10, r100] = rows;
const ratio = (a: number, b: number, digits = 2) => Number((a / b).toFixed(digits));
const speedup = ratio(r100.beforeMs, r100.afterMs, 1);
const growth = ratio(r100.reportJsonMs, r10.reportJsonMs);
const sequenceGrowth = ratio(r100.checkpointWriteMs, r10.checkpointWriteMs);
const checkpointGrowth = ratio(checkpointWriteInterleaved.late.wallMs, checkpointWriteInterleaved.early.wallMs);
const checkpointCpuGrowth = ratio(checkpointWriteInterleaved.late.cpuMs, checkpointWriteInterleaved.early.cpuMs);
const encodeGrowth = ratio(r100.checkpointEncodeMs, r10.checkpointEncodeMs);
const format1Growth = ratio(r100.checkpointFormat1EncodeMs, r10.checkpointFormat1EncodeMs);
const htmlGrowth = ratio(reportHtmlInterleaved.late, reportHtmlInterleaved.early);
const htmlSequenceGrowth = ratio(r100.reportHtmlMs, r10.reportHtmlMs);
const htmlUncachedGrowth = ratio(r100.reportHtmlUncachedMs, r10.reportHtmlUncachedMs);
const pageGrowth = ratio(r100.reportHtmlKb, r10.reportHtmlKb);
const perKbGrowth = ratio(r100.reportHtmlMs / r100.reportHtmlKb, r10.reportHtmlMs / r10.reportHtmlKb);
const farGrowth = ratio(far!.reportHtmlMs, r100.reportHtmlMs);
const parts = (r: { reportHtmlKb: number; reportHtmlChartsKb: number; reportHtmlRoundsTableKb: number }) => `${r.reportHtmlKb} kB: per-round charts ${r.reportHtmlChartsKb}, rounds table ${r.reportHtmlRoundsTableKb}`;
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
      checkpointWriteInterleaved,
      reportHtmlInterleaved,
      farRow: far,
      targets: [
        { target: `report persistence per round at round 100, ${SITES} sites: deep snapshot + full serialisation ÷ shallow snapshot + settled rounds once (report.json + the checkpoint's encoding)`, goal: 10, measured: speedup, unit: 'ratio', met: speedup >= 10, note: `${r100.beforeMs} ms vs ${r100.afterMs} ms` },
        { target: `report.json per round, ${SITES} sites: round 100 ÷ round 10 (at most; flat in the rounds)`, goal: 2, measured: growth, unit: 'ratio', met: growth <= 2, note: `${r100.reportJsonMs} ms vs ${r10.reportJsonMs} ms` },
        {
          target: `checkpoint per round (the store's write: settled-rounds append, encoding, fsyncs), ${SITES} sites: round ~100 ÷ round ~10, written alternately in one heap (at most; flat in the rounds)`,
          goal: 2,
          measured: checkpointGrowth,
          unit: 'ratio',
          met: checkpointGrowth <= 2,
          note: `rounds 96–105 vs 6–15 of two runs written alternately (median of 10 each): ${checkpointWriteInterleaved.late.wallMs} vs ${checkpointWriteInterleaved.early.wallMs} ms, CPU ${checkpointWriteInterleaved.late.cpuMs} vs ${checkpointWriteInterleaved.early.cpuMs} ms (${checkpointCpuGrowth}×). In sequence (round 100 in a heap of 100 rounds, round 10 in one of 10, at different moments of the machine's load): ${r100.checkpointWriteMs} vs ${r10.checkpointWriteMs} ms (${sequenceGrowth}×, median of the 5 rounds up to each), CPU ${r100.checkpointWriteCpuMs} vs ${r10.checkpointWriteCpuMs} ms, the garbage collector's pauses in it ${r100.checkpointWriteGcMs} vs ${r10.checkpointWriteGcMs} ms; its encoding ${r100.checkpointEncodeMs} vs ${r10.checkpointEncodeMs} ms (${encodeGrowth}×), as format 1 (every round in the meta) ${r100.checkpointFormat1EncodeMs} vs ${r10.checkpointFormat1EncodeMs} ms (${format1Growth}×); the checkpoint file ${r10.checkpointKb} → ${r100.checkpointKb} kB`,
        },
        {
          target: `report.html render, ${SITES} sites: round 100 ÷ round 10, rendered alternately in one heap (at most; flat in the settled rounds)`,
          goal: 2,
          measured: htmlGrowth,
          unit: 'ratio',
          met: htmlGrowth <= 2,
          note: `two runs' reports at rounds 100 and 10 rendered alternately (median of 31 each): ${reportHtmlInterleaved.late} vs ${reportHtmlInterleaved.early} ms. In sequence (round 100 timed after that round's snapshot and serialisations of the whole report, in a heap of 100 rounds, at another moment of the machine's load): ${r100.reportHtmlMs} ms vs ${r10.reportHtmlMs} ms (${htmlSequenceGrowth}×, median of 15); the same renderer with nothing settled (no fragment cached) ${r100.reportHtmlUncachedMs} vs ${r10.reportHtmlUncachedMs} ms (${htmlUncachedGrowth}×); the page itself grows ${pageGrowth}× (${parts(r10)} → ${parts(r100)}: up to ${MAX_POINTS_PER_LINE} rounds the per-round charts draw a point per round for each of their lines, their coordinates rescaled every round, which no cache can keep byte-identical); render time per kB of page ${perKbGrowth}×`,
        },
        {
          target: `report.html render, ${SITES} sites: round ${FAR_ROUND} ÷ round 100 (at most; past the charts' ${MAX_POINTS_PER_LINE} points per line, flat but for the rounds table)`,
          goal: 2,
          measured: farGrowth,
          unit: 'ratio',
          met: farGrowth <= 2,
          note: `${far!.reportHtmlMs} ms vs ${r100.reportHtmlMs} ms (median of 15); with nothing settled ${far!.reportHtmlUncachedMs} vs ${r100.reportHtmlUncachedMs} ms; the page ${parts(r100)} → ${parts(far!)}`,
        },
      ],
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${out}`);
