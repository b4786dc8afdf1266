/**
 * `npm run bench:load` (tsx bench/load.ts): many concurrent socket.io sites against one coordinator.
 *
 * One coordinator (`startCoordinator`, transport 'socket', on loopback) with a dense model (default 784-128-10,
 * issue 14's 100k parameters) and a tiny holdout, and N light socket.io sites in a child process, so the
 * event-loop lag, CPU time, heap and RSS measured are the coordinator's own. A site (bench/load-light-site.ts)
 * joins as `fedtune client` does — `hello`, then the signed run terms verified and answered with `acceptTerms` —,
 * answers every `fit` with the weights it was sent (after `--train-ms` of simulated training: real sites
 * are other machines) and every `evaluate` with fixed metrics, so what is measured is the coordinator:
 * validation, aggregation, evaluation and saving per round, fan-out and fan-in of N payloads.
 *
 * Reports per run: rounds completed, round durations and the coordinator's round overhead (round time
 * beyond the slowest site's training), the share of updates accepted, the event-loop lag (p50/p99/max
 * while rounds run) and memory (peak RSS and heap, and their growth from after all sites joined to the
 * peak during rounds, and what is retained after a forced GC at the end of each round).
 *
 *   npx tsx bench/load.ts [--sites 10,100,500] [--rounds 3] [--hidden 128] [--features 784] [--classes 10]
 *                          [--train-ms 0] [--baseline] [--join-timeout-ms 60000] [--out bench/results/load.json]
 *
 * Sites that do not all join within `--join-timeout-ms` of connecting, or a size that does not complete all
 * its rounds, fail the bench: one line on stderr per failure (`bench:load: …`) and exit code 1 (no result is
 * written when a size could not even start). The load average (os.loadavg) is printed per size and recorded.
 *
 * `--sites` takes a comma list to run several sizes one after the other and compare memory growth (FedAvg
 * aggregation must not grow with N). The defaults are issue 14's load: instant-answer sites and the default
 * 100k-parameter model (784-128-10, a 407 KB update).
 *
 * Per size it also reports the coordinator's ms per accepted update (round time beyond the slowest site's
 * training, over the accepted updates; median of the rounds before the final one, whose holdout robustness
 * evaluation is not per update), and the p99 of a health check (`GET /api/health`, polled every 20 ms from a
 * process of its own) in every round (less any time a check waited on the bench's own forced GC after each round,
 * which no coordinator runs: `healthMs.waitedOnForcedGc` counts those checks). `--baseline` runs every size a second time, interleaved, in a child
 * process as before issue 14: without the native websocket add-on (WS_NO_BUFFER_UTIL=1: ws masks in JS) and
 * without fan-in pacing (busyMsPerTurn 1000: every update handled as it arrives).
 * bench/results/load.json gets a `targets` array (≤ 1 ms per update at 100 and 500 sites, health p99 ≤ 50 ms).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants as perfConstants, monitorEventLoopDelay, performance, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fork } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { startCoordinator, type EngineEvent, type SiteConnections } from '@fedtune/coordinator';
import { type CoordinatorLink, type Dataset, type RunReport } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { lightSite, newLightSiteCounters, type LightSiteCounters } from './load-light-site.ts';
import { loadFailures } from './load-failures.ts';
import { TurnCpuMonitor } from './turn-cpu-monitor.ts';

const { values: args } = parseArgs({
      options: {
        sites: { type: 'string', default: '10,100,500' },
        rounds: { type: 'string', default: '3' },
        hidden: { type: 'string', default: '128' },
        features: { type: 'string', default: '784' },
        classes: { type: 'string', default: '10' },
        'train-ms': { type: 'string', default: '0' },
        baseline: { type: 'boolean', default: false },
        /** Internal: this process is the baseline child (prints one JSON line per size). */
        child: { type: 'boolean', default: false },
        /** Internal: this process hosts the sites of a run at this URL. */
        'sites-for': { type: 'string' },
        /** Internal: this process polls the health check of the coordinator at this URL. */
        'health-for': { type: 'string' },
        'connect-batch': { type: 'string', default: '50' },
        'round-timeout-ms': { type: 'string', default: '120000' },
        /** How long the sites have, once connected, to join (answer the run's terms): beyond it the bench fails. */
        'join-timeout-ms': { type: 'string', default: '60000' },
        /** The coordinator's `updatesReadPerTurn` (connection-limits.ts): its default when not given. */
        'updates-read-per-turn': { type: 'string' },
        /** Internal, for the bench's own test: the sites never answer the run's terms (they never join; the bench must fail). */
        'sites-ignore-terms': { type: 'boolean', default: false },
        out: { type: 'string', default: 'bench/results/load.json' },
      },
    });

