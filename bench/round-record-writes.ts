/**
 * `npm run bench:round-record` (tsx bench/round-record-writes.ts): a 500-site round record written to the run
 * database as before 2026-12-06 (synchronous=FULL: the commit fsync'd on the event loop, at once), at once
 * without the fsync (synchronous=NORMAL, as the coordinator opens it now), and spread over turns
 * (turn-spread-writes.ts: `ROUND_SITES_PER_TURN` sites per turn, still one transaction), interleaved, 7
 * repetitions each on fresh database files: the longest turn of the event loop the write holds (the synchronous
 * call, then every turn until it has committed), the whole write's wall and CPU time, and the rows written
 * (which must be the same). Writes bench/results/round-record-writes.json with its targets.
 *
 *   npx tsx bench/round-record-writes.ts [--sites 500] [--reps 7] [--synchronous normal|full]
 *                                        [--out bench/results/round-record-writes.json]
 *
 * `--synchronous` is SQLite's for the run database: 'normal' as the coordinator opens it (no fsync per commit),
 * 'full' to see the fsync's share of the turn.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROUND_SITES_PER_TURN, RunDatabase, type TurnSpreadWrites } from '@fedtune/coordinator';
import type { RoundRecord } from '@fedtune/shared';

const { values: args } = parseArgs({
  options: {
    sites: { type: 'string', default: '500' },
    reps: { type: 'string', default: '7' },
    synchronous: { type: 'string', default: 'normal' },
    out: { type: 'string', default: 'bench/results/round-record-writes.json' },
  },
});
const SITES = Number(args.sites);
/** As the coordinator opens its run database (coordinator-server.ts), or 'full' to see the fsync's share. */
const SYNCHRONOUS = args.synchronous === 'full' ? 'full' : 'normal';
const REPS = Number(args.reps);

function record(round: number): RoundRecord {
  const ids = Array.from({ length: SITES }, (_, i) => `site-${String(i).padStart(4, '0')}`);
  return {
    round,
    durationMs: 1500,
    attempts: 1,
    selected: ids,
    accepted: ids.map((siteId, i) => ({ siteId, numExamples: 100 + i, loss: 0.5, accuracy: 0.8, durationMs: 20 })),
    rejected: [],
    failed: [],
    bytesDown: 407_356 * SITES,
    bytesUp: 407_356 * SITES,
    global: { accuracy: 0.8, loss: 0.5 },
    federated: { accuracy: 0.79, loss: 0.51, sites: ids.map((siteId) => ({ siteId, accuracy: 0.79, loss: 0.51, numExamples: 20 })) },
    modelDir: `models/round-${round}`,
  } as RoundRecord;
}

const run = (runId: string) => ({ runId, status: 'running', config: {}, startedAt: new Date().toISOString() }) as unknown as Parameters<RunDatabase['upsertRun']>[0];
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/**
 * CPU ms of the process (getrusage: precise to microseconds; this bench has one busy thread). Not the thread's
 * /proc schedstat clock: it advances by the scheduler's tick (4 ms here) on a thread that runs without pause.
 */
const threadCpuMs = cpuMs;

type Mode = 'before' | 'at once' | 'spread';

