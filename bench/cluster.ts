/**
 * `npm run bench:cluster`: one coordinator with N sites against a 3-node coordinator cluster on one Redis
 * (loopback) with 2N sites (and 3N with `--also-3n`).
 *
 * Each configuration is real `fedtune coordinator` processes (the built-in 100k-parameter MLP, robustness and
 * federated evaluation off) and instant-answer socket.io sites in this process (they answer every `fit` with
 * the weights they were sent, as bench/load.ts's sites do). Sites are placed as `fedtune client --server
 * URL1,URL2,URL3` places them (`--placement spread`, the default: each starts at the node its id hashes to and
 * is sent on by a node above its share, the leader's share weighted by --cluster-leader-weight, `--leader-weight W`
 * to set it; docs/cluster.md#site-placement), or site k on node k mod nodes (`--placement pinned`). With
 * `--model-delivery http` (the default) each site GETs the model from its own node (every node serves the
 * versions: cluster-model-versions.ts). Per configuration it reports the sites that completed every round,
 * the leader's per-round time (report.json's round durations: with instant sites that is all coordinator
 * overhead), the CPU seconds per round of each node process (/proc/<pid>/stat, from the first fit a site
 * receives to the last `complete`), the sites per node, and the machine's load average. On a machine with
 * fewer cores than nodes + Redis + this process, wall time cannot show what a core per node would give: the
 * CPU-normalized overhead (the busiest node's CPU per round at 2N vs the single node's at N) does.
 *
 * Env: BENCH_CPU_PROF_DIR (CPU profiles), BENCH_NODE_FLAGS (extra node flags, e.g. --trace-gc) with BENCH_NODE_LOG_DIR
 * (each node's output), BENCH_ROUND_TIMEOUT (seconds; default 300).
 *
 * The nodes run as `fedtune coordinator` runs (V8's default collector); `--gc single` runs them with
 * --single-threaded-gc (garbage collection on the main thread), for comparison.
 *
 *   npx tsx bench/cluster.ts [--sites 50] [--rounds 6] [--model-delivery http|socket] [--placement spread|pinned] [--leader-weight W] [--also-3n] [--gc default|single] [--quick] [--out bench/results/cluster.json]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { loadavg, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { nodeIndexForSite, PROTOCOL_VERSION, socketIoConnector, type CoordinatorLink, type RunReport } from '@fedtune/shared';
import type { BenchTarget } from './summary.ts';
import { startRedisServer } from '../tests/helpers/redis-server.ts';
import { fetchModelWeights } from '../shared/src/client/fetch-model-weights.ts';

const { values: args } = parseArgs({
  options: {
    sites: { type: 'string' },
    rounds: { type: 'string' },
    out: { type: 'string', default: 'bench/results/cluster.json' },
    'model-delivery': { type: 'string', default: 'http' },
    'also-3n': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    gc: { type: 'string', default: 'default' },
    placement: { type: 'string', default: 'spread' },
    'leader-weight': { type: 'string' },
  },
});
/** 'spread' (default): sites as `fedtune client --server URL1,URL2,URL3` places them (site-placement.ts); 'pinned': site k on node k mod nodes. */
const PLACEMENT = args.placement === 'pinned' ? 'pinned' : 'spread';
/** `--leader-weight W`: the nodes' --cluster-leader-weight (default: ClusterOptions'). */
const LEADER_WEIGHT = args['leader-weight'];
/** 'http': instructions carry a model reference and each site GETs the bytes from its own node, so model bytes never cross Redis per site. */
const MODEL_DELIVERY = args['model-delivery'] === 'socket' ? 'socket' : 'http';
const SITES = Number(args.sites ?? (args.quick ? 20 : 50));
const ROUNDS = Number(args.rounds ?? (args.quick ? 2 : 6));
const FEDTUNE = join(import.meta.dirname, '..', 'node_modules', '.bin', 'fedtune');
const CLK_TCK = 100;
/** `--gc single`: the nodes run with --single-threaded-gc (V8's collector on the main thread instead of its helper threads), for comparison. */
const GC = args.gc === 'single' ? 'single' : 'default';
const GC_FLAGS = GC === 'single' ? ['--single-threaded-gc'] : [];

