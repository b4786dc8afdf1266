/**
 * `npx tsx bench/round-persistence.ts`: the coordinator's evaluation and persistence per round, before and
 * after moving them off the round's critical path and off the event loop (docs/performance.md).
 *
 * Part 1, in this process, the default MLP and the 1,500-example holdout, 10 rounds, "before" and "after"
 * interleaved round by round:
 *   before: holdout evaluation on the main thread, the round's model, checkpoint, report.json and
 *           report.html written synchronously (fsync'd writeFileAtomic, as before), the run upserted;
 *   after:  holdout evaluation on the evaluation worker, the model with async durable writes, the same
 *           checkpoint, the reports scheduled (report-writer.ts), the run upserted.
 *   Per round: the critical-path ms (what the next round waits for) and the ms the event loop was blocked
 *   (a 2 ms timer's lag summed). Both write the same report (a real default run's, grown round by round).
 * Part 2, 1,000 site join/leave events in SQLite: one synchronous upsert each (before) against queued rows
 *   written one transaction per tick (after): event-loop ms.
 * Part 3, a default `fedtune simulate` as a child process, the baseline checkout (--baseline DIR, e.g. a
 *   `git archive` of the commit before this change with node_modules linked) and this one, interleaved:
 *   wall time, and the latency of GET /api/health polled every 20 ms from this process — p99 over the run
 *   and over the final round (from the round-9 row to the end: aggregation, robustness, federated
 *   evaluation, final report).
 *
 *   npx tsx bench/round-persistence.ts [--reps 2] [--baseline /tmp/base] [--skip-simulate]
 *                                      [--out bench/results/round-persistence.json]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { CheckpointStore, loadModelDir, pretrainedModelDir, ReportWriter, RunDatabase, runFromReport, TfGlobalModel, writeReportHtml } from '@fedtune/coordinator';
import { REPORT_SCHEMA_VERSION, type RoundRecord, type RunReport, type WeightArrays } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend, writeFileAtomic } from '@fedtune/shared/node';
import { modelToFiles, writeModelWeights } from '@fedtune/shared';

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '2' },
    baseline: { type: 'string' },
    'skip-simulate': { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results/round-persistence.json' },
  },
});
const REPS = Number(args.reps);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN;
};
const r1 = (x: number) => Math.round(x * 10) / 10;

/** Sums how late a 2 ms timer fires while `fn` runs: the time the event loop could not serve anyone. */
async function blocked<T>(fn: () => Promise<T>): Promise<{ value: T; wallMs: number; blockedMs: number; cpuMs: number }> {
  let lag = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lag += Math.max(0, now - last - 2);
    last = now;
  }, 2);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  try {
    const value = await fn();
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    // the lag of the tick that ends the measured work
    await new Promise((r) => setTimeout(r, 3));
    return { value, wallMs, blockedMs: lag, cpuMs };
  } finally {
    clearInterval(timer);
  }
}

function nudged(weights: WeightArrays, k: number): WeightArrays {
  return weights.map((w) => w.map((v, i) => v + 0.001 * Math.sin(k * 13 + i)));
}

/** A default run's report to write each round: a real one from part 3 if there, else a synthetic one of the same shape. */
function reportTemplate(): RunReport {
  const sites = Array.from({ length: 8 }, (_, i) => `site-${i + 1}`);
  const round = (n: number): RoundRecord => ({
    round: n,
    durationMs: 3000,
    attempts: 1,
    selected: sites,
    accepted: sites.map((siteId) => ({ siteId, numExamples: 900, loss: 0.5, accuracy: 0.8, durationMs: 2500 })),
    rejected: [],
    failed: [],
    bytesDown: 3.1e6,
    bytesUp: 3.1e6,
    global: { accuracy: 0.7 + n / 100, loss: 0.8 },
    modelDir: `models/round-${n}`,
  });
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    runId: 'bench',
    status: 'running',
    startedAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    config: { rounds: 10 },
    backend: 'wasm',
    model: { architecture: 'mlp', parameters: 101770 },
    pretrained: { accuracy: 0.63, loss: 1.12 },
    rounds: Array.from({ length: 10 }, (_, i) => round(i + 1)),
  };
}