const siteCounts = args.sites!.split(',').map((s) => Number(s.trim()));
const ROUNDS = Number(args.rounds);
const HIDDEN = Number(args.hidden);
const FEATURES = Number(args.features);
const CLASSES = Number(args.classes);
const TRAIN_MS = Number(args['train-ms']);
const CONNECT_BATCH = Number(args['connect-batch']);
/** How long the sites have to join (hello, welcome, terms answered) once all are connected. */
const JOIN_DEADLINE_MS = Number(args['join-timeout-ms']);

function tinyModel(): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [FEATURES], units: HIDDEN, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  model.add(tf.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  return model;
}

function tinyHoldout(n = 64): Dataset {
  const x = new Float32Array(n * FEATURES);
  const y = new Int32Array(n);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 12.9898) * 0.5;
  for (let i = 0; i < n; i++) y[i] = i % CLASSES;
  return { x, y, featureShape: [FEATURES], numClasses: CLASSES };
}

function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

const MB = 1024 * 1024;

/**
 * CPU ms of this process's main thread and of all its other threads (Linux /proc/self/task/N/stat: utime +
 * stime at 100 ticks a second); {} where /proc is missing. The other threads are V8's GC helpers, the
 * evaluation worker, libuv's pool (Node names them all "node").
 */
function threadCpuMs(): Record<string, number> {
  const out: Record<string, number> = {};
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields after the name: state is [0], utime [11], stime [12] (stat(5) fields 14 and 15).
      const ms = (Number(fields[11]) + Number(fields[12])) * 10;
      // Node names every thread "node": only the main thread (tid = pid) can be told apart.
      const key = t === String(process.pid) ? 'main' : 'other threads';
      out[key] = (out[key] ?? 0) + ms;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

function diffThreads(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = (b[k] ?? 0) - (a[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}
const round1 = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const loadAverage = () => loadavg().map((x) => round1(x, 2));

/** Sites process: connects `sites` light sites to `url`, reports when all of them joined (accepted the run's terms) and when all are done. */
async function runSites(url: string, sites: number): Promise<void> {
  const counters = newLightSiteCounters();
  const links: CoordinatorLink[] = [];
  process.on('message', (m: { type: string }) => {
    if (m.type !== 'close') return;
    for (const link of links) link.close();
    process.send!({ type: 'closed', counters }, () => process.exit(0));
  });
  for (let k = 0; k < sites; k += CONNECT_BATCH) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, sites - k) }, (_, j) => lightSite({ url, siteId: `site-${String(k + j + 1).padStart(4, '0')}`, counters, trainMs: TRAIN_MS, answerTerms: !args['sites-ignore-terms'] }));
    links.push(...(await Promise.all(batch)));
  }
  // Every site must answer the run's terms: wait for all the answers, the first refusal, or the deadline.
  const deadline = performance.now() + JOIN_DEADLINE_MS;
  while (!args['sites-ignore-terms'] && counters.acceptedTerms < sites && counters.refusedTerms === 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (!args['sites-ignore-terms'] && counters.acceptedTerms < sites) {
    const why = counters.refusedTerms ? `${counters.refusedTerms} refused (${counters.lastRefusal ?? 'no reason'})` : `no terms within ${JOIN_DEADLINE_MS} ms`;
    process.send!({ type: 'failed', reason: `only ${counters.acceptedTerms} of ${sites} sites accepted the run's terms: ${why}` });
    return;
  }
  process.send!({ type: 'connected' });
}

/**
 * Health-check process: `GET /api/health` every 20 ms, from a process of its own (neither the coordinator's
 * event loop nor the sites' delays it), until told to close: [sent at (epoch ms), latency ms].
 */
