/**
 * `npm run bench:stragglers`: what sites that never answer cost a run, and what the straggler settings give back
 * (docs/operations.md#sites-that-do-not-answer). Real socket.io on loopback, the built-in digits task's pretrained
 * MLP, the first 16 of 20 sites of a Dirichlet 0.5 partition (seed 42), 6 rounds, round timeout 10 s (a stand-in for
 * the default 300 s: the waits scale with it). Four runs in one process:
 *   A. the 16 honest sites alone (the baseline: the same training, nobody silent);
 *   B. 16 honest + 4 silent peers (they join, accept the terms and ignore every instruction), cooldown off — the
 *      behaviour before stragglers existed;
 *   C. the same with the defaults (cooldown, at most 8 rounds);
 *   D. C plus --wait-after-quorum 1.
 * Measures each run's wall time (first round start → last round end) and its ratio to A. Writes
 * bench/results/stragglers.json.
 *
 *   npm run bench:stragglers -- [--rounds 6] [--timeout-ms 10000]
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg, tmpdir } from 'node:os';
import { io } from 'socket.io-client';
import { loadModelDir, pretrainedModelDir, startCoordinator, type RunConfigInput } from '@fedtune/coordinator';
import { deriveSeed, PROTOCOL_VERSION, SiteClient, SitePolicy, socketIoConnector, splitDataset } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const rounds = arg('--rounds', 6);
const roundTimeoutMs = arg('--timeout-ms', 10_000);
const SITES = 20;
const SILENT = 4;

/** A peer that joins (hello, then accepts the terms) and never answers an instruction. */
async function silentPeer(url: string, siteId: string): Promise<() => void> {
  const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  socket.on('terms', (p: { terms?: { runId?: string }; hash?: string }) => socket.emit('acceptTerms', { runId: p?.terms?.runId, siteId, hash: p?.hash }));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  socket.emit('hello', { protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: 'cpu', runtime: 'node', numExamples: 200 } });
  return () => socket.close();
}

interface Scenario {
  name: string;
  silent: number;
  stragglers: RunConfigInput['stragglers'];
}

async function run(s: Scenario) {
  const backend = await selectNodeBackend();
  const runId = `stragglers-${s.name.slice(0, 1)}`;
  const coordinator = await startCoordinator({
    runsDir: mkdtempSync(join(tmpdir(), 'fedtune-bench-stragglers-')),
    model: await loadModelDir(pretrainedModelDir('mlp')),
    architecture: 'mlp',
    holdout: builtinDigits().holdout,
    backend: backend.backend,
    transport: 'socket',
    checkpoints: false,
    config: { runId, rounds, minSites: SITES - SILENT + s.silent, seed: 42, quorum: 0.5, roundTimeoutMs, joinTimeoutMs: 120_000, federatedEvaluation: 'never', robustness: { when: 'never' }, ...(s.stragglers ? { stragglers: s.stragglers } : {}) },
  });
  const closers: Array<() => void> = [];
  try {
    for (let i = 0; i < s.silent; i++) closers.push(await silentPeer(coordinator.url!, `silent-${i + 1}`));
    const datasets = builtinDigitsSites({ sites: SITES, partition: { kind: 'dirichlet', alpha: 0.5 }, seed: 42 }).slice(0, SITES - SILENT);
    const clients = datasets.map((full, k) => {
      const siteId = `site-${String(k + 1).padStart(2, '0')}`;
      return new SiteClient({ policy: SitePolicy.parse({}), siteId, connector: socketIoConnector({ url: coordinator.url! }), data: splitDataset(full, deriveSeed(42, 'split', siteId)), backend: backend.backend, runtime: 'node' });
    });
    const runs = clients.map((c) => c.run());
    const report = await coordinator.done;
    await Promise.all(runs);
    const startedAt = Date.parse(report.startedAt);
    const wallSeconds = report.rounds.reduce((n, r) => n + r.durationMs, 0) / 1000;
    return {
      scenario: s.name,
      silent: s.silent,
      stragglers: s.stragglers ?? 'defaults',
      status: report.status,
      rounds: report.rounds.length,
      wallSeconds,
      roundSeconds: report.rounds.map((r) => r.durationMs / 1000),
      silentAskedPerRound: report.rounds.map((r) => r.selected.filter((id) => id.startsWith('silent-')).length),
      accuracy: report.final?.accuracy ?? NaN,
      sinceStartSeconds: (Date.parse(report.updatedAt) - startedAt) / 1000,
    };
  } finally {
    for (const close of closers) close();
    await coordinator.close();
  }
}

const loadBefore = loadavg();
const scenarios: Scenario[] = [
  { name: 'A: 16 honest sites, none silent', silent: 0, stragglers: undefined },
  { name: 'B: 16 honest + 4 silent, cooldown off (before)', silent: SILENT, stragglers: { maxCooldownRounds: 0 } },
  { name: 'C: 16 honest + 4 silent, defaults (cooldown)', silent: SILENT, stragglers: undefined },
  { name: 'D: 16 honest + 4 silent, cooldown + --wait-after-quorum 1', silent: SILENT, stragglers: { waitAfterQuorumMs: 1_000 } },
];
const rows: Array<Awaited<ReturnType<typeof run>>> = [];
for (const s of scenarios) {
  const r = await run(s);
  rows.push(r);
  console.log(JSON.stringify(r));
}
const [a, b, c, d] = rows;
const ratio = (x: (typeof rows)[number]) => x.wallSeconds / a.wallSeconds;
const targets = [
  { target: `stragglers: 4 of 20 sites silent, cooldown + wait-after-quorum 1 s, run wall time ÷ the 16 honest sites alone (${rounds} rounds, round timeout ${roundTimeoutMs / 1000} s, real socket.io)`, goal: 1.5, measured: ratio(d), unit: 'ratio', met: ratio(d) <= 1.5 },
  { target: `stragglers: 4 of 20 sites silent, default cooldown ÷ cooldown off, run wall time (${rounds} rounds, round timeout ${roundTimeoutMs / 1000} s)`, goal: 0.6, measured: c.wallSeconds / b.wallSeconds, unit: 'ratio', met: c.wallSeconds / b.wallSeconds <= 0.6 },
];
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(
  join(import.meta.dirname, 'results', 'stragglers.json'),
  JSON.stringify({ date: new Date().toISOString(), node: process.version, loadAverage: { before: loadBefore, after: loadavg() }, rounds, roundTimeoutMs, rows, targets }, null, 2),
);
console.log('\nscenario                                                    wall s   × A    silent asked per round   accuracy');
for (const r of rows) console.log(`${r.scenario.padEnd(58)} ${r.wallSeconds.toFixed(1).padStart(7)}  ${ratio(r).toFixed(2).padStart(5)}   ${r.silentAskedPerRound.join(' ').padEnd(22)}   ${(100 * r.accuracy).toFixed(1)}%`);
process.exit(targets.every((t) => t.met) ? 0 : 1);
