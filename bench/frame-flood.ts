/**
 * A websocket frame flood before any hello, against the coordinator with its frame budget
 * (connectionLimits.preHelloFrameBurst / preHelloFramesPerSecond, websocket-frame-budget.ts) and against the same
 * coordinator with the budget out of reach (1,000,000 frames: what it did before 2026-12-07), in the same run.
 * A child process opens a raw websocket, never reads, and writes 6-byte pings or 7-byte engine.io pongs for up to
 * 10 s (30 MB at most) while it asks `GET /api/health` every 20 ms; reported: the health check's p50 / p99 during
 * the flood, whether the connection was cut, the MB written. Targets: with the budget, the flood is cut and the
 * health check's p50 under the flood stays within 2× of its p50 without one.
 *
 *   npx tsx bench/frame-flood.ts [--rounds 2]        writes bench/results/frame-flood.json
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startTinyCoordinator } from '../tests/access/helpers.ts';

type Kind = 'none' | 'eio-pong' | 'ping';
interface Flood { kind: Kind; sentMB: number; cut: boolean; checks: number; failed: number; p50: number; p99: number }

async function flood(port: number, kind: Kind): Promise<Flood> {
  const frame = kind === 'ping' ? Buffer.from([0x89, 0x80, 1, 2, 3, 4]) : Buffer.from([0x81, 0x81, 0, 0, 0, 0, 0x33]);
  const block = Buffer.concat(Array.from({ length: 10_000 }, () => frame));
  const sock = connect(port, '127.0.0.1');
  sock.on('error', () => {});
  sock.setMaxListeners(0);
  await new Promise((r) => sock.once('connect', r));
  sock.write(`GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await new Promise((r) => sock.once('data', r));
  sock.pause();
  const health: number[] = [];
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const t = performance.now();
      try {
        await (await fetch(`http://127.0.0.1:${port}/api/health`)).arrayBuffer();
        health.push(performance.now() - t);
      } catch {
        health.push(-1);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  let sent = 0;
  const started = performance.now();
  while (kind !== 'none' && sent < 30e6 && performance.now() - started < 10_000 && !sock.destroyed) {
    if (!sock.write(block)) await new Promise((r) => setTimeout(r, 50));
    sent += block.length;
  }
  await new Promise((r) => setTimeout(r, Math.max(0, 3_000 - (performance.now() - started))));
  polling = false;
  await poll;
  const ok = health.filter((x) => x >= 0).sort((a, b) => a - b);
  const q = (p: number) => +ok[Math.min(ok.length - 1, Math.floor(p * ok.length))].toFixed(1);
  const result = { kind, sentMB: +(sent / 1e6).toFixed(1), cut: sock.destroyed, checks: health.length, failed: health.length - ok.length, p50: q(0.5), p99: q(0.99) };
  sock.destroy();
  return result;
}

if (process.argv[2] === '--flood') {
  process.send!(await flood(Number(process.argv[3]), process.argv[4] as Kind));
  process.exit(0);
}

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1] || 2);
const unbounded = { preHelloFrameBurst: 1_000_000, preHelloFramesPerSecond: 1_000_000, frameBurst: 1_000_000, framesPerSecond: 1_000_000 };
const loadBefore = loadavg();
const arms = { budget: await startTinyCoordinator({ runId: 'frame-flood-budget', minSites: 2 }), unbounded: await startTinyCoordinator({ runId: 'frame-flood-unbounded', minSites: 2, connectionLimits: unbounded }) };
const runFlood = (port: number, kind: Kind) =>
  new Promise<Flood>((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--flood', String(port), kind], { execArgv: ['--import', 'tsx'] });
    child.once('message', (m) => resolve(m as Flood));
    child.once('exit', (code) => code !== 0 && reject(new Error(`flood child exited ${code}`)));
  });
const rows: Array<Flood & { arm: string; round: number }> = [];
for (let round = 1; round <= rounds; round++)
  for (const kind of ['none', 'eio-pong', 'ping'] as Kind[])
    for (const [arm, coordinator] of Object.entries(arms)) {
      const r = await runFlood(Number(new URL(coordinator.url!).port), kind);
      rows.push({ arm, round, ...r });
      console.log(`${arm} ${kind} (round ${round}): ${r.sentMB} MB written, ${r.cut ? 'cut' : 'not cut'}; health p50 ${r.p50} ms, p99 ${r.p99} ms over ${r.checks} checks (${r.failed} failed)`);
    }
await Promise.all(Object.values(arms).map((c) => c.close()));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const p50Of = (arm: string, kind: Kind) => median(rows.filter((r) => r.arm === arm && r.kind === kind).map((r) => r.p50));
const p99Of = (arm: string, kind: Kind) => median(rows.filter((r) => r.arm === arm && r.kind === kind).map((r) => r.p99));
const targets = (['eio-pong', 'ping'] as Kind[]).flatMap((kind) => [
  { target: `websocket ${kind} flood before any hello: health-check p50 under the flood ÷ without a flood, with the frame budget (at most) — ${p50Of('budget', kind)} vs ${p50Of('budget', 'none')} ms; the budget out of reach: ${p50Of('unbounded', kind)} ms (p99 ${p99Of('unbounded', kind)} vs ${p99Of('budget', kind)} ms with the budget)`, goal: 2, measured: +(p50Of('budget', kind) / p50Of('budget', 'none')).toFixed(2), unit: 'ratio', met: p50Of('budget', kind) / p50Of('budget', 'none') <= 2 },
  { target: `websocket ${kind} flood before any hello: health-check p50 under the flood, budget out of reach ÷ with the budget (at least)`, goal: 10, measured: +(p50Of('unbounded', kind) / p50Of('budget', kind)).toFixed(1), unit: 'ratio', met: p50Of('unbounded', kind) / p50Of('budget', kind) >= 10 },
  { target: `websocket ${kind} flood before any hello: floods cut by the frame budget`, goal: rounds, measured: rows.filter((r) => r.arm === 'budget' && r.kind === kind && r.cut).length, unit: 'floods', met: rows.filter((r) => r.arm === 'budget' && r.kind === kind && r.cut).length === rounds },
]);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/frame-flood.json', JSON.stringify({ date: new Date().toISOString(), node: process.version, loadAverage: { before: loadBefore, after: loadavg() }, rows, targets }, null, 2) + '\n');
for (const t of targets) console.log(`${t.met ? 'met ' : 'MISS'} ${t.target}: ${t.measured} (goal ${t.goal})`);
process.exit(0);