/** CPU seconds (user + system, all threads) a live process has used; undefined once it is gone. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

interface RunMarks {
  complete: number;
  /** Called at the first fit any site receives, and when the last site has its `complete`. */
  onFirstFit: () => void;
  onAllComplete: () => void;
  /** Called at the first fit of each round (per-round CPU). */
  onRoundFirstFit: (round: number) => void;
  roundsSeen: Set<number>;
  firstFitSeen: boolean;
  total: number;
}

/**
 * One instant-answer site. With `placement` 'spread' it does what `fedtune client --server URL1,URL2,URL3` does:
 * starts at the node its id hashes to (nodeIndexForSite), offers the other nodes in its hello
 * (`capabilities.alternatives`) and, sent on with `node_busy`, connects to the next node of the list. With
 * 'pinned' it connects to node k mod nodes and offers none (the placement before site-placement.ts).
 * Resolves with the index of the node it joined.
 */
async function lightSite(urls: string[], k: number, siteId: string, marks: RunMarks): Promise<number> {
  let at = PLACEMENT === 'spread' ? nodeIndexForSite(siteId, urls.length) : k % urls.length;
  for (let moves = 0; ; moves++) {
    const alternatives = PLACEMENT === 'spread' ? urls.length - 1 - moves : 0;
    if (await joinAt(urls[at], siteId, marks, alternatives)) return at;
    at = (at + 1) % urls.length;
  }
}

/** Connects to one node and says hello; false when the node sent the site on (`node_busy`) before welcoming it. */
async function joinAt(url: string, siteId: string, marks: RunMarks, alternatives: number): Promise<boolean> {
  const modelBase = url;
  const link = await socketIoConnector({ url, connectTimeoutMs: 60_000 }).connect();
  let settle!: (joined: boolean) => void;
  const placed = new Promise<boolean>((r) => (settle = r));
  link.onClose(() => settle(false));
  link.onMessage((message) => {
    if (message.event === 'welcome') settle(true);
    else if (message.event === 'rejected' && message.payload.code === 'node_busy') {
      settle(false);
      link.close();
    }
    if (message.event === 'fit') {
      if (!marks.firstFitSeen) {
        marks.firstFitSeen = true;
        marks.onFirstFit();
      }
      const fit = message.payload;
      if (!marks.roundsSeen.has(fit.round)) {
        marks.roundsSeen.add(fit.round);
        marks.onRoundFirstFit(fit.round);
      }
      const answer = (weights: Uint8Array) => link.send('fitResult', { runId: fit.runId, round: fit.round, siteId, weights, numExamples: 100, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 0 });
      if (fit.weights) answer(fit.weights);
      // As a real site: verified bytes, and a 429 (many sites behind one address) waited out and retried.
      else if (fit.modelRef) void fetchModelWeights(modelBase, fit.modelRef, { siteId }).then(answer, (err) => console.error(`bench:cluster: ${siteId}: ${(err as Error).message}`));
    } else if (message.event === 'terms') {
      link.send('acceptTerms', { runId: message.payload.terms.runId, siteId, hash: message.payload.hash });
    } else if (message.event === 'evaluate') {
      link.send('evaluateResult', { runId: message.payload.runId, round: message.payload.round, siteId, numExamples: 20, metrics: { loss: 1, accuracy: 0.5 } });
    } else if (message.event === 'complete') {
      if (++marks.complete === marks.total) marks.onAllComplete();
      link.close();
    }
  });
  link.send('hello', { protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: 'bench', runtime: 'node', numExamples: 100, ...(alternatives > 0 ? { alternatives } : {}) } });
  return placed;
}

