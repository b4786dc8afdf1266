/**
 * `npx tsx bench/personalization.ts [--modes auto,head,...] [--seeds 42,7,2024] [--epochs N] [--lambda X] [--lr X] [--guard pgd|fgsm|off] [--rounds R] [--arch mlp] [--quick]`:
 * the built-in task (8 sites, dirichlet:0.5 labels, each site's own scanner), federated over the in-memory
 * network, then the per-site report: on every site's own test split, the pretrained, local-only (the site
 * alone from the pretrained model for rounds × epochs), global and personalised models, clean and robust
 * (noise, corruptions, PGD-20 at ε = 0.05 and 0.1). One federation per personalisation mode, same seed, so
 * the pretrained/local-only/global arms are the same in every run. Targets (issue 13): personalised ≥ global
 * and ≥ local-only on every site (clean), and not less robust than global; the worst site per arm.
 * One federation per seed × mode (the repo's seed 42 and two others: the worst site per seed). `--quick`: 3 rounds.
 * `targets` (bench/summary.ts): per mode and seed, the sites where personalised ≥ global, ≥ local-only (clean)
 * and robust ≥ global, goal every site, and the worst site's margin over max(global, local-only) in points.
 * Writes bench/results/personalization.json (personalization-<arch>.json for another --arch; --out PATH elsewhere).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { pairedComparisonStats, robustAccuracyOf, SITE_ARMS, type PersonalizationMode, type SiteReportSection } from '@fedtune/shared';
import { describeBackend, selectNodeBackend } from '@fedtune/shared/node';
import { runConfigDefaults } from '@fedtune/coordinator';
import { runSimulation } from '../cli/src/simulation/run-simulation.ts';

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const defaults = runConfigDefaults();
const modes = (arg('modes') ?? 'auto').split(',') as PersonalizationMode[];
const seeds = (arg('seeds') ?? arg('seed') ?? '42,7,2024').split(',').map(Number);
const guard = arg('guard') as 'pgd' | 'fgsm' | 'off' | undefined;
const epochs = arg('epochs') ? Number(arg('epochs')) : undefined;
const lambda = arg('lambda') ? Number(arg('lambda')) : undefined;
const learningRate = arg('lr') ? Number(arg('lr')) : undefined;
const rounds = Number(arg('rounds') ?? (process.argv.includes('--quick') ? 3 : defaults.rounds));
const architecture = arg('arch') ?? 'mlp';

const backend = await selectNodeBackend();
console.log(describeBackend(backend));
const out = join(tmpdir(), 'fedtune-bench-personalization');

interface ModeResult {
  mode: PersonalizationMode;
  seed: number;
  loadAverage: number[];
  worstMargin: { siteId: string; points: number };
  settings: Record<string, unknown>;
  section: SiteReportSection;
  targets: { personalizedAtLeastGlobal: string[]; personalizedAtLeastLocalOnly: string[]; robustAtLeastGlobal: string[]; sites: number };
  durationMs: number;
}
const results: ModeResult[] = [];
const pct = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);

mkdirSync('bench/results', { recursive: true });
const path = arg('out') ?? join('bench', 'results', architecture === 'mlp' ? 'personalization.json' : `personalization-${architecture}.json`);
const benchTargets: Array<{ target: string; goal: number; measured: number; unit: string; met: boolean; note?: string }> = [];
for (const seed of seeds) for (const mode of modes) {
  const started = Date.now();
  const personalization = { mode, ...(guard ? { guard } : {}), ...(epochs ? { epochs } : {}), ...(lambda !== undefined ? { lambda } : {}), ...(learningRate ? { learningRate } : {}) };
  const { report } = await runSimulation({
    sites: 8,
    rounds,
    seed,
    out,
    transport: 'memory',
    architecture,
    robustness: { when: 'never' },
    federatedEvaluation: 'never',
    // The site report runs k-fold selection at all 8 sites in this one process: no round timeout should cut it short here (the bench measures quality, not latency).
    config: { personalization, siteRobustness: { when: 'final' }, roundTimeoutMs: 7_200_000 },
  });
  if (report.status !== 'complete' || !report.siteReport) throw new Error(`run ${report.status}: ${report.aborted}`);
  if (report.siteReport.missing?.length) throw new Error(`sites missing from the site report: ${JSON.stringify(report.siteReport.missing)}`);
  const section = report.siteReport;
  const config = report.config as { personalization: Record<string, unknown> };
  const sites = section.sites;
  const targets = {
    sites: sites.length,
    personalizedAtLeastGlobal: sites.filter((s) => s.arms.personalized!.accuracy >= s.arms.global.accuracy).map((s) => s.siteId),
    personalizedAtLeastLocalOnly: sites.filter((s) => s.arms.personalized!.accuracy >= s.arms.localOnly!.accuracy).map((s) => s.siteId),
    robustAtLeastGlobal: sites
      .filter((s) => robustAccuracyOf(s.arms.personalized)! >= robustAccuracyOf(s.arms.global)! && (s.arms.personalized!.robust!.corruptionMean ?? 0) >= (s.arms.global.robust!.corruptionMean ?? 0))
      .map((s) => s.siteId),
  };
  const margins = sites.map((s) => ({ siteId: s.siteId, points: 100 * (s.arms.personalized!.accuracy - Math.max(s.arms.global.accuracy, s.arms.localOnly!.accuracy)) }));
  const worstMargin = margins.reduce((w, m) => (m.points < w.points ? m : w));
  const loadAverage = loadavg().map((x) => Number(x.toFixed(2)));
  results.push({ mode, seed, loadAverage, worstMargin, settings: config.personalization, section, targets, durationMs: Date.now() - started });
  const n = targets.sites;
  const note = `seed ${seed}, ${rounds} rounds, load ${loadAverage[0]}`;
  benchTargets.push(
    { target: `personalisation ${mode}: sites with personalised ≥ global (clean)`, goal: n, measured: targets.personalizedAtLeastGlobal.length, unit: 'sites', met: targets.personalizedAtLeastGlobal.length === n, note },
    { target: `personalisation ${mode}: sites with personalised ≥ local-only (clean)`, goal: n, measured: targets.personalizedAtLeastLocalOnly.length, unit: 'sites', met: targets.personalizedAtLeastLocalOnly.length === n, note },
    { target: `personalisation ${mode}: sites with personalised as robust as global (PGD ε=0.1, corruptions)`, goal: n, measured: targets.robustAtLeastGlobal.length, unit: 'sites', met: targets.robustAtLeastGlobal.length === n, note },
    { target: `personalisation ${mode}: worst site's personalised − max(global, local-only) (clean)`, goal: 0, measured: Number(worstMargin.points.toFixed(1)), unit: 'points', met: worstMargin.points >= 0, note: `${note}, ${worstMargin.siteId}` },
  );
  // The same comparisons with each site's test-split noise taken into account (the sites' paired wins and losses).
  const noise = section.counts?.beyondNoise;
  if (noise) {
    const better = `better on ${noise.betterThanLocalOnly} (local-only) and ${noise.betterThanGlobal} (global) of ${n}`;
    benchTargets.push(
      { target: `personalisation ${mode}: sites where personalised is worse than local-only beyond the test split's noise (${noise.standardErrors} paired standard errors, clean)`, goal: 0, measured: noise.worseThanLocalOnly, unit: 'sites', met: noise.worseThanLocalOnly === 0, note: `${note}; ${better}` },
      { target: `personalisation ${mode}: sites where personalised is worse than global beyond the test split's noise (${noise.standardErrors} paired standard errors, clean)`, goal: 0, measured: noise.worseThanGlobal, unit: 'sites', met: noise.worseThanGlobal === 0, note },
    );
  }
  console.log(`\n=== personalisation ${mode} seed ${seed} (load ${loadAverage.join(' ')}) ${JSON.stringify(config.personalization)} (${((Date.now() - started) / 1000).toFixed(0)} s) ===`);
  console.log(`site      ${SITE_ARMS.map((a) => a.padStart(22)).join('')}   (clean / PGD ε=0.1 / corruptions)`);
  for (const s of sites) {
    console.log(`${s.siteId.padEnd(10)}${SITE_ARMS.map((a) => `${pct(s.arms[a]?.accuracy)} / ${pct(robustAccuracyOf(s.arms[a]))} / ${pct(s.arms[a]?.robust?.corruptionMean)}`.padStart(22)).join('')}${s.adopted === false ? '  (kept global)' : ''}${s.chosen ? `  (auto: ${s.chosen})` : ''}`);
  }
  console.log(`worst     ${SITE_ARMS.map((a) => `${section.worst[a]?.clean.siteId} ${pct(section.worst[a]?.clean.accuracy)}`.padStart(22)).join('')}`);
  for (const s of sites) {
    const c = s.comparisons?.localOnly;
    if (c) {
      const st = pairedComparisonStats(c, s.numExamples);
      console.log(`${s.siteId.padEnd(10)}personalised − local-only ${(100 * st.difference).toFixed(1)} ± ${(200 * st.standardError).toFixed(1)} points (2 paired SE, ${s.numExamples} test examples: ${c.wins} wins, ${c.losses} losses)`);
    }
  }
  if (noise) console.log(`beyond noise: personalised worse than local-only on ${noise.worseThanLocalOnly}/${n}, better on ${noise.betterThanLocalOnly}/${n}; worse than global on ${noise.worseThanGlobal}/${n}, better on ${noise.betterThanGlobal}/${n}`);
  console.log(`personalised ≥ global (clean) on ${targets.personalizedAtLeastGlobal.length}/${targets.sites}, ≥ local-only on ${targets.personalizedAtLeastLocalOnly.length}/${targets.sites}, robust ≥ global on ${targets.robustAtLeastGlobal.length}/${targets.sites}; local-only beats global on ${section.counts?.localOnlyBeatsGlobal}/${targets.sites}; worst margin ${worstMargin.siteId} ${worstMargin.points.toFixed(1)} points`);
  writeResults();
}

function writeResults(): void {
  writeFileSync(
    path,
    JSON.stringify(
      { bench: 'personalization', backend: backend.backend, architecture, rounds, seeds, sites: 8, partition: 'dirichlet:0.5', featureShift: true, date: new Date().toISOString(), targets: benchTargets, results },
      null,
      2,
    ),
  );
}
console.log(path);
