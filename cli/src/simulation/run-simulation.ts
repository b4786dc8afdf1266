import { randomBytes } from 'node:crypto';
import { startCoordinator, loadModelDir, pretrainedModelDir, hasPretrainedModel, type EngineEvent, type RunConfigInput } from '@fedtune/coordinator';
import { runNodeSite, siteSplitSeed } from '@fedtune/client-node';
import { classCounts, deriveSeed, type RobustnessEvaluationConfig, type TrainConfig, FedtuneError, MemoryNetwork, parsePartitionSpec, SeededRandom, siteName, type Dataset, type RunReport, type SiteEvent, type SiteOutcome, type UpdateHook } from '@fedtune/shared';
import { attackOptions, Collusion, getAttack } from './attacks/index.ts';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { join } from 'node:path';

export interface SimulationOptions {
  sites: number;
  rounds: number;
  seed: number;
  /** Root directory of runs; the report lands at `<out>/<runId>/report.json`. */
  out: string;
  transport: 'socket' | 'memory';
  partition?: string;
  /** Render each site's images through its own scanner (default true). */
  featureShift?: boolean;
  architecture?: string;
  strategy?: string;
  strategyOptions?: Record<string, unknown>;
  /** Reject updates farther than this (L2) from the global model. */
  maxUpdateNorm?: number;
  /** Poisoning defences (on by default, defaults in run-config.ts); e.g. all 0/1 to measure a run without them. */
  defences?: Partial<Pick<RunConfigInput, 'normBoundMultiple' | 'exampleWeightCap' | 'maxAccuracyDrop'>>;
  /** Name of the attack the malicious sites run (see attacks/registry.ts). */
  attack?: string;
  attackOptions?: Record<string, unknown>;
  /** Share of sites that are malicious (rounded to the nearest count, at least 1 when an attack is set). */
  malicious?: number;
  fraction?: number;
  quorum?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  optimizer?: 'sgd' | 'momentum' | 'adam';
  trainable?: 'all' | 'head' | number;
  maxExamples?: number;
  federatedEvaluation?: 'never' | 'final' | 'every-round';
  /** Client-level differential privacy (DP-FedAvg); needs strategy fedavg. */
  dp?: { noiseMultiplier: number; clip: number; adaptive?: { targetQuantile: number; learningRate: number }; delta?: number };
  /** Secure aggregation (docs/privacy.md); needs a strategy of the mean. */
  secureAggregation?: { clip: number; threshold?: number; neighbours?: number };
  /** Robustness evaluation of the global model (default: final round, default sizes). */
  robustness?: Partial<RobustnessEvaluationConfig>;
  /** Extra training settings for the sites (robust fine-tuning: adversarial, augmentation, proximalMu, …). */
  trainExtras?: Partial<TrainConfig>;
  roundTimeoutMs?: number;
  backend?: string;
  runId?: string;
  onEngineEvent?: (event: EngineEvent) => void;
  onSiteEvent?: (siteId: string, event: SiteEvent) => void;
  /** Called once the federation is built, before it runs. */
  onPlan?: (plan: { labelCounts: Record<string, number[]>; malicious: string[] }) => void;
  /** Called once the coordinator listens (socket transport). */
  onListening?: (url: string) => void;
}

export interface SimulationResult {
  report: RunReport;
  reportPath: string;
  runDir: string;
  backend: string;
  sites: SiteOutcome[];
}

/** A new run id: time-ordered and unique. */
export function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `run-${stamp}-${randomBytes(3).toString('hex')}`;
}