function startNode(args: string[]): { child: ChildProcess; url: Promise<string>; exited: Promise<number | null>; out: () => string } {
  // BENCH_CPU_PROF_DIR=dir: every node writes a V8 CPU profile there (node --cpu-prof) when it exits.
  // BENCH_NODE_FLAGS="--trace-gc …": extra node flags for every node (their output: BENCH_NODE_LOG_DIR/<node>.log).
  const profDir = process.env.BENCH_CPU_PROF_DIR;
  const extraFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const nodeFlags = [...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), ...extraFlags];
  const child = spawn(process.execPath, [...GC_FLAGS, ...nodeFlags, realpathSync(FEDTUNE), 'coordinator', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logDir = process.env.BENCH_NODE_LOG_DIR;
  if (logDir) child.once('exit', () => writeFileSync(join(logDir, `${args.includes('--node-id') ? args[args.indexOf('--node-id') + 1] : 'single'}-${child.pid}.log`), out));
  let out = '';
  let resolveUrl!: (u: string) => void;
  const url = new Promise<string>((r) => (resolveUrl = r));
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const m = /listening on (http:\/\/[^\s;]+)/.exec(out);
    if (m) resolveUrl(m[1]);
  });
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, url, exited: new Promise((r) => child.once('exit', (code) => r(code))), out: () => out };
}

interface Measured {
  nodes: number;
  sites: number;
  sitesCompleted: number;
  roundMs: number[];
  medianRoundMs: number;
  sitesPerNode: number;
  /** The sites each node held (node-1, the leader, first): where placement put them. */
  sitesAtNode: number[];
  /** CPU seconds per round of each node process (node-1 leads), first fit → last complete. */
  cpuPerRoundS: number[];
  /** The busiest node's CPU seconds per round. */
  maxCpuPerRoundS: number;
  /** CPU seconds of each node (rows) in each round (columns), first fit of the round → first fit of the next (the last: → last complete). */
  cpuByRoundS: number[][];
  /** The busiest node's mean CPU seconds per round over rounds 2+ (steady state). */
  maxSteadyCpuPerRoundS: number;
  /** 1-minute load average before and after this configuration. */
  load: [number, number];
}

