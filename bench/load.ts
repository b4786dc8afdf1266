/**
 * `npm run bench:load` (tsx bench/load.ts): many concurrent socket.io sites against one coordinator.
 *
 * One coordinator (`startCoordinator`, transport 'socket', on loopback) with a tiny dense model and a tiny
 * holdout on the main thread, and N light socket.io sites in the same process on a worker thread (so the
 * event-loop lag and heap measured on the main thread are the coordinator's own). A site joins with `hello`, answers every `fit`
 * with the weights it was sent (after `--train-ms` of simulated training off the event loop: real sites
 * are other machines) and every `evaluate` with fixed metrics, so what is measured is the coordinator:
 * validation, aggregation, evaluation and saving per round, fan-out and fan-in of N payloads.
 *
 * Reports per run: rounds completed, round durations and the coordinator's round overhead (round time
 * beyond the slowest site's training), the share of updates accepted, the event-loop lag (p50/p99/max
 * while rounds run) and memory (peak RSS and main-thread heap, and their growth from after all sites
 * joined to the peak during rounds; main-thread heap and ArrayBuffers are the coordinator's alone). RSS is
 * the whole process, so it includes the sites' worker.
 *
 *   npx tsx bench/load.ts [--sites 500] [--rounds 3] [--hidden 32] [--features 32] [--train-ms 200]
 *                          [--compare 50] [--out bench/results/load.json]
 *
 * `--sites` takes a comma list (`--sites 50,500`) to run several sizes one after the other and compare
 * memory growth (FedAvg aggregation must not grow with N).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { startCoordinator, type EngineEvent } from '@fedtune/coordinator';
import { PROTOCOL_VERSION, socketIoConnector, type CoordinatorLink, type Dataset, type RunReport } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';

const { values: args } = isMainThread
  ? parseArgs({
      options: {
        sites: { type: 'string', default: '500' },
        rounds: { type: 'string', default: '3' },
        hidden: { type: 'string', default: '32' },
        features: { type: 'string', default: '32' },
        classes: { type: 'string', default: '4' },
        'train-ms': { type: 'string', default: '200' },
        'connect-batch': { type: 'string', default: '50' },
        'round-timeout-ms': { type: 'string', default: '120000' },
        out: { type: 'string', default: 'bench/results/load.json' },
      },
    })
  : { values: (workerData as { args: Record<string, string> }).args };

const siteCounts = args.sites!.split(',').map((s) => Number(s.trim()));
const ROUNDS = Number(args.rounds);
const HIDDEN = Number(args.hidden);
const FEATURES = Number(args.features);
const CLASSES = Number(args.classes);
const TRAIN_MS = Number(args['train-ms']);
const CONNECT_BATCH = Number(args['connect-batch']);

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
const round1 = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** A light site: joins, echoes the global weights back after `TRAIN_MS`, answers evaluations. */
async function lightSite(url: string, siteId: string, counters: { fits: number; rejected: number; complete: number }): Promise<CoordinatorLink> {
  const link = await socketIoConnector({ url, connectTimeoutMs: 60_000 }).connect();
  link.onMessage((message) => {
    switch (message.event) {
      case 'fit': {
        const fit = message.payload;
        setTimeout(() => {
          counters.fits++;
          link.send('fitResult', { runId: fit.runId, round: fit.round, siteId, weights: fit.weights!, numExamples: 100, metrics: { loss: 1, accuracy: 0.5 }, durationMs: TRAIN_MS });
        }, TRAIN_MS);
        return;
      }
      case 'evaluate': {
        const ev = message.payload;
        link.send('evaluateResult', { runId: ev.runId, round: ev.round, siteId, numExamples: 20, metrics: { loss: 1, accuracy: 0.5 } });
        return;
      }
      case 'rejected':
        counters.rejected++;
        return;
      case 'complete':
        counters.complete++;
        link.close();
        return;
      default:
        return;
    }
  });
  link.send('hello', { protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: 'bench', runtime: 'node', numExamples: 100 } });
  return link;
}