/**
 * Runs a whole federation on this machine: one coordinator and `sites` sites, over real socket.io on
 * loopback or over the in-memory network. The same coordinator and site code run either way.
 */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const architecture = options.architecture ?? 'mlp';
  if (!hasPretrainedModel(architecture)) {
    throw new FedtuneError('config', `no pretrained ${architecture} checkpoint: run \`fedtune pretrain --arch ${architecture}\` first`);
  }
  const backend = await selectNodeBackend(options.backend);
  // The holdout is rendered like the sites' data: by the scanners, or not at all without feature shift.
  const holdout = options.featureShift === false ? builtinDigits().holdoutClean : builtinDigits().holdout;
  const partition = options.partition ?? 'dirichlet:0.5';
  const clean = builtinDigitsSites({ sites: options.sites, partition: parsePartitionSpec(partition), seed: options.seed, featureShift: options.featureShift });
  const siteIds = clean.map((_, k) => siteName(k));
  // Malicious sites: a seeded choice of round(malicious × sites) of them.
  const attack = options.attack && options.attack !== 'none' ? getAttack(options.attack) : undefined;
  const attackOpts = attack ? attackOptions(attack, options.attackOptions) : {};
  const maliciousCount = attack ? Math.max(1, Math.round((options.malicious ?? 0.2) * options.sites)) : 0;
  if (maliciousCount >= options.sites) throw new FedtuneError('config', `${maliciousCount} malicious sites of ${options.sites} leaves no honest site`);
  const malicious = new SeededRandom(deriveSeed(options.seed, 'malicious')).shuffle([...siteIds]).slice(0, maliciousCount).sort();
  const collusion = new Collusion(maliciousCount);
  const hooks: Record<string, UpdateHook> = {};
  const datasets: Dataset[] = clean.map((data, k) => {
    const siteId = siteIds[k];
    if (!attack || !malicious.includes(siteId)) return data;
    const ctx = { rng: new SeededRandom(deriveSeed(options.seed, 'attack', siteId)), numClasses: data.numClasses, options: attackOpts, collusion, totalSites: options.sites, maliciousSites: maliciousCount };
    if (attack.updateHook) hooks[siteId] = attack.updateHook(ctx);
    return attack.poisonData ? attack.poisonData(data, ctx) : data;
  });
  const labelCounts = Object.fromEntries(clean.map((d, k) => [siteIds[k], classCounts(d)]));
  options.onPlan?.({ labelCounts, malicious });
  const probes = attack?.probe ? [attack.probe(holdout, attackOpts)] : [];
  const model = await loadModelDir(pretrainedModelDir(architecture));
  const memory = options.transport === 'memory' ? new MemoryNetwork() : undefined;
  const config: RunConfigInput = {
    runId: options.runId ?? newRunId(),
    rounds: options.rounds,
    minSites: options.sites,
    fraction: options.fraction ?? 1,
    quorum: options.quorum ?? 0.5,
    seed: options.seed,
    strategy: options.strategy ?? 'fedavg',
    strategyOptions: options.strategyOptions ?? {},
    // The simulation knows how many sites it made malicious: Krum-family strategies default their f to it.
    ...(attack ? { expectedMaliciousSites: maliciousCount } : {}),
    ...(options.maxUpdateNorm ? { maxUpdateNorm: options.maxUpdateNorm } : {}),
    ...options.defences,
    roundTimeoutMs: options.roundTimeoutMs ?? 600_000,
    joinTimeoutMs: 120_000,
    federatedEvaluation: options.federatedEvaluation ?? 'final',
    robustness: { when: 'final', ...options.robustness },
    ...(options.dp ? { dp: options.dp } : {}),
    ...(options.secureAggregation ? { secureAggregation: options.secureAggregation } : {}),
    train: {
      ...options.trainExtras,
      epochs: options.epochs ?? 1,
      batchSize: options.batchSize ?? 32,
      learningRate: options.learningRate ?? 0.001,
      optimizer: options.optimizer ?? 'adam',
      trainable: options.trainable ?? 'all',
      ...(options.maxExamples ? { maxExamples: options.maxExamples } : {}),
    },
  };
  const coordinator = await startCoordinator({
    runsDir: options.out,
    config,
    model,
    architecture,
    holdout,
    backend: backend.backend,
    transport: memory ?? 'socket',
    onEvent: options.onEngineEvent,
    probes,
    reportExtras: {
      simulation: {
        sites: options.sites,
        transport: options.transport,
        partition,
        featureShift: options.featureShift !== false,
        labelCounts,
        attack: attack ? { name: attack.name, options: attackOpts, malicious } : undefined,
      },
    },
  });
  if (coordinator.url) options.onListening?.(coordinator.url);
  try {
    const siteRuns = datasets.map((data, k) => {
      const siteId = siteIds[k];
      return runNodeSite({
        siteId,
        server: memory ? memory.connector() : coordinator.url!,
        data,
        splitSeed: siteSplitSeed(options.seed, siteId),
        backend: backend.choice,
        updateHook: hooks[siteId],
        onEvent: options.onSiteEvent ? (e) => options.onSiteEvent!(siteId, e) : undefined,
      });
    });
    const report = await coordinator.done;
    const sites = await Promise.all(siteRuns);
    return { report, reportPath: join(coordinator.runDir, 'report.json'), runDir: coordinator.runDir, backend: backend.backend, sites };
  } finally {
    await coordinator.close();
  }
}