async function pollHealth(url: string): Promise<void> {
  const health: Array<[number, number]> = [];
  let polling = true;
  process.on('message', (m: { type: string }) => {
    if (m.type === 'close') polling = false;
  });
  process.send!({ type: 'connected' });
  while (polling) {
    const at = performance.timeOrigin + performance.now();
    const t = performance.now();
    try {
      await (await fetch(`${url}/api/health`)).arrayBuffer();
      health.push([at, performance.now() - t]);
    } catch {
      health.push([at, Infinity]);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  process.send!({ type: 'closed', health }, () => process.exit(0));
}

interface LoadResult {
  sites: number;
  rounds: number;
  roundsCompleted: number;
  status: RunReport['status'];
  aborted?: string;
  parameters: number;
  payloadBytes: number;
  trainMs: number;
  connectSeconds: number;
  roundSeconds: number[];
  /** Round time beyond the slowest accepted site's reported training time. */
  roundOverheadMs: { median: number; max: number };
  /** Round overhead over the accepted updates, per round, and the median of the rounds before the final one. */
  msPerUpdate: { perRound: number[]; median: number };
  /** The coordinator process's CPU time per accepted update (the sites run in another process), per round and median before the final one. */
  cpuMsPerUpdate: { perRound: number[]; median: number };
  /**
   * The same up to the round's last accepted update only (fan-out, receiving, validating and folding the
   * updates in), without the round's fixed costs after it (holdout evaluation, saving): wall and CPU ms. The
   * CPU clock is read once, at the update that completes the round's selection (a read costs 0.1–1 ms here);
   * in a round with missing updates at most every 25 ms, so it may stop up to 25 ms before the last update.
   */
  collectPerUpdate: { wallMs: number[]; cpuMs: number[] };
  /**
   * Where the coordinator process's CPU went over the rounds before the final one, ms per accepted update:
   * user and system time (process.cpuUsage), and the main thread against all others (/proc: V8's GC helpers,
   * the evaluation worker, libuv's pool; tick resolution 10 ms per thread and round).
   */
  cpuBreakdownPerUpdate: { user: number; system: number; threads: Record<string, number> };
  /**
   * The main thread's garbage-collection pauses inside the rounds before the final one (PerformanceObserver
   * 'gc'; the bench's own forced GC after each round is outside the windows): count and ms per accepted update.
   */
  gcPerUpdate: { major: number; majorMs: number; minor: number; minorMs: number };
  /** Health-check latency (GET /api/health from a process of its own) per round: p99 and max, ms. */
  healthMs: { p99: number[]; max: number[]; checks: number[]; /** Checks per round that waited on the bench's own forced GC (that wait is taken out of their latency). */ waitedOnForcedGc?: number[] };
  /**
   * Per round, the main thread's CPU in the round's longest turn of the event loop (bench/turn-cpu-monitor.ts;
   * Linux only): what the coordinator itself held the loop for, without the wait for a CPU on a shared machine.
   */
  longestTurnCpuMs?: number[];
  /** The fan-in's counters over the run: times the sites' connections were paused, the most updates read and connections resumed in one turn. */
  fanIn?: { pauses: number; mostUpdatesReadInATurn: number; mostResumedInATurn: number };
  /** Main-thread heap after a forced GC at the end of each round, minus after join (MB). */
  heapRetainedAfterRounds: number[];
  acceptedShare: number;
  rejected: number;
  failed: number;
  eventLoopLagMs: { p50: number; p99: number; max: number };
  /** The coordinator process's own (the sites run in a child process). */
  memoryMb: {
    rssAfterJoin: number;
    rssPeak: number;
    rssGrowthDuringRounds: number;
    heapAfterJoin: number;
    heapPeak: number;
    heapGrowthDuringRounds: number;
    arrayBuffersAfterJoin: number;
    arrayBuffersPeak: number;
    arrayBuffersGrowthDuringRounds: number;
    arrayBuffersRetainedAfterRounds: number[];
  };
}

async function runLoad(sites: number, backend: string): Promise<LoadResult> {
  const runsDir = mkdtempSync(join(tmpdir(), 'fedtune-load-'));
  const model = tinyModel();
  const parameters = model.countParams();
  let joined = 0;
  let phase: 'joining' | 'rounds' = 'joining';
  // Retained memory: after each round, collect garbage (run with --expose-gc) and read what is still held.
  const retainedBuffers: number[] = [];
  const retainedHeap: number[] = [];
  /** Each round's window [start, end] in epoch ms, for the health checks. */
  const windows: Array<[number, number]> = [];
  /**
   * The bench's own full GC after each round (for the retained memory), [start, end] in epoch ms: a stall of
   * 40–57 ms (--trace-gc: "testing; GC in old space requested") that no coordinator has: the time a health
   * check spent waiting on it is the bench's, not the coordinator's, and is taken out of its latency.
   */
  const forcedGc: Array<[number, number]> = [];
  /** The coordinator process's CPU time (user + system, ms) at each round's start and end. */
  const cpu: Array<[number, number]> = [];
  /** CPU time and clock at the round's last accepted update: up to there the round is fan-out and fan-in. */
  const collect: Array<[number, number]> = [];
  let lastCpuReadAt = 0;
  /** The current round's selected sites and accepted updates so far. */
  let expectedUpdates = 0;
  let acceptedInRound = 0;
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  /** user/system CPU and per-thread CPU at each round's start and end. */
  /** Each round's window on the performance clock [start, end], for the GC entries. */
  const perfWindows: Array<[number, number]> = [];
  const gcEntries: PerformanceEntry[] = [];
  const gcObserver = new PerformanceObserver((list) => gcEntries.push(...list.getEntries()));
  gcObserver.observe({ entryTypes: ['gc'] });
  const split: Array<{ start: [NodeJS.CpuUsage, Record<string, number>]; end?: [NodeJS.CpuUsage, Record<string, number>] }> = [];
  const onEvent = (e: EngineEvent) => {
    if (e.type === 'site-joined') joined++;
    if (e.type === 'round-start' && e.round === 1 && e.attempt === 1) phase = 'rounds';
    if (e.type === 'round-start' && e.attempt === 1) {
      windows.push([Date.now(), Infinity]);
      split.push({ start: [process.cpuUsage(), threadCpuMs()] });
      perfWindows.push([performance.now(), Infinity]);
      cpu.push([cpuMs(), NaN]);
    }
    if (e.type === 'round-start' && e.attempt === 1) {
      expectedUpdates = e.selected.length;
      acceptedInRound = 0;
    }
    if (e.type === 'result' && e.accepted && collect.length === cpu.length - 1) collect.push([NaN, NaN]);
    // The CPU clock (process.cpuUsage: getrusage over every thread, 0.1–1 ms a call on this VM, measured in a
    // profile of this bench) is read once per round, at the update that completes the round's selection; only
    // when updates are missing does a round fall back to reads at most every 25 ms. Reading it at every update
    // (as before 2026-12-02, "at most every 2 ms", i.e. at every update once they arrive more than 2 ms apart)
    // charged the bench's own reads — up to ~1 ms per update under load — to the coordinator.
    if (e.type === 'result' && e.accepted) {
      const at = Date.now();
      acceptedInRound++;
      const last = collect[collect.length - 1];
      const read = Number.isNaN(last[0]) || acceptedInRound === expectedUpdates || at - lastCpuReadAt >= 25;
      collect[collect.length - 1] = [read ? ((lastCpuReadAt = at), cpuMs()) : last[0], at];
    }
    if (e.type === 'round-end') {
      windows[windows.length - 1][1] = Date.now();
      cpu[cpu.length - 1][1] = cpuMs();
      split[split.length - 1].end = [process.cpuUsage(), threadCpuMs()];
      perfWindows[perfWindows.length - 1][1] = performance.now();
    }
    if (e.type === 'round-end' && global.gc) {
      const gcFrom = performance.timeOrigin + performance.now();
      global.gc();
      forcedGc.push([gcFrom, performance.timeOrigin + performance.now()]);
      const m = process.memoryUsage();
      retainedBuffers.push(m.arrayBuffers);
      retainedHeap.push(m.heapUsed);
    }
  };
  const coordinator = await startCoordinator({
    runsDir,
    model,
    architecture: 'bench-dense',
    holdout: tinyHoldout(),
    backend,
    transport: 'socket',
    // The baseline handles every update as it arrives (no fan-in pacing), as before issue 14.
    ...(args.child ? { connectionLimits: { busyMsPerTurn: 1000 } } : args['updates-read-per-turn'] ? { connectionLimits: { updatesReadPerTurn: Number(args['updates-read-per-turn']) } } : {}),
    onEvent,
    config: {
      runId: `load-${sites}`,
      rounds: ROUNDS,
      minSites: sites,
      seed: 1,
      quorum: 0.9,
      roundTimeoutMs: Number(args['round-timeout-ms']),
      joinTimeoutMs: 300_000,
      federatedEvaluation: 'final',
    },
  });

  // Memory and event-loop lag, sampled while the run goes on.
  let rssAfterJoin = 0;
  let heapAfterJoin = 0;
  let rssPeak = 0;
  let heapPeak = 0;
  let buffersAfterJoin = 0;
  let buffersPeak = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    if (phase === 'rounds') {
      rssPeak = Math.max(rssPeak, m.rss);
      heapPeak = Math.max(heapPeak, m.heapUsed);
      buffersPeak = Math.max(buffersPeak, m.arrayBuffers);
    }
  }, 20);
  const lag = monitorEventLoopDelay({ resolution: 5 });

  const t0 = performance.now();
  // The sites run in their own process, so the coordinator's CPU time (process.cpuUsage) is its own.
  const worker = fork(fileURLToPath(import.meta.url), ['--sites-for', coordinator.url!, '--join-timeout-ms', String(JOIN_DEADLINE_MS), ...(args['sites-ignore-terms'] ? ['--sites-ignore-terms'] : []), '--sites', String(sites), '--connect-batch', String(CONNECT_BATCH), '--train-ms', String(TRAIN_MS)], { execArgv: ['--import', 'tsx'] });
  const poller = fork(fileURLToPath(import.meta.url), ['--health-for', coordinator.url!], { execArgv: ['--import', 'tsx'] });
  const fromPoller = (type: string) =>
    new Promise<{ type: string; health?: Array<[number, number]> }>((resolve, reject) => {
      const onMessage = (m: { type: string }) => {
        if (m.type !== type) return;
        poller.off('message', onMessage);
        resolve(m);
      };
      poller.on('message', onMessage);
      poller.once('error', reject);
    });
  const pollerReady = fromPoller('connected');
  const fromWorker = (type: string) =>
    new Promise<{ type: string; counters?: LightSiteCounters; reason?: string }>((resolve, reject) => {
      const onMessage = (m: { type: string; reason?: string }) => {
        if (m.type === 'failed') return reject(new Error(m.reason));
        if (m.type !== type) return;
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        resolve(m);
      };
      const onExit = (code: number | null) => reject(new Error(`the sites' process exited (code ${code}) before "${type}"`));
      worker.on('message', onMessage);
      worker.once('exit', onExit);
      worker.once('error', reject);
    });
  try {
    await fromWorker('connected');
  } catch (error) {
    // No run to measure: stop everything this size started and say why in one line.
    worker.kill('SIGKILL');
    poller.kill('SIGKILL');
    await coordinator.close().catch(() => undefined);
    rmSync(runsDir, { recursive: true, force: true });
    throw new Error(`${sites} sites: ${(error as Error).message}`);
  }
  // Joined is the coordinator's word (its site-joined events), not the sites': wait for every one of them.
  const joinDeadline = performance.now() + JOIN_DEADLINE_MS;
  while (joined < sites && performance.now() < joinDeadline) await new Promise((r) => setTimeout(r, 20));
  if (joined < sites) {
    worker.kill('SIGKILL');
    poller.kill('SIGKILL');
    await coordinator.close().catch(() => undefined);
    rmSync(runsDir, { recursive: true, force: true });
    throw new Error(`${sites} sites: only ${joined} of ${sites} joined the run within ${JOIN_DEADLINE_MS} ms of connecting (did they answer the run's terms?)`);
  }
  await pollerReady;
  const connectSeconds = (performance.now() - t0) / 1000;
  // The run starts when the last hello arrives; take the "after join" memory as close to that as we can.
  if (global.gc) global.gc();
  const m0 = process.memoryUsage();
  rssAfterJoin = m0.rss;
  heapAfterJoin = m0.heapUsed;
  rssPeak = m0.rss;
  heapPeak = m0.heapUsed;
  buffersAfterJoin = m0.arrayBuffers;
  buffersPeak = m0.arrayBuffers;
  lag.enable();
  const turnCpu = new TurnCpuMonitor();
  turnCpu.start();
  const report = await coordinator.done;
  turnCpu.stop();
  lag.disable();
  // The fan-in's own counters (internal: read for the bench only, as tests/fan-in-flow-control-socket.test.ts does).
  const fanIn = (coordinator.engine as unknown as { ctx: { membership: { connections: SiteConnections } } }).ctx.membership.connections;
  clearInterval(sampler);
  // Let the 'complete' messages arrive, then close everything.
  await new Promise((r) => setTimeout(r, 200));
  const closed = fromWorker('closed');
  worker.send({ type: 'close' });
  const { counters } = await closed;
  const polled = fromPoller('closed');
  poller.send({ type: 'close' });
  const { health = [] } = await polled;
  if (poller.exitCode === null) await new Promise((r) => poller.once('exit', r));
  if (worker.exitCode === null) await new Promise((r) => worker.once('exit', r));
  await coordinator.close();
  rmSync(runsDir, { recursive: true, force: true });

  const rounds = report.rounds;
  const overheads = rounds.map((r) => r.durationMs - Math.max(0, ...r.accepted.map((a) => a.durationMs)));
  const perUpdate = rounds.map((r, i) => round1(overheads[i] / Math.max(1, r.accepted.length), 3));
  const cpuPerUpdate = rounds.map((r, i) => round1((cpu[i][1] - cpu[i][0]) / Math.max(1, r.accepted.length), 3));
  const collectCpu = rounds.map((r, i) => round1(((collect[i]?.[0] ?? NaN) - cpu[i][0]) / Math.max(1, r.accepted.length), 3));
  const collectWall = rounds.map((r, i) => round1(((collect[i]?.[1] ?? NaN) - windows[i][0]) / Math.max(1, r.accepted.length), 3));
  // The rounds before the final one (the final one adds the robustness evaluation), or the only one.
  const early = rounds.length > 1 ? rounds.slice(0, -1) : rounds;
  const earlyUpdates = Math.max(1, early.reduce((n, r) => n + r.accepted.length, 0));
  const breakdown = { user: 0, system: 0, threads: {} as Record<string, number> };
  for (const s of split.slice(0, early.length)) {
    if (!s.end) continue;
    breakdown.user += (s.end[0].user - s.start[0].user) / 1000;
    breakdown.system += (s.end[0].system - s.start[0].system) / 1000;
    for (const [k, v] of Object.entries(diffThreads(s.start[1], s.end[1]))) breakdown.threads[k] = (breakdown.threads[k] ?? 0) + v;
  }
  const cpuBreakdownPerUpdate = {
    user: round1(breakdown.user / earlyUpdates, 3),
    system: round1(breakdown.system / earlyUpdates, 3),
    threads: Object.fromEntries(Object.entries(breakdown.threads).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round1(v / earlyUpdates, 3)])),
  };
  gcObserver.disconnect();
  const gcIn = gcEntries.filter((e) => perfWindows.slice(0, early.length).some(([a, b]) => e.startTime >= a && e.startTime <= b));
  const kindOf = (e: PerformanceEntry) => (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
  const major = gcIn.filter((e) => kindOf(e) === perfConstants.NODE_PERFORMANCE_GC_MAJOR);
  const minor = gcIn.filter((e) => kindOf(e) === perfConstants.NODE_PERFORMANCE_GC_MINOR);
  const gcPerUpdate = {
    major: round1(major.length / earlyUpdates, 4),
    majorMs: round1(major.reduce((t, e) => t + e.duration, 0) / earlyUpdates, 3),
    minor: round1(minor.length / earlyUpdates, 4),
    minorMs: round1(minor.reduce((t, e) => t + e.duration, 0) / earlyUpdates, 3),
  };
  // A check's latency without the part of it spent in the bench's forced GCs (a failed check stays Infinity).
  const forcedGcIn = ([at, ms]: [number, number]) => forcedGc.reduce((t, [a, b]) => t + Math.max(0, Math.min(b, at + ms) - Math.max(a, at)), 0);
  const checksIn = windows.map(([a, b]) => health.filter(([at]) => at >= a && at <= b).map((h) => ({ ms: h[1], inForcedGc: forcedGcIn(h) })));
  const healthIn = checksIn.map((checks) => checks.map((c) => c.ms - c.inForcedGc));
  const healthWaitedOnForcedGc = checksIn.map((checks) => checks.filter((c) => c.inForcedGc > 0).length);
  const selected = rounds.reduce((n, r) => n + r.selected.length, 0);
  const accepted = rounds.reduce((n, r) => n + r.accepted.length, 0);
  const result: LoadResult = {
    sites,
    rounds: ROUNDS,
    roundsCompleted: rounds.length,
    status: report.status,
    aborted: report.aborted,
    parameters,
    payloadBytes: rounds[0] ? Math.round(rounds[0].bytesUp / Math.max(1, rounds[0].accepted.length)) : 0,
    trainMs: TRAIN_MS,
    connectSeconds: round1(connectSeconds, 2),
    roundSeconds: rounds.map((r) => round1(r.durationMs / 1000, 3)),
    roundOverheadMs: { median: round1(quantile(overheads, 0.5)), max: round1(Math.max(...overheads)) },
    msPerUpdate: { perRound: perUpdate, median: quantile(perUpdate.length > 1 ? perUpdate.slice(0, -1) : perUpdate, 0.5) },
    collectPerUpdate: { wallMs: collectWall, cpuMs: collectCpu },
    cpuMsPerUpdate: { perRound: cpuPerUpdate, median: quantile(cpuPerUpdate.length > 1 ? cpuPerUpdate.slice(0, -1) : cpuPerUpdate, 0.5) },
    cpuBreakdownPerUpdate,
    gcPerUpdate,
    healthMs: { p99: healthIn.map((h) => round1(quantile(h, 0.99), 1)), max: healthIn.map((h) => round1(Math.max(...h), 1)), checks: healthIn.map((h) => h.length), waitedOnForcedGc: healthWaitedOnForcedGc },
    // Less the bench's own forced GC where a turn held one (the GC's wall time is its CPU on the main thread).
    fanIn: { pauses: fanIn.fanInPauses, mostUpdatesReadInATurn: fanIn.mostUpdatesReadInATurn, mostResumedInATurn: fanIn.mostResumedInATurn },
    longestTurnCpuMs: turnCpu.available ? turnCpu.longestCpuIn(windows, (t) => forcedGcIn([t.at, t.wallMs])).map((ms) => round1(ms, 1)) : undefined,
    heapRetainedAfterRounds: retainedHeap.map((b) => round1((b - heapAfterJoin) / MB)),
    acceptedShare: selected ? accepted / selected : 0,
    rejected: rounds.reduce((n, r) => n + r.rejected.length, 0),
    failed: rounds.reduce((n, r) => n + r.failed.length, 0),
    eventLoopLagMs: { p50: round1(lag.percentile(50) / 1e6, 2), p99: round1(lag.percentile(99) / 1e6, 2), max: round1(lag.max / 1e6, 2) },
    memoryMb: {
      rssAfterJoin: round1(rssAfterJoin / MB),
      rssPeak: round1(rssPeak / MB),
      rssGrowthDuringRounds: round1((rssPeak - rssAfterJoin) / MB),
      heapAfterJoin: round1(heapAfterJoin / MB),
      heapPeak: round1(heapPeak / MB),
      heapGrowthDuringRounds: round1((heapPeak - heapAfterJoin) / MB),
      arrayBuffersAfterJoin: round1(buffersAfterJoin / MB),
      arrayBuffersPeak: round1(buffersPeak / MB),
      arrayBuffersGrowthDuringRounds: round1((buffersPeak - buffersAfterJoin) / MB),
      /** ArrayBuffers still held after a forced GC at the end of each round, minus after join (needs --expose-gc). */
      arrayBuffersRetainedAfterRounds: retainedBuffers.map((b) => round1((b - buffersAfterJoin) / MB)),
    },
  };
  if (counters && counters.rejected) result.aborted = `${result.aborted ?? ''} sites received ${counters.rejected} rejections`.trim();
  if (joined !== sites) result.aborted = `${result.aborted ?? ''} only ${joined} of ${sites} joined`.trim();
  return result;
}

