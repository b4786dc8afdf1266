/**
 * `npm run bench:scale`: `fedtune simulate` of 1,000 and of 10,000 virtual sites (--site-data resample:40,
 * chosen automatically), 1% sampled per round, 3 rounds, over the in-memory network (one process: the
 * coordinator and every site; socket.io would put 10,000 sockets in one process, which is the worker's
 * job, not the simulation's). Each population runs in its own child process, so its peak RSS is its own.
 *
 * Targets (issue 15): peak RSS at 10,000 within 1.2× of 1,000; time per round proportional to the sampled
 * sites (10 vs 100), not the population: the ratio of seconds per sampled site per round ≈ 1 (goal ≤ 1.5).
 *
 *   npx tsx bench/scale.ts [--small 1000] [--large 10000] [--rounds 3] [--fraction 0.01]
 *
 * Writes bench/results/scale.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

interface PopulationResult {
  sites: number;
  sampledPerRound: number;
  peakRssMb: number;
  /** RSS and V8 heap (after a full GC) once every site had joined, before any round: what the population itself holds. */
  joinedRssMb: number;
  joinedHeapMb: number;
  /** From start until every site had joined (the pretrained evaluation starts then). */
  joinS: number;
  /** Mean wall seconds of a round (round-start → round-end). */
  roundS: number;
  roundsS: number[];
  finalAccuracy: number;
  /** Virtual site datasets made in all, and left live at the end (0). */
  materialised: number;
  live: number;
}

async function child(sites: number, rounds: number, fraction: number): Promise<void> {
  const { runSimulation } = await import('../cli/src/simulation/run-simulation.ts');
  const out = mkdtempSync(join(tmpdir(), 'fedtune-bench-scale-'));
  const started = performance.now();
  let joinedAt = 0;
  let joinedRssMb = 0;
  let joinedHeapMb = 0;
  const roundStart = new Map<number, number>();
  const roundsS: number[] = [];
  let virtual: { materialised: number; live: number } | undefined;
  try {
    const result = await runSimulation({
      sites,
      out,
      transport: 'memory',
      rounds,
      fraction,
      seed: 1,
      federatedEvaluation: 'never',
      robustness: { when: 'never' },
      onVirtualSites: (v) => (virtual = v),
      onEngineEvent: (e) => {
        if (e.type === 'pretrained') {
          joinedAt = performance.now();
          (globalThis as { gc?: () => void }).gc?.();
          joinedRssMb = process.memoryUsage().rss / 2 ** 20;
          joinedHeapMb = process.memoryUsage().heapUsed / 2 ** 20;
        }
        if (e.type === 'round-start' && !roundStart.has(e.round)) roundStart.set(e.round, performance.now());
        if (e.type === 'round-end') roundsS.push((performance.now() - roundStart.get(e.record.round)!) / 1000);
      },
    });
    if (result.report.status !== 'complete') throw new Error(`the ${sites}-site run ${result.report.status}: ${result.report.aborted ?? ''}`);
    const r: PopulationResult = {
      sites,
      sampledPerRound: result.report.rounds[0]?.selected.length ?? 0,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      joinedRssMb,
      joinedHeapMb,
      joinS: (joinedAt - started) / 1000,
      roundS: roundsS.reduce((a, b) => a + b, 0) / Math.max(1, roundsS.length),
      roundsS,
      finalAccuracy: result.report.final?.accuracy ?? NaN,
      materialised: virtual?.materialised ?? -1,
      live: virtual?.live ?? -1,
    };
    console.log(`RESULT ${JSON.stringify(r)}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function population(sites: number, rounds: number, fraction: number): PopulationResult {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', import.meta.filename, '--child', String(sites), '--rounds', String(rounds), '--fraction', String(fraction)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`the ${sites}-site simulation failed (exit ${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line.slice('RESULT '.length)) as PopulationResult;
}

const rounds = Number(arg('rounds', '3'));
const fraction = Number(arg('fraction', '0.01'));
if (process.argv.includes('--child')) {
  await child(Number(arg('child', '1000')), rounds, fraction);
} else {
  const small = population(Number(arg('small', '1000')), rounds, fraction);
  console.log(`${small.sites} sites: peak RSS ${small.peakRssMb.toFixed(0)} MB, join ${small.joinS.toFixed(1)} s, ${small.roundS.toFixed(2)} s per round (${small.sampledPerRound} sampled)`);
  const large = population(Number(arg('large', '10000')), rounds, fraction);
  console.log(`${large.sites} sites: peak RSS ${large.peakRssMb.toFixed(0)} MB, join ${large.joinS.toFixed(1)} s, ${large.roundS.toFixed(2)} s per round (${large.sampledPerRound} sampled)`);
  const rssRatio = large.peakRssMb / small.peakRssMb;
  const roundRatio = large.roundS / small.roundS;
  const sampledRatio = large.sampledPerRound / small.sampledPerRound;
  const perSampledRatio = roundRatio / sampledRatio;
  const joinPerSiteRatio = large.joinS / large.sites / (small.joinS / small.sites);
  const standingKbPerSite = ((large.joinedHeapMb - small.joinedHeapMb) * 1024) / (large.sites - small.sites);
  console.log(`after joining, before any round: RSS ${small.joinedRssMb.toFixed(0)} → ${large.joinedRssMb.toFixed(0)} MB (${(large.joinedRssMb / small.joinedRssMb).toFixed(2)}×), V8 heap ${small.joinedHeapMb.toFixed(0)} → ${large.joinedHeapMb.toFixed(0)} MB: ${standingKbPerSite.toFixed(1)} KB per idle site (coordinator and site side)`);
  console.log(`peak RSS ${rssRatio.toFixed(2)}×; time per round ${roundRatio.toFixed(2)}× for ${sampledRatio}× the sampled sites (${perSampledRatio.toFixed(2)}× per sampled site); join time per site ${joinPerSiteRatio.toFixed(2)}×`);
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    transport: 'memory',
    rounds,
    fraction,
    small,
    large,
    standingKbPerSite: Number(standingKbPerSite.toFixed(2)),
    targets: [
      { target: `RSS once every site joined (no round yet), ${large.sites} vs ${small.sites} simulated sites`, goal: 1.2, measured: Number((large.joinedRssMb / small.joinedRssMb).toFixed(3)), unit: '×', met: large.joinedRssMb / small.joinedRssMb <= 1.2 },
      { target: `peak RSS, ${large.sites} vs ${small.sites} simulated sites at ${fraction * 100}%`, goal: 1.2, measured: Number(rssRatio.toFixed(3)), unit: '×', met: rssRatio <= 1.2 },
      { target: `seconds per round per sampled site, ${large.sites} vs ${small.sites} sites (${large.sampledPerRound} vs ${small.sampledPerRound} sampled)`, goal: 1.5, measured: Number(perSampledRatio.toFixed(3)), unit: '×', met: perSampledRatio <= 1.5 },
      { target: `join time per site, ${large.sites} vs ${small.sites} sites (O(1) per join)`, goal: 1.5, measured: Number(joinPerSiteRatio.toFixed(3)), unit: '×', met: joinPerSiteRatio <= 1.5 },
    ],
  };
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(join(import.meta.dirname, 'results', 'scale.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log('bench/results/scale.json');
}