async function part1() {
  const backend = await selectNodeBackend();
  const holdout = builtinDigits().holdout;
  const root = mkdtempSync(join(tmpdir(), 'bench-persist-'));
  const before = new TfGlobalModel(await loadModelDir(pretrainedModelDir('mlp')), holdout, join(root, 'before'), 'mlp', {}, [], { evaluation: 'in-process' });
  const after = new TfGlobalModel(await loadModelDir(pretrainedModelDir('mlp')), holdout, join(root, 'after'), 'mlp', {}, [], { evaluation: 'worker' });
  if (!(await after.evaluatesInWorker())) throw new Error('the evaluation worker did not start');
  // A model used only to write "before"'s round models the old way (synchronous fsync'd files).
  const writer = await loadModelDir(pretrainedModelDir('mlp'));
  const template = reportTemplate();
  const db = new RunDatabase(join(root, 'fedtune.db'));
  const reports = new ReportWriter(join(root, 'after'));
  const checkpoints = { before: new CheckpointStore(join(root, 'before')), after: new CheckpointStore(join(root, 'after')) };
  db.upsertRun(runFromReport(template));
  const rows: Array<{ round: number; mode: 'before' | 'after'; criticalMs: number; blockedMs: number; cpuMs: number; evaluateMs: number; steps: Record<string, number> }> = [];
  for (let round = 1; round <= 10; round++) {
    const weights = nudged(after.initialWeights, round);
    const report: RunReport = { ...template, rounds: template.rounds.slice(0, round) };
    for (const mode of round % 2 ? (['before', 'after'] as const) : (['after', 'before'] as const)) {
      let evaluateMs = 0;
      const steps: Record<string, number> = {};
      let mark = 0;
      const step = (name: string) => {
        const now = performance.now();
        steps[name] = r1(now - mark);
        mark = now;
      };
      const m = await blocked(async () => {
        const t = performance.now();
        mark = t;
        if (mode === 'before') {
          await before.evaluate(weights);
          evaluateMs = performance.now() - t;
          step('evaluate');
          writeModelWeights(writer, weights);
          const files = await modelToFiles(writer, { round });
          const dir = join(root, 'before', 'models', `round-${round}`);
          writeFileAtomic(join(dir, 'weights.bin'), files.weightsBin);
          writeFileAtomic(join(dir, 'model.json'), JSON.stringify(files.modelJson));
          step('model');
        } else {
          await after.evaluate(weights);
          evaluateMs = performance.now() - t;
          step('evaluate');
          await after.save(round, weights);
          step('model');
        }
        await checkpoints[mode].write({ runId: 'bench', round, weights: { manifest: after.manifest, arrays: weights }, strategyState: {}, rng: {}, report });
        step('checkpoint');
        db.upsertRun(runFromReport(report));
        step('database');
        if (mode === 'before') {
          writeFileAtomic(join(root, 'before', 'report.json'), JSON.stringify(report, null, 2));
          writeReportHtml(join(root, 'before'), report);
        } else {
          reports.schedule(report);
        }
        step('reports');
      });
      rows.push({ round, mode, criticalMs: m.wallMs, blockedMs: m.blockedMs, cpuMs: m.cpuMs, evaluateMs, steps });
      // the background report write of "after" finishes before the next measurement (so it is not billed to "before")
      await reports.idle();
    }
  }
  // Background cost of "after"'s report writes, measured alone (off the critical path, fsync off the event loop).
  const background = await blocked(async () => {
    reports.schedule(template);
    await reports.idle();
  });
  before.dispose();
  after.dispose();
  writer.dispose();
  db.close();
  rmSync(root, { recursive: true, force: true });
  const pick = (mode: string, key: 'criticalMs' | 'blockedMs' | 'evaluateMs' | 'cpuMs') => rows.filter((r) => r.mode === mode).map((r) => r[key]);
  return {
    backend: backend.backend,
    steps: Object.fromEntries(
      (['before', 'after'] as const).map((mode) => [mode, Object.fromEntries(Object.keys(rows[0].steps).map((k) => [k, r1(median(rows.filter((r) => r.mode === mode).map((r) => r.steps[k])))]))]),
    ),
    rows: rows.map((r) => ({ ...r, criticalMs: r1(r.criticalMs), blockedMs: r1(r.blockedMs), cpuMs: r1(r.cpuMs), evaluateMs: r1(r.evaluateMs) })),
    before: { cpuMs: r1(median(pick('before', 'cpuMs'))), criticalMs: r1(median(pick('before', 'criticalMs'))), blockedMs: r1(median(pick('before', 'blockedMs'))), evaluateMs: r1(median(pick('before', 'evaluateMs'))) },
    after: { cpuMs: r1(median(pick('after', 'cpuMs'))), criticalMs: r1(median(pick('after', 'criticalMs'))), blockedMs: r1(median(pick('after', 'blockedMs'))), evaluateMs: r1(median(pick('after', 'evaluateMs'))) },
    afterBackgroundReportWrite: { wallMs: r1(background.wallMs), blockedMs: r1(background.blockedMs) },
  };
}