/** Runs one size in a child process without bufferutil and without fan-in pacing: the "before" of the same run. */
function baselineRun(n: number): Promise<LoadResult> {
  const argv = [...process.execArgv, fileURLToPath(import.meta.url), '--child', '--sites', String(n), '--rounds', String(ROUNDS), '--hidden', String(HIDDEN), '--features', String(FEATURES), '--classes', String(CLASSES), '--train-ms', String(TRAIN_MS)];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, argv, { env: { ...process.env, WS_NO_BUFFER_UTIL: '1' }, maxBuffer: 64 * MB }, (err, stdout) => {
      if (err) return reject(err);
      const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
      if (!line) return reject(new Error('baseline child printed no result'));
      resolve(JSON.parse(line) as LoadResult);
    });
  });
}

function describeResult(r: LoadResult): string {
  return (
    `${r.roundsCompleted}/${r.rounds} rounds (${r.status}); round ${r.roundSeconds.join(' / ')} s; ${r.msPerUpdate.perRound.join(' / ')} ms per update (CPU ${r.cpuMsPerUpdate.perRound.join(' / ')} ms; up to the last update ${r.collectPerUpdate.wallMs.join(' / ')} ms, CPU ${r.collectPerUpdate.cpuMs.join(' / ')} ms); ` +
    `health p99 ${r.healthMs.p99.join(' / ')} ms; longest turn's CPU ${r.longestTurnCpuMs?.join(' / ') ?? 'n/a'} ms; fan-in ${JSON.stringify(r.fanIn)}; heap retained ${JSON.stringify(r.heapRetainedAfterRounds)} MB`
  );
}

