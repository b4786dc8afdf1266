/**
 * `npm run bench:cluster`: one coordinator against a 3-node coordinator cluster on one Redis (loopback).
 *
 * Each configuration is real `fedtune coordinator` processes (the built-in 100k-parameter MLP, robustness and
 * federated evaluation off) and N instant-answer socket.io sites in this process (they answer every `fit` with
 * the weights they were sent, as bench/load.ts's sites do), spread over the nodes' URLs. Per configuration
 * it reports the sites that completed every round and the leader's per-round time (report.json's round
 * durations: with instant sites that is all coordinator overhead: fan-out, relaying, validation,
 * aggregation, evaluation, saving). The comparison asked by issue 15: 3 nodes with 2× the sites of 1 node,
 * at what per-round overhead (ratio in the same run).
 *
 *   npx tsx bench/cluster.ts [--sites 100] [--rounds 3] [--out bench/results/cluster.json]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROTOCOL_VERSION, socketIoConnector, type CoordinatorLink, type RunReport } from '@fedtune/shared';
import { startRedisServer } from '../tests/helpers/redis-server.ts';

const { values: args } = parseArgs({ options: { sites: { type: 'string', default: '100' }, rounds: { type: 'string', default: '3' }, out: { type: 'string', default: 'bench/results/cluster.json' }, 'model-delivery': { type: 'string', default: 'socket' } } });
/** 'http': instructions carry a model reference and the sites GET the bytes from the leader (followers do not serve model versions yet), so model bytes do not cross Redis. */
const MODEL_DELIVERY = args['model-delivery'] === 'http' ? 'http' : 'socket';
const SITES = Number(args.sites);
const ROUNDS = Number(args.rounds);
const FEDTUNE = join(import.meta.dirname, '..', 'node_modules', '.bin', 'fedtune');

async function lightSite(url: string, siteId: string, counters: { complete: number }, modelBase: string): Promise<CoordinatorLink> {
  const link = await socketIoConnector({ url, connectTimeoutMs: 60_000 }).connect();
  link.onMessage((message) => {
    if (message.event === 'fit') {
      const fit = message.payload;
      const answer = (weights: Uint8Array) => link.send('fitResult', { runId: fit.runId, round: fit.round, siteId, weights, numExamples: 100, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 0 });
      if (fit.weights) answer(fit.weights);
      else if (fit.modelRef) void fetch(new URL(fit.modelRef.path, modelBase)).then(async (r) => answer(new Uint8Array(await r.arrayBuffer())));
    } else if (message.event === 'terms') {
      link.send('acceptTerms', { runId: message.payload.terms.runId, siteId, hash: message.payload.hash });
    } else if (message.event === 'evaluate') {
      link.send('evaluateResult', { runId: message.payload.runId, round: message.payload.round, siteId, numExamples: 20, metrics: { loss: 1, accuracy: 0.5 } });
    } else if (message.event === 'complete') {
      counters.complete++;
      link.close();
    }
  });
  link.send('hello', { protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: 'bench', runtime: 'node', numExamples: 100 } });
  return link;
}

function startNode(args: string[]): { child: ChildProcess; url: Promise<string>; exited: Promise<number | null>; out: () => string } {
  const child = spawn(FEDTUNE, ['coordinator', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
}

async function measure(nodes: number, sites: number): Promise<Measured> {
  const runsDir = mkdtempSync(join(tmpdir(), 'fedtune-bench-cluster-'));
  const runId = `bench-${nodes}-${sites}`;
  const common = ['--port', '0', '--out', runsDir, '--run-id', runId, '--rounds', String(ROUNDS), '--min-sites', String(sites), '--robustness', 'never', '--federated-eval', 'never', '--round-timeout', '300', '--model-delivery', MODEL_DELIVERY];
  const redis = nodes > 1 ? await startRedisServer() : undefined;
  const started: Array<ReturnType<typeof startNode>> = [];
  try {
    if (!redis) started.push(startNode(common));
    else {
      started.push(startNode([...common, '--cluster', redis.url, '--node-id', 'node-1']));
      await started[0].url;
      for (let k = 2; k <= nodes; k++) started.push(startNode([...common, '--cluster', redis.url, '--node-id', `node-${k}`]));
    }
    const urls = await Promise.all(started.map((n) => n.url));
    // Let the followers' 'leader' handshake settle before the sites connect.
    if (redis) await new Promise((r) => setTimeout(r, 2_000));
    const counters = { complete: 0 };
    for (let k = 0; k < sites; k += 50) {
      await Promise.all(Array.from({ length: Math.min(50, sites - k) }, (_, j) => lightSite(urls[(k + j) % urls.length], `site-${k + j + 1}`, counters, urls[0])));
    }
    await Promise.all(started.map((n) => n.exited));
    const report = JSON.parse(readFileSync(join(runsDir, runId, 'report.json'), 'utf8')) as RunReport;
    const roundMs = report.rounds.map((r) => r.durationMs);
    const sorted = [...roundMs].sort((a, b) => a - b);
    const completedEveryRound = report.rounds.length === ROUNDS ? Math.min(...report.rounds.map((r) => r.accepted.length)) : 0;
    return { nodes, sites, sitesCompleted: completedEveryRound, roundMs, medianRoundMs: sorted[Math.floor(sorted.length / 2)], sitesPerNode: sites / nodes };
  } finally {
    for (const n of started) if (n.child.exitCode === null) n.child.kill('SIGKILL');
    await redis?.kill();
  }
}

const one = await measure(1, SITES);
console.log(`model delivery: ${MODEL_DELIVERY}`);
console.log(`1 node:  ${one.sitesCompleted}/${one.sites} sites completed every round; per-round time ${one.roundMs.map((m) => m.toFixed(0)).join(', ')} ms (median ${one.medianRoundMs.toFixed(0)})`);
const three = await measure(3, 2 * SITES);
console.log(`3 nodes: ${three.sitesCompleted}/${three.sites} sites completed every round (${three.sitesPerNode.toFixed(0)} per node); per-round time ${three.roundMs.map((m) => m.toFixed(0)).join(', ')} ms (median ${three.medianRoundMs.toFixed(0)})`);
const ratio = three.medianRoundMs / one.medianRoundMs;
const met = three.sitesCompleted >= 2 * one.sitesCompleted && ratio <= 1;
console.log(`3 nodes with 2× the sites: per-round time ${ratio.toFixed(2)}× one node's — target (≤ 1.00×, every site every round) ${met ? 'met' : 'NOT met'}`);
mkdirSync(dirname(args.out!), { recursive: true });
writeFileSync(args.out!, JSON.stringify({ date: new Date().toISOString(), rounds: ROUNDS, modelDelivery: MODEL_DELIVERY, one, three, perRoundRatio: ratio, target: { description: '3 nodes serve ≥ 2× the sites of one node at the same per-round overhead', met } }, null, 2) + '\n');
process.exit(0);