async function part2() {
  const root = mkdtempSync(join(tmpdir(), 'bench-sqlite-'));
  const results: Array<{ mode: string; blockedMs: number; wallMs: number }> = [];
  for (let rep = 0; rep < 3; rep++) {
    for (const mode of rep % 2 ? ['queued', 'upsert'] : ['upsert', 'queued']) {
      const db = new RunDatabase(join(root, `${mode}-${rep}.db`));
      db.upsertRun(runFromReport({ ...reportTemplate(), runId: 'r' }));
      const m = await blocked(async () => {
        for (let i = 0; i < 1000; i++) {
          const site = { siteId: `site-${i % 500}`, status: (i < 500 ? 'connected' : 'disconnected') as 'connected' | 'disconnected', reason: 'transport close' };
          if (mode === 'upsert') db.upsertSite('r', site);
          else db.queueSite('r', site);
          // events arrive over a few ticks, as socket.io delivers them
          if (i % 100 === 99) await new Promise((r) => setImmediate(r));
        }
        await new Promise((r) => setImmediate(r));
      });
      if (db.listSites('r').length !== 500) throw new Error('rows missing');
      db.close();
      results.push({ mode, blockedMs: m.blockedMs, wallMs: m.wallMs });
    }
  }
  rmSync(root, { recursive: true, force: true });
  const med = (mode: string) => r1(median(results.filter((r) => r.mode === mode).map((r) => r.wallMs)));
  return { events: 1000, upsertEachMs: med('upsert'), queuedMs: med('queued'), ratio: r1(med('upsert') / Math.max(0.1, med('queued'))) };
}