if (args['sites-for']) {
  await runSites(args['sites-for'], siteCounts[0]);
} else if (args['health-for']) {
  await pollHealth(args['health-for']);
} else if (args.child) {
  const selection = await selectNodeBackend();
  for (const n of siteCounts) console.log(JSON.stringify(await runLoad(n, selection.backend)));
  process.exit(0);
} else {
  const loadAverageAtStart = loadAverage();
  const selection = await selectNodeBackend();
  const results: LoadResult[] = [];
  const baselines: LoadResult[] = [];
  for (const n of siteCounts) {
    if (args.baseline) {
      process.stdout.write(`load (baseline: no bufferutil, no fan-in pacing): ${n} sites… `);
      const b = await baselineRun(n).catch((error: Error) => {
        console.log('');
        console.error(`bench:load: baseline ${n} sites: ${error.message.split('\n').find((l) => l.startsWith('Error')) ?? error.message.split('\n')[0]}`);
        process.exit(1);
      });
      baselines.push(b);
      console.log(describeResult(b));
    }
    process.stdout.write(`load: ${n} sites, ${ROUNDS} rounds, ${TRAIN_MS} ms simulated training (load average ${loadAverage().join(' ')})… `);
    const r = await runLoad(n, selection.backend).catch((error: Error) => {
      console.log('');
      console.error(`bench:load: ${error.message.split('\n')[0]}`);
      process.exit(1);
    });
    results.push(r);
    console.log(describeResult(r));
    console.log(
      `  overhead median ${r.roundOverheadMs.median} ms; ` +
        `CPU per update: user ${r.cpuBreakdownPerUpdate.user} ms, system ${r.cpuBreakdownPerUpdate.system} ms; by thread ${JSON.stringify(r.cpuBreakdownPerUpdate.threads)}; GC per update ${JSON.stringify(r.gcPerUpdate)}; ` +
        `accepted ${(100 * r.acceptedShare).toFixed(1)}%; lag p99 ${r.eventLoopLagMs.p99} ms max ${r.eventLoopLagMs.max} ms; ` +
        `rss ${r.memoryMb.rssAfterJoin}→${r.memoryMb.rssPeak} MB (+${r.memoryMb.rssGrowthDuringRounds}), heap +${r.memoryMb.heapGrowthDuringRounds} MB, buffers +${r.memoryMb.arrayBuffersGrowthDuringRounds} MB peak, retained after GC per round ${JSON.stringify(r.memoryMb.arrayBuffersRetainedAfterRounds)} MB`,
    );
  }
  const targets: Array<{ target: string; goal: number; measured: number; unit: string; met: boolean }> = [];
  for (const r of results) {
    if (r.sites >= 100) {
      targets.push({ target: `coordinator ms per accepted update, ${r.sites} instant sites`, goal: 1, measured: r.msPerUpdate.median, unit: 'ms', met: r.msPerUpdate.median <= 1 });
      targets.push({ target: `coordinator CPU ms per accepted update, ${r.sites} instant sites`, goal: 1, measured: r.cpuMsPerUpdate.median, unit: 'ms', met: r.cpuMsPerUpdate.median <= 1 });
      const fanIn = quantile(r.collectPerUpdate.cpuMs.slice(0, -1).filter(Number.isFinite), 0.5);
      targets.push({ target: `coordinator CPU ms per accepted update up to the round's last update (fan-out + fan-in), ${r.sites} sites`, goal: 1, measured: fanIn, unit: 'ms', met: fanIn <= 1 });
    }
    // Every round must have health checks: a round without any (or a failed check) fails the target.
    const worst = r.healthMs.checks.every((n) => n > 0) ? Math.max(...r.healthMs.p99) : NaN;
    targets.push({ target: `health-check p99, worst round, ${r.sites} sites`, goal: 50, measured: worst, unit: 'ms', met: worst <= 50 });
  }
  if (results.length > 1) {
    // Memory flat in the number of sites: heap retained after the last round, largest size against smallest.
    const [small, large] = [results[0], results.at(-1)!];
    const growth = (large.heapRetainedAfterRounds.at(-1) ?? 0) - (small.heapRetainedAfterRounds.at(-1) ?? 0);
    targets.push({ target: `heap retained per round, ${large.sites} vs ${small.sites} sites (difference)`, goal: 10, measured: round1(growth), unit: 'MB', met: growth <= 10 });
  }
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    /** os.loadavg() (1, 5, 15 min) when the run started and when it ended: the machine's other load. */
    loadAverage: { start: loadAverageAtStart, end: loadAverage() },
    backend: selection.backend,
    model: { features: FEATURES, hidden: HIDDEN, classes: CLASSES, parameters: results[0]?.parameters },
    targets,
    results,
    ...(baselines.length ? { baseline: baselines, perUpdateVsBaseline: results.map((r, i) => ({ sites: r.sites, msBaseline: baselines[i].msPerUpdate.median, ms: r.msPerUpdate.median, speedup: round1(baselines[i].msPerUpdate.median / r.msPerUpdate.median, 2), cpuMsBaseline: baselines[i].cpuMsPerUpdate.median, cpuMs: r.cpuMsPerUpdate.median, cpuSpeedup: round1(baselines[i].cpuMsPerUpdate.median / r.cpuMsPerUpdate.median, 2), healthP99Baseline: Math.max(...baselines[i].healthMs.p99), healthP99: Math.max(...r.healthMs.p99) })) } : {}),
  };
  mkdirSync(dirname(args.out!), { recursive: true });
  writeFileSync(args.out!, JSON.stringify(out, null, 2) + '\n');
  console.log(`wrote ${args.out}`);
  const failures = loadFailures([...baselines, ...results]);
  for (const line of failures) console.error(line);
  process.exit(failures.length ? 1 : 0);
}