/** 'before': as the coordinator wrote a round until 2026-12-06 (fsync'd commit, at once); the others with `SYNCHRONOUS`. */
async function once(mode: Mode, dir: string, rep: number) {
  const db = new RunDatabase(join(dir, `${mode.replace(' ', '-')}-${rep}.db`), { synchronous: mode === 'before' ? 'full' : SYNCHRONOUS, ...(mode === 'spread' ? {} : { roundSitesPerTurn: 1e9 }) });
  db.upsertRun(run('r'));
  db.recordRound('r', record(1)); // warm the statements and the file
  const writes = (db as unknown as { roundWrites: TurnSpreadWrites }).roundWrites;
  while (writes.pending > 0) await nextTurn();
  const cpu0 = cpuMs();
  const t0 = performance.now();
  const c0 = threadCpuMs();
  db.recordRound('r', record(2));
  let longest = performance.now() - t0;
  let longestCpu = threadCpuMs() - c0;
  let turns = 1;
  let last = performance.now();
  let lastCpu = threadCpuMs();
  while (writes.pending > 0) {
    await nextTurn();
    const now = performance.now();
    const nowCpu = threadCpuMs();
    longest = Math.max(longest, now - last);
    longestCpu = Math.max(longestCpu, nowCpu - lastCpu);
    last = now;
    lastCpu = nowCpu;
    turns++;
  }
  const wallMs = performance.now() - t0;
  const cpu = cpuMs() - cpu0;
  const rows = db.getMetrics('r').filter((m) => m.round === 2).length;
  db.close();
  return { mode, longestTurnMs: longest, longestTurnCpuMs: longestCpu, wallMs, cpuMs: cpu, turns, rows };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r2 = (x: number) => Math.round(x * 100) / 100;

const dir = mkdtempSync(join(tmpdir(), 'bench-round-record-'));
const loadAtStart = loadavg().map(r2);
const results: Array<Awaited<ReturnType<typeof once>>> = [];
for (let rep = 0; rep < REPS; rep++) {
  for (const mode of rep % 2 ? (['spread', 'at once', 'before'] as const) : (['before', 'at once', 'spread'] as const)) results.push(await once(mode, dir, rep));
}
rmSync(dir, { recursive: true, force: true });
const of = (mode: string, key: 'longestTurnMs' | 'longestTurnCpuMs' | 'wallMs' | 'cpuMs' | 'turns') => r2(median(results.filter((r) => r.mode === mode).map((r) => r[key])));
const rows = new Set(results.map((r) => r.rows));
if (rows.size !== 1) throw new Error(`the two ways wrote different rows: ${[...rows].join(', ')}`);
const longestRatio = r2(of('at once', 'longestTurnMs') / of('spread', 'longestTurnMs'));
const longestCpuRatio = r2(of('at once', 'longestTurnCpuMs') / of('spread', 'longestTurnCpuMs'));
const beforeRatio = r2(of('before', 'longestTurnMs') / of('spread', 'longestTurnMs'));
const costRatio = r2(of('spread', 'cpuMs') / of('at once', 'cpuMs'));
const summary = {
  bench: 'round-record-writes',
  date: new Date().toISOString(),
  node: process.version,
  loadAverage: { start: loadAtStart, end: loadavg().map(r2) },
  sites: SITES,
  sitesPerTurn: ROUND_SITES_PER_TURN,
  synchronous: SYNCHRONOUS,
  rowsPerRecord: [...rows][0],
  before: { longestTurnMs: of('before', 'longestTurnMs'), longestTurnCpuMs: of('before', 'longestTurnCpuMs'), wallMs: of('before', 'wallMs'), cpuMs: of('before', 'cpuMs') },
  atOnce: { longestTurnMs: of('at once', 'longestTurnMs'), longestTurnCpuMs: of('at once', 'longestTurnCpuMs'), wallMs: of('at once', 'wallMs'), cpuMs: of('at once', 'cpuMs') },
  spread: { longestTurnMs: of('spread', 'longestTurnMs'), longestTurnCpuMs: of('spread', 'longestTurnCpuMs'), wallMs: of('spread', 'wallMs'), cpuMs: of('spread', 'cpuMs'), turns: of('spread', 'turns') },
  targets: [
    {
      target: `a ${SITES}-site round record in SQLite: the longest turn of the event loop, before (fsync'd commit, at once) ÷ now (${SYNCHRONOUS}, spread over turns) — ${of('before', 'longestTurnMs')} vs ${of('spread', 'longestTurnMs')} ms`,
      goal: 3,
      measured: beforeRatio,
      unit: 'ratio',
      met: beforeRatio >= 3,
    },
    {
      target: `a ${SITES}-site round record in SQLite: the longest turn of the event loop, written at once ÷ spread over turns — ${of('at once', 'longestTurnMs')} vs ${of('spread', 'longestTurnMs')} ms, medians of ${REPS}`,
      goal: 1.5,
      measured: longestRatio,
      unit: 'ratio',
      met: longestRatio >= 1.5,
    },
    {
      target: `a ${SITES}-site round record in SQLite: the longest turn's CPU time (what the load around it does not inflate), written at once ÷ spread over turns — ${of('at once', 'longestTurnCpuMs')} vs ${of('spread', 'longestTurnCpuMs')} ms`,
      goal: 3,
      measured: longestCpuRatio,
      unit: 'ratio',
      met: longestCpuRatio >= 3,
    },
    {
      target: `a ${SITES}-site round record in SQLite: CPU time, spread over turns ÷ written at once (at most) — ${of('spread', 'cpuMs')} vs ${of('at once', 'cpuMs')} ms`,
      goal: 1.3,
      measured: costRatio,
      unit: 'ratio',
      met: costRatio <= 1.3,
    },
  ],
  results: results.map((r) => ({ ...r, longestTurnMs: r2(r.longestTurnMs), longestTurnCpuMs: r2(r.longestTurnCpuMs), wallMs: r2(r.wallMs), cpuMs: r2(r.cpuMs) })),
};
mkdirSync(dirname(args.out!), { recursive: true });
writeFileSync(args.out!, `${JSON.stringify(summary, null, 2)}\n`);
console.log(`before (fsync'd, at once): longest turn ${summary.before.longestTurnMs} ms`);
console.log(`at once: longest turn ${summary.atOnce.longestTurnMs} ms (its CPU ${summary.atOnce.longestTurnCpuMs} ms), CPU ${summary.atOnce.cpuMs} ms; spread over ${summary.spread.turns} turns: longest ${summary.spread.longestTurnMs} ms (its CPU ${summary.spread.longestTurnCpuMs} ms), CPU ${summary.spread.cpuMs} ms (load ${loadAtStart.join(' ')})`);
for (const t of summary.targets) console.log(`${t.met ? 'met ' : 'MISS'}  ${t.target}: ${t.measured} (goal ${t.goal})`);
console.log(`wrote ${args.out}`);