async function measure(nodes: number, sites: number): Promise<Measured> {
  const loadBefore = loadavg()[0];
  const runsDir = mkdtempSync(join(tmpdir(), 'fedtune-bench-cluster-'));
  const runId = `bench-${nodes}-${sites}`;
  const common = ['--port', '0', '--out', runsDir, '--run-id', runId, '--rounds', String(ROUNDS), '--min-sites', String(sites), '--robustness', 'never', '--federated-eval', 'never', '--round-timeout', process.env.BENCH_ROUND_TIMEOUT ?? '300', '--model-delivery', MODEL_DELIVERY,
    // Every bench site comes from 127.0.0.1; a deployment's sites come from their own addresses, so the per-address API limit is lifted here.
    '--api-rate', '100000'];
  const redis = nodes > 1 ? await startRedisServer() : undefined;
  const started: Array<ReturnType<typeof startNode>> = [];
  try {
    if (!redis) started.push(startNode(common));
    else {
      const cluster = ['--cluster', redis.url, ...(LEADER_WEIGHT !== undefined ? ['--cluster-leader-weight', LEADER_WEIGHT] : [])];
      started.push(startNode([...common, ...cluster, '--node-id', 'node-1']));
      await started[0].url;
      for (let k = 2; k <= nodes; k++) started.push(startNode([...common, ...cluster, '--node-id', `node-${k}`]));
    }
    const urls = await Promise.all(started.map((n) => n.url));
    // Let the followers' 'leader' handshake settle before the sites connect.
    if (redis) await new Promise((r) => setTimeout(r, 2_000));
    let cpuAtFirstFit: Array<number | undefined> = [];
    let cpuAtEnd: Array<number | undefined> = [];
    const cpuAtRound = new Map<number, Array<number | undefined>>();
    const sample = () => started.map((n) => cpuSeconds(n.child.pid));
    const marks: RunMarks = { complete: 0, total: sites, firstFitSeen: false, onFirstFit: () => (cpuAtFirstFit = sample()), onAllComplete: () => (cpuAtEnd = sample()), onRoundFirstFit: (round) => cpuAtRound.set(round, sample()), roundsSeen: new Set() };
    const joinedAt: number[] = [];
    for (let k = 0; k < sites; k += 50) {
      joinedAt.push(...(await Promise.all(Array.from({ length: Math.min(50, sites - k) }, (_, j) => lightSite(urls, k + j, `site-${k + j + 1}`, marks)))));
    }
    const sitesAtNode = urls.map((_, i) => joinedAt.filter((at) => at === i).length);
    await Promise.all(started.map((n) => n.exited));
    const report = JSON.parse(readFileSync(join(runsDir, runId, 'report.json'), 'utf8')) as RunReport;
    const roundMs = report.rounds.map((r) => r.durationMs);
    const sorted = [...roundMs].sort((a, b) => a - b);
    const completedEveryRound = report.rounds.length === ROUNDS ? Math.min(...report.rounds.map((r) => r.accepted.length)) : 0;
    if (report.rounds.length !== ROUNDS || completedEveryRound < sites) {
      // Say why: the run's status and the end of each node's output.
      console.error(`bench:cluster: ${nodes} node(s), ${sites} sites: run ${report.status}${report.aborted ? ` (${report.aborted})` : ''} after ${report.rounds.length} of ${ROUNDS} rounds; accepted per round ${report.rounds.map((r) => r.accepted.length).join(', ')}`);
      started.forEach((n, i) => console.error(`--- node-${i + 1} (last lines)\n${n.out().split('\n').slice(-12).join('\n')}`));
    }
    const cpuPerRoundS = started.map((_, i) => (cpuAtEnd[i] !== undefined && cpuAtFirstFit[i] !== undefined ? (cpuAtEnd[i]! - cpuAtFirstFit[i]!) / ROUNDS : Number.NaN));
    if (nodes > 1) for (const l of started[0].out().split('\n').filter((x) => /partial aggregate/.test(x))) console.log(`  leader: ${l.trim().slice(0, 200)}`);
    const cpuByRoundS = started.map((_, i) =>
      Array.from({ length: ROUNDS }, (__, r) => {
        const from = cpuAtRound.get(r + 1)?.[i];
        const to = r + 1 < ROUNDS ? cpuAtRound.get(r + 2)?.[i] : cpuAtEnd[i];
        return from !== undefined && to !== undefined ? to - from : Number.NaN;
      }),
    );
    const steady = cpuByRoundS.map((rounds) => (rounds.length > 1 ? rounds.slice(1).reduce((a, b) => a + b, 0) / (rounds.length - 1) : rounds[0]));
    return { nodes, sites, sitesCompleted: completedEveryRound, roundMs, medianRoundMs: sorted[Math.floor(sorted.length / 2)], sitesPerNode: sites / nodes, sitesAtNode, cpuPerRoundS, maxCpuPerRoundS: Math.max(...cpuPerRoundS), cpuByRoundS, maxSteadyCpuPerRoundS: Math.max(...steady), load: [loadBefore, loadavg()[0]] };
  } finally {
    for (const n of started) if (n.child.exitCode === null) n.child.kill('SIGKILL');
    await redis?.kill();
  }
}