/** Worker thread: connects `sites` light sites to `url`, reports when all are connected and when all are done. */
async function runSites(url: string, sites: number): Promise<void> {
  const counters = { fits: 0, rejected: 0, complete: 0 };
  const links: CoordinatorLink[] = [];
  for (let k = 0; k < sites; k += CONNECT_BATCH) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, sites - k) }, (_, j) => lightSite(url, `site-${String(k + j + 1).padStart(4, '0')}`, counters));
    links.push(...(await Promise.all(batch)));
  }
  parentPort!.postMessage({ type: 'connected' });
  parentPort!.on('message', (m: { type: string }) => {
    if (m.type !== 'close') return;
    for (const link of links) link.close();
    parentPort!.postMessage({ type: 'closed', counters });
  });
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
  acceptedShare: number;
  rejected: number;
  failed: number;
  eventLoopLagMs: { p50: number; p99: number; max: number };
  /** rss: the whole process (sites' worker included); heap and arrayBuffers: the coordinator's main thread only. */
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
  const onEvent = (e: EngineEvent) => {
    if (e.type === 'site-joined') joined++;
    if (e.type === 'round-start' && e.round === 1 && e.attempt === 1) phase = 'rounds';
    if (e.type === 'round-end' && global.gc) {
      global.gc();
      retainedBuffers.push(process.memoryUsage().arrayBuffers);
    }
  };
  const coordinator = await startCoordinator({
    runsDir,
    model,
    architecture: 'bench-dense',
    holdout: tinyHoldout(),
    backend,
    transport: 'socket',
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
  // The worker runs this same file through tsx's API (Node 20 workers do not inherit `--import tsx` hooks).
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => m.tsImport(${JSON.stringify(import.meta.url)}, ${JSON.stringify(import.meta.url)}))`;
  const worker = new Worker(boot, { eval: true, workerData: { args, url: coordinator.url, sites } });
  const fromWorker = (type: string) =>
    new Promise<{ type: string; counters?: { fits: number; rejected: number; complete: number } }>((resolve, reject) => {
      const onMessage = (m: { type: string }) => {
        if (m.type !== type) return;
        worker.off('message', onMessage);
        resolve(m);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
  await fromWorker('connected');
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
  const report = await coordinator.done;
  lag.disable();
  clearInterval(sampler);
  // Let the 'complete' messages arrive, then close everything.
  await new Promise((r) => setTimeout(r, 200));
  const closed = fromWorker('closed');
  worker.postMessage({ type: 'close' });
  const { counters } = await closed;
  await worker.terminate();
  await coordinator.close();
  rmSync(runsDir, { recursive: true, force: true });

  const rounds = report.rounds;
  const overheads = rounds.map((r) => r.durationMs - Math.max(0, ...r.accepted.map((a) => a.durationMs)));
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

if (isMainThread) {
  const selection = await selectNodeBackend();
  const results: LoadResult[] = [];
  for (const n of siteCounts) {
    process.stdout.write(`load: ${n} sites, ${ROUNDS} rounds, ${TRAIN_MS} ms simulated training… `);
    const r = await runLoad(n, selection.backend);
    results.push(r);
    console.log(
      `${r.roundsCompleted}/${r.rounds} rounds (${r.status}); round ${r.roundSeconds.join(' / ')} s; overhead median ${r.roundOverheadMs.median} ms; ` +
        `accepted ${(100 * r.acceptedShare).toFixed(1)}%; lag p99 ${r.eventLoopLagMs.p99} ms max ${r.eventLoopLagMs.max} ms; ` +
        `rss ${r.memoryMb.rssAfterJoin}→${r.memoryMb.rssPeak} MB (+${r.memoryMb.rssGrowthDuringRounds}), heap +${r.memoryMb.heapGrowthDuringRounds} MB, buffers +${r.memoryMb.arrayBuffersGrowthDuringRounds} MB peak, retained after GC per round ${JSON.stringify(r.memoryMb.arrayBuffersRetainedAfterRounds)} MB`,
    );
  }
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    backend: selection.backend,
    model: { features: FEATURES, hidden: HIDDEN, classes: CLASSES, parameters: results[0]?.parameters },
    results,
  };
  mkdirSync(dirname(args.out!), { recursive: true });
  writeFileSync(args.out!, JSON.stringify(out, null, 2) + '\n');
  console.log(`wrote ${args.out}`);
  const bad = results.filter((r) => r.status !== 'complete');
  process.exit(bad.length ? 1 : 0);
} else {
  const { url, sites } = workerData as { url: string; sites: number };
  await runSites(url, sites);
}