/** One default `fedtune simulate` of the checkout at `dir`: wall time and /api/health latencies. */
async function simulate(dir: string, label: string): Promise<{ label: string; wallMs: number; healthP99: number; finalRoundHealthP99: number; finalRoundHealthMax: number; samples: number; finalSamples: number; accuracy: number | null }> {
  const out = mkdtempSync(join(tmpdir(), `bench-sim-${label}-`));
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(dir, 'cli/src/main.ts'), 'simulate', '--out', out], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let url: string | undefined;
  let finalFrom = Infinity;
  let accuracy: number | null = null;
  const health: Array<{ at: number; ms: number }> = [];
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const listening = /coordinator listening on (http:\/\/[^\s]+)/.exec(line);
      if (listening) url = listening[1];
      if (/^\s+9\s+\d/.test(line)) finalFrom = performance.now();
      const row10 = /^\s+10\s+([\d.]+)%/.exec(line);
      if (row10) accuracy = Number(row10[1]) / 100;
    }
  });
  child.stderr.resume();
  let running = true;
  const poll = (async () => {
    while (running) {
      if (url) {
        const t = performance.now();
        await new Promise<void>((resolve) => {
          const req = http.get(`${url}/api/health`, { agent }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', () => resolve());
          req.setTimeout(10_000, () => req.destroy());
        });
        health.push({ at: t, ms: performance.now() - t });
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  running = false;
  await poll;
  agent.destroy();
  const wallMs = performance.now() - t0;
  rmSync(out, { recursive: true, force: true });
  if (code !== 0) throw new Error(`${label} simulate exited with ${code}`);
  const all = health.map((h) => h.ms);
  const final = health.filter((h) => h.at >= finalFrom).map((h) => h.ms);
  return { label, wallMs: Math.round(wallMs), healthP99: r1(quantile(all, 0.99)), finalRoundHealthP99: r1(quantile(final, 0.99)), finalRoundHealthMax: r1(Math.max(...final)), samples: all.length, finalSamples: final.length, accuracy };
}

async function part3(baseline: string) {
  const here = process.cwd();
  const runs: Awaited<ReturnType<typeof simulate>>[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    for (const [label, dir] of rep % 2 ? ([['after', here], ['before', baseline]] as const) : ([['before', baseline], ['after', here]] as const)) {
      const r = await simulate(dir, label);
      console.log(`  simulate ${label}: ${(r.wallMs / 1000).toFixed(1)} s, health p99 ${r.healthP99} ms (final round ${r.finalRoundHealthP99} ms, max ${r.finalRoundHealthMax} ms, ${r.finalSamples} probes), accuracy ${r.accuracy}`);
      runs.push(r);
    }
  }
  const med = (label: string, key: 'wallMs' | 'healthP99' | 'finalRoundHealthP99') => median(runs.filter((r) => r.label === label).map((r) => r[key]));
  return {
    runs,
    before: { wallMs: med('before', 'wallMs'), healthP99: med('before', 'healthP99'), finalRoundHealthP99: med('before', 'finalRoundHealthP99') },
    after: { wallMs: med('after', 'wallMs'), healthP99: med('after', 'healthP99'), finalRoundHealthP99: med('after', 'finalRoundHealthP99') },
  };
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`load average before: ${loadavg()}`);
console.log('part 1: evaluation + persistence per round (default MLP, 1,500 holdout examples)');
const p1 = await part1();
console.log(`  before: CPU ${p1.before.cpuMs} ms/round, critical path ${p1.before.criticalMs} ms/round (holdout evaluation ${p1.before.evaluateMs} ms), event loop blocked ${p1.before.blockedMs} ms`);
console.log(`  steps (median ms): ${JSON.stringify(p1.steps)}`);
console.log(`  after:  CPU ${p1.after.cpuMs} ms/round, critical path ${p1.after.criticalMs} ms/round (holdout evaluation ${p1.after.evaluateMs} ms), event loop blocked ${p1.after.blockedMs} ms; background report write ${p1.afterBackgroundReportWrite.wallMs} ms`);
console.log('part 2: 1,000 site join/leave events in SQLite');
const p2 = await part2();
console.log(`  one upsert each: ${p2.upsertEachMs} ms; queued, one transaction per tick: ${p2.queuedMs} ms (${p2.ratio}×)`);
let p3: Awaited<ReturnType<typeof part3>> | undefined;
if (!args['skip-simulate']) {
  if (!args.baseline) throw new Error('--baseline DIR (a checkout of the commit before this change, with node_modules) or --skip-simulate');
  console.log('part 3: default `fedtune simulate`, before and after, interleaved');
  p3 = await part3(args.baseline);
}
const targets = [
  // CPU ms (process-wide: the evaluation worker included) is what the machine's load does not inflate; the wall-clock critical path is in part1.
  { target: 'holdout evaluation + persistence per round (CPU, median)', goal: 60, measured: p1.after.cpuMs, unit: 'ms', met: p1.after.cpuMs <= 60 },
  { target: 'holdout evaluation + persistence per round (wall-clock critical path, median; inflated by the load average)', goal: 60, measured: p1.after.criticalMs, unit: 'ms', met: p1.after.criticalMs <= 60 },
  { target: 'event loop blocked by evaluation + persistence per round: before / after', goal: 1, measured: r1(p1.before.blockedMs / Math.max(0.1, p1.after.blockedMs)), unit: 'ratio', met: p1.after.blockedMs < p1.before.blockedMs },
  { target: '1,000 site join/leave events: one upsert each / batched', goal: 10, measured: p2.ratio, unit: 'ratio', met: p2.ratio >= 10 },
  ...(p3
    ? [
        { target: 'health-check p99 during the final round of a default simulate', goal: 50, measured: p3.after.finalRoundHealthP99, unit: 'ms', met: p3.after.finalRoundHealthP99 <= 50 },
        { target: 'health-check p99 over a whole default simulate', goal: 50, measured: p3.after.healthP99, unit: 'ms', met: p3.after.healthP99 <= 50 },
        { target: 'default simulate wall time: before / after', goal: 1, measured: Math.round((p3.before.wallMs / p3.after.wallMs) * 100) / 100, unit: 'ratio', met: p3.before.wallMs >= p3.after.wallMs },
      ]
    : []),
];
const result = { bench: 'round-persistence', node: process.version, loadAverage: loadavg(), part1: p1, sqlite: p2, simulate: p3, targets };
mkdirSync(dirname(args.out!), { recursive: true });
writeFileSync(args.out!, `${JSON.stringify(result, null, 2)}\n`);
for (const t of targets) console.log(`${t.met ? 'met ' : 'MISS'}  ${t.target}: ${t.measured} ${t.unit} (goal ${t.goal})`);
console.log(`wrote ${args.out}`);
process.exit(0);