const line = (label: string, m: Measured) =>
  `${label}: ${m.sitesCompleted}/${m.sites} sites completed every round (${m.sitesAtNode.join(' / ')} on the nodes, leader first); per-round time ${m.roundMs.map((x) => x.toFixed(0)).join(', ')} ms (median ${m.medianRoundMs.toFixed(0)}); CPU per round per node ${m.cpuPerRoundS.map((c) => c.toFixed(2)).join(', ')} s (by round: ${m.cpuByRoundS.map((r) => r.map((c) => c.toFixed(2)).join('/')).join(', ')}); load ${m.load.map((l) => l.toFixed(2)).join(' → ')}`;

console.log(`model delivery: ${MODEL_DELIVERY}; site placement: ${PLACEMENT}${LEADER_WEIGHT !== undefined ? ` (leader weight ${LEADER_WEIGHT})` : ''}; ${ROUNDS} rounds; ${cpus().length} cores; garbage collection: ${GC === 'single' ? 'on the main thread (--single-threaded-gc)' : 'V8 default, as fedtune coordinator runs'}`);
const one = await measure(1, SITES);
console.log(line('1 node, N', one));
const three = await measure(3, 2 * SITES);
console.log(line('3 nodes + Redis, 2N', three));
const threeByThree = args['also-3n'] ? await measure(3, 3 * SITES) : undefined;
if (threeByThree) console.log(line('3 nodes + Redis, 3N', threeByThree));

const wallRatio = three.medianRoundMs / one.medianRoundMs;
const cpuRatio = three.maxCpuPerRoundS / one.maxCpuPerRoundS;
const completedShare = three.sitesCompleted / three.sites;
const steadyRatio = three.maxSteadyCpuPerRoundS / one.maxSteadyCpuPerRoundS;
const targets: BenchTarget[] = [
  { target: 'cluster: 3 nodes + Redis, 2× the sites of one node: share of sites completing every round', goal: 1, measured: completedShare, unit: 'fraction', met: completedShare >= 1 && one.sitesCompleted === one.sites, note: `${three.sites} sites, ${three.sitesAtNode.join(' / ')} on the nodes (leader first)` },
  { target: 'cluster: CPU-normalized per-node overhead, busiest node CPU/round at 2N ÷ one node CPU/round at N (a core per node)', goal: 1, measured: cpuRatio, unit: 'ratio', met: cpuRatio <= 1, note: `${three.maxCpuPerRoundS.toFixed(2)} s vs ${one.maxCpuPerRoundS.toFixed(2)} s per round` },
  { target: 'cluster: CPU-normalized per-node overhead in rounds 2+ (steady state: start-up and first-round costs left out), busiest node at 2N ÷ one node at N', goal: 1, measured: steadyRatio, unit: 'ratio', met: steadyRatio <= 1, note: `${three.maxSteadyCpuPerRoundS.toFixed(2)} s vs ${one.maxSteadyCpuPerRoundS.toFixed(2)} s per round` },
  { target: 'cluster: per-round wall time, 3 nodes at 2N ÷ 1 node at N (all processes on this machine\'s cores)', goal: 1, measured: wallRatio, unit: 'ratio', met: wallRatio <= 1, note: `${cpus().length} cores shared by 3 nodes, Redis and the site simulator; load ${three.load[0].toFixed(1)}` },
];
for (const t of targets) console.log(`${t.met ? 'met' : 'NOT met'}: ${t.target}: ${t.measured.toFixed(2)} (goal ${t.goal}) — ${t.note}`);
mkdirSync(dirname(args.out!), { recursive: true });
writeFileSync(args.out!, JSON.stringify({ date: new Date().toISOString(), gc: GC, nodeFlags: GC_FLAGS, rounds: ROUNDS, sites: SITES, cores: cpus().length, modelDelivery: MODEL_DELIVERY, placement: PLACEMENT, leaderWeight: LEADER_WEIGHT ?? 'default', quick: args.quick, one, three, ...(threeByThree ? { threeByThree } : {}), perRoundRatio: wallRatio, cpuPerRoundRatio: cpuRatio, steadyCpuPerRoundRatio: steadyRatio, targets }, null, 2) + '\n');
process.exit(0);
