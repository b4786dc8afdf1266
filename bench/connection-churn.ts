/**
 * Connection churn from one address: a child process opens socket.io connections as fast as 20 workers can, each
 * saying a bad hello and leaving at its refusal, for 10 s, against the coordinator with its connection rate limit
 * (connectionLimits.connectionsPerSecond / connectionBurst, connection-rate-limit.ts: 50 a second, bursts of 1,024)
 * and against the same coordinator with the limit out of reach (what it did before 2026-12-07: node hands upgrades
 * to engine.io, never to fastify's rate limit), in the same run, interleaved. Reported: the connections the
 * coordinator handled in full (websocket, engine.io handshake, namespace, parsed hello), the upgrades it refused,
 * the coordinator's CPU time over the churn, and the health check's p50 / p99 (polled every 20 ms by the parent,
 * which also hosts the coordinators). Targets: the limit holds the connections handled in full to its burst and
 * rate (at most 1.2 × (burst + rate × seconds)), and the coordinator's CPU over the churn is lower with it.
 *
 *   npx tsx bench/connection-churn.ts [--rounds 2] [--seconds 10]      writes bench/results/connection-churn.json
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { ConnectionLimits } from '@fedtune/coordinator';
import { startTinyCoordinator } from '../tests/access/helpers.ts';

interface Churn { full: number; refused: number }

async function churn(url: string, seconds: number): Promise<Churn> {
  let full = 0;
  let refused = 0;
  const end = Date.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const s = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
      s.on('connect', () => s.emit('hello', { protocol: 1, siteId: `churn-${Math.random()}`, token: 'bad', runtime: 'node' }));
      s.onAny((event: string) => {
        if (event !== 'rejected') return;
        full++;
        s.disconnect();
        resolve();
      });
      s.on('connect_error', () => {
        refused++;
        s.close();
        resolve();
      });
      s.on('disconnect', () => resolve());
    });
  await Promise.all(Array.from({ length: 20 }, async () => {
    while (Date.now() < end) await one();
  }));
  return { full, refused };
}

if (process.argv[2] === '--churn') {
  process.send!(await churn(process.argv[3], Number(process.argv[4])));
  process.exit(0);
}

const arg = (name: string, fallback: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback);
const rounds = arg('--rounds', 2);
const seconds = arg('--seconds', 10);
const defaults = ConnectionLimits.parse({});
const loadBefore = loadavg();
const rows: Array<Churn & { arm: string; round: number; cpuSeconds: number; p50: number; p99: number }> = [];
for (let round = 1; round <= rounds; round++)
  for (const [arm, connectionLimits] of [['limit', {}], ['out of reach', { connectionsPerSecond: 1_000_000, connectionBurst: 1_000_000 }]] as const) {
    const coordinator = await startTinyCoordinator({ runId: `churn-${round}`, minSites: 2, connectionLimits });
    const url = coordinator.url!;
    const health: number[] = [];
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const t = performance.now();
        await (await fetch(`${url}/api/health`)).arrayBuffer();
        health.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const cpu = process.cpuUsage();
    const result = await new Promise<Churn>((resolve, reject) => {
      const child = fork(fileURLToPath(import.meta.url), ['--churn', url, String(seconds)], { execArgv: ['--import', 'tsx'] });
      child.once('message', (m) => resolve(m as Churn));
      child.once('exit', (code) => code !== 0 && reject(new Error(`churn child exited ${code}`)));
    });
    const used = process.cpuUsage(cpu);
    polling = false;
    await poll;
    await coordinator.close();
    health.sort((a, b) => a - b);
    const q = (p: number) => +health[Math.min(health.length - 1, Math.floor(p * health.length))].toFixed(1);
    const row = { arm, round, ...result, cpuSeconds: +((used.user + used.system) / 1e6).toFixed(2), p50: q(0.5), p99: q(0.99) };
    rows.push(row);
    console.log(`${arm} (round ${round}): ${row.full} handled in full, ${row.refused} refused at the upgrade; coordinator CPU ${row.cpuSeconds} s; health p50 ${row.p50} ms, p99 ${row.p99} ms`);
  }
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const of = (arm: string, key: 'full' | 'cpuSeconds' | 'p99') => median(rows.filter((r) => r.arm === arm).map((r) => r[key]));
const allowed = defaults.connectionBurst + defaults.connectionsPerSecond * seconds;
const targets = [
  { target: `connection churn from one address (${seconds} s, 20 workers): connections handled in full with the limit ÷ its burst and rate (${defaults.connectionBurst} + ${defaults.connectionsPerSecond}/s × ${seconds} s = ${allowed}; at most) — ${of('limit', 'full')} with the limit, ${of('out of reach', 'full')} without`, goal: 1.2, measured: +(of('limit', 'full') / allowed).toFixed(2), unit: 'ratio', met: of('limit', 'full') / allowed <= 1.2 },
  { target: `connection churn from one address: coordinator CPU over the churn, limit out of reach ÷ with the limit (at least) — ${of('out of reach', 'cpuSeconds')} vs ${of('limit', 'cpuSeconds')} s; health p99 ${of('out of reach', 'p99')} vs ${of('limit', 'p99')} ms`, goal: 1.0, measured: +(of('out of reach', 'cpuSeconds') / of('limit', 'cpuSeconds')).toFixed(2), unit: 'ratio', met: of('out of reach', 'cpuSeconds') / of('limit', 'cpuSeconds') >= 1.0 },
];
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/connection-churn.json', JSON.stringify({ date: new Date().toISOString(), node: process.version, seconds, loadAverage: { before: loadBefore, after: loadavg() }, rows, targets }, null, 2) + '\n');
for (const t of targets) console.log(`${t.met ? 'met ' : 'MISS'} ${t.target}: ${t.measured} (goal ${t.goal})`);
process.exit(0);
